//! Per-column summary of an encoded table: what a data holder looks at first.
//!
//! Computed from code counts alone (one parallel pass per column), so it costs far less
//! than the encoding. It shows values, so it is for the data holder, not for release:
//! columns whose role is `direct_identifier` never show values.

use serde::{Deserialize, Serialize};

use super::encode::EncodedTable;
use super::schema::Role;

/// Summary of one encoded column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    /// Column name.
    pub name: String,
    /// Kind, as in schema files.
    pub kind: String,
    /// Role in disclosure control.
    pub role: Role,
    /// Number of codes the column may take (domain values, null, other).
    pub codes: u32,
    /// Number of distinct codes present.
    pub distinct_present: u32,
    /// Rows that are null.
    pub nulls: u64,
    /// Rows mapped to "other".
    pub other: u64,
    /// Lowest and highest value present (labels), for ordered kinds.
    pub range: Option<(String, String)>,
    /// Most frequent values with their counts (empty for direct identifiers).
    pub top: Vec<(String, u64)>,
    /// Whether the domain was read from the data.
    pub domain_from_data: bool,
}

/// Summary of an encoded table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSummary {
    /// Rows.
    pub rows: u64,
    /// Bytes held by the codes.
    pub code_bytes: u64,
    /// One entry per encoded column.
    pub columns: Vec<ColumnSummary>,
}

impl TableSummary {
    /// Summarise `table`, keeping the `top` most frequent values of each column.
    pub fn of(table: &EncodedTable, top: usize) -> TableSummary {
        let columns = table
            .columns()
            .iter()
            .map(|c| {
                let counts = c.counts();
                let book = c.codebook;
                let at = |code: Option<u32>| code.map_or(0, |k| counts[k as usize]);
                let present: Vec<u32> = (0..book.n_values)
                    .filter(|&k| counts[k as usize] > 0)
                    .collect();
                let ordered = !matches!(
                    c.spec.kind,
                    super::schema::ColumnKind::Categorical { ordered: false, .. }
                );
                let range = (ordered && !present.is_empty()).then(|| {
                    (
                        c.label(present[0]),
                        c.label(*present.last().expect("non-empty")),
                    )
                });
                let mut ranked: Vec<(u32, u64)> = (0..book.cardinality())
                    .map(|k| (k, counts[k as usize]))
                    .filter(|&(_, n)| n > 0)
                    .collect();
                ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let top = if c.spec.role == Role::DirectIdentifier {
                    Vec::new()
                } else {
                    ranked
                        .iter()
                        .take(top)
                        .map(|&(k, n)| (c.label(k), n))
                        .collect()
                };
                ColumnSummary {
                    name: c.spec.name.clone(),
                    kind: c.spec.kind.name().to_string(),
                    role: c.spec.role,
                    codes: book.cardinality(),
                    distinct_present: ranked.len() as u32,
                    nulls: at(book.null_code),
                    other: at(book.other_code),
                    range: if c.spec.role == Role::DirectIdentifier {
                        None
                    } else {
                        range
                    },
                    top,
                    domain_from_data: c.spec.domain_from_data,
                }
            })
            .collect();
        TableSummary {
            rows: table.n_rows() as u64,
            code_bytes: table.code_bytes() as u64,
            columns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::encode::{CodeBook, EncodedColumn};
    use crate::data::schema::ColumnSpec;

    #[test]
    fn counts_nulls_ranges_and_hides_identifiers() {
        let age = EncodedColumn {
            spec: ColumnSpec::integer("age", 0, 9).nullable(true),
            codebook: CodeBook {
                n_values: 10,
                null_code: Some(10),
                other_code: None,
            },
            codes: vec![3, 3, 7, 10],
        };
        let dob = EncodedColumn {
            spec: ColumnSpec::integer("dob", 0, 9).with_role(Role::DirectIdentifier),
            codebook: CodeBook {
                n_values: 10,
                null_code: None,
                other_code: None,
            },
            codes: vec![1, 2, 3, 4],
        };
        let t = EncodedTable::from_columns(vec![age, dob]).unwrap();
        let s = TableSummary::of(&t, 2);
        let a = &s.columns[0];
        assert_eq!((a.nulls, a.distinct_present), (1, 3));
        assert_eq!(a.range, Some(("3".into(), "7".into())));
        assert_eq!(a.top, [("3".to_string(), 2), ("7".to_string(), 1)]);
        assert!(s.columns[1].top.is_empty() && s.columns[1].range.is_none());
    }
}
