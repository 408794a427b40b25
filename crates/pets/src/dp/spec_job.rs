//! [`SpecJob`]: a whole query spec over one table under one budget, as `pets dp query` and a
//! service run it.
//!
//! The steps, in the order that keeps every promise of the DP pages:
//!
//! 1. **plan** ([`SpecJob::plan`]): the budget, the significance level and every query's
//!    share are checked before a row is read;
//! 2. **read** the columns the queries need against the declared schema ([`DpTable`]),
//!    bounding each person's rows when the spec names an id column;
//! 3. **check** every query against the data (columns exist and have the right kind);
//! 4. **charge the budget file**, when there is one: after every check that can fail, before
//!    any noise is drawn, so a refused or failed run costs the dataset nothing and a run
//!    that draws noise is always on file;
//! 5. **release** each query through the session (charge, draw, ledger).
//!
//! [`SpecRun`] holds what may be released (results and ledger) apart from the exact
//! figures a custodian may ask to see ([`CustodianFigures`], never serialised).

use std::path::PathBuf;

use crate::data::{Schema, TableSource};
use crate::dp::budget::Cost;
use crate::dp::budget_store::{BudgetStore, ChargeRecord};
use crate::dp::error::Result;
use crate::dp::queries::spec::{QuerySpec, SpecResults};
use crate::dp::session::Session;
use crate::dp::table::DpTable;

/// A query spec, the total budget, and where to charge it.
#[derive(Debug, Clone)]
pub struct SpecJob {
    spec: QuerySpec,
    total: Cost,
    alpha: Option<f64>,
    seed: Option<u64>,
    budget_file: Option<(PathBuf, ChargeRecord)>,
}

/// What a [`SpecJob`] released, and what it may say about it.
#[derive(Debug, Clone)]
pub struct SpecRun {
    /// One result per query and the ledger: everything that may be released.
    pub results: SpecResults,
    /// The planned share of each query, by label (public: functions of the spec and budget).
    pub planned: Vec<(String, Cost)>,
    /// Warnings of the read and of every query, sorted and without repeats.
    pub warnings: Vec<String>,
    /// Exact figures of the data. **Not for release**: only a door's custodian-only switch
    /// (`pets dp query --show-exact`) prints them.
    pub custodian: CustodianFigures,
}

/// Exact, unprotected figures of the data read. Deliberately not `Serialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustodianFigures {
    /// Rows read.
    pub rows_read: usize,
    /// Rows kept after person-level bounding.
    pub rows_kept: usize,
}

impl SpecJob {
    /// Run `spec` under the total budget `total` (its delta pays for group-by queries).
    pub fn new(spec: QuerySpec, total: Cost) -> SpecJob {
        SpecJob {
            spec,
            total,
            alpha: None,
            seed: None,
            budget_file: None,
        }
    }

    /// The significance level of the reported intervals (default: the spec's, else 0.05).
    pub fn alpha(mut self, alpha: Option<f64>) -> SpecJob {
        self.alpha = alpha;
        self
    }

    /// The seed of person-level bounding (default: the spec's).
    pub fn seed(mut self, seed: Option<u64>) -> SpecJob {
        self.seed = seed;
        self
    }

    /// Charge the total to the dataset's persistent budget file at `path`
    /// ([`crate::dp::budget_store`]) under `record`; the data source is added to the record.
    pub fn budget_file(mut self, path: Option<PathBuf>, record: ChargeRecord) -> SpecJob {
        self.budget_file = path.map(|p| (p, record));
        self
    }

    /// The spec.
    pub fn spec(&self) -> &QuerySpec {
        &self.spec
    }

    /// Step 1: the session and every query's share, checked before any data are read.
    pub fn plan(&self) -> Result<(Session, Vec<Cost>)> {
        let mut session = Session::new(self.total)?;
        if let Some(a) = self.alpha.or(self.spec.alpha) {
            session = session.with_alpha(a)?;
        }
        let shares = self.spec.shares(&session.remaining())?;
        Ok((session, shares))
    }

    /// Steps 1 to 5 over `source`, read against the declared `schema`.
    pub fn run(&self, source: impl Into<TableSource>, schema: &Schema) -> Result<SpecRun> {
        let source = source.into();
        let (mut session, shares) = self.plan()?;
        let described = source.describe();
        let input = DpTable::load(source, schema)
            .person_id_opt(self.spec.id_column.clone(), self.spec.max_rows_per_person)
            .seed(self.seed.unwrap_or(self.spec.seed))
            .read_for(self.spec.queries.iter().map(|q| &q.kind))?;
        let data = &input.data;
        self.spec.check(data)?;
        let receipt = match &self.budget_file {
            Some((path, record)) => Some(
                BudgetStore::open(path)?
                    .charge(&session.total(), &record.clone().data(described))?,
            ),
            None => None,
        };
        let mut results = self.spec.run(&mut session, data)?;
        results.budget_receipt = receipt;
        let mut warnings: Vec<String> = input
            .warnings
            .iter()
            .map(|w| w.message.clone())
            .chain(
                results
                    .results
                    .iter()
                    .flat_map(|r| r.warnings().iter().cloned()),
            )
            .collect();
        warnings.extend(self.total.weak_budget_warning().map(|w| w.message));
        warnings.sort_unstable();
        warnings.dedup();
        Ok(SpecRun {
            planned: self
                .spec
                .queries
                .iter()
                .map(|q| q.label())
                .zip(shares)
                .collect(),
            warnings,
            custodian: CustodianFigures {
                rows_read: data.bounded().n_rows(),
                rows_kept: data.bounded().n_selected(),
            },
            results,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dp::budget_store::BudgetStore;
    use crate::dp::error::DpError;

    fn files(dir: &std::path::Path) -> (PathBuf, Schema) {
        let path = dir.join("ae.csv");
        let rows: String = (0..400)
            .map(|i| format!("{},{}\n", i % 90, i % 150))
            .collect();
        std::fs::write(&path, format!("age,nhs_number\n{rows}")).unwrap();
        let schema = Schema::from_json(
            r#"{"columns": [{"name": "age", "kind": "integer", "min": 0, "max": 110},
                            {"name": "nhs_number", "kind": "text", "role": "direct_identifier"}]}"#,
        )
        .unwrap();
        (path, schema)
    }

    fn spec() -> QuerySpec {
        QuerySpec::from_toml(
            r#"
            id_column = "nhs_number"
            max_rows_per_person = 2
            [[query]]
            kind = "count"
            [[query]]
            kind = "mean"
            column = "age"
            lower = 0
            upper = 110
            "#,
        )
        .unwrap()
    }

    #[test]
    fn runs_a_spec_and_charges_the_budget_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let (data, schema) = files(dir.path());
        let store = dir.path().join("budget.json");
        BudgetStore::init(&store, Cost::epsilon(1.5), "ae", None).unwrap();
        let job = SpecJob::new(spec(), Cost::epsilon(1.0))
            .budget_file(Some(store.clone()), ChargeRecord::new("test"));
        let run = job.run(data.as_path(), &schema).unwrap();
        assert_eq!(run.results.results.len(), 2);
        assert_eq!(run.planned.len(), 2);
        assert_eq!(run.custodian.rows_read, 400);
        assert!(run.custodian.rows_kept <= 300);
        assert!(run.results.budget_receipt.is_some());
        // The file holds 1.5: a second run of 1.0 is refused before anything is drawn.
        let e = job.run(data.as_path(), &schema).unwrap_err();
        assert!(
            matches!(&e, DpError::BudgetFile(b) if b.as_dp().is_some()),
            "{e}"
        );
    }

    #[test]
    fn a_failing_check_charges_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (data, schema) = files(dir.path());
        let store = dir.path().join("budget.json");
        BudgetStore::init(&store, Cost::epsilon(1.0), "ae", None).unwrap();
        let mut bad = spec();
        bad.queries[1].kind = crate::dp::QueryKind::Mean {
            column: "nhs_number".into(),
            lower: 0.0,
            upper: 1.0,
        };
        let job = SpecJob::new(bad, Cost::epsilon(1.0))
            .budget_file(Some(store.clone()), ChargeRecord::new("test"));
        assert!(job.run(data.as_path(), &schema).is_err());
        let status = BudgetStore::inspect(&store).unwrap();
        assert!(
            status.entries.is_empty(),
            "nothing charged: {:?}",
            status.entries
        );
    }
}
