//! Query specs: a small TOML or JSON file listing queries to run under one budget.
//!
//! ```toml
//! id_column = "nhs_number"      # person id; omit for row-level privacy (the ledger says so)
//! max_rows_per_person = 3       # contribution bound m
//! seed = 1                      # for the choice of kept rows (not noise)
//!
//! [[query]]
//! kind = "count"
//!
//! [[query]]
//! kind = "histogram"
//! dimensions = ["provider_code", "hour(arrival_datetime)", "age_band"]
//! weight = 2                    # budget shares are proportional to weights (default 1)
//! non_negative = true
//!
//! [[query]]
//! kind = "mean"                 # also "sum", "variance"
//! column = "total_time_in_dept_min"
//! lower = 0
//! upper = 720
//!
//! [[query]]
//! kind = "quantile"             # or "median" (no `quantiles`)
//! column = "age"
//! quantiles = [0.25, 0.5, 0.75]
//! lower = 0
//! upper = 110
//!
//! [[query]]
//! kind = "group_by"             # keys not known in advance; spends the budget's delta
//! dimensions = ["lsoa"]
//! ```
//!
//! The session's budget (epsilon or rho) is split over all queries by weight, and its delta
//! over the `group_by` queries. Every query is checked (columns, bounds, dimensions) before
//! anything is released, so a typo spends nothing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dp::budget::Cost;
use crate::dp::error::{DpError, Result};
use crate::dp::job::QueryJob;
use crate::dp::ledger::Ledger;
use crate::dp::mechanisms::NoiseFamily;
use crate::dp::queries::count::{count, count_with};
use crate::dp::queries::dims::axis;
use crate::dp::queries::groupby::{GroupByQuery, GroupResult, group_by};
use crate::dp::queries::histogram::{
    HistogramQuery, PostProcess, TableResult, exact_table, histogram, histogram_with,
};
use crate::dp::queries::moments::{
    ExactParts, MergedMoments, NumericQuery, exact_centred, exact_mean_parts, exact_sum, mean,
    mean_with, sum, sum_with, variance, variance_with,
};
use crate::dp::queries::numeric::{check_bounds, numeric};
use crate::dp::queries::quantile::{MAX_DEFAULT_CANDIDATES, QuantileQuery, quantiles};
use crate::dp::queries::{Dimension, DpData, ScalarResult, split_share};
use crate::dp::session::Session;
use crate::partial::Partial;

/// A query file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySpec {
    /// Person-id column (a text column of the data); row-level privacy when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// Rows kept per person (default 1).
    #[serde(default = "one")]
    pub max_rows_per_person: u32,
    /// Seed for the choice of kept rows.
    #[serde(default)]
    pub seed: u64,
    /// Significance of intervals (default 0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Default noise family.
    #[serde(default)]
    pub noise: NoiseFamily,
    /// The queries.
    #[serde(rename = "query")]
    pub queries: Vec<QueryItem>,
}

fn one() -> u32 {
    1
}

fn unit_weight() -> f64 {
    1.0
}

/// One query of a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryItem {
    /// Optional label, copied to the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Relative share of the budget (default 1).
    #[serde(default = "unit_weight")]
    pub weight: f64,
    /// Noise family for this query (default: the spec's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseFamily>,
    /// What to compute.
    #[serde(flatten)]
    pub kind: QueryKind,
}

/// What a spec query computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryKind {
    /// Number of rows.
    Count,
    /// Sum of a clamped column.
    Sum {
        /// Column.
        column: String,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
    },
    /// Mean of a clamped column.
    Mean {
        /// Column.
        column: String,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
    },
    /// Variance of a clamped column.
    Variance {
        /// Column.
        column: String,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
    },
    /// Quantiles.
    Quantile {
        /// Column.
        column: String,
        /// Quantiles in [0, 1].
        quantiles: Vec<f64>,
        /// Lower bound of candidates.
        lower: f64,
        /// Upper bound of candidates.
        upper: f64,
        /// Explicit candidates.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        candidates: Option<Vec<f64>>,
    },
    /// The median.
    Median {
        /// Column.
        column: String,
        /// Lower bound of candidates.
        lower: f64,
        /// Upper bound of candidates.
        upper: f64,
    },
    /// Histogram / contingency table.
    Histogram {
        /// Axes: column names, `hour(col)`, `weekday(col)`.
        dimensions: Vec<Dimension>,
        /// Post-processing.
        #[serde(flatten)]
        post: PostProcess,
    },
    /// Group-by with thresholding.
    GroupBy {
        /// Axes.
        dimensions: Vec<Dimension>,
    },
}

/// The result of one spec query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QueryOutput {
    /// A scalar (count, sum, mean, variance).
    Scalar {
        /// Label from the spec.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Result.
        #[serde(flatten)]
        result: ScalarResult,
    },
    /// Quantiles.
    Quantiles {
        /// Label from the spec.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// One result per quantile.
        results: Vec<ScalarResult>,
    },
    /// A table.
    Table {
        /// Label from the spec.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Result.
        #[serde(flatten)]
        result: TableResult,
    },
    /// Groups above a threshold.
    Groups {
        /// Label from the spec.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Result.
        #[serde(flatten)]
        result: GroupResult,
    },
}

/// Results of a spec with the session's ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecResults {
    /// One output per query, in order.
    pub results: Vec<QueryOutput>,
    /// The ledger after all queries.
    pub ledger: Ledger,
    /// The receipt of the charge to the dataset's persistent budget file, if the run was
    /// charged to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_receipt: Option<crate::dp::budget_store::ChargeReceipt>,
}

impl QuerySpec {
    /// Parse TOML. A key no query kind has (a misspelt `lower`) is refused, naming it.
    pub fn from_toml(text: &str) -> Result<QuerySpec> {
        let value: serde_json::Value =
            toml::from_str(text).map_err(|e| DpError::Spec(e.to_string()))?;
        QuerySpec::from_value(value)
    }

    /// Parse JSON. A key no query kind has is refused, naming it.
    pub fn from_json(text: &str) -> Result<QuerySpec> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| DpError::Spec(e.to_string()))?;
        QuerySpec::from_value(value)
    }

    fn from_value(value: serde_json::Value) -> Result<QuerySpec> {
        let spec: QuerySpec =
            serde_json::from_value(value.clone()).map_err(|e| DpError::Spec(e.to_string()))?;
        // The queries flatten their kind, so serde cannot deny unknown fields; every key
        // the spec was given must come back when the parsed spec is written out (a key set
        // in the input is never skipped on output: only absent options are).
        let written = serde_json::to_value(&spec).map_err(|e| DpError::Spec(e.to_string()))?;
        let unknown = |given: &serde_json::Value, known: &serde_json::Value| {
            let known = known.as_object();
            given.as_object().and_then(|g| {
                g.keys()
                    .find(|k| !known.is_some_and(|o| o.contains_key(*k)))
                    .cloned()
            })
        };
        if let Some(k) = unknown(&value, &written) {
            return Err(DpError::Spec(format!(
                "unknown key {k:?} at the top of the spec; allowed: id_column, \
                 max_rows_per_person, seed, alpha, noise, [[query]]"
            )));
        }
        let given = value["query"].as_array().cloned().unwrap_or_default();
        let written = written["query"].as_array().cloned().unwrap_or_default();
        for (i, (g, w)) in given.iter().zip(&written).enumerate() {
            if let Some(k) = unknown(g, w) {
                let kind = g["kind"].as_str().unwrap_or("?");
                return Err(DpError::Spec(format!(
                    "query {} ({kind}): unknown key {k:?}; a {kind} query takes {}",
                    i + 1,
                    w.as_object()
                        .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                )));
            }
        }
        Ok(spec)
    }

    /// Read a `.toml` or `.json` file; errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<QuerySpec> {
        let path = path.as_ref();
        // A file that cannot be read is a file error (exit 4), naming the file.
        let text =
            std::fs::read_to_string(path).map_err(|e| crate::data::DataError::io(path, e))?;
        let parsed = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => QuerySpec::from_json(&text),
            Some("toml") => QuerySpec::from_toml(&text),
            _ => QuerySpec::from_toml(&text).or_else(|_| QuerySpec::from_json(&text)),
        };
        parsed.map_err(|e| match e {
            DpError::Spec(m) => DpError::Spec(format!("{}: {m}", path.display())),
            e => e,
        })
    }

    /// Check every query against `data` without releasing anything.
    pub fn check(&self, data: &DpData<'_>) -> Result<()> {
        if self.queries.is_empty() {
            return Err(DpError::Spec("the spec has no [[query]]".into()));
        }
        for (i, q) in self.queries.iter().enumerate() {
            let at = |e: DpError| DpError::Spec(format!("query {} ({}): {e}", i + 1, q.label()));
            if !(q.weight.is_finite() && q.weight > 0.0) {
                return Err(at(DpError::invalid(
                    "weight",
                    q.weight,
                    "it must be greater than zero",
                )));
            }
            q.kind.check(data).map_err(at)?;
        }
        Ok(())
    }

    /// Each query's share of `budget`: the main part split by weight, the delta over
    /// `group_by` queries only (they release keys not known in advance). Refuses group-by
    /// queries without a delta before anything is read or released.
    pub fn shares(&self, budget: &Cost) -> Result<Vec<Cost>> {
        let weights: Vec<f64> = self.queries.iter().map(|q| q.weight).collect();
        let main_shares = split_share(&budget.with_delta(0.0), &weights)?;
        let gb: Vec<f64> = self
            .queries
            .iter()
            .filter(|q| q.kind.needs_delta())
            .map(|q| q.weight)
            .collect();
        if !gb.is_empty() && budget.delta() <= 0.0 {
            return Err(DpError::Spec(
                "group_by queries release keys not known in advance and need a delta: give \
                 the session a delta budget (e.g. --delta 1e-8); nothing was released"
                    .into(),
            ));
        }
        let mut delta_shares = if gb.is_empty() {
            Vec::new()
        } else {
            split_share(budget, &gb)?
                .into_iter()
                .map(|c| c.delta())
                .collect()
        }
        .into_iter();
        Ok(self
            .queries
            .iter()
            .zip(main_shares)
            .map(|(q, share)| {
                if q.kind.needs_delta() {
                    share.with_delta(delta_shares.next().unwrap_or(0.0))
                } else {
                    share
                }
            })
            .collect())
    }

    /// Run every query in `session`: the budget left when it starts is split by weight
    /// (delta over `group_by` queries only). Every query is checked first, so a typo spends
    /// nothing.
    pub fn run(&self, session: &mut Session, data: &DpData<'_>) -> Result<SpecResults> {
        self.check(data)?;
        let shares = self.shares(&session.remaining())?;
        let mut results = Vec::new();
        for (q, share) in self.queries.iter().zip(shares) {
            let job = QueryJob::new(q.kind.clone())
                .share(share)
                .noise(q.noise.unwrap_or(self.noise))
                .name_opt(q.name.clone());
            results.push(job.run(session, data)?);
        }
        Ok(SpecResults {
            results,
            ledger: session.ledger(),
            budget_receipt: None,
        })
    }
}

impl QueryKind {
    /// A histogram (contingency table) over `dimensions` (`"age_band"`, `"hour(arrival_datetime)"`).
    pub fn histogram(dimensions: &[&str]) -> Result<QueryKind> {
        Ok(QueryKind::Histogram {
            dimensions: dimensions
                .iter()
                .map(|d| d.parse())
                .collect::<Result<_>>()?,
            post: PostProcess::default(),
        })
    }

    /// The query's name in results, ledgers and messages: `count`, `sum(col)`, `mean(col)`,
    /// `variance(col)`, `quantile(col)`, `median(col)`, `histogram(a, b)`, `group_by(a)`.
    /// Every door uses this one label.
    pub fn label(&self) -> String {
        let dims = |d: &[Dimension]| {
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            QueryKind::Count => "count".into(),
            QueryKind::Sum { column, .. } => format!("sum({column})"),
            QueryKind::Mean { column, .. } => format!("mean({column})"),
            QueryKind::Variance { column, .. } => format!("variance({column})"),
            QueryKind::Quantile { column, .. } => format!("quantile({column})"),
            QueryKind::Median { column, .. } => format!("median({column})"),
            QueryKind::Histogram { dimensions, .. } => format!("histogram({})", dims(dimensions)),
            QueryKind::GroupBy { dimensions } => format!("group_by({})", dims(dimensions)),
        }
    }

    /// The columns whose codes the query reads (the axes of tables).
    pub fn grouped_columns(&self) -> Vec<String> {
        match self {
            QueryKind::Histogram { dimensions, .. } | QueryKind::GroupBy { dimensions } => {
                let mut out: Vec<String> = Vec::new();
                for d in dimensions {
                    if !out.iter().any(|c| c == d.column()) {
                        out.push(d.column().to_string());
                    }
                }
                out
            }
            _ => Vec::new(),
        }
    }

    /// The numeric column the query aggregates (read as raw values), if any.
    pub fn numeric_column(&self) -> Option<&str> {
        match self {
            QueryKind::Sum { column, .. }
            | QueryKind::Mean { column, .. }
            | QueryKind::Variance { column, .. }
            | QueryKind::Quantile { column, .. }
            | QueryKind::Median { column, .. } => Some(column),
            _ => None,
        }
    }

    /// Whether the query needs a delta (group-by with keys not known in advance).
    pub fn needs_delta(&self) -> bool {
        matches!(self, QueryKind::GroupBy { .. })
    }

    /// Check the query against `data` (columns, bounds, dimensions) without releasing.
    pub fn check(&self, data: &DpData<'_>) -> Result<()> {
        let label = self.label();
        match self {
            QueryKind::Count => {}
            QueryKind::Sum {
                column,
                lower,
                upper,
            }
            | QueryKind::Mean {
                column,
                lower,
                upper,
            }
            | QueryKind::Variance {
                column,
                lower,
                upper,
            }
            | QueryKind::Median {
                column,
                lower,
                upper,
            }
            | QueryKind::Quantile {
                column,
                lower,
                upper,
                ..
            } => {
                check_bounds(column, *lower, *upper)?;
                numeric(data, column, &label)?;
            }
            QueryKind::Histogram { dimensions, .. } | QueryKind::GroupBy { dimensions } => {
                if dimensions.is_empty() {
                    return Err(DpError::query("dimensions", "give at least one"));
                }
                for d in dimensions {
                    axis(data, d)?;
                }
            }
        }
        Ok(())
    }

    /// Release the query on `data` in `session`, spending `share` with `noise`.
    pub fn run(
        &self,
        session: &mut Session,
        data: &DpData<'_>,
        share: Cost,
        noise: NoiseFamily,
    ) -> Result<QueryOutput> {
        let numeric_q = |column: &str, lower: f64, upper: f64| NumericQuery {
            column: column.into(),
            lower,
            upper,
            share,
            noise,
        };
        // Integer candidates for integers the schema does not declare (else the quantile
        // module's defaults from the declared domain, or a grid).
        let integer_candidates = |column: &str, lower: f64, upper: f64| -> Option<Vec<f64>> {
            let (a, b) = (lower.ceil(), upper.floor());
            (data.is_undeclared_integer(column)
                && lower.is_finite()
                && upper.is_finite()
                && b >= a
                && (b - a) < MAX_DEFAULT_CANDIDATES as f64)
                .then(|| (a as i64..=b as i64).map(|v| v as f64).collect())
        };
        let name = None;
        Ok(match self {
            QueryKind::Count => QueryOutput::Scalar {
                name,
                result: count(session, data, &share, noise)?,
            },
            QueryKind::Sum {
                column,
                lower,
                upper,
            } => QueryOutput::Scalar {
                name,
                result: sum(session, data, &numeric_q(column, *lower, *upper))?,
            },
            QueryKind::Mean {
                column,
                lower,
                upper,
            } => QueryOutput::Scalar {
                name,
                result: mean(session, data, &numeric_q(column, *lower, *upper))?,
            },
            QueryKind::Variance {
                column,
                lower,
                upper,
            } => QueryOutput::Scalar {
                name,
                result: variance(session, data, &numeric_q(column, *lower, *upper))?,
            },
            QueryKind::Quantile {
                column,
                quantiles: qs,
                lower,
                upper,
                candidates,
            } => QueryOutput::Quantiles {
                name,
                results: quantiles(
                    session,
                    data,
                    &QuantileQuery {
                        column: column.clone(),
                        quantiles: qs.clone(),
                        lower: *lower,
                        upper: *upper,
                        candidates: candidates
                            .clone()
                            .or_else(|| integer_candidates(column, *lower, *upper)),
                        share,
                    },
                )?,
            },
            QueryKind::Median {
                column,
                lower,
                upper,
            } => QueryOutput::Quantiles {
                name,
                results: quantiles(
                    session,
                    data,
                    &QuantileQuery {
                        column: column.clone(),
                        quantiles: vec![0.5],
                        lower: *lower,
                        upper: *upper,
                        candidates: integer_candidates(column, *lower, *upper),
                        share,
                    },
                )?,
            },
            QueryKind::Histogram { dimensions, post } => QueryOutput::Table {
                name,
                result: histogram(
                    session,
                    data,
                    &HistogramQuery {
                        dimensions: dimensions.clone(),
                        share,
                        noise,
                        post: post.clone(),
                    },
                )?,
            },
            QueryKind::GroupBy { dimensions } => QueryOutput::Groups {
                name,
                result: group_by(
                    session,
                    data,
                    &GroupByQuery {
                        dimensions: dimensions.clone(),
                        share,
                        noise,
                    },
                )?,
            },
        })
    }
}

impl QueryKind {
    /// What one partition of a table contributes to this query, for merging by addition
    /// ([`crate::partial`]; not private: the noise is added once, to the merged partials,
    /// by [`QueryKind::run_merged`]):
    /// - a count or histogram: [`Partial::Counts`], the count of kept rows or every cell
    ///   laid out over the schema's codes (so partitions line up);
    /// - a sum, mean or variance: [`Partial::Moments`], the exact fixed-point parts
    ///   ([`ExactParts`]: row count and integer
    ///   sums on the grid the public bounds fix), which add exactly.
    ///
    /// Quantiles and group-bys (keys read from the data) do not merge this way: refused.
    pub fn partial(&self, data: &DpData<'_>) -> Result<Partial> {
        let query = self.partial_key();
        let numeric_q = |column: &str, lower: f64, upper: f64| {
            NumericQuery::new(column, lower, upper, Cost::epsilon(1.0))
        };
        let moments = |p: ExactParts| Partial::Moments {
            query: query.clone(),
            n: p.n,
            s1: p.s1,
            s2: p.s2,
        };
        Ok(match self {
            QueryKind::Count => Partial::Counts {
                counts: vec![data.bounded().n_selected() as u64],
                query,
            },
            QueryKind::Histogram { dimensions, .. } => Partial::Counts {
                counts: exact_table(data, dimensions)?.1,
                query,
            },
            QueryKind::Sum {
                column,
                lower,
                upper,
            } => moments(exact_sum(data, &numeric_q(column, *lower, *upper))?),
            QueryKind::Mean {
                column,
                lower,
                upper,
            } => moments(exact_mean_parts(data, &numeric_q(column, *lower, *upper))?),
            QueryKind::Variance {
                column,
                lower,
                upper,
            } => moments(exact_centred(data, &numeric_q(column, *lower, *upper))?),
            other => return Err(not_mergeable(other)),
        })
    }

    /// The name partials of this query carry: the label, and for sums, means and
    /// variances the bounds too (they fix the grid: partials on other bounds do not add).
    pub fn partial_key(&self) -> String {
        match self {
            QueryKind::Sum { lower, upper, .. }
            | QueryKind::Mean { lower, upper, .. }
            | QueryKind::Variance { lower, upper, .. } => {
                format!("{} on [{lower:?}, {upper:?}]", self.label())
            }
            _ => self.label(),
        }
    }

    /// [`QueryKind::run`] on partials merged from partitions ([`QueryKind::partial`]):
    /// `data` (zero rows will do) gives the axes, the bound, the grids and the ledger
    /// record, and the release is the one [`QueryKind::run`] makes on the whole table, same
    /// sensitivity, same noise distribution, noise drawn once. A partial of another query
    /// (or other bounds) is refused.
    pub fn run_merged(
        &self,
        session: &mut Session,
        data: &DpData<'_>,
        share: Cost,
        noise: NoiseFamily,
        merged: &Partial,
    ) -> Result<QueryOutput> {
        let key = self.partial_key();
        let wrong = |what: String| {
            DpError::query(
                self.label(),
                format!(
                    "the merged partials are {what}, not this query's ({key}); compute every \
                     partition with the query released here"
                ),
            )
        };
        let numeric_q = |column: &str, lower: f64, upper: f64| NumericQuery {
            column: column.into(),
            lower,
            upper,
            share,
            noise,
        };
        let moments = match merged {
            Partial::Counts { query, .. } | Partial::Moments { query, .. } if *query != key => {
                return Err(wrong(format!("of {query}")));
            }
            Partial::Moments { n, s1, s2, .. } => Some(MergedMoments {
                n: *n,
                s1: *s1,
                s2: *s2,
            }),
            Partial::Counts { .. } => None,
            other => return Err(wrong(other.what())),
        };
        let scalar = |result| QueryOutput::Scalar { name: None, result };
        Ok(match (self, merged, moments) {
            (QueryKind::Count, Partial::Counts { counts, .. }, _) => {
                let [n] = counts[..] else {
                    return Err(DpError::query(
                        "count",
                        format!("{} merged values for one count", counts.len()),
                    ));
                };
                scalar(count_with(session, data, &share, noise, Some(n))?)
            }
            (QueryKind::Histogram { dimensions, post }, Partial::Counts { counts, .. }, _) => {
                QueryOutput::Table {
                    name: None,
                    result: histogram_with(
                        session,
                        data,
                        &HistogramQuery {
                            dimensions: dimensions.clone(),
                            share,
                            noise,
                            post: post.clone(),
                        },
                        Some(counts),
                    )?,
                }
            }
            (
                QueryKind::Sum {
                    column,
                    lower,
                    upper,
                },
                _,
                Some(m),
            ) => scalar(sum_with(
                session,
                data,
                &numeric_q(column, *lower, *upper),
                Some(&m),
            )?),
            (
                QueryKind::Mean {
                    column,
                    lower,
                    upper,
                },
                _,
                Some(m),
            ) => scalar(mean_with(
                session,
                data,
                &numeric_q(column, *lower, *upper),
                Some(&m),
            )?),
            (
                QueryKind::Variance {
                    column,
                    lower,
                    upper,
                },
                _,
                Some(m),
            ) => scalar(variance_with(
                session,
                data,
                &numeric_q(column, *lower, *upper),
                Some(&m),
            )?),
            (QueryKind::Count | QueryKind::Histogram { .. }, _, _) => {
                return Err(wrong("sums".into()));
            }
            (QueryKind::Sum { .. } | QueryKind::Mean { .. } | QueryKind::Variance { .. }, ..) => {
                return Err(wrong("counts".into()));
            }
            (other, ..) => return Err(not_mergeable(other)),
        })
    }
}

fn not_mergeable(kind: &QueryKind) -> DpError {
    DpError::query(
        kind.label(),
        "only counts, histograms (contingency tables), sums, means and variances are computed \
         on partitions; run quantiles and group-bys on one machine",
    )
}

impl QueryOutput {
    /// Set the output's label.
    pub fn with_name(mut self, label: Option<String>) -> QueryOutput {
        match &mut self {
            QueryOutput::Scalar { name, .. }
            | QueryOutput::Quantiles { name, .. }
            | QueryOutput::Table { name, .. }
            | QueryOutput::Groups { name, .. } => *name = label,
        }
        self
    }

    /// The output's warnings.
    pub fn warnings(&self) -> &[String] {
        match self {
            QueryOutput::Scalar { result, .. } => &result.warnings,
            QueryOutput::Table { result, .. } => &result.warnings,
            QueryOutput::Groups { result, .. } => &result.warnings,
            QueryOutput::Quantiles { results, .. } => {
                results.first().map_or(&[], |r| r.warnings.as_slice())
            }
        }
    }
}

impl QueryItem {
    /// A short label for messages: the spec's name, or the query's label.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.kind.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_no_query_takes_is_refused_by_name() {
        let ok = "[[query]]\nkind = \"mean\"\ncolumn = \"age\"\nlower = 0\nupper = 9\n";
        assert!(QuerySpec::from_toml(ok).is_ok());
        let misspelt = ok.replace("lower", "lowr");
        let e = QuerySpec::from_toml(&misspelt).unwrap_err().to_string();
        assert!(e.contains("lowr") || e.contains("lower"), "{e}");
        let extra = format!("{ok}wibble = 1\n");
        let e = QuerySpec::from_toml(&extra).unwrap_err().to_string();
        assert!(e.contains("\"wibble\"") && e.contains("mean"), "{e}");
        let top = format!("wobble = 2\n{ok}");
        let e = QuerySpec::from_toml(&top).unwrap_err().to_string();
        assert!(e.contains("\"wobble\""), "{e}");
        let json = r#"{"query": [{"kind": "count", "colour": "red"}]}"#;
        let e = QuerySpec::from_json(json).unwrap_err().to_string();
        assert!(e.contains("\"colour\""), "{e}");
    }

    #[test]
    fn a_spec_file_that_does_not_parse_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.toml");
        std::fs::write(&path, "[[query]\nkind = ").unwrap();
        let e = QuerySpec::load(&path).unwrap_err().to_string();
        assert!(e.contains("q.toml"), "{e}");
    }
}
