//! Small hand-built tables for the unit tests.

use crate::data::{CodeBook, ColumnSpec, EncodedColumn, EncodedTable};

/// A categorical (unordered) column named `name` with `card` codes.
pub fn cat(name: &str, card: u32, codes: &[u32]) -> EncodedColumn {
    let values: Vec<String> = (0..card).map(|i| format!("v{i}")).collect();
    EncodedColumn {
        spec: ColumnSpec::categorical(name, values),
        codebook: CodeBook {
            n_values: card,
            null_code: None,
            other_code: None,
        },
        codes: codes.to_vec(),
    }
}

/// An integer column `[0, card)`, ordered.
pub fn int(name: &str, card: u32, codes: &[u32]) -> EncodedColumn {
    EncodedColumn {
        spec: ColumnSpec::integer(name, 0, i64::from(card) - 1),
        codebook: CodeBook {
            n_values: card,
            null_code: None,
            other_code: None,
        },
        codes: codes.to_vec(),
    }
}

/// A table from columns.
pub fn table(cols: Vec<EncodedColumn>) -> EncodedTable {
    EncodedTable::from_columns(cols).expect("valid test table")
}
