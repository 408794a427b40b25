//! Survival tables (Kaplan-Meier) leaving a secure data environment, checked and, on
//! request, made safe by merging small steps.
//!
//! **Estimate.** For records with a time `t_i` and an event flag `e_i` (1: the event, 0:
//! censored), at each distinct time `t` with at least one event, `n(t)` records are at risk
//! (time `>= t`) and `d(t)` have the event; the Kaplan-Meier estimate is
//! `S(t) = prod_{s <= t} (1 - d(s) / n(s))` (statsmodels' `SurvfuncRight`, which ACRO calls).
//!
//! **Checks.**
//! - *Residual degrees of freedom* (ACRO's `surv_func` check): records minus distinct times
//!   must be at least `dof_threshold`; otherwise every row fails.
//! - *Small steps* (the implicit-table risk ACRO names for survival tables): consecutive rows
//!   publish numbers at risk, so their difference is the number who left the risk set (events
//!   plus censored) between them. A row whose departures since the previous row are fewer than
//!   `threshold` describes that small group (a row of 1 death on day 17) and fails the
//!   threshold rule; the first row is published as it is, as ACRO does.
//!
//! **Mitigation** (`suppress` or `round`; ACRO's `_rounded_survival_table`): departures are
//! accumulated row by row; a row is published only once at least `threshold` have left since
//! the last published row, carrying the events accumulated since; the rows in between are
//! merged into it (marked `merged`, holding the previous published values), and the survival
//! function is recomputed from the published steps, `S_k = S_{k-1} (n_k - d_k) / n_k`.

use serde::{Deserialize, Serialize};

use super::OutputError;
use super::job::{CheckedCell, CheckedTable, format_value};
use super::mitigate::{Mitigation, MitigationReport};
use super::rules::{Agg, Check, Failure, OutputRules};

/// One row of a survival table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurvivalRow {
    /// The time (a distinct event time).
    pub time: f64,
    /// Records at risk just before it.
    pub at_risk: u64,
    /// Events at it.
    pub events: u64,
    /// The Kaplan-Meier estimate of survival past it.
    pub survival: f64,
}

/// Kaplan-Meier rows of `(time, event)` records; records with a missing time or flag are
/// left out. Times must be finite.
pub fn kaplan_meier(records: &[(f64, bool)]) -> Vec<SurvivalRow> {
    let mut sorted: Vec<(f64, bool)> = records.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rows = Vec::new();
    let mut at_risk = sorted.len() as u64;
    let mut survival = 1.0;
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].0;
        let mut j = i;
        let mut events = 0u64;
        while j < sorted.len() && sorted[j].0 == t {
            events += u64::from(sorted[j].1);
            j += 1;
        }
        if events > 0 {
            survival *= 1.0 - events as f64 / at_risk as f64;
            rows.push(SurvivalRow {
                time: t,
                at_risk,
                events,
                survival,
            });
        }
        at_risk -= (j - i) as u64;
        i = j;
    }
    rows
}

/// Check (and, if asked, merge) a Kaplan-Meier table of `records` (see the module docs);
/// `time` and `event` name the columns in the record. The published value of a row is its
/// survival estimate; the full rows are in [`CheckedTable::survival`].
pub fn check_survival(
    records: &[(f64, bool)],
    time: &str,
    event: &str,
    rules: &OutputRules,
    mitigation: Mitigation,
) -> Result<CheckedTable, OutputError> {
    rules.validate()?;
    if records.is_empty() {
        return Err(OutputError::Invalid {
            column: Some(time.to_string()),
            message: format!(
                "no record has both a {time:?} and an {event:?} value: nothing to tabulate"
            ),
        });
    }
    if let Some((t, _)) = records.iter().find(|(t, _)| !t.is_finite()) {
        return Err(OutputError::Invalid {
            column: Some(time.to_string()),
            message: format!("the time {t} is not a finite number"),
        });
    }
    let rows = kaplan_meier(records);
    let n = records.len() as u64;
    let mut distinct: Vec<f64> = records.iter().map(|r| r.0).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let dof = n.saturating_sub(distinct.len() as u64);
    let dof_failure = (dof < rules.dof_threshold).then(|| Failure {
        check: Check::Dof,
        reason: format!(
            "{dof} residual degree(s) of freedom ({n} records, {} distinct times), below {}",
            distinct.len(),
            rules.dof_threshold
        ),
    });
    let mut cells: Vec<CheckedCell> = rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let mut failures: Vec<Failure> = dof_failure.iter().cloned().collect();
            // Between two published rows, the difference of their numbers at risk left the
            // risk set (events and censored); the first row is published as it is (ACRO).
            let left = (k > 0).then(|| rows[k - 1].at_risk - r.at_risk);
            if let Some(left) = left.filter(|&l| l < rules.threshold) {
                failures.push(Failure {
                    check: Check::Threshold,
                    reason: format!(
                        "{left} record(s) left the risk set since the previous row, below \
                         the minimum {}",
                        rules.threshold
                    ),
                });
            }
            CheckedCell {
                labels: vec![format_value(Agg::Estimate, r.time)],
                published: format_value(Agg::Estimate, r.survival),
                failures,
                mitigated: None,
            }
        })
        .collect();
    let mut published = rows.clone();
    let mut report = None;
    if mitigation != Mitigation::None {
        let merged = merge_small_steps(&rows, rules.threshold);
        let mut count = 0;
        for (k, m) in merged.iter().enumerate() {
            let cell = &mut cells[k];
            if m.events == 0 {
                // Held at the last published step (every row has an event before merging).
                count += 1;
                cell.mitigated = Some("merged".into());
            } else if m.events != rows[k].events
                || cell.failures.iter().any(|f| f.check == Check::Threshold)
            {
                // Published with the events since the last published row: at least
                // `threshold` records left the risk set in between.
                cell.mitigated = Some("accumulated".into());
            }
            cell.published = format_value(Agg::Estimate, m.survival);
        }
        published = merged;
        report = Some(MitigationReport {
            method: mitigation,
            primary: count,
            secondary: 0,
            rounded: 0,
            protected: true,
            summary: format!(
                "{count} of {} step(s) merged: a step is published once at least {} records \
                 have left the risk set since the last one (ACRO's rounded survival function)",
                rows.len(),
                rules.threshold
            ),
        });
    }
    let open = cells
        .iter()
        .any(|c| !c.failures.is_empty() && c.mitigated.is_none());
    Ok(CheckedTable {
        kind: "survival".into(),
        by: vec![time.to_string()],
        agg: Agg::Survival,
        values: Some(event.to_string()),
        rules: rules.clone(),
        checks: vec![Check::Threshold, Check::Dof],
        cells,
        records: n,
        status: if open || dof_failure.is_some() {
            "fail"
        } else {
            "pass"
        }
        .into(),
        mitigation: report,
        model: None,
        survival: Some(published),
        warnings: Vec::new(),
    })
}

/// ACRO's `_rounded_survival_table`: rows are published once at least `threshold` records
/// have left the risk set since the last published row, with the events accumulated since;
/// the rows between repeat the last published numbers with no events.
pub fn merge_small_steps(rows: &[SurvivalRow], threshold: u64) -> Vec<SurvivalRow> {
    let mut out: Vec<SurvivalRow> = Vec::with_capacity(rows.len());
    let (mut left, mut events) = (0u64, 0u64);
    for (k, r) in rows.iter().enumerate() {
        if k == 0 {
            out.push(r.clone());
            continue;
        }
        left += rows[k - 1].at_risk - r.at_risk;
        events += r.events;
        let prev = out[k - 1].clone();
        if left < threshold {
            out.push(SurvivalRow {
                time: r.time,
                at_risk: prev.at_risk,
                events: 0,
                survival: prev.survival,
            });
        } else {
            let survival = prev.survival * (r.at_risk as f64 - events as f64) / r.at_risk as f64;
            out.push(SurvivalRow {
                time: r.time,
                at_risk: r.at_risk,
                events,
                survival,
            });
            left = 0;
            events = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Times 1..=6 with an event each except time 3 (censored), then 20 records censored at
    /// time 10.
    fn records() -> Vec<(f64, bool)> {
        let mut r: Vec<(f64, bool)> = (1..=6).map(|t| (t as f64, t != 3)).collect();
        r.extend(std::iter::repeat_n((10.0, false), 20));
        r
    }

    #[test]
    fn kaplan_meier_matches_the_hand_computation() {
        let rows = kaplan_meier(&records());
        // Event times 1, 2, 4, 5, 6 with 26, 25, 23, 22, 21 at risk.
        let at_risk: Vec<u64> = rows.iter().map(|r| r.at_risk).collect();
        assert_eq!(at_risk, vec![26, 25, 23, 22, 21]);
        let expect = (25.0 / 26.0) * (24.0 / 25.0) * (22.0 / 23.0) * (21.0 / 22.0) * (20.0 / 21.0);
        assert!((rows[4].survival - expect).abs() < 1e-12);
        // Ties: two events at one time make one row.
        let tied = kaplan_meier(&[(1.0, true), (1.0, true), (2.0, false)]);
        assert_eq!(tied.len(), 1);
        assert_eq!(tied[0].events, 2);
        assert!((tied[0].survival - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn small_steps_fail_and_merging_protects_them() {
        let rules = OutputRules {
            threshold: 3,
            dof_threshold: 5,
            ..OutputRules::default()
        };
        let t = check_survival(&records(), "t", "died", &rules, Mitigation::None).unwrap();
        assert_eq!(t.kind, "survival");
        assert_eq!(t.status, "fail");
        // 26 records, 7 distinct times: 19 dof, passes; every step after the first is 1-2.
        assert!(t.cells[0].failures.is_empty());
        assert!(
            t.cells[1..]
                .iter()
                .all(|c| c.failures[0].check == Check::Threshold)
        );
        let m = check_survival(&records(), "t", "died", &rules, Mitigation::Suppress).unwrap();
        assert_eq!(m.status, "pass");
        let s = m.survival.as_ref().unwrap();
        // Departures accumulate: 1 (25) + 2 (23) reach 3 at time 4; then 1 + 1 + ... .
        assert_eq!(s[1].at_risk, 26);
        assert_eq!(s[1].events, 0);
        assert_eq!(s[2].at_risk, 23);
        assert_eq!(s[2].events, 2);
        assert!((s[2].survival - (25.0 / 26.0) * (21.0 / 23.0)).abs() < 1e-12);
        assert_eq!(m.cells[1].mitigated.as_deref(), Some("merged"));
        assert_eq!(m.cells[2].mitigated.as_deref(), Some("accumulated"));
        let (header, rows) = m.csv_rows();
        assert_eq!(
            header[..4],
            ["time", "at_risk", "events", "survival"].map(String::from)
        );
        assert_eq!(rows.len(), 5);
    }

    #[test]
    fn too_few_records_per_time_fail_the_dof_rule() {
        let r: Vec<(f64, bool)> = (1..=8).map(|t| (t as f64, true)).collect();
        let t = check_survival(&r, "t", "e", &OutputRules::default(), Mitigation::None).unwrap();
        assert_eq!(t.status, "fail");
        assert!(
            t.cells
                .iter()
                .all(|c| c.failures.iter().any(|f| f.check == Check::Dof))
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let rules = OutputRules::default();
        assert!(check_survival(&[], "t", "e", &rules, Mitigation::None).is_err());
        let e =
            check_survival(&[(f64::NAN, true)], "t", "e", &rules, Mitigation::None).unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
    }
}

/// A survival table of a source's `time` and `event` columns, checked: the one pipeline
/// behind `pets outputs survival` and `pets.outputs.survival_table`.
#[derive(Debug, Clone)]
pub struct SurvivalJob {
    source: crate::data::TableSource,
    time: String,
    event: String,
    rules: OutputRules,
    mitigation: Mitigation,
}

impl SurvivalJob {
    /// Survival by `time` (a number: days, months), `event` telling the event (1, true,
    /// yes) from censoring (0, false, no).
    pub fn new(
        source: impl Into<crate::data::TableSource>,
        time: impl Into<String>,
        event: impl Into<String>,
    ) -> SurvivalJob {
        SurvivalJob {
            source: source.into(),
            time: time.into(),
            event: event.into(),
            rules: OutputRules::default(),
            mitigation: Mitigation::None,
        }
    }

    /// The rules (ACRO's defaults otherwise).
    pub fn rules(mut self, rules: OutputRules) -> SurvivalJob {
        self.rules = rules;
        self
    }

    /// Merge small steps (`Suppress` or `Round`, the same), or report them (`None`).
    pub fn mitigation(mut self, m: Mitigation) -> SurvivalJob {
        self.mitigation = m;
        self
    }

    /// Read the two columns (one pass), estimate and check.
    pub fn run(&self) -> Result<CheckedTable, OutputError> {
        self.rules.validate()?;
        if self.time == self.event {
            return Err(OutputError::Invalid {
                column: Some(self.time.clone()),
                message: "the time and the event flag must be different columns".into(),
            });
        }
        let (source, warnings) = self.source.pinned(None)?;
        let (_, columns) = source.read_columns(&[self.time.clone(), self.event.clone()])?;
        let arrays = |name: &str| {
            columns
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| a.as_slice())
                .unwrap_or_default()
        };
        let times = crate::tables::stats::numeric_values(&self.time, arrays(&self.time))
            .map_err(OutputError::from_table)?;
        let mut events = Vec::with_capacity(times.len());
        for a in arrays(&self.event) {
            events.extend(event_flags(&self.event, a, events.len() as u64)?);
        }
        let records: Vec<(f64, bool)> = times
            .into_iter()
            .zip(events)
            .filter_map(|(t, e)| Some((t?, e?)))
            .collect();
        let mut out = check_survival(
            &records,
            &self.time,
            &self.event,
            &self.rules,
            self.mitigation,
        )?;
        out.warnings = warnings;
        Ok(out)
    }
}

/// An event column as flags: numbers (0 censored, anything else the event), booleans, or
/// text `1/0`, `true/false`, `yes/no`, `y/n` (any case); empty is missing. `first_row` is
/// the 0-based row of the array's first value, for errors.
fn event_flags(
    column: &str,
    array: &arrow_array::ArrayRef,
    first_row: u64,
) -> Result<Vec<Option<bool>>, OutputError> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;
    let a = array.as_ref();
    Ok(match a.data_type() {
        DataType::Boolean => {
            let b = a.as_boolean();
            (0..b.len())
                .map(|i| (!b.is_null(i)).then(|| b.value(i)))
                .collect()
        }
        t if t.is_numeric() => {
            crate::tables::stats::numeric_values(column, std::slice::from_ref(array))
                .map_err(OutputError::from_table)?
                .into_iter()
                .map(|v| v.map(|v| v != 0.0))
                .collect()
        }
        _ => {
            let cast = arrow_cast::cast(a, &DataType::Utf8)
                .map_err(|e| OutputError::Data(crate::data::DataError::from(e)))?;
            let s = cast.as_string::<i32>();
            (0..s.len())
                .map(|i| {
                    let text = if s.is_null(i) { "" } else { s.value(i).trim() };
                    match text.to_ascii_lowercase().as_str() {
                        "" => Ok(None),
                        "1" | "true" | "yes" | "y" => Ok(Some(true)),
                        "0" | "false" | "no" | "n" => Ok(Some(false)),
                        _ => Err(OutputError::Data(crate::data::DataError::Unparsable {
                            column: column.to_string(),
                            row: first_row + i as u64 + 1,
                            value: text.to_string(),
                            expected: "an event flag: 1/0, true/false or yes/no".into(),
                        })),
                    }
                })
                .collect::<Result<_, _>>()?
        }
    })
}
