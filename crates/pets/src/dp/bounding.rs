//! Contribution bounding: the unit of privacy is the person, not the row.
//!
//! A&E data have several attendances per patient. Differential privacy over rows would
//! protect one attendance; a frequent attender's pattern would still show. pets protects a
//! person: before any sensitivity is computed, each person's rows are cut to at most `m`,
//! chosen uniformly at random (a seeded ChaCha8 stream: this choice is data processing,
//! not privacy noise, and is reproducible). Adding or removing one person then changes at
//! most `m` rows, and every query's sensitivity is stated for that (`m` for a count, `m`
//! times the clamping bound for a sum, ...).
//!
//! The choice for one person depends only on that person's rows, the seed and a hash of
//! the person's id, never on other people: adding or removing someone leaves everyone
//! else's kept rows unchanged, which is what makes the bound a bound on neighbours.
//!
//! When there is no person id, [`Bounded::row_level`] treats each row as a person and the
//! ledger says so: that is only honest when people contribute one row each.

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::dp::error::{DpError, Result};
use crate::dp::ledger::{Contribution, PrivacyUnit};

/// A dense key per row (`0..n_keys`) read from a column: person ids, or group-by keys for
/// columns without a public domain. Person ids keep no text (NHS numbers are not retained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKeys {
    column: String,
    ids: Vec<u32>,
    labels: Option<Vec<String>>,
    n_keys: usize,
    /// Per key, a hash of its text (or its given id): stable whatever other keys exist.
    stable: Vec<u64>,
}

fn stable_hash(text: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(text.as_bytes());
    h.write_u8(0xff);
    h.finish()
}

/// Person identifiers per row.
pub type PersonIds = RowKeys;

impl RowKeys {
    /// Keys from text values, one per row; a missing value is an error (a row without a
    /// person cannot be bounded). With `keep_labels`, the distinct texts are kept in key order.
    pub fn from_strings<'s>(
        column: &str,
        values: impl IntoIterator<Item = Option<&'s str>>,
        keep_labels: bool,
    ) -> Result<RowKeys> {
        let mut map: FxHashMap<&'s str, u32> = FxHashMap::default();
        let mut labels = Vec::new();
        let mut stable = Vec::new();
        let mut ids = Vec::new();
        for (row, v) in values.into_iter().enumerate() {
            let Some(v) = v else {
                return Err(DpError::PersonIds {
                    column: column.into(),
                    reason: format!(
                        "row {} has no value; every row needs a key (drop such rows first, \
                         or give them a key of their own)",
                        row + 1
                    ),
                });
            };
            let next = map.len() as u32;
            let id = *map.entry(v).or_insert_with(|| {
                if keep_labels {
                    labels.push(v.to_string());
                }
                stable.push(stable_hash(v));
                next
            });
            ids.push(id);
        }
        Ok(RowKeys {
            column: column.into(),
            n_keys: map.len(),
            ids,
            labels: keep_labels.then_some(labels),
            stable,
        })
    }

    /// Keys from Arrow arrays holding the column, in row order (any type castable to text:
    /// strings of every layout, integers, dictionaries).
    pub fn from_arrays(column: &str, arrays: &[ArrayRef], keep_labels: bool) -> Result<RowKeys> {
        let cast: Vec<ArrayRef> = arrays
            .iter()
            .map(|a| {
                arrow_cast::cast(a, &DataType::Utf8).map_err(|e| DpError::PersonIds {
                    column: column.into(),
                    reason: format!("cannot read it as text: {e}"),
                })
            })
            .collect::<Result<_>>()?;
        let strings: Vec<&StringArray> = cast
            .iter()
            .map(|a| {
                a.as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8")
            })
            .collect();
        let iter = strings
            .iter()
            .flat_map(|s| (0..s.len()).map(move |i| (!s.is_null(i)).then(|| s.value(i))));
        RowKeys::from_strings(column, iter, keep_labels)
    }

    /// Keys from the named column of record batches.
    pub fn from_batches(
        column: &str,
        batches: &[RecordBatch],
        keep_labels: bool,
    ) -> Result<RowKeys> {
        let arrays: Vec<ArrayRef> = batches
            .iter()
            .map(|b| {
                b.column_by_name(column)
                    .cloned()
                    .ok_or_else(|| DpError::UnknownColumn {
                        column: column.into(),
                        what: "data".into(),
                        available: b
                            .schema()
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect(),
                    })
            })
            .collect::<Result<_>>()?;
        RowKeys::from_arrays(column, &arrays, keep_labels)
    }

    /// Keys from dense ids already computed (`ids[i] < n_keys`). The ids must identify
    /// people independently of who else is in the data (e.g. a pseudonymised number), as
    /// the choice of kept rows is keyed by them.
    pub fn from_ids(column: &str, ids: Vec<u32>, n_keys: usize) -> Result<RowKeys> {
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= n_keys) {
            return Err(DpError::PersonIds {
                column: column.into(),
                reason: format!("id {bad} is not below the number of keys {n_keys}"),
            });
        }
        Ok(RowKeys {
            column: column.into(),
            ids,
            labels: None,
            n_keys,
            stable: (0..n_keys as u64).collect(),
        })
    }

    /// The column the keys came from.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// One key per row.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of distinct keys (people).
    pub fn n_keys(&self) -> usize {
        self.n_keys
    }

    /// Text of each key, when kept.
    pub fn labels(&self) -> Option<&[String]> {
        self.labels.as_deref()
    }
}

/// The rows a DP query may read, after contribution bounding, and the bound itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded {
    /// Selected row indices, ascending; `None` means every row.
    rows: Option<Vec<u32>>,
    n_rows: usize,
    contribution: Contribution,
}

impl Bounded {
    /// Keep at most `max_rows_per_person` rows of each person, chosen uniformly at random
    /// with a ChaCha8 stream seeded by `seed` on a stream keyed by a hash of the person's id
    /// (so the choice depends neither on thread count nor on other people's presence).
    /// Proof that neighbours differ by at most `m` kept rows: [`crate::dp::proofs::bounding`].
    pub fn by_person(ids: &PersonIds, max_rows_per_person: u32, seed: u64) -> Result<Bounded> {
        if max_rows_per_person == 0 {
            return Err(DpError::invalid(
                "max_rows_per_person",
                0.0,
                "it must be at least 1 (e.g. 1 for one attendance a person, 3-5 for A&E)",
            ));
        }
        let n = ids.len();
        if n > u32::MAX as usize {
            return Err(DpError::query(
                "contribution bounding",
                "more than 2^32 rows",
            ));
        }
        let p = ids.n_keys();
        let m = max_rows_per_person as usize;
        // Counting sort of rows by person.
        let mut start = vec![0usize; p + 1];
        for &id in ids.ids() {
            start[id as usize + 1] += 1;
        }
        for i in 0..p {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut by_person = vec![0u32; n];
        for (row, &id) in ids.ids().iter().enumerate() {
            by_person[fill[id as usize]] = row as u32;
            fill[id as usize] += 1;
        }
        let selected: Vec<Vec<u32>> = (0..p)
            .into_par_iter()
            .with_min_len(4096)
            .fold(Vec::new, |mut acc: Vec<u32>, person| {
                let mine = &by_person[start[person]..start[person + 1]];
                if mine.len() <= m {
                    acc.extend_from_slice(mine);
                } else {
                    let mut pick = mine.to_vec();
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    rng.set_stream(ids.stable[person]);
                    for i in 0..m {
                        let j = rng.random_range(i..pick.len());
                        pick.swap(i, j);
                    }
                    acc.extend_from_slice(&pick[..m]);
                }
                acc
            })
            .collect();
        let mut rows: Vec<u32> = selected.concat();
        rows.par_sort_unstable();
        Ok(Bounded {
            rows: Some(rows),
            n_rows: n,
            contribution: Contribution {
                unit: PrivacyUnit::Person,
                id_column: Some(ids.column().to_string()),
                max_rows_per_person,
                note: None,
            },
        })
    }

    /// Row-level privacy over `n_rows` rows: used only when there is no person id; the
    /// ledger says that a person with several rows is protected only per row.
    pub fn row_level(n_rows: usize) -> Bounded {
        Bounded {
            rows: None,
            n_rows,
            contribution: Contribution::row_level(
                "no person-id column was given: each row is treated as a different person. \
                 If people have several rows (A&E patients re-attend), the guarantee covers \
                 one row, not one person; give the id column (e.g. nhs_number) and a \
                 max_rows_per_person to protect people",
            ),
        }
    }

    /// Selected rows (`None`: all `n_rows`).
    pub fn rows(&self) -> Option<&[u32]> {
        self.rows.as_deref()
    }

    /// Rows of the table.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Rows kept. An exact statistic of the data: for computing, never for release (no
    /// ledger, result or message of pets shows it).
    pub fn n_selected(&self) -> usize {
        self.rows.as_ref().map_or(self.n_rows, |r| r.len())
    }

    /// The unit of privacy and the bound.
    pub fn contribution(&self) -> &Contribution {
        &self.contribution
    }

    /// Rows one person may contribute: the symmetric-distance bound `d_in` of neighbours.
    pub fn max_rows_per_person(&self) -> u32 {
        self.contribution.max_rows_per_person
    }

    /// Fold over selected rows in parallel: `fold(acc, row)` then `merge`.
    pub fn par_fold<A: Send>(
        &self,
        init: impl Fn() -> A + Sync + Send,
        fold: impl Fn(A, usize) -> A + Sync + Send,
        merge: impl Fn(A, A) -> A + Sync + Send,
    ) -> A {
        const CHUNK: usize = 64 * 1024;
        match &self.rows {
            Some(rows) => rows
                .par_chunks(CHUNK)
                .fold(&init, |a, c| c.iter().fold(a, |a, &r| fold(a, r as usize)))
                .reduce(&init, &merge),
            None => (0..self.n_rows)
                .into_par_iter()
                .with_min_len(CHUNK)
                .fold(&init, &fold)
                .reduce(&init, &merge),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> PersonIds {
        RowKeys::from_strings("id", v.iter().map(|s| Some(*s)), false).unwrap()
    }

    #[test]
    fn keeps_at_most_m_per_person_deterministically() {
        let people: Vec<String> = (0..5000).map(|i| format!("p{}", i % 700)).collect();
        let keys =
            RowKeys::from_strings("id", people.iter().map(|s| Some(s.as_str())), false).unwrap();
        let b = Bounded::by_person(&keys, 3, 42).unwrap();
        let mut per = vec![0u32; keys.n_keys()];
        for &r in b.rows().unwrap() {
            per[keys.ids()[r as usize] as usize] += 1;
        }
        assert!(per.iter().all(|&c| c <= 3));
        assert_eq!(b.n_selected(), 700 * 3);
        // The contribution released in ledgers holds no count of dropped rows.
        let json = serde_json::to_string(b.contribution()).unwrap();
        assert!(
            !json.contains("2900") && !json.contains("dropped"),
            "{json}"
        );
        assert_eq!(b, Bounded::by_person(&keys, 3, 42).unwrap());
        assert_ne!(b.rows(), Bounded::by_person(&keys, 3, 43).unwrap().rows());
        assert!(b.rows().unwrap().windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn others_are_unaffected_by_a_removed_person() {
        let all: Vec<String> = (0..3000).map(|i| format!("p{}", (i * 7) % 101)).collect();
        let without: Vec<(usize, &String)> = all
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_str() != "p0")
            .collect();
        let k1 = RowKeys::from_strings("id", all.iter().map(|s| Some(s.as_str())), false).unwrap();
        let k2 = RowKeys::from_strings("id", without.iter().map(|(_, s)| Some(s.as_str())), false)
            .unwrap();
        let kept1: Vec<usize> = Bounded::by_person(&k1, 2, 9)
            .unwrap()
            .rows()
            .unwrap()
            .iter()
            .map(|&r| r as usize)
            .filter(|&r| all[r] != "p0")
            .collect();
        let kept2: Vec<usize> = Bounded::by_person(&k2, 2, 9)
            .unwrap()
            .rows()
            .unwrap()
            .iter()
            .map(|&r| without[r as usize].0)
            .collect();
        assert_eq!(kept1, kept2);
    }

    #[test]
    fn selection_is_uniform() {
        // One person with 4 rows, keep 1: each row chosen about a quarter of the time.
        let mut hits = [0u32; 4];
        let keys = ids(&["a", "a", "a", "a"]);
        for seed in 0..4000 {
            let b = Bounded::by_person(&keys, 1, seed).unwrap();
            hits[b.rows().unwrap()[0] as usize] += 1;
        }
        for h in hits {
            assert!((850..1150).contains(&h), "{hits:?}");
        }
    }

    #[test]
    fn missing_id_is_an_error() {
        let e = RowKeys::from_strings("nhs_number", [Some("1"), None], false).unwrap_err();
        assert!(e.to_string().contains("row 2 has no value"), "{e}");
        assert!(Bounded::by_person(&ids(&["a"]), 0, 1).is_err());
    }

    #[test]
    fn row_level_says_so() {
        let b = Bounded::row_level(10);
        assert_eq!(b.contribution().unit, PrivacyUnit::Row);
        assert!(
            b.contribution()
                .note
                .as_ref()
                .unwrap()
                .contains("no person-id column")
        );
        let n = b.par_fold(|| 0usize, |a, _| a + 1, |a, b| a + b);
        assert_eq!(n, 10);
    }
}
