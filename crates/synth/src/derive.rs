//! Derived synthesis columns: calendar parts of wide dates and datetimes, decided from the
//! declared schema alone and re-assembled into the declared column after sampling.
//!
//! A year of arrival times to the minute has 525,600 codes; coarsened to days it keeps 365
//! codes but loses the hour of day, the first thing an A&E analyst plots, and every joint
//! pattern with it (acuity by hour, weekday by hour). Instead, a date or datetime whose
//! codes at the hour (datetimes) or the day (dates) number more than `max_values` is
//! modelled as up to three **derived columns**:
//!
//! | derived column | kind | codes |
//! |---|---|---|
//! | `NAME.period` | date, at the finest of day, week (7-day blocks from the declared first day), month, year with at most `max_values` codes | 53 weeks for a year |
//! | `NAME.weekday` | ordered categorical `Mon` .. `Sun` (absent when the period is a day) | 7 |
//! | `NAME.hour` | integer 0..23 (datetimes finer than a day only) | 24 |
//!
//! so the model can pick weekday x hour, hour x acuity, week x provider as it would any pair.
//! The parts of a row are computed from its code at the declared granularity (one pass over
//! the codes, [`derive_codes`]); nothing is read from the data to decide them (domains are
//! public), so they cost no budget, and a null stays a null in every part.
//!
//! **Re-assembly** ([`Assembler::assemble`]): the day is the one day of the period with the
//! sampled weekday (a week holds each weekday once; a month or year: one of those days,
//! uniformly; a weekday the period does not hold, e.g. in a partial last week: a day of the
//! period, uniformly); then the hour; then, when the declared granularity is finer than the
//! hour, a uniform minute (or second) within the hour. Values are clamped to the declared
//! range. This randomness is post-processing, seeded like the rest of sampling.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use pets::data::{CodeBook, ColumnKind, ColumnSpec, DateGranularity, EncodedColumn};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::sample::unit;

/// Labels of the weekday column, Monday first (ISO 8601).
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const DAY: i64 = 86_400;

/// How one declared date or datetime column is split into derived synthesis columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    /// The declared column (kind, range and granularity of the output).
    pub spec: ColumnSpec,
    /// Index of `NAME.period` among the synthesis columns.
    pub period: usize,
    /// Index of `NAME.weekday`, when the period is longer than a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekday: Option<usize>,
    /// Index of `NAME.hour`, for datetimes finer than a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hour: Option<usize>,
}

/// The derived columns of `spec` (period, weekday, hour; see the module docs) when its
/// domain is too wide for `max_values` codes and splitting it keeps more of the pattern;
/// `None` to leave it to plain coarsening.
pub fn calendar_parts(spec: &ColumnSpec, max_values: u32) -> Option<Vec<ColumnSpec>> {
    let (first, last, with_hour) = match &spec.kind {
        ColumnKind::Datetime {
            min,
            max,
            granularity,
            ..
        } => {
            let hours = (*max - *min).num_seconds() / 3_600 + 1;
            if hours <= i64::from(max_values) {
                return None;
            }
            (min.date(), max.date(), granularity.seconds() < DAY)
        }
        ColumnKind::Date {
            min,
            max,
            granularity: DateGranularity::Day,
            ..
        } => {
            if (*max - *min).num_days() < i64::from(max_values) {
                return None;
            }
            (*min, *max, false)
        }
        _ => return None,
    };
    let period_of = |g| ColumnKind::Date {
        min: first,
        max: last,
        granularity: g,
        format: None,
    };
    let fits = |g| {
        ColumnSpec::new("", period_of(g))
            .n_values()
            .is_some_and(|n| n <= max_values)
    };
    let g = [
        DateGranularity::Day,
        DateGranularity::Week,
        DateGranularity::Month,
        DateGranularity::Year,
    ]
    .into_iter()
    .find(|&g| fits(g))
    .unwrap_or(DateGranularity::Year);
    let part = |suffix: &str, kind: ColumnKind| ColumnSpec {
        name: format!("{}.{suffix}", spec.name),
        kind,
        nullable: spec.nullable,
        role: spec.role,
        description: Some(format!("derived from {} for synthesis", spec.name)),
        domain_from_data: spec.domain_from_data,
        hierarchy: None,
    };
    let mut out = vec![part("period", period_of(g))];
    if g != DateGranularity::Day {
        out.push(part(
            "weekday",
            ColumnKind::Categorical {
                values: WEEKDAYS.iter().map(|s| s.to_string()).collect(),
                ordered: true,
            },
        ));
    }
    if with_hour {
        out.push(part(
            "hour",
            ColumnKind::Integer {
                min: 0,
                max: 23,
                bins: None,
            },
        ));
    }
    Some(out)
}

/// The code book of a synthesis column (nullable columns get a null code).
pub fn codebook_of(spec: &ColumnSpec) -> CodeBook {
    let n = spec.n_values().unwrap_or(0);
    CodeBook {
        n_values: n,
        null_code: spec.nullable.then_some(n),
        other_code: None,
    }
}

fn days_since_epoch(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

fn seconds_since_epoch(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// Monday = 0 .. Sunday = 6 of a day counted from 1970-01-01 (a Thursday).
fn weekday_of(epoch_day: i64) -> u32 {
    (epoch_day + 3).rem_euclid(7) as u32
}

/// The derived columns `parts` (from [`calendar_parts`]) of `col`, encoded at its declared
/// granularity: one pass over the codes through a per-day table.
pub fn derive_codes(col: &EncodedColumn, parts: &[ColumnSpec]) -> Result<Vec<EncodedColumn>> {
    let spec = &col.spec;
    let (start, step, first_day, n_days) = match &spec.kind {
        ColumnKind::Datetime {
            min,
            max,
            granularity,
            ..
        } => (
            seconds_since_epoch(*min),
            granularity.seconds(),
            days_since_epoch(min.date()),
            (max.date() - min.date()).num_days() + 1,
        ),
        ColumnKind::Date { min, max, .. } => (
            days_since_epoch(*min) * DAY,
            DAY,
            days_since_epoch(*min),
            (*max - *min).num_days() + 1,
        ),
        _ => {
            return Err(SynthError::invalid(
                "derived columns",
                &spec.name,
                "only dates and datetimes are split into calendar parts",
            ));
        }
    };
    let period_spec = &parts[0];
    let ColumnKind::Date {
        min: pmin,
        max: pmax,
        granularity: g,
        ..
    } = &period_spec.kind
    else {
        return Err(SynthError::invalid(
            "derived columns",
            &period_spec.name,
            "the first part must be the period (a date)",
        ));
    };
    // Per day of the range: its period code and weekday.
    let day_period: Vec<u32> = (0..n_days)
        .map(|k| period_code(*pmin, *pmax, *g, first_day + k))
        .collect();
    let books: Vec<CodeBook> = parts.iter().map(codebook_of).collect();
    let n = col.codes.len();
    let mut out: Vec<Vec<u32>> = parts.iter().map(|_| Vec::with_capacity(n)).collect();
    for &c in &col.codes {
        if c >= col.codebook.n_values {
            for (o, b) in out.iter_mut().zip(&books) {
                o.push(b.null_code.unwrap_or(0));
            }
            continue;
        }
        let t = start + i64::from(c) * step;
        let day = t.div_euclid(DAY);
        let k = (day - first_day).clamp(0, n_days - 1) as usize;
        for (p, o) in parts.iter().zip(out.iter_mut()) {
            let v = if p.name.ends_with(".period") {
                day_period[k]
            } else if p.name.ends_with(".weekday") {
                weekday_of(day)
            } else {
                (t.rem_euclid(DAY) / 3_600) as u32
            };
            o.push(v);
        }
    }
    Ok(parts
        .iter()
        .zip(books)
        .zip(out)
        .map(|((spec, codebook), codes)| EncodedColumn {
            spec: spec.clone(),
            codebook,
            codes,
        })
        .collect())
}

/// The period code of epoch day `day` in a date column over `[min, max]` at `g`.
fn period_code(min: NaiveDate, max: NaiveDate, g: DateGranularity, day: i64) -> u32 {
    let d0 = days_since_epoch(min);
    let d = day.clamp(d0, days_since_epoch(max));
    let date = min + chrono::Days::new((d - d0) as u64);
    match g {
        DateGranularity::Day => (d - d0) as u32,
        DateGranularity::Week => ((d - d0) / 7) as u32,
        DateGranularity::Month => {
            ((date.year() - min.year()) * 12 + date.month0() as i32 - min.month0() as i32) as u32
        }
        DateGranularity::Year => (date.year() - min.year()) as u32,
    }
}

/// First and last epoch day of period `code`, clipped to the range.
fn period_days(min: NaiveDate, max: NaiveDate, g: DateGranularity, code: u32) -> (i64, i64) {
    let (a, b) = match g {
        DateGranularity::Day => {
            let d = min + chrono::Days::new(u64::from(code));
            (d, d)
        }
        DateGranularity::Week => {
            let d = min + chrono::Days::new(7 * u64::from(code));
            (d, d + chrono::Days::new(6))
        }
        DateGranularity::Month => {
            let m0 = NaiveDate::from_ymd_opt(min.year(), min.month(), 1).expect("valid");
            let f = m0 + chrono::Months::new(code);
            (f, f + chrono::Months::new(1) - chrono::Days::new(1))
        }
        DateGranularity::Year => {
            let y = min.year() + code as i32;
            (
                NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(min),
                NaiveDate::from_ymd_opt(y, 12, 31).unwrap_or(max),
            )
        }
    };
    (
        days_since_epoch(a.max(min)),
        days_since_epoch(b.min(max)).max(days_since_epoch(a.max(min))),
    )
}

/// A prepared re-assembler of one [`Calendar`] (candidate days per period and weekday).
#[derive(Debug)]
pub struct Assembler {
    /// Candidate epoch days for `period * 7 + weekday` (or `period` without a weekday).
    days: Vec<Vec<i64>>,
    /// All days of each period (fallback).
    spans: Vec<(i64, i64)>,
    with_weekday: bool,
    /// Seconds of the hour's sub-steps (60 for minutes, 1 for seconds), and how many.
    sub_step: i64,
    /// `[lo, hi]` in seconds (datetimes) or days (dates).
    range: (i64, i64),
    datetime: bool,
}

impl Calendar {
    /// Prepare the lookup tables from the synthesis columns' specs.
    pub fn assembler(&self, synth: &[ColumnSpec]) -> Result<Assembler> {
        let bad = |reason: &str| SynthError::invalid("output", &self.spec.name, reason.to_string());
        let p = synth
            .get(self.period)
            .ok_or_else(|| bad("the period column is missing"))?;
        let ColumnKind::Date {
            min,
            max,
            granularity,
            ..
        } = &p.kind
        else {
            return Err(bad("the period column is not a date"));
        };
        self.spec
            .validate()
            .map_err(|e| bad(&format!("its declared column: {e}")))?;
        let n_periods = p.n_values().unwrap_or(0);
        if n_periods > 1 << 16 {
            // A derived period has at most `max_values` codes; a file asking for more was
            // not written by a fit (and the day tables would be large).
            return Err(bad("the period column has too many codes"));
        }
        let with_weekday = self.weekday.is_some();
        if let Some(w) = self.weekday
            && synth.get(w).and_then(ColumnSpec::n_values) != Some(7)
        {
            return Err(bad("the weekday column does not have 7 values"));
        }
        if let Some(h) = self.hour
            && synth.get(h).and_then(ColumnSpec::n_values) != Some(24)
        {
            return Err(bad("the hour column does not have 24 values"));
        }
        let mut days = Vec::new();
        let mut spans = Vec::new();
        for code in 0..n_periods {
            let (a, b) = period_days(*min, *max, *granularity, code);
            spans.push((a, b));
            if with_weekday {
                for w in 0..7 {
                    days.push((a..=b).filter(|&d| weekday_of(d) == w).collect());
                }
            } else {
                days.push(vec![a]);
            }
        }
        let (sub_step, range, datetime) = match &self.spec.kind {
            ColumnKind::Datetime {
                min,
                max,
                granularity,
                ..
            } => (
                granularity.seconds().min(3_600),
                (seconds_since_epoch(*min), seconds_since_epoch(*max)),
                true,
            ),
            ColumnKind::Date { min, max, .. } => {
                (DAY, (days_since_epoch(*min), days_since_epoch(*max)), false)
            }
            _ => return Err(bad("only dates and datetimes are re-assembled")),
        };
        Ok(Assembler {
            days,
            spans,
            with_weekday,
            sub_step,
            range,
            datetime,
        })
    }
}

impl Assembler {
    /// The value of one row from its part codes (`None` for a null in any part): seconds
    /// since the epoch for datetimes, days for dates.
    pub fn assemble(
        &self,
        period: u32,
        weekday: Option<u32>,
        hour: Option<u32>,
        rng: &mut ChaCha8Rng,
    ) -> Option<i64> {
        let p = period as usize;
        let &(a, b) = self.spans.get(p)?;
        let pick = |n: usize, rng: &mut ChaCha8Rng| ((unit(rng) * n as f64) as usize).min(n - 1);
        let day = if self.with_weekday {
            let w = weekday.filter(|&w| w < 7)? as usize;
            let cands = &self.days[p * 7 + w];
            if cands.is_empty() {
                a + pick((b - a + 1) as usize, rng) as i64
            } else {
                cands[pick(cands.len(), rng)]
            }
        } else {
            a
        };
        if !self.datetime {
            return Some(day.clamp(self.range.0, self.range.1));
        }
        let h = match hour {
            Some(h) if h < 24 => i64::from(h),
            Some(_) => return None,
            None => 0,
        };
        let within = if hour.is_some() && self.sub_step < 3_600 {
            pick((3_600 / self.sub_step) as usize, rng) as i64 * self.sub_step
        } else {
            0
        };
        Some((day * DAY + h * 3_600 + within).clamp(self.range.0, self.range.1))
    }

    /// Whether values are seconds (datetimes) rather than days (dates).
    pub fn is_datetime(&self) -> bool {
        self.datetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::chunk_rng;
    use pets::data::TimeGranularity;

    fn arrival() -> ColumnSpec {
        let d = |m, dd| NaiveDate::from_ymd_opt(2024, m, dd).unwrap();
        ColumnSpec::new(
            "arrival",
            ColumnKind::Datetime {
                min: d(4, 1).and_hms_opt(0, 0, 0).unwrap(),
                max: NaiveDate::from_ymd_opt(2025, 3, 31)
                    .unwrap()
                    .and_hms_opt(23, 59, 0)
                    .unwrap(),
                granularity: TimeGranularity::Minute,
                format: None,
            },
        )
    }

    #[test]
    fn a_year_of_minutes_becomes_week_weekday_and_hour() {
        let parts = calendar_parts(&arrival(), 128).unwrap();
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["arrival.period", "arrival.weekday", "arrival.hour"]);
        assert_eq!(parts[0].n_values(), Some(53));
        assert_eq!(parts[1].n_values(), Some(7));
        assert_eq!(parts[2].n_values(), Some(24));
        // Narrow enough at the hour: left to plain coarsening.
        assert!(calendar_parts(&arrival(), 1 << 14).is_none());
        // A year of minutes at max 400: days (365) + hour, no weekday.
        let parts = calendar_parts(&arrival(), 400).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].n_values(), Some(365));
    }

    #[test]
    fn derivation_and_reassembly_round_trip_to_the_hour() {
        let spec = arrival();
        let parts = calendar_parts(&spec, 128).unwrap();
        // 2024-04-01 is a Monday; minute codes of a few instants.
        let minutes = |days: u32, h: u32, m: u32| days * 1_440 + h * 60 + m;
        let codes = vec![
            minutes(0, 0, 0),
            minutes(0, 23, 59),
            minutes(6, 13, 5),
            minutes(7, 8, 30),
            minutes(364, 23, 59),
        ];
        let col = EncodedColumn {
            codebook: codebook_of(&spec),
            spec: spec.clone(),
            codes: codes.clone(),
        };
        let derived = derive_codes(&col, &parts).unwrap();
        assert_eq!(derived[0].codes, [0, 0, 0, 1, 52]);
        assert_eq!(derived[1].codes, [0, 0, 6, 0, 0]); // 2025-03-31 is a Monday too
        assert_eq!(derived[2].codes, [0, 23, 13, 8, 23]);
        let cal = Calendar {
            spec: spec.clone(),
            period: 0,
            weekday: Some(1),
            hour: Some(2),
        };
        let asm = cal.assembler(&parts).unwrap();
        let mut rng = chunk_rng(3, 0, 0);
        let start = seconds_since_epoch(
            NaiveDate::from_ymd_opt(2024, 4, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        );
        for (i, &c) in codes.iter().enumerate() {
            let t = asm
                .assemble(
                    derived[0].codes[i],
                    Some(derived[1].codes[i]),
                    Some(derived[2].codes[i]),
                    &mut rng,
                )
                .unwrap();
            let truth = start + i64::from(c) * 60;
            // Same day and hour; the minute is drawn within the hour, on a whole minute.
            assert_eq!(t / 3_600, truth / 3_600, "row {i}");
            assert_eq!(t % 60, 0);
        }
        // The partial last week holds only a Monday: any other weekday lands on it.
        let t = asm.assemble(52, Some(4), Some(10), &mut rng).unwrap();
        assert_eq!(t.div_euclid(DAY), start / DAY + 364);
        assert!(asm.assemble(53, Some(0), Some(0), &mut rng).is_none());
    }

    #[test]
    fn nulls_stay_null_in_every_part() {
        let spec = arrival().nullable(true);
        let parts = calendar_parts(&spec, 128).unwrap();
        let book = codebook_of(&spec);
        let col = EncodedColumn {
            codebook: book,
            spec,
            codes: vec![book.null_code.unwrap(), 0],
        };
        let derived = derive_codes(&col, &parts).unwrap();
        assert_eq!(derived[0].codes, [53, 0]);
        assert_eq!(derived[1].codes, [7, 0]);
        assert_eq!(derived[2].codes, [24, 0]);
    }

    #[test]
    fn wide_dates_become_period_and_weekday() {
        let spec = ColumnSpec::new(
            "seen",
            ColumnKind::Date {
                min: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
                max: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
                granularity: DateGranularity::Day,
                format: None,
            },
        );
        let parts = calendar_parts(&spec, 128).unwrap();
        assert_eq!(parts.len(), 2);
        // 1,827 days: 261 weeks is too many, 60 months fit.
        assert!(matches!(
            parts[0].kind,
            ColumnKind::Date {
                granularity: DateGranularity::Month,
                ..
            }
        ));
        let col = EncodedColumn {
            codebook: codebook_of(&spec),
            spec: spec.clone(),
            codes: vec![0, 40], // 2020-01-01 (Wed), 2020-02-10 (Mon)
        };
        let d = derive_codes(&col, &parts).unwrap();
        assert_eq!(d[0].codes, [0, 1]);
        assert_eq!(d[1].codes, [2, 0]);
        let cal = Calendar {
            spec,
            period: 0,
            weekday: Some(1),
            hour: None,
        };
        let asm = cal.assembler(&parts).unwrap();
        let mut rng = chunk_rng(1, 0, 0);
        for _ in 0..20 {
            let day = asm.assemble(1, Some(0), None, &mut rng).unwrap();
            let date = NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).unwrap();
            assert_eq!((date.month(), date.weekday()), (2, chrono::Weekday::Mon));
        }
    }
}
