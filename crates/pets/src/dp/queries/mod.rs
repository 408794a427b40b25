//! Differentially private queries over encoded tables.
//!
//! A query reads a [`DpData`] (an [`EncodedTable`] plus the rows kept by contribution
//! bounding), is given a *share* of the session's budget, computes its exact statistic in
//! parallel (rayon), and releases it through the [`crate::dp::Session`], which
//! charges before drawing. Each result carries its accuracy and the warnings that apply
//! (domain read from the data, values approximated by bin midpoints, row-level privacy).
//!
//! | module | queries |
//! |---|---|
//! | [`count`] | row count |
//! | [`moments`] | sum, mean, variance of a clamped numeric column |
//! | [`quantile`] | quantiles and the median (exponential mechanism over candidates) |
//! | [`histogram`] | histograms and k-way contingency tables over public domains |
//! | [`groupby`] | group-by counts with keys not known in advance (stability histogram) |
//! | [`postprocess`] | non-negative counts, consistent totals (free: post-processing) |
//! | [`spec`] | a query file (TOML/JSON) run under one budget |
//!
//! Sensitivities are stated for neighbouring datasets that differ by **one person** (all of
//! their rows, at most `m` after bounding): a count changes by at most `m`, a sum of values
//! clamped to `[L, U]` by at most `m max(|L|, |U|)`, a histogram by `m` in L1 and L2.

pub mod count;
pub mod dims;
pub mod groupby;
pub mod histogram;
pub mod moments;
pub mod numeric;
pub mod postprocess;
pub mod quantile;
pub mod spec;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::data::{EncodedColumn, EncodedTable};
use crate::dp::accuracy::{Accuracy, Interval};
use crate::dp::bounding::{Bounded, PersonIds};
use crate::dp::budget::{Cost, PrivacyMeasure};
use crate::dp::error::{DpError, Result};
use crate::dp::ledger::QueryRecord;
use crate::dp::mechanisms::{DiscreteGaussian, DiscreteLaplace, NoiseFamily, laplace_epsilon_for};

use crate::dp::session::{Release, Session};

pub use dims::Dimension;

/// An encoded table with its contribution bound: what DP queries read.
#[derive(Debug, Clone)]
pub struct DpData<'a> {
    table: Cow<'a, EncodedTable>,
    bounded: Bounded,
    raw: Vec<(String, Vec<Option<f64>>)>,
    /// Raw columns of integers that the schema does not declare (integer quantile candidates).
    raw_integer: Vec<String>,
    /// Raw columns whose declared domain was read from the data.
    data_domains: Vec<String>,
}

impl<'a> DpData<'a> {
    /// `table` with rows `bounded` (which must be computed for the same rows).
    pub fn new(table: &'a EncodedTable, bounded: Bounded) -> Result<DpData<'a>> {
        DpData::from_cow(Cow::Borrowed(table), bounded)
    }

    pub(crate) fn from_cow(table: Cow<'a, EncodedTable>, bounded: Bounded) -> Result<DpData<'a>> {
        if bounded.n_rows() != table.n_rows() {
            return Err(DpError::query(
                "contribution bounding",
                format!(
                    "bounded {} rows but the table has {}",
                    bounded.n_rows(),
                    table.n_rows()
                ),
            ));
        }
        Ok(DpData {
            table,
            bounded,
            raw: Vec::new(),
            raw_integer: Vec::new(),
            data_domains: Vec::new(),
        })
    }

    /// Person-level privacy: keep at most `max_rows_per_person` rows of each person in
    /// `ids` (seeded uniform choice).
    pub fn by_person(
        table: &'a EncodedTable,
        ids: &PersonIds,
        max_rows_per_person: u32,
        seed: u64,
    ) -> Result<DpData<'a>> {
        if ids.len() != table.n_rows() {
            return Err(DpError::PersonIds {
                column: ids.column().into(),
                reason: format!(
                    "{} ids for a table of {} rows; read them from the same data",
                    ids.len(),
                    table.n_rows()
                ),
            });
        }
        DpData::new(table, Bounded::by_person(ids, max_rows_per_person, seed)?)
    }

    /// Row-level privacy (no person id); the ledger says so.
    pub fn row_level(table: &'a EncodedTable) -> DpData<'a> {
        DpData {
            table: Cow::Borrowed(table),
            bounded: Bounded::row_level(table.n_rows()),
            raw: Vec::new(),
            raw_integer: Vec::new(),
            data_domains: Vec::new(),
        }
    }

    /// Attach a numeric column of raw values (one per table row, `None` for null), e.g. a
    /// float column read from Arrow, so sums and quantiles use exact values, not bins. A
    /// NaN or infinity in a selected row makes those queries fail with a clear error.
    pub fn with_raw_values(mut self, name: &str, values: Vec<Option<f64>>) -> Result<DpData<'a>> {
        if values.len() != self.table.n_rows() {
            return Err(DpError::query(
                format!("raw values of {name:?}"),
                format!(
                    "{} values for a table of {} rows",
                    values.len(),
                    self.table.n_rows()
                ),
            ));
        }
        self.raw.retain(|(n, _)| n != name);
        self.raw.push((name.to_string(), values));
        Ok(self)
    }

    /// Mark the raw column `name` as integers the schema does not declare: quantiles then
    /// default to integer candidates between the bounds.
    pub fn with_integer_raw(mut self, name: &str) -> DpData<'a> {
        self.raw_integer.push(name.to_string());
        self
    }

    /// Mark the raw column `name` as having a domain read from the data (results warn).
    pub fn with_data_domain(mut self, name: &str) -> DpData<'a> {
        self.data_domains.push(name.to_string());
        self
    }

    /// Whether `name` holds raw integers that the schema does not declare.
    pub fn is_undeclared_integer(&self, name: &str) -> bool {
        self.raw_integer.iter().any(|c| c == name) && self.table.column(name).is_err()
    }

    /// The table.
    pub fn table(&self) -> &EncodedTable {
        &self.table
    }

    /// The rows kept and the bound.
    pub fn bounded(&self) -> &Bounded {
        &self.bounded
    }

    /// Rows one person may contribute.
    pub fn m(&self) -> f64 {
        f64::from(self.bounded.max_rows_per_person())
    }

    /// An encoded column, or an error listing those that exist.
    pub fn column(&self, name: &str) -> Result<&EncodedColumn> {
        self.table.column(name).map_err(|_| DpError::UnknownColumn {
            column: name.to_string(),
            what: "table (the schema's encoded columns)".into(),
            available: self
                .table
                .columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
        })
    }

    pub(crate) fn raw(&self, name: &str) -> Option<&[Option<f64>]> {
        self.raw
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The ledger record of `query` over `columns`, with the contribution bound and a loud
    /// warning for every column whose domain was read from the data.
    pub fn record(&self, query: impl Into<String>, columns: &[String]) -> QueryRecord {
        let mut r = QueryRecord::new(query, columns.to_vec(), self.bounded.contribution().clone());
        for c in columns {
            let from_data = match self.table.column(c) {
                Ok(col) => col.spec.domain_from_data,
                Err(_) => self.data_domains.iter().any(|d| d == c),
            };
            if from_data {
                r = r.warn(domain_warning(c));
            }
        }
        if let Some(note) = &self.bounded.contribution().note {
            r = r.warn(format!("row-level privacy: {note}"));
        }
        r
    }
}

/// The warning every result over a column with a data-derived domain carries.
pub fn domain_warning(column: &str) -> String {
    format!(
        "DOMAIN_FROM_DATA: the domain of {column:?} was read from the data, not declared; the \
         set of values (and bounds) it contains is NOT protected by differential privacy. \
         Declare the domain in the schema from public knowledge before releasing"
    )
}

/// A released scalar statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalarResult {
    /// The query.
    pub query: String,
    /// The released value.
    pub value: f64,
    /// A `1 - alpha` interval for the true (bounded) value, where one is available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// Accuracy of the main noisy part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
    /// Ledger entries of the releases it used.
    pub ledger_entries: Vec<usize>,
    /// Warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Split `share` into `n` parts (by `weights`) whose exact sum is at most `share`.
pub fn split_share(share: &Cost, weights: &[f64]) -> Result<Vec<Cost>> {
    use crate::dp::budget::down;
    use dashu::rational::RBig;
    share.validate()?;
    let total_w: f64 = weights.iter().sum();
    if weights.is_empty() || weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
        return Err(DpError::query(
            "splitting a budget",
            "weights must be finite and greater than zero",
        ));
    }
    let ex = |x: f64| RBig::try_from(x).expect("validated finite");
    let tw = ex(total_w);
    Ok(weights
        .iter()
        .map(|&w| {
            let f = ex(w) / &tw;
            let main = down(&(ex(share.main()) * &f));
            let delta = down(&(ex(share.delta()) * &f));
            match share {
                Cost::Dp { .. } => Cost::epsilon(main).with_delta(delta),
                Cost::Zcdp { .. } => Cost::rho(main).with_delta(delta),
            }
        })
        .collect())
}

/// Check `share` is in the session's measure and positive.
pub(crate) fn check_share(session: &Session, query: &str, share: &Cost) -> Result<()> {
    share.validate()?;
    if share.main() <= 0.0 {
        return Err(DpError::invalid(
            format!("{} for {query}", share.main_name()),
            share.main(),
            "a query's share must be greater than zero",
        ));
    }
    if share.measure() != session.measure() {
        return Err(DpError::query(
            query,
            format!(
                "its share is given in {} but the session's budget is in {}; give the share \
                 in the session's measure",
                share.measure(),
                session.measure()
            ),
        ));
    }
    session.check_share(query, share)
}

/// Integer noise for counts, chosen by family and calibrated to a share.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CountNoise {
    Laplace(DiscreteLaplace),
    Gaussian(DiscreteGaussian),
}

impl CountNoise {
    /// For a count vector with L1 sensitivity `l1` and L2 sensitivity `l2`.
    pub(crate) fn for_share(
        measure: PrivacyMeasure,
        family: NoiseFamily,
        share: &Cost,
        l1: f64,
        l2: f64,
    ) -> Result<CountNoise> {
        Ok(match family.resolve(measure)? {
            NoiseFamily::Gaussian => {
                CountNoise::Gaussian(DiscreteGaussian::for_rho(l2, share.main())?)
            }
            _ => CountNoise::Laplace(DiscreteLaplace::for_epsilon(
                l1,
                laplace_epsilon_for(share)?,
            )?),
        })
    }

    pub(crate) fn release(
        &self,
        session: &mut Session,
        counts: &[i64],
        record: QueryRecord,
    ) -> Result<Release<Vec<i64>>> {
        match self {
            CountNoise::Laplace(m) => session.release(m, counts, record),
            CountNoise::Gaussian(m) => session.release(m, counts, record),
        }
    }
}
