//! [`QueryJob`]: one DP query with its share of the budget, as every front door runs it.
//!
//! `pets dp query` runs a spec's queries as jobs ([`crate::dp::QuerySpec::run`]); the Python
//! `Session` runs one job per call; a Rust service builds them directly. The job resolves its
//! share (given, or everything left), checks it against the session **before** any data are
//! read ([`QueryJob::resolve_share`]), checks the query against the data, then releases
//! through the session (charge, then draw, then ledger) and labels the output with the one
//! label of [`QueryKind::label`].
//!
//! ```
//! use pets::prelude::*;
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("ae.csv");
//! # let rows: String = (0..300).map(|i| format!("{},{}\n", i % 90, i)).collect();
//! # std::fs::write(&path, format!("age,nhs_number\n{rows}")).unwrap();
//! let schema = Schema::from_json(
//!     r#"{"columns": [{"name": "age", "kind": "integer", "min": 0, "max": 110}]}"#)?;
//! let mut session = Session::pure(1.0)?;
//! let mean = QueryJob::new(QueryKind::Mean { column: "age".into(), lower: 0.0, upper: 110.0 })
//!     .share(Cost::epsilon(0.5));
//! mean.resolve_share(&session)?;                       // refuses before reading anything
//! let input = DpTable::load(TableSource::file(&path), &schema)
//!     .person_id("nhs_number", 2)
//!     .read_for([mean.kind()])?;
//! let out = mean.run(&mut session, &input.data)?;
//! assert_eq!(session.ledger().entries.len(), 2);       // noisy sum and noisy count
//! # let _ = out;
//! # Ok::<(), DpError>(())
//! ```

use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result};
use crate::dp::mechanisms::NoiseFamily;
use crate::dp::queries::DpData;
use crate::dp::queries::spec::{QueryKind, QueryOutput};
use crate::dp::session::Session;

/// One query, its share and noise family, and an optional label for its output.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryJob {
    kind: QueryKind,
    share: Option<Cost>,
    noise: NoiseFamily,
    name: Option<String>,
}

impl QueryJob {
    /// The query `kind`, spending everything left unless [`QueryJob::share`] is given.
    pub fn new(kind: QueryKind) -> QueryJob {
        QueryJob {
            kind,
            share: None,
            noise: NoiseFamily::Auto,
            name: None,
        }
    }

    /// Spend `share` of the session's budget.
    pub fn share(mut self, share: Cost) -> QueryJob {
        self.share = Some(share);
        self
    }

    /// Spend `share`, or everything left when `None`.
    pub fn share_opt(mut self, share: Option<Cost>) -> QueryJob {
        self.share = share;
        self
    }

    /// The noise family (default: by the session's measure).
    pub fn noise(mut self, noise: NoiseFamily) -> QueryJob {
        self.noise = noise;
        self
    }

    /// A label for the output (default: none; the query's own label is in the result).
    pub fn name_opt(mut self, name: Option<String>) -> QueryJob {
        self.name = name;
        self
    }

    /// The query.
    pub fn kind(&self) -> &QueryKind {
        &self.kind
    }

    /// The share this job will spend in `session` (given, or everything left; the delta
    /// only for queries that need one), checked to fit the budget now: call it before
    /// reading the data so that a refusal costs nothing.
    pub fn resolve_share(&self, session: &Session) -> Result<Cost> {
        let label = self.kind.label();
        let share = match self.share {
            Some(s) => s,
            None => {
                let left = session.remaining();
                let left = if self.kind.needs_delta() {
                    left
                } else {
                    left.with_delta(0.0)
                };
                if left.main() <= 0.0 {
                    return Err(DpError::OverBudget {
                        query: label,
                        requested: left,
                        remaining: session.remaining(),
                        spent: session.spent(),
                        total: session.total(),
                    });
                }
                left
            }
        };
        share.validate()?;
        session.check_share(&label, &share)?;
        Ok(share)
    }

    /// Check the query against `data`, then release it in `session`.
    pub fn run(&self, session: &mut Session, data: &DpData<'_>) -> Result<QueryOutput> {
        let share = self.resolve_share(session)?;
        self.kind.check(data)?;
        Ok(self
            .kind
            .run(session, data, share, self.noise)?
            .with_name(self.name.clone()))
    }
}

impl QueryJob {
    /// [`QueryJob::run`] on a partial merged from partitions ([`QueryKind::partial`]): the
    /// same share resolution and checks, then [`QueryKind::run_merged`] (noise drawn once,
    /// here).
    pub fn run_merged(
        &self,
        session: &mut Session,
        data: &DpData<'_>,
        merged: &crate::partial::Partial,
    ) -> Result<QueryOutput> {
        let share = self.resolve_share(session)?;
        self.kind.check(data)?;
        Ok(self
            .kind
            .run_merged(session, data, share, self.noise, merged)?
            .with_name(self.name.clone()))
    }
}

/// Partitioned runs (Spark's `mapInArrow`; [`crate::partial`]): each partition's exact
/// counts or fixed-point sums as bytes on the executors, then one release at the driver.
/// The driver's steps take the partitions' table with zero rows (its columns and types),
/// so everything is checked before any partition is read.
impl QueryJob {
    /// One partition's exact part of this count, histogram, sum, mean or variance, as
    /// [`Partial`](crate::partial::Partial) bytes (not private: for merging and noising
    /// once at the driver). `table` is the partition (its rows are the privacy unit: no
    /// person bounding across partitions).
    pub fn partial(&self, table: &crate::dp::DpTable) -> Result<Vec<u8>> {
        let input = table.read_for([&self.kind])?;
        self.kind.check(&input.data)?;
        Ok(self.kind.partial(&input.data)?.to_bytes())
    }

    /// The driver's check before any partition is read: the share against `session`'s
    /// budget, the query against the partitions' columns and types (`empty`: the table with
    /// zero rows) and that it merges exactly (not a quantile or group-by). Returns the
    /// columns the partitions must send (none for a count).
    pub fn check_partitioned(
        &self,
        session: &Session,
        empty: &crate::dp::DpTable,
    ) -> Result<Vec<String>> {
        self.resolve_share(session)?;
        let input = empty.read_for([&self.kind])?;
        self.kind.check(&input.data)?;
        self.kind.partial(&input.data)?;
        let mut columns = self.kind.grouped_columns();
        if let Some(c) = self.kind.numeric_column()
            && !columns.iter().any(|g| g == c)
        {
            columns.push(c.to_string());
        }
        Ok(columns)
    }

    /// The driver's release from the partitions' bytes ([`QueryJob::partial`]): the same
    /// checks as [`QueryJob::check_partitioned`], the partials merged (any other kind or
    /// query refused), then [`QueryJob::run_merged`]: the noise drawn once, charged and
    /// ledgered by `session` as [`QueryJob::run`] does on the whole table.
    pub fn run_partials<B: AsRef<[u8]>>(
        &self,
        session: &mut Session,
        empty: &crate::dp::DpTable,
        partials: &[B],
    ) -> Result<QueryOutput> {
        self.resolve_share(session)?;
        let input = empty.read_for([&self.kind])?;
        let Some(merged) = crate::partial::Partial::merge_bytes(partials)? else {
            return Err(DpError::query(
                self.kind.label(),
                "no partition sent anything: the table has no rows",
            ));
        };
        self.run_merged(session, &input.data, &merged)
    }
}

/// Shorthands for the commonest queries, each one [`QueryJob`] (the same dispatch, label and
/// checks as every front door).
impl Session {
    /// A DP count of the rows `data` keeps, spending `share`.
    pub fn count(&mut self, data: &DpData<'_>, share: Cost) -> Result<QueryOutput> {
        QueryJob::new(QueryKind::Count).share(share).run(self, data)
    }

    /// A DP histogram (contingency table) over `dimensions`, spending `share`.
    pub fn histogram(
        &mut self,
        data: &DpData<'_>,
        dimensions: &[&str],
        share: Cost,
    ) -> Result<QueryOutput> {
        QueryJob::new(QueryKind::histogram(dimensions)?)
            .share(share)
            .run(self, data)
    }

    /// The DP mean of `column` clamped to the public `[lower, upper]`, spending `share`.
    pub fn mean(
        &mut self,
        data: &DpData<'_>,
        column: &str,
        (lower, upper): (f64, f64),
        share: Cost,
    ) -> Result<QueryOutput> {
        QueryJob::new(QueryKind::Mean {
            column: column.into(),
            lower,
            upper,
        })
        .share(share)
        .run(self, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{EncodeOptions, Schema, encode_batches};
    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};
    use std::sync::Arc;

    #[test]
    fn shorthands_run_one_job_and_refuse_before_reading_when_over_budget() {
        let arrow = Arc::new(ArrowSchema::new(vec![
            Field::new("sex", DataType::Utf8, false),
            Field::new("age", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            arrow,
            vec![
                Arc::new(StringArray::from(vec!["F", "M", "F", "F"])),
                Arc::new(Int64Array::from(vec![30, 40, 50, 60])),
            ],
        )
        .unwrap();
        let schema = Schema::from_json(
            r#"{"columns": [{"name": "sex", "kind": "categorical", "values": ["F", "M"]},
                            {"name": "age", "kind": "integer", "min": 0, "max": 110}]}"#,
        )
        .unwrap();
        let table = encode_batches(&schema, &[batch], EncodeOptions::default()).unwrap();
        let data = DpData::row_level(&table);
        let mut s = Session::pure(3e6).unwrap();
        let QueryOutput::Scalar { result, .. } = s.count(&data, Cost::epsilon(1e6)).unwrap() else {
            panic!("a count is a scalar")
        };
        assert_eq!(result.value, 4.0);
        let QueryOutput::Table { result, .. } =
            s.histogram(&data, &["sex"], Cost::epsilon(1e6)).unwrap()
        else {
            panic!("a histogram is a table")
        };
        assert_eq!(result.counts, vec![3, 1]);
        let QueryOutput::Scalar { result, .. } = s
            .mean(&data, "age", (0.0, 110.0), Cost::epsilon(1e6))
            .unwrap()
        else {
            panic!("a mean is a scalar")
        };
        assert!((result.value - 45.0).abs() < 1e-3, "{}", result.value);
        let labels: Vec<String> = s.ledger().entries.iter().map(|e| e.query.clone()).collect();
        assert_eq!(labels[0], "count");
        assert_eq!(labels[1], "histogram(sex)");
        // Over budget: refused with nothing spent.
        let before = s.remaining();
        assert!(s.count(&data, Cost::epsilon(1e6)).is_err());
        assert_eq!(s.remaining(), before);
    }
}
