//! Mergeable partial aggregates: one partition's exact counts, as bytes, merged exactly.
//!
//! Scale-out (Spark's `mapInArrow`, `pets.spark`) runs the core on each partition of a
//! table and merges the results at the driver. That is exact because **codes depend only on
//! the declared schema**: every partition encodes a value to the same code, so its counts
//! are keyed alike and the whole table's counts are their sum. A [`Partial`] is such a
//! set of counts:
//!
//! - [`Partial::Classes`]: the equivalence classes of the risk report (class sizes and
//!   sparse sensitive histograms, keyed by quasi-identifier codes), computed by
//!   [`RiskJob::classes`](crate::disclosure::RiskJob::classes) and finished by
//!   [`RiskJob::finish_classes`](crate::disclosure::RiskJob::finish_classes): the same
//!   report code as `pets risk`, so the figures are equal.
//! - [`Partial::Counts`]: the exact counts of a DP count or histogram over the schema's
//!   code space, and [`Partial::Moments`]: the exact fixed-point sums of a DP sum, mean or
//!   variance (row count, sum of grid points, sum of grid points of squares: integers on a
//!   grid fixed by the public bounds, `dp::queries::numeric::FixedPoint`), both from
//!   [`QueryKind::partial`](crate::dp::QueryKind::partial), released by
//!   [`QueryJob::run_merged`](crate::dp::QueryJob::run_merged) with noise added **once**,
//!   at the driver, through the session and its budget: the same release as on the whole
//!   table (rows are the privacy unit: a person's rows may sit in several partitions, so
//!   per-person bounding is not done on partitions). A floating-point sum would not merge
//!   bit for bit (addition order changes the rounding); the fixed-point integers do.
//! - [`Partial::Marginals`]: the exact 1-way and full-domain candidate 2-way counts MST
//!   measures ([`MarginalCounts`]), from `FitJob::partial` in `pets-synth`, fitted once at
//!   the driver by `FitJob::run_partials`: the same measurements as a fit on the whole
//!   table.
//!
//! Merging ([`Partial::merge`]) adds counts per key: it is associative and commutative, and
//! the merge of any partitioning of a table, in any order, equals the single-pass result
//! (tested below). Partials travel as bytes ([`Partial::to_bytes`]): a four-byte tag, a
//! version byte, then `postcard` (compact serde); [`Partial::from_bytes`] refuses another
//! tag or version and rebuilds the classes with every invariant checked
//! ([`EquivalenceClasses::from_parts`]). A partial holds exact counts of private data: it
//! is meant for the cluster's own memory and shuffle, never for release.
//!
//! ```
//! use pets::prelude::*;
//! use pets::partial::Partial;
//! # let dir = tempfile::tempdir().unwrap();
//! # let (a, b, whole) = (dir.path().join("a.csv"), dir.path().join("b.csv"), dir.path().join("w.csv"));
//! # std::fs::write(&a, "age,sex\n34,F\n34,F\n35,M\n").unwrap();
//! # std::fs::write(&b, "age,sex\n35,M\n35,M\n").unwrap();
//! # std::fs::write(&whole, "age,sex\n34,F\n34,F\n35,M\n35,M\n35,M\n").unwrap();
//! let schema = Schema::from_json(r#"{"columns": [
//!     {"name": "age", "kind": "integer", "min": 0, "max": 120, "role": "quasi_identifier"},
//!     {"name": "sex", "kind": "categorical", "values": ["F", "M"], "role": "quasi_identifier"}
//! ]}"#)?;
//! let config = RiskConfig { k: 2, ..Default::default() };
//! let job = |path: &std::path::Path| RiskJob::from_file(path, config.clone()).schema(schema.clone());
//! // On each partition (e.g. a Spark executor): classes, as bytes.
//! let bytes: Vec<Vec<u8>> = [&a, &b]
//!     .iter()
//!     .map(|p| Ok(Partial::Classes(job(p).classes()?).to_bytes()))
//!     .collect::<Result<_, pets::disclosure::RiskJobError>>()?;
//! // At the driver: merge, then the report.
//! let merged = Partial::merge_bytes(&bytes)?.expect("two partitions");
//! let Partial::Classes(classes) = merged else { unreachable!() };
//! let report = job(&whole).finish_classes(&classes)?.report;
//! assert_eq!(report.n_records, 5);
//! assert_eq!(report.k_anonymity.k, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::disclosure::{ClassParts, ClassesError, EquivalenceClasses};

pub mod marginals;

use crate::error::{Classify, ErrorKind};
pub use marginals::{MarginalCounts, PairCounts};

/// The first bytes of every serialised partial.
pub const PARTIAL_TAG: &[u8; 4] = b"PETP";

/// The serialised form's version; bytes of another version are refused.
pub const PARTIAL_VERSION: u8 = 1;

/// A failure to read or merge partials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartialError {
    /// Not a partial of this version.
    #[error("not a pets partial aggregate of version {PARTIAL_VERSION}: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// Two partials of different kinds, or classes over other columns.
    #[error("cannot merge these partial aggregates: {detail}")]
    Mismatch {
        /// What differs and what to do.
        detail: String,
    },
}

impl Classify for PartialError {
    fn kind(&self) -> ErrorKind {
        match self {
            PartialError::Malformed { .. } => ErrorKind::Input,
            PartialError::Mismatch { .. } => ErrorKind::Schema,
        }
    }
}

/// One partition's exact aggregate (module docs).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// One partial per partition, moved whole into a merge: boxing the classes saves nothing.
#[allow(clippy::large_enum_variant)]
pub enum Partial {
    /// Equivalence classes over the quasi-identifiers, with sensitive histograms.
    Classes(EquivalenceClasses),
    /// The exact counts of one DP count or histogram query
    /// ([`QueryKind::partial`](crate::dp::QueryKind::partial)), to be noised
    /// once at the driver.
    Counts {
        /// The query's label (`count`, `histogram(a, b)`): counts of other queries do not
        /// merge.
        query: String,
        /// The counts, cells in the table's order.
        counts: Vec<u64>,
    },
    /// The exact fixed-point parts of one DP sum, mean or variance, to be noised once at
    /// the driver (the grids are public: they come from the query's bounds).
    Moments {
        /// The query's label (`sum(x)`, `mean(x)`, `variance(x)`): bounds are part of the
        /// query, so every partition must be computed with the same query.
        query: String,
        /// Kept, non-null rows.
        n: u64,
        /// Sum of the (clamped or centred) values' grid points.
        s1: i128,
        /// Sum of the grid points of the squared centred values (variance only; else 0).
        s2: i128,
    },
    /// The exact 1-way and candidate 2-way counts a marginal-based synthesiser (MST)
    /// measures ([`MarginalCounts`]), to be fitted once at the driver.
    Marginals(MarginalCounts),
}

/// The serialised body (a new kind is a new variant at the end).
#[derive(Serialize, Deserialize)]
enum Wire {
    Classes(ClassParts),
    Counts {
        query: String,
        counts: Vec<u64>,
    },
    Moments {
        query: String,
        n: u64,
        s1: i128,
        s2: i128,
    },
    Marginals(MarginalCounts),
}

impl Partial {
    /// The partial as bytes: [`PARTIAL_TAG`], [`PARTIAL_VERSION`], then postcard.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = match self {
            Partial::Classes(c) => Wire::Classes(c.to_parts()),
            Partial::Counts { query, counts } => Wire::Counts {
                query: query.clone(),
                counts: counts.clone(),
            },
            Partial::Moments { query, n, s1, s2 } => Wire::Moments {
                query: query.clone(),
                n: *n,
                s1: *s1,
                s2: *s2,
            },
            Partial::Marginals(m) => Wire::Marginals(m.clone()),
        };
        let mut out = PARTIAL_TAG.to_vec();
        out.push(PARTIAL_VERSION);
        postcard::to_extend(&wire, out).expect("a partial serialises into memory")
    }

    /// Read bytes written by [`Partial::to_bytes`], checking tag, version and contents.
    pub fn from_bytes(bytes: &[u8]) -> Result<Partial, PartialError> {
        let malformed = |detail: String| PartialError::Malformed { detail };
        let body = match bytes.strip_prefix(PARTIAL_TAG.as_slice()) {
            Some([v, body @ ..]) if *v == PARTIAL_VERSION => body,
            Some([v, ..]) => return Err(malformed(format!("version {v}"))),
            _ => return Err(malformed("no pets tag".into())),
        };
        let wire: Wire = postcard::from_bytes(body).map_err(|e| malformed(e.to_string()))?;
        match wire {
            Wire::Classes(parts) => EquivalenceClasses::from_parts(parts)
                .map(Partial::Classes)
                .map_err(|e| malformed(e.to_string())),
            Wire::Counts { query, counts } => Ok(Partial::Counts { query, counts }),
            Wire::Moments { query, n, s1, s2 } => Ok(Partial::Moments { query, n, s1, s2 }),
            Wire::Marginals(m) => {
                m.validate().map_err(malformed)?;
                Ok(Partial::Marginals(m))
            }
        }
    }

    /// Add another partition's counts to these (same kind, same columns and code books).
    pub fn merge(self, other: Partial) -> Result<Partial, PartialError> {
        match (self, other) {
            (Partial::Classes(mut a), Partial::Classes(b)) => {
                a.merge(b).map_err(|e| match e {
                    ClassesError::LayoutMismatch { detail } => PartialError::Mismatch { detail },
                    e => PartialError::Mismatch {
                        detail: e.to_string(),
                    },
                })?;
                Ok(Partial::Classes(a))
            }
            (
                Partial::Counts { query, mut counts },
                Partial::Counts {
                    query: q2,
                    counts: c2,
                },
            ) => {
                if query != q2 || counts.len() != c2.len() {
                    return Err(PartialError::Mismatch {
                        detail: format!(
                            "counts of {query} ({} cells) and of {q2} ({} cells); compute every \
                             partition with the same schema and query",
                            counts.len(),
                            c2.len()
                        ),
                    });
                }
                for (a, b) in counts.iter_mut().zip(c2) {
                    *a = a.checked_add(b).ok_or_else(|| PartialError::Malformed {
                        detail: "a count overflows".into(),
                    })?;
                }
                Ok(Partial::Counts { query, counts })
            }
            (
                Partial::Moments { query, n, s1, s2 },
                Partial::Moments {
                    query: q2,
                    n: n2,
                    s1: s1b,
                    s2: s2b,
                },
            ) => {
                if query != q2 {
                    return Err(PartialError::Mismatch {
                        detail: format!(
                            "sums of {query} and of {q2}; compute every partition with the same \
                             query and bounds"
                        ),
                    });
                }
                let overflow = || PartialError::Malformed {
                    detail: format!("a sum of {query} overflows"),
                };
                Ok(Partial::Moments {
                    n: n.checked_add(n2).ok_or_else(overflow)?,
                    s1: s1.checked_add(s1b).ok_or_else(overflow)?,
                    s2: s2.checked_add(s2b).ok_or_else(overflow)?,
                    query,
                })
            }
            (Partial::Marginals(a), Partial::Marginals(b)) => a
                .merge(b)
                .map(Partial::Marginals)
                .map_err(|detail| PartialError::Mismatch { detail }),
            (a, b) => Err(PartialError::Mismatch {
                detail: format!("a partial of {} and one of {}", a.what(), b.what()),
            }),
        }
    }

    pub(crate) fn what(&self) -> String {
        match self {
            Partial::Classes(_) => "equivalence classes".into(),
            Partial::Counts { query, .. } => format!("counts of {query}"),
            Partial::Moments { query, .. } => format!("sums of {query}"),
            Partial::Marginals(m) => format!("marginals of {}", m.columns.join(", ")),
        }
    }

    /// Read and merge serialised partials in order; `None` when there are none.
    pub fn merge_bytes<B: AsRef<[u8]>>(parts: &[B]) -> Result<Option<Partial>, PartialError> {
        let mut acc: Option<Partial> = None;
        for b in parts {
            let p = Partial::from_bytes(b.as_ref())?;
            acc = Some(match acc {
                None => p,
                Some(a) => a.merge(p)?,
            });
        }
        Ok(acc)
    }
}

#[cfg(test)]
mod tests;
