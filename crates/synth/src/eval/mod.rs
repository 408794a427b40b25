//! Evaluation of a synthetic table against the real one: utility and privacy, for the
//! custodian who holds the real data (issue 13).
//!
//! [`EvalJob`] is what every front door runs (`pets synth evaluate`,
//! `pets.synth.evaluate`): it reads the real table (the rows the synthesiser was fitted
//! on), the synthetic table and optionally a holdout (real rows of the same population the
//! synthesiser never saw), and returns an [`EvalReport`] (JSON with serde, a self-contained
//! HTML page with [`EvalReport::to_html`]):
//!
//! - [`views`]: each column as an analyst tabulates it (categories, numbers by quantile
//!   bins, datetimes by weekday and hour), coded alike in every table;
//! - [`mod@marginals`]: 1-way and 2-way total-variation distance (TVD) of every view and pair
//!   against the independent and shuffled baselines, and k-way TVD on a workload (every
//!   3-way by default, or a seeded sample of [`MAX_DEFAULT_WORKLOAD`] of them);
//! - [`association`]: Cramér's V of every pair of views, real and synthetic;
//! - [`numeric`]: Wasserstein-1 and Kolmogorov-Smirnov distances per numeric column, and
//!   Pearson correlations;
//! - [`utility`]: train on synthetic, test on real, against train on real, for a binary
//!   target (logistic regression on one-hot views; AUC and accuracy);
//! - [`privacy`]: distance to the closest record against a holdout baseline, exact matches,
//!   and a distance-based membership-inference attack;
//! - [`report`]: the report and its HTML.
//!
//! Every sample the evaluation draws (rows for the privacy tests and the models, the
//! default workload, the shuffled baseline) is seeded: the same inputs and seed give the
//! same report, timings aside.
//!
//! [`mean_tvd`] compares two tables encoded against one schema (the synthesis codes);
//! [`evaluate`] gives the marginal figures alone.

use std::collections::BTreeMap;
use std::time::Instant;

use arrow_array::RecordBatch;
use pets::data::{ColumnKind, EncodedTable, Schema, TableSource};
use pets::progress::Progress;
use rayon::prelude::*;

use crate::error::{Result, SynthError};
use crate::marginals::Marginal;

pub mod association;
pub mod marginals;
pub mod numeric;
pub mod privacy;
pub mod report;
pub mod utility;
pub mod views;

pub use association::{Association, cramers_v};
pub use marginals::{Evaluation, MAX_DEFAULT_WORKLOAD, WorkloadTvd};
pub use numeric::{Correlation, NumericDistance, wasserstein_ks};
pub use privacy::Privacy;
pub use report::{EvalReport, Rows, ViewComparison};
pub use utility::{Scores, Utility, auc};
pub use views::{MAX_RAW_CATEGORIES, QUANTILE_BINS, TOP_CATEGORIES};

fn sets(columns: &[&str], k: usize) -> Vec<Vec<String>> {
    match k {
        1 => columns.iter().map(|c| vec![c.to_string()]).collect(),
        _ => (0..columns.len())
            .flat_map(|a| (a + 1..columns.len()).map(move |b| (a, b)))
            .map(|(a, b)| vec![columns[a].to_string(), columns[b].to_string()])
            .collect(),
    }
}

/// Mean TVD over every `k`-way marginal (`k` is 1 or 2) of `columns` between two tables
/// encoded against the same schema.
pub fn mean_tvd(
    real: &EncodedTable,
    synth: &EncodedTable,
    columns: &[&str],
    k: usize,
) -> Result<f64> {
    let sets = sets(columns, k);
    let d: Vec<f64> = sets
        .par_iter()
        .map(|s| {
            let cols: Vec<&str> = s.iter().map(String::as_str).collect();
            let p = Marginal::compute(real, &cols)?;
            let q = Marginal::compute(synth, &cols)?;
            Ok(views::tvd(&p.counts, &q.counts))
        })
        .collect::<Result<_>>()?;
    Ok(d.iter().sum::<f64>() / d.len().max(1) as f64)
}

/// The independent baseline: mean 2-way TVD between the real table and the product of its
/// exact 1-way marginals (what sampling each column independently achieves at best).
pub fn independent_mean_tvd(real: &EncodedTable, columns: &[&str]) -> Result<f64> {
    let sets = sets(columns, 2);
    let d: Vec<f64> = sets
        .par_iter()
        .map(|s| {
            let p = Marginal::compute(real, &[&s[0], &s[1]])?;
            let a = Marginal::compute(real, &[&s[0]])?;
            let b = Marginal::compute(real, &[&s[1]])?;
            let n = real.n_rows().max(1) as f64;
            let nb = b.counts.len();
            Ok(0.5
                * p.counts
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let q = a.counts[i / nb] as f64 * b.counts[i % nb] as f64 / (n * n);
                        (x as f64 / n - q).abs()
                    })
                    .sum::<f64>())
        })
        .collect::<Result<_>>()?;
    Ok(d.iter().sum::<f64>() / d.len().max(1) as f64)
}

/// Compare a synthetic table with the real one over every column of `schema` present in
/// both (text and direct identifiers left out), through the [`views`]: mean 1-way and 2-way
/// TVD, and the independent and shuffled baselines. [`EvalJob`] gives this and the rest.
pub fn evaluate(
    real: &[RecordBatch],
    synth: &[RecordBatch],
    schema: &Schema,
) -> Result<Evaluation> {
    let specs = views::evaluated_columns(schema, real, synth, None);
    let v = views::build(&specs, real, synth, &[])?;
    Ok(marginals::compare(&v, specs.len()).0)
}

/// Rows of each privacy-test sample by default.
pub const DEFAULT_SAMPLE_ROWS: usize = 10_000;

/// What [`EvalJob`] measures besides the marginals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalOptions {
    /// The target of the machine-learning utility test (none: no test), a categorical
    /// column such as `admitted`.
    pub target: Option<String>,
    /// The target's positive value (default: the second of exactly two declared values,
    /// `true` of `["false", "true"]`).
    pub positive: Option<String>,
    /// The columns (or views) the utility test's models see (empty: every other evaluated
    /// column). Leave out columns that give the target away (for `admitted`: the discharge
    /// destination, the length of stay).
    #[serde(default)]
    pub features: Vec<String>,
    /// Marginals to compare, as lists of column or view names (`arrival_datetime` stands for
    /// its weekday and hour views, `arrival_datetime:hour` for one); empty: every 3-way
    /// marginal of the views, or a seeded sample of [`MAX_DEFAULT_WORKLOAD`] of them.
    pub workload: Vec<Vec<String>>,
    /// Rows of each sample of the privacy tests ([`privacy`]).
    pub sample_rows: usize,
    /// Seed of every sample the evaluation draws.
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            target: None,
            positive: None,
            features: Vec::new(),
            workload: Vec::new(),
            sample_rows: DEFAULT_SAMPLE_ROWS,
            seed: 0,
        }
    }
}

/// The evaluation every front door runs: read the tables, compare, report.
///
/// ```
/// use pets::data::{Schema, TableSource};
/// use pets_synth::eval::{EvalJob, EvalOptions};
/// # let dir = tempfile::tempdir().unwrap();
/// # let rows = |n: usize, k: usize| -> String {
/// #     (0..n).map(|i| format!("{},{}\n", ["F", "M"][(i * k) % 2], i % 3 == 0)).collect()
/// # };
/// # std::fs::write(dir.path().join("real.csv"), format!("sex,admitted\n{}", rows(600, 1))).unwrap();
/// # std::fs::write(dir.path().join("synth.csv"), format!("sex,admitted\n{}", rows(600, 3))).unwrap();
/// # std::fs::write(dir.path().join("holdout.csv"), format!("sex,admitted\n{}", rows(300, 1))).unwrap();
/// let schema = Schema::from_json(r#"{"columns": [
///     {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
///     {"name": "admitted", "kind": "categorical", "values": ["false", "true"]}
/// ]}"#)?;
/// let report = EvalJob::new(
///     TableSource::file(dir.path().join("real.csv")),
///     TableSource::file(dir.path().join("synth.csv")),
///     schema,
/// )
/// .holdout(Some(TableSource::file(dir.path().join("holdout.csv"))))
/// .options(EvalOptions { target: Some("admitted".into()), ..EvalOptions::default() })
/// .run()?;
/// assert_eq!(report.rows.real, 600);
/// assert!(report.marginals.mean_1way < 1e-9);
/// assert!(report.privacy.mia_auc.is_some());
/// let html = report.to_html();
/// assert!(html.contains("<svg"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EvalJob {
    real: TableSource,
    synth: TableSource,
    holdout: Option<TableSource>,
    schema: Schema,
    options: EvalOptions,
    progress: Progress,
}

impl EvalJob {
    /// Compare `synth` with `real` (the rows the synthesiser was fitted on) under the
    /// declared `schema`.
    pub fn new(
        real: impl Into<TableSource>,
        synth: impl Into<TableSource>,
        schema: Schema,
    ) -> EvalJob {
        EvalJob {
            real: real.into(),
            synth: synth.into(),
            holdout: None,
            schema,
            options: EvalOptions::default(),
            progress: Progress::none(),
        }
    }

    /// Report progress to, and take stop requests from, `progress`: reading, then each
    /// comparison (views, marginals, workload, numeric, utility, privacy) as a stage; a stop
    /// request ends the evaluation between stages with [`SynthError`]'s stopped error.
    pub fn progress(mut self, progress: Progress) -> EvalJob {
        self.progress = progress;
        self
    }

    /// Real rows of the same population the synthesiser never saw: the baseline of the
    /// privacy tests, the membership-inference attack's non-members and the utility test's
    /// test rows.
    pub fn holdout(mut self, holdout: Option<TableSource>) -> EvalJob {
        self.holdout = holdout;
        self
    }

    /// The options.
    pub fn options(mut self, options: EvalOptions) -> EvalJob {
        self.options = options;
        self
    }

    /// Check the options against the schema, before any row is read.
    pub fn validate(&self) -> Result<()> {
        let o = &self.options;
        if o.sample_rows == 0 {
            return Err(SynthError::invalid(
                "sample_rows",
                0,
                "sample at least one row for the privacy tests",
            ));
        }
        if let Some(t) = &o.target {
            let spec = self.schema.columns.iter().find(|c| &c.name == t);
            match spec.map(|c| (&c.kind, c.role)) {
                Some((ColumnKind::Categorical { values, .. }, role))
                    if role != pets::data::Role::DirectIdentifier =>
                {
                    if o.positive.is_none() && values.len() != 2 {
                        return Err(SynthError::invalid(
                            "target",
                            t,
                            format!(
                                "it has {} declared values: name the positive one",
                                values.len()
                            ),
                        ));
                    }
                    if let Some(p) = &o.positive
                        && !values.contains(p)
                    {
                        return Err(SynthError::invalid(
                            "positive",
                            p,
                            format!("not a declared value of {t}"),
                        ));
                    }
                }
                _ => {
                    return Err(SynthError::invalid(
                        "target",
                        t,
                        "name a categorical column of the schema (not a direct identifier)",
                    ));
                }
            }
        }
        if !o.features.is_empty() && o.target.is_none() {
            return Err(SynthError::invalid(
                "features",
                o.features.join(","),
                "features are for the utility test: name its target too",
            ));
        }
        if o.positive.is_some() && o.target.is_none() {
            return Err(SynthError::invalid(
                "positive",
                o.positive.as_deref().unwrap_or_default(),
                "a positive value needs a target",
            ));
        }
        Ok(())
    }

    /// Read the tables and evaluate.
    pub fn run(&self) -> Result<EvalReport> {
        self.validate()?;
        self.progress.check()?;
        self.progress.stage("reading", None, "tables");
        let t = Instant::now();
        let mut warnings = Vec::new();
        let mut read = |s: &TableSource| -> Result<Vec<RecordBatch>> {
            let (pinned, w) = s.pinned(Some(&self.schema))?;
            warnings.extend(w);
            Ok(pinned.stream()?.collect::<pets::data::Result<Vec<_>>>()?)
        };
        let real = read(&self.real)?;
        let synth = read(&self.synth)?;
        let holdout = self.holdout.as_ref().map(&mut read).transpose()?;
        let read_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut report = evaluate_tables_with(
            &real,
            &synth,
            holdout.as_deref(),
            &self.schema,
            &self.options,
            &self.progress,
        )?;
        report.timings_ms.insert("read".into(), read_ms);
        report.warnings = warnings;
        Ok(report)
    }
}

fn rows_of(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// [`EvalJob`] on tables already in memory.
pub fn evaluate_tables(
    real: &[RecordBatch],
    synth: &[RecordBatch],
    holdout: Option<&[RecordBatch]>,
    schema: &Schema,
    options: &EvalOptions,
) -> Result<EvalReport> {
    evaluate_tables_with(real, synth, holdout, schema, options, &Progress::none())
}

/// [`evaluate_tables`], reporting each comparison to `progress` as a stage and stopping
/// between stages when asked.
pub fn evaluate_tables_with(
    real: &[RecordBatch],
    synth: &[RecordBatch],
    holdout: Option<&[RecordBatch]>,
    schema: &Schema,
    options: &EvalOptions,
    progress: &Progress,
) -> Result<EvalReport> {
    let mut timings = BTreeMap::new();
    // Each stage is timed; the next one is announced (after a stop check) as it starts.
    let mut lap = {
        let mut t = Instant::now();
        move |name: &str, next: &str, timings: &mut BTreeMap<String, f64>| -> Result<()> {
            timings.insert(name.to_string(), t.elapsed().as_secs_f64() * 1e3);
            progress.check()?;
            progress.stage(next, None, "");
            t = Instant::now();
            Ok(())
        }
    };
    progress.check()?;
    progress.stage("views", None, "");
    for (what, b) in [
        ("real", Some(real)),
        ("synthetic", Some(synth)),
        ("holdout", holdout),
    ] {
        if let Some(b) = b
            && rows_of(b) == 0
        {
            return Err(SynthError::invalid(
                "evaluate",
                what,
                format!("the {what} table has no rows"),
            ));
        }
    }
    let specs = views::evaluated_columns(schema, real, synth, holdout);
    if specs.is_empty() {
        return Err(SynthError::invalid(
            "evaluate",
            "columns",
            "no column of the schema is in every table (text and direct identifiers are not \
             evaluated)",
        ));
    }
    let mut notes = Vec::new();
    let skipped: Vec<&str> = schema
        .columns
        .iter()
        .filter(|c| {
            c.kind.is_encodable()
                && c.role != pets::data::Role::DirectIdentifier
                && !specs.iter().any(|s| s.name == c.name)
        })
        .map(|c| c.name.as_str())
        .collect();
    if !skipped.is_empty() {
        notes.push(format!(
            "not evaluated (missing from a table): {}",
            skipped.join(", ")
        ));
    }
    let v = views::build(&specs, real, synth, holdout.unwrap_or_default())?;
    lap("views", "marginals", &mut timings)?;
    let (marg, pairs) = marginals::compare(&v, specs.len());
    let association = Association::new(marg.views.clone(), &pairs);
    lap("marginals", "workload", &mut timings)?;
    let workload_default = options.workload.is_empty();
    let w = marginals::resolve_workload(&v, &options.workload, options.seed)?;
    let workload = marginals::workload_tvd(&v, &w);
    lap("workload", "numeric", &mut timings)?;
    let (numeric, correlation) = numeric::compare(&specs, real, synth)?;
    lap("numeric", "utility", &mut timings)?;
    let utility = match &options.target {
        Some(t) => {
            let declared = specs
                .iter()
                .find(|s| &s.name == t)
                .and_then(|s| match &s.kind {
                    ColumnKind::Categorical { values, .. } => Some(values.as_slice()),
                    _ => None,
                });
            let u = utility::compare(
                &v,
                t,
                options.positive.as_deref(),
                &options.features,
                declared,
                options.seed,
            )?;
            if u.test_source == "real split" {
                notes.push(format!(
                    "utility: without a holdout the test rows are a seeded {:.0}% of the real \
                     rows, which the synthesiser may have seen: this flatters train-on-synthetic",
                    utility::TEST_SHARE * 100.0
                ));
            }
            Some(u)
        }
        None => None,
    };
    lap("utility", "privacy", &mut timings)?;
    let privacy = privacy::compare(&v, options.sample_rows, options.seed);
    if privacy.mia_auc.is_none() {
        notes.push(
            "privacy: no holdout, so no membership-inference test; the DCR baseline is other \
             real rows (give real rows the synthesiser never saw as a holdout)"
                .into(),
        );
    }
    lap("privacy", "report", &mut timings)?;
    let views_cmp = v
        .iter()
        .zip(&marg.one_way)
        .map(|(view, &tvd)| {
            let share = |codes: &[u32]| {
                let c = views::count(&[codes], &[view.size()]);
                let n = codes.len().max(1) as f64;
                c.iter().map(|&x| x as f64 / n).collect()
            };
            ViewComparison {
                name: view.name.clone(),
                labels: view.labels.clone(),
                real: share(&view.real),
                synth: share(&view.synth),
                tvd,
            }
        })
        .collect();
    let workload_mean_tvd =
        workload.iter().map(|w| w.tvd).sum::<f64>() / workload.len().max(1) as f64;
    Ok(EvalReport {
        format: report::FORMAT.into(),
        version: report::VERSION,
        rows: Rows {
            real: rows_of(real),
            synth: rows_of(synth),
            holdout: holdout.map(rows_of),
        },
        columns: specs.iter().map(|s| s.name.clone()).collect(),
        options: options.clone(),
        views: views_cmp,
        marginals: marg,
        workload_default,
        workload_mean_tvd,
        workload,
        association,
        numeric,
        correlation,
        utility,
        privacy,
        notes,
        warnings: Vec::new(),
        timings_ms: timings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Int32Array, TimestampMillisecondArray};
    use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
    use std::sync::Arc;

    fn schema() -> Schema {
        Schema::from_json(
            r#"{"columns": [
            {"name": "admitted", "kind": "categorical", "values": ["false", "true"]},
            {"name": "minutes", "kind": "integer", "min": 0, "max": 999},
            {"name": "arrival", "kind": "datetime", "min": "2024-04-01T00:00:00",
             "max": "2024-04-30T23:59:00"}
        ]}"#,
        )
        .unwrap()
    }

    /// Admitted iff arrival at night, minutes = 10 x hour: fully dependent columns.
    fn table(rows: usize, shift: i64) -> Vec<RecordBatch> {
        let start = 1_711_929_600_000i64; // 2024-04-01T00:00:00 in ms
        let hour = |i: usize| ((i as i64 * 7 + shift).rem_euclid(24)) as i32;
        let admitted: BooleanArray = (0..rows).map(|i| Some(hour(i) < 6)).collect();
        let minutes: Int32Array = (0..rows).map(|i| Some(10 * hour(i))).collect();
        let arrival: TimestampMillisecondArray = (0..rows)
            .map(|i| Some(start + (i as i64 % 29) * 86_400_000 + i64::from(hour(i)) * 3_600_000))
            .collect();
        let s = Arc::new(ArrowSchema::new(vec![
            Field::new("admitted", DataType::Boolean, false),
            Field::new("minutes", DataType::Int32, false),
            Field::new(
                "arrival",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
        ]));
        vec![
            RecordBatch::try_new(
                s,
                vec![Arc::new(admitted), Arc::new(minutes), Arc::new(arrival)],
            )
            .unwrap(),
        ]
    }

    /// Records stages; asks to stop once `stop_at` begins.
    struct Stages {
        seen: std::sync::Mutex<Vec<String>>,
        stop_at: Option<&'static str>,
    }

    impl pets::progress::Observer for Stages {
        fn stage(&self, name: &str, _: Option<u64>, _: &str) {
            self.seen.lock().unwrap().push(name.to_string());
        }
        fn cancelled(&self) -> bool {
            let seen = self.seen.lock().unwrap();
            self.stop_at.is_some_and(|s| seen.iter().any(|n| n == s))
        }
    }

    #[test]
    fn each_comparison_is_a_stage_and_a_stop_request_ends_the_evaluation() {
        let real = table(600, 0);
        let run = |stop_at| {
            let stages = Arc::new(Stages {
                seen: Default::default(),
                stop_at,
            });
            let progress = Progress::new(stages.clone());
            let out = evaluate_tables_with(
                &real,
                &real,
                None,
                &schema(),
                &EvalOptions::default(),
                &progress,
            );
            let seen = stages.seen.lock().unwrap().clone();
            (out, seen)
        };
        let (out, seen) = run(None);
        assert!(out.is_ok());
        assert_eq!(
            seen,
            [
                "views",
                "marginals",
                "workload",
                "numeric",
                "utility",
                "privacy",
                "report"
            ]
        );
        let (out, seen) = run(Some("numeric"));
        let e = out.unwrap_err();
        assert_eq!(pets::Classify::kind(&e), pets::ErrorKind::Cancelled, "{e}");
        assert_eq!(seen.last().map(String::as_str), Some("numeric"));
    }

    #[test]
    fn identical_tables_score_zero_and_shuffling_scores_the_dependence() {
        let real = table(2_400, 0);
        let e = evaluate(&real, &real, &schema()).unwrap();
        assert_eq!(
            e.views,
            ["admitted", "minutes", "arrival:weekday", "arrival:hour"]
        );
        assert_eq!(e.pairs.len(), 6);
        assert_eq!((e.mean_1way, e.mean_2way), (0.0, 0.0));
        // admitted x hour: P(night) = 1/4, so the product puts 1/4 x 3/4 + 3/4 x 1/4 of the
        // mass on impossible cells: TVD 3/8.
        let p = e
            .pairs
            .iter()
            .find(|p| p.0 == "admitted" && p.1 == "arrival:hour")
            .unwrap();
        assert!((p.3 - 0.375).abs() < 1e-9, "{p:?}");
        assert!(p.4 > 0.3, "a real shuffle is near the product: {p:?}");
        // Admitted taken from a table with the hours moved by 12: its 1-way is unchanged
        // (a quarter of the rows), its joints with the hour and the minutes are not.
        let shifted = table(2_400, 12);
        let mixed = RecordBatch::try_new(
            real[0].schema(),
            vec![
                shifted[0].column(0).clone(),
                real[0].column(1).clone(),
                real[0].column(2).clone(),
            ],
        )
        .unwrap();
        let e = evaluate(&real, &[mixed], &schema()).unwrap();
        assert!(e.one_way[0] < 1e-9);
        let p = e
            .pairs
            .iter()
            .find(|p| p.0 == "admitted" && p.1 == "arrival:hour")
            .unwrap();
        assert!((p.2 - 0.5).abs() < 1e-9, "{p:?}");
        assert!(e.mean_2way > 0.1);
    }

    #[test]
    fn numbers_are_viewed_by_real_quantiles() {
        let real = table(2_400, 0);
        let e = evaluate(&real, &real, &schema()).unwrap();
        // 24 distinct minute values at equal frequency: 19 cut points, 20 bins + null.
        let synth = table(2_400, 1);
        let f = evaluate(&real, &synth, &schema()).unwrap();
        assert_eq!(e.one_way[1], 0.0);
        assert!(f.one_way[1] < 0.1, "{}", f.one_way[1]);
    }
}
