//! Linkage attack: an intruder joins a table they hold (names plus the facts they know) to
//! the release on the attributes both share.
//!
//! The intruder's table is an [`EncodedTable`] encoded against the same schema's shared
//! columns, or coarser versions of them: a [`Generalisation`] maps each release code of a
//! column to the intruder's code (e.g. single years of age to the intruder's five-year
//! bands), and release codes are mapped before joining. For every release record we report
//! whether its combination of shared attributes occurs in the intruder's table and, if so,
//! whether it is matched uniquely (its release class has one record), into a small class
//! (fewer than k) or into a class of at least k; and how many intruder rows match exactly one
//! release record (a confident re-identification), none, or several.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::classes::{ClassesError, EquivalenceClasses};
use crate::data::{EncodedColumn, EncodedTable};

/// Errors of the linkage attack.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkageError {
    /// No shared column.
    #[error(
        "the release and the intruder's table share no column to link on; name the linking \
         columns explicitly or encode the intruder's table with the release schema"
    )]
    NoSharedColumns,
    /// A linking column is missing from one side.
    #[error("linking column {column:?} is missing from the {side}; available there: {}", available.join(", "))]
    MissingColumn {
        /// Column name.
        column: String,
        /// `release` or `intruder's table`.
        side: &'static str,
        /// Columns on that side.
        available: Vec<String>,
    },
    /// Code spaces differ and no generalisation is given.
    #[error(
        "column {column:?} has {release} codes in the release but {attacker} in the intruder's \
         table; encode both with the same schema or give a generalisation map for it"
    )]
    CodeSpaceMismatch {
        /// Column name.
        column: String,
        /// Release cardinality.
        release: u32,
        /// Intruder cardinality.
        attacker: u32,
    },
    /// A generalisation map does not fit.
    #[error("generalisation for column {column:?}: {reason}")]
    BadGeneralisation {
        /// Column name.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// `k` below 1.
    #[error("k must be at least 1 (got {k})")]
    InvalidK {
        /// The value given.
        k: u64,
    },
    /// Grouping failed.
    #[error(transparent)]
    Classes(#[from] ClassesError),
}

/// Maps each release code of one column to the intruder's code for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generalisation {
    /// `map[release_code] = intruder_code`.
    pub map: Vec<u32>,
}

/// Options of the linkage attack.
#[derive(Debug, Clone, Default)]
pub struct LinkageOptions {
    /// Columns to link on (default: every column present in both tables).
    pub columns: Option<Vec<String>>,
    /// Per-column generalisations of release codes to the intruder's codes.
    pub generalisations: BTreeMap<String, Generalisation>,
}

/// Outcome of linking an intruder's table to the release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linkage {
    /// Columns linked on.
    pub columns: Vec<String>,
    /// The k threshold for "small class".
    pub k_threshold: u64,
    /// Release records.
    pub release_records: u64,
    /// Intruder rows.
    pub attacker_rows: u64,
    /// Release records alone in their class whose combination the intruder holds.
    pub release_matched_uniquely: u64,
    /// Release records in a class of 2..k-1 whose combination the intruder holds.
    pub release_matched_small_class: u64,
    /// Release records in a class of at least k whose combination the intruder holds.
    pub release_matched_large_class: u64,
    /// Release records whose combination the intruder does not hold.
    pub release_not_matched: u64,
    /// Intruder rows matching exactly one release record.
    pub attacker_rows_matching_one: u64,
    /// Intruder rows matching 2..k-1 release records.
    pub attacker_rows_matching_few: u64,
    /// Intruder rows matching at least k release records.
    pub attacker_rows_matching_many: u64,
    /// Intruder rows matching no release record.
    pub attacker_rows_matching_none: u64,
}

fn names(t: &EncodedTable) -> Vec<String> {
    t.columns().iter().map(|c| c.spec.name.clone()).collect()
}

/// Link `attacker` to `release` and count matches (see the module documentation).
pub fn linkage(
    release: &EncodedTable,
    attacker: &EncodedTable,
    k: u64,
    opts: &LinkageOptions,
) -> Result<Linkage, LinkageError> {
    if k < 1 {
        return Err(LinkageError::InvalidK { k });
    }
    let columns: Vec<String> = match &opts.columns {
        Some(c) => c.clone(),
        None => names(release)
            .into_iter()
            .filter(|n| attacker.column(n).is_ok())
            .collect(),
    };
    if columns.is_empty() {
        return Err(LinkageError::NoSharedColumns);
    }
    let mut rel_cols = Vec::with_capacity(columns.len());
    let mut att_cols = Vec::with_capacity(columns.len());
    for name in &columns {
        let r = release
            .column(name)
            .map_err(|_| LinkageError::MissingColumn {
                column: name.clone(),
                side: "release",
                available: names(release),
            })?;
        let a = attacker
            .column(name)
            .map_err(|_| LinkageError::MissingColumn {
                column: name.clone(),
                side: "intruder's table",
                available: names(attacker),
            })?;
        let (rc, ac) = (r.codebook.cardinality(), a.codebook.cardinality());
        // The release column re-expressed in the intruder's code space.
        let codes = match opts.generalisations.get(name) {
            Some(g) => {
                if g.map.len() != rc as usize {
                    return Err(LinkageError::BadGeneralisation {
                        column: name.clone(),
                        reason: format!(
                            "the release column has {rc} codes but the map has {} entries; \
                             map every release code",
                            g.map.len()
                        ),
                    });
                }
                if let Some(bad) = g.map.iter().find(|&&c| c >= ac) {
                    return Err(LinkageError::BadGeneralisation {
                        column: name.clone(),
                        reason: format!(
                            "maps to code {bad} but the intruder's column has {ac} codes"
                        ),
                    });
                }
                r.codes.iter().map(|&c| g.map[c as usize]).collect()
            }
            None => {
                if rc != ac {
                    return Err(LinkageError::CodeSpaceMismatch {
                        column: name.clone(),
                        release: rc,
                        attacker: ac,
                    });
                }
                r.codes.clone()
            }
        };
        rel_cols.push(EncodedColumn {
            spec: a.spec.clone(),
            codebook: a.codebook,
            codes,
        });
        att_cols.push(a.clone());
    }
    let rel =
        EncodedTable::from_columns(rel_cols).map_err(|e| LinkageError::BadGeneralisation {
            column: columns.join(","),
            reason: e.to_string(),
        })?;
    let att =
        EncodedTable::from_columns(att_cols).map_err(|e| LinkageError::BadGeneralisation {
            column: columns.join(","),
            reason: e.to_string(),
        })?;
    let rc = EquivalenceClasses::compute(&rel, &columns, None)?;
    let ac = EquivalenceClasses::compute(&att, &columns, None)?;
    let mut out = Linkage {
        columns: columns.clone(),
        k_threshold: k,
        release_records: rc.n_records(),
        attacker_rows: ac.n_records(),
        release_matched_uniquely: 0,
        release_matched_small_class: 0,
        release_matched_large_class: 0,
        release_not_matched: 0,
        attacker_rows_matching_one: 0,
        attacker_rows_matching_few: 0,
        attacker_rows_matching_many: 0,
        attacker_rows_matching_none: 0,
    };
    for c in rc.iter() {
        if ac.find(c.key).is_none() {
            out.release_not_matched += c.size;
        } else if c.size == 1 {
            out.release_matched_uniquely += 1;
        } else if c.size < k {
            out.release_matched_small_class += c.size;
        } else {
            out.release_matched_large_class += c.size;
        }
    }
    for a in ac.iter() {
        let f = rc.find(a.key).map_or(0, |i| u64::from(rc.sizes()[i]));
        match f {
            0 => out.attacker_rows_matching_none += a.size,
            1 => out.attacker_rows_matching_one += a.size,
            f if f < k => out.attacker_rows_matching_few += a.size,
            _ => out.attacker_rows_matching_many += a.size,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::testutil::{cat, int, table};

    #[test]
    fn hand_computed() {
        // release (age, sex): (0,0),(0,0),(1,0),(2,1),(2,1),(2,1)  ; diagnosis extra
        let release = table(vec![
            int("age", 3, &[0, 0, 1, 2, 2, 2]),
            cat("sex", 2, &[0, 0, 0, 1, 1, 1]),
            cat("dx", 4, &[0, 1, 2, 3, 0, 1]),
        ]);
        // intruder knows: (1,0) x1, (0,0) x1, (0,1) x2
        let attacker = table(vec![
            int("age", 3, &[1, 0, 0, 0]),
            cat("sex", 2, &[0, 0, 1, 1]),
        ]);
        let l = linkage(&release, &attacker, 3, &LinkageOptions::default()).unwrap();
        assert_eq!(l.columns, vec!["age", "sex"]);
        assert_eq!(l.release_matched_uniquely, 1); // (1,0)
        assert_eq!(l.release_matched_small_class, 2); // (0,0) class of 2
        assert_eq!(l.release_matched_large_class, 0);
        assert_eq!(l.release_not_matched, 3); // (2,1)
        assert_eq!(l.attacker_rows_matching_one, 1);
        assert_eq!(l.attacker_rows_matching_few, 1);
        assert_eq!(l.attacker_rows_matching_none, 2);
    }

    #[test]
    fn generalised_attacker() {
        // release ages 0..5; intruder holds bands {0-2} -> 0, {3-5} -> 1
        let release = table(vec![int("age", 6, &[0, 1, 2, 3, 4, 5, 5])]);
        let attacker = table(vec![int("age", 2, &[0, 1])]);
        let mut opts = LinkageOptions::default();
        let err = linkage(&release, &attacker, 2, &opts).unwrap_err();
        assert!(matches!(err, LinkageError::CodeSpaceMismatch { .. }));
        opts.generalisations.insert(
            "age".into(),
            Generalisation {
                map: vec![0, 0, 0, 1, 1, 1],
            },
        );
        let l = linkage(&release, &attacker, 2, &opts).unwrap();
        assert_eq!(l.release_matched_large_class, 7);
        assert_eq!(l.attacker_rows_matching_many, 2);
        opts.generalisations
            .insert("age".into(), Generalisation { map: vec![0, 2] });
        assert!(matches!(
            linkage(&release, &attacker, 2, &opts),
            Err(LinkageError::BadGeneralisation { .. })
        ));
    }

    #[test]
    fn no_shared_columns() {
        let a = table(vec![int("x", 2, &[0])]);
        let b = table(vec![int("y", 2, &[0])]);
        assert_eq!(
            linkage(&a, &b, 2, &LinkageOptions::default()).unwrap_err(),
            LinkageError::NoSharedColumns
        );
    }
}
