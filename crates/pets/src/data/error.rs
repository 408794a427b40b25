//! Errors of the data layer.
//!
//! Every error names what was wrong in the caller's terms (column, 1-based data row, value)
//! and, where there is one, what to do about it. Values quoted in messages are cut to
//! [`MAX_QUOTED_VALUE`] characters (the message says so); rows are never printed whole, so an
//! error can be logged without spilling a patient's record.

use std::path::{Path, PathBuf};

/// Longest value quoted in an error message, in characters.
pub const MAX_QUOTED_VALUE: usize = 60;

/// Quote a value for an error message, shortened past [`MAX_QUOTED_VALUE`] characters.
pub fn quote(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED_VALUE {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX_QUOTED_VALUE).collect();
        format!("{head:?}... ({} characters)", value.chars().count())
    }
}

/// What to do about a value that could not be read or is outside the domain, when the
/// value itself says: a common missing-value code (`N`, `NA`, `?`, ...) is declared as null;
/// a value padded with spaces is trimmed.
pub fn value_hint(value: &str) -> String {
    let t = value.trim();
    if crate::data::io::COMMON_MISSING_CODES.contains(&t) {
        format!(
            "; if {t:?} marks a missing value, declare it: --null {t} (or \"csv\": \
             {{\"null_values\": [\"\", {t:?}]}} in the schema) and make the column nullable"
        )
    } else if t != value && !t.is_empty() {
        "; the value is padded with spaces: trim them (--trim, or \"csv\": {\"trim\": true} \
         in the schema)"
            .into()
    } else {
        String::new()
    }
}

/// How a byte that is not UTF-8 reads in windows-1252 (latin-1's superset), when that is a
/// printable character: a hint at the likely encoding, not a guess pets acts on.
fn latin1_hint(byte: u8) -> String {
    let bytes = [byte];
    let (text, _, bad) = encoding_rs::WINDOWS_1252.decode(&bytes);
    match text.chars().next() {
        Some(c) if !bad && !c.is_control() => {
            format!(" (in latin-1 / windows-1252 it would be {c:?})")
        }
        _ => String::new(),
    }
}

/// An error of the data layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A column was asked for that the schema or file does not have.
    #[error("unknown column {column:?}; available columns: {}", available.join(", "))]
    UnknownColumn {
        /// The name asked for.
        column: String,
        /// The names that exist.
        available: Vec<String>,
    },
    /// A value lies outside the column's declared domain.
    #[error(
        "column {column:?}, row {row}: value {} is outside the declared domain ({domain}); \
         fix the data, widen the schema, or encode with out-of-domain values mapped to \
         \"other\"{}",
        quote(value),
        value_hint(value)
    )]
    OutOfDomain {
        /// Column name.
        column: String,
        /// 1-based data row (header excluded).
        row: u64,
        /// The offending value, as text.
        value: String,
        /// Short description of the declared domain.
        domain: String,
    },
    /// A value could not be read as the column's kind.
    #[error(
        "column {column:?}, row {row}: cannot read {} as {expected}{}",
        quote(value),
        value_hint(value)
    )]
    Unparsable {
        /// Column name.
        column: String,
        /// 1-based data row (header excluded).
        row: u64,
        /// The offending value, as text.
        value: String,
        /// What was expected, e.g. "an integer" or "a date like 2024-03-01".
        expected: String,
    },
    /// A null in a column the schema declares not nullable.
    #[error(
        "column {column:?}, row {row}: missing value, but the schema does not allow nulls; \
         mark the column \"nullable\": true or fill the gap"
    )]
    UnexpectedNull {
        /// Column name.
        column: String,
        /// 1-based data row (header excluded).
        row: u64,
    },
    /// The file's columns or types do not fit the schema.
    #[error("data does not match the schema: {detail}")]
    SchemaMismatch {
        /// What does not match.
        detail: String,
        /// The column that does not match, when it is one column (missing, or of a type
        /// the schema's kind cannot take).
        column: Option<String>,
    },
    /// The schema itself is not valid.
    #[error("invalid schema{}: {reason}", column.as_ref().map(|c| format!(" (column {c:?})")).unwrap_or_default())]
    InvalidSchema {
        /// The column at fault, if one.
        column: Option<String>,
        /// Why.
        reason: String,
    },
    /// A schema file could not be parsed.
    #[error("cannot parse {format} schema: {message}")]
    SchemaParse {
        /// "JSON" or "TOML".
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// The input holds no rows (or no columns).
    #[error("{what} is empty: {detail}")]
    Empty {
        /// The input (a path or "table").
        what: String,
        /// What is missing.
        detail: String,
    },
    /// A file's format could not be told from its name.
    #[error("cannot tell the format of {path:?} from its extension; use .csv, .tsv or .parquet")]
    UnknownFormat {
        /// The path.
        path: PathBuf,
    },
    /// An operating-system error on a path.
    #[error("{path:?}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A malformed CSV file.
    #[error("{path:?}: malformed CSV: {message}")]
    Csv {
        /// The path.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A text file that is not UTF-8 and declares no encoding (or is not in the one it
    /// declares).
    #[error(
        "{path:?}: byte 0x{byte:02X} at byte offset {offset} (line {line}) is not UTF-8{}; \
         say how the file is encoded: --encoding latin-1 (or windows-1252, utf-16le, ...), \
         \"csv\": {{\"encoding\": \"latin-1\"}} in the schema, or encoding=\"latin-1\" in Python",
        latin1_hint(*byte)
    )]
    Encoding {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first bad byte, from the start of the file.
        offset: u64,
        /// 1-based line of the first bad byte.
        line: u64,
        /// The first bad byte.
        byte: u8,
    },
    /// An Arrow error (type mismatches between batches, bad arrays).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A Parquet error (corrupt or unsupported file).
    #[cfg(feature = "parquet")]
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A file format this build of pets was compiled without.
    #[error("{path:?}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is missing and how to get it.
        reason: String,
    },
    /// An argument out of its valid range.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The user asked the job to stop (Ctrl-C); it stopped at a safe point, before anything
    /// was released or written (see [`crate::progress`]).
    #[error("stopped at the user's request (Ctrl-C) before anything was released or written")]
    Cancelled,
}

impl DataError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The 1-based data row this error is about, if it is about one.
    pub fn row(&self) -> Option<u64> {
        match self {
            DataError::OutOfDomain { row, .. }
            | DataError::Unparsable { row, .. }
            | DataError::UnexpectedNull { row, .. } => Some(*row),
            _ => None,
        }
    }
}

/// Result of the data layer.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "x".repeat(500);
        let e = DataError::OutOfDomain {
            column: "c".into(),
            row: 3,
            value: long,
            domain: "d".into(),
        };
        let msg = e.to_string();
        assert!(msg.contains("(500 characters)"));
        assert!(msg.len() < 400);
        assert_eq!(e.row(), Some(3));
    }
}
