//! How a delimited text file is written, and how pets finds out when nobody said.
//!
//! A [`CsvDialect`] may be declared in the schema (`"csv": {"header": false, "trim": true,
//! "null_values": ["", "?"]}`), given on the command line (`--no-header`, `--trim`,
//! `--null ?`, ...; those win), or left out, in which case each unset field is **sniffed**
//! from the file's first lines ([`CsvDialect::resolve`]) and every choice that differs from
//! the plain default (a header, commas, no trimming) comes back as a note that the jobs
//! pass on as a [`crate::WarningKind::CsvDialect`] warning.
//!
//! Sniffing rules (conservative: a file with a header is never read as header-less unless
//! the evidence is strong):
//! - **delimiter**: `.tsv` files use tabs; otherwise the first of `,` `;` tab `|` that splits
//!   every sampled line into the same number (> 1) of fields, preferring the candidate with
//!   the most fields; `,` when none does;
//! - **header**: with a declared schema, a first line none of whose fields is a declared
//!   column name, and with as many fields as the schema declares columns, is data, and the
//!   columns take the schema's names in order; without one, a first line is data when one
//!   of its fields is a number in a column whose other sampled values are numbers too
//!   (a header names columns; it does not hold their values). Header-less files without a
//!   schema get the names `column_1`, `column_2`, ...;
//! - **trim**: on when a sampled field starts or ends with a space (`39, State-gov`);
//! - **null values**: never sniffed (an `N` may be a category): only the empty field,
//!   unless declared. Errors on a common missing-value code say how to declare it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::csv::CsvReadOptions;
use crate::data::error::{DataError, Result};

/// Bytes read from the start of a file to sniff its dialect.
const SNIFF_BYTES: u64 = 64 * 1024;
/// Lines sampled to sniff a dialect.
const SNIFF_LINES: usize = 200;

/// Missing-value codes common in public-sector files: errors on one of them say how to
/// declare it as null. They are never treated as null unless declared.
pub const COMMON_MISSING_CODES: &[&str] = &[
    "N", "NA", "N/A", "n/a", "na", "NULL", "null", "?", "-", "*", ".", "-9", "-99", "..",
];

/// How a delimited text file is written. Every field is optional: unset ones are sniffed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvDialect {
    /// Whether the first line names the columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// The field separator (one ASCII character; `"\t"` for tabs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// The quote character (default `"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<char>,
    /// Strip spaces around every field before reading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<bool>,
    /// Texts that mean "missing" (after trimming). Default: only the empty field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_values: Option<Vec<String>>,
    /// Column names for a file without a header (default: the declared schema's columns in
    /// order, else `column_1`, `column_2`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_names: Option<Vec<String>>,
    /// The file's text encoding, as a WHATWG label: `utf-8` (the default), `latin-1`
    /// (`iso-8859-1`), `windows-1252`, `utf-16le`, `utf-16be`, ... A byte-order mark wins
    /// over it. Never sniffed: a file that is not UTF-8 without one declared is an error
    /// naming the first bad byte ([`super::encoding_for_label`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// A dialect with every field decided, and notes on what was sniffed.
#[derive(Debug, Clone)]
pub struct ResolvedCsv {
    /// Options for [`super::read_csv`] (batch size and projection left at their defaults).
    pub options: CsvReadOptions,
    /// One sentence per sniffed choice that differs from the plain default.
    pub notes: Vec<String>,
}

fn ascii(name: &'static str, c: char) -> Result<u8> {
    u8::try_from(c)
        .ok()
        .filter(|b| b.is_ascii() && *b != b'\n' && *b != b'\r')
        .ok_or_else(|| DataError::InvalidArgument {
            name,
            reason: format!("{c:?} is not a single ASCII character other than a line break"),
        })
}

fn shown(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab".into(),
        b' ' => "space".into(),
        d => format!("{:?}", d as char),
    }
}

fn is_number(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && t.parse::<f64>().is_ok_and(f64::is_finite)
}

impl CsvDialect {
    /// Each field of `self`, or else of `fallback` (command-line flags over the schema's).
    pub fn or(&self, fallback: Option<&CsvDialect>) -> CsvDialect {
        let Some(f) = fallback else {
            return self.clone();
        };
        CsvDialect {
            header: self.header.or(f.header),
            delimiter: self.delimiter.or(f.delimiter),
            quote: self.quote.or(f.quote),
            trim: self.trim.or(f.trim),
            null_values: self.null_values.clone().or_else(|| f.null_values.clone()),
            column_names: self.column_names.clone().or_else(|| f.column_names.clone()),
            encoding: self.encoding.clone().or_else(|| f.encoding.clone()),
        }
    }

    /// The fields that differ from a plain file (a header, `default_delimiter`, `"`, no
    /// trimming, only the empty field missing), or `None` when none does: what an inferred
    /// schema records.
    pub fn essentials(&self, default_delimiter: char) -> Option<CsvDialect> {
        let header = self.header.filter(|h| !h);
        let d = CsvDialect {
            header,
            delimiter: self.delimiter.filter(|d| *d != default_delimiter),
            quote: self.quote.filter(|q| *q != '"'),
            trim: self.trim.filter(|t| *t),
            null_values: self
                .null_values
                .clone()
                .filter(|n| n.as_slice() != [String::new()]),
            column_names: header.and(self.column_names.clone()),
            encoding: self.encoding.clone().filter(|e| {
                super::text::encoding_for_label(e).map_or(true, |e| e != encoding_rs::UTF_8)
            }),
        };
        (!d.is_empty()).then_some(d)
    }

    /// Whether nothing is set (every field sniffed).
    pub fn is_empty(&self) -> bool {
        self == &CsvDialect::default()
    }

    /// Decide every field for the file at `path`: given ones as given, the rest sniffed
    /// from its first lines. `default_delimiter` comes from the extension (`,` or tab);
    /// `declared` are the schema's column names, if a schema is declared.
    pub fn resolve(
        &self,
        path: &Path,
        default_delimiter: u8,
        declared: Option<&[String]>,
    ) -> Result<ResolvedCsv> {
        let mut notes = Vec::new();
        let quote = ascii("quote", self.quote.unwrap_or('"'))?;
        let encoding = self
            .encoding
            .as_deref()
            .map(super::text::encoding_for_label)
            .transpose()?;
        let (lines, bom_note) = sample_lines(path, encoding)?;
        notes.extend(bom_note);
        let delimiter = match self.delimiter {
            Some(d) => ascii("delimiter", d)?,
            None if default_delimiter != b',' => default_delimiter,
            None => {
                let d = sniff_delimiter(&lines, quote);
                if d != b',' {
                    notes.push(format!(
                        "{}: fields are separated by {} (sniffed; set the delimiter to \
                         override)",
                        path.display(),
                        shown(d)
                    ));
                }
                d
            }
        };
        let records = parse_sample(&lines, delimiter, quote);
        let trim = match self.trim {
            Some(t) => t,
            None => {
                let padded = records.iter().flatten().find(|f| f.trim() != f.as_str());
                if let Some(example) = padded {
                    notes.push(format!(
                        "{}: fields are padded with spaces (e.g. {example:?}); they are \
                         trimmed (sniffed; set trim to false to keep the spaces)",
                        path.display()
                    ));
                }
                padded.is_some()
            }
        };
        let first: Vec<String> = records
            .first()
            .map(|r| r.iter().map(|f| f.trim().to_string()).collect())
            .unwrap_or_default();
        let (has_header, names) = match (self.header, &self.column_names) {
            (Some(true), names) => (true, names.clone()),
            (Some(false), Some(names)) => (false, Some(names.clone())),
            (Some(false), None) => (false, Some(default_names(&first, declared))),
            (None, Some(names)) => (false, Some(names.clone())),
            (None, None) => match sniff_header(&records, declared) {
                Header::Present => (true, None),
                Header::Absent(reason) => {
                    let names = default_names(&first, declared);
                    notes.push(format!(
                        "{}: the file has no header line ({reason}); its columns are read \
                         as {} (sniffed; set header to true to override)",
                        path.display(),
                        summarise(&names)
                    ));
                    (false, Some(names))
                }
            },
        };
        Ok(ResolvedCsv {
            options: CsvReadOptions {
                delimiter,
                quote,
                has_header,
                column_names: names,
                null_values: self
                    .null_values
                    .clone()
                    .unwrap_or_else(|| vec![String::new()]),
                trim,
                encoding: encoding.map(|e| e.name().to_string()),
                ..CsvReadOptions::default()
            },
            notes,
        })
    }
}

/// The names of a header-less file's columns: the declared schema's when the count
/// matches, else `column_1`, `column_2`, ...
fn default_names(first: &[String], declared: Option<&[String]>) -> Vec<String> {
    match declared {
        Some(d) if d.len() == first.len() => d.to_vec(),
        _ => (1..=first.len()).map(|i| format!("column_{i}")).collect(),
    }
}

fn summarise(names: &[String]) -> String {
    if names.len() <= 6 {
        names.join(", ")
    } else {
        format!("{}, ..., {}", names[..3].join(", "), names[names.len() - 1])
    }
}

/// Up to [`SNIFF_LINES`] lines from the first [`SNIFF_BYTES`] bytes of text (a cut last
/// line is dropped), decoded ([`super::text::open_text`]: a byte that is not UTF-8 without
/// a declared encoding is an error here, before any row is read), and the note on a
/// byte-order mark, if one decided the encoding.
fn sample_lines(
    path: &Path,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<(Vec<String>, Option<String>)> {
    let text = super::text::open_text(path, encoding)?;
    let failure = text.failure.clone();
    let mut reader = BufReader::new(text.reader.take(SNIFF_BYTES));
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    while lines.len() < SNIFF_LINES {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| {
            super::text::TextFile::map_err(&failure, path, e, |e| DataError::io(path, e))
        })?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        if encoding.is_none() && text.note.is_none() && buf.contains(&0) {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                message: format!(
                    "line {} holds NUL bytes: the file looks like UTF-16 without a \
                     byte-order mark; say how it is encoded: --encoding utf-16le (or \
                     utf-16be), or \"csv\": {{\"encoding\": \"utf-16le\"}} in the schema",
                    lines.len() + 1
                ),
            });
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        if !line.is_empty() {
            lines.push(line.to_string());
        }
    }
    Ok((lines, text.note))
}

fn parse_sample(lines: &[String], delimiter: u8, quote: u8) -> Vec<Vec<String>> {
    let text = lines.join("\n");
    let mut rdr = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quote(quote)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    rdr.records()
        .filter_map(|r| r.ok())
        .map(|r| r.iter().map(str::to_string).collect())
        .collect()
}

fn sniff_delimiter(lines: &[String], quote: u8) -> u8 {
    let mut best = (b',', 0usize);
    for &d in b",;\t|" {
        let records = parse_sample(lines, d, quote);
        let Some(first) = records.first() else {
            continue;
        };
        let n = first.len();
        if n > 1 && records.iter().all(|r| r.len() == n) && n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

enum Header {
    Present,
    Absent(String),
}

fn sniff_header(records: &[Vec<String>], declared: Option<&[String]>) -> Header {
    let Some(first) = records.first() else {
        return Header::Present;
    };
    let first: Vec<&str> = first.iter().map(|f| f.trim()).collect();
    if let Some(declared) = declared {
        let named = first
            .iter()
            .filter(|f| declared.iter().any(|d| d == *f))
            .count();
        if named > 0 {
            return Header::Present;
        }
        if first.len() == declared.len() {
            return Header::Absent(
                "no field of the first line is a declared column name, and it has as many \
                 fields as the schema declares columns"
                    .into(),
            );
        }
    }
    let rest = &records[1.min(records.len())..];
    if rest.is_empty() {
        return Header::Present;
    }
    for (i, field) in first.iter().enumerate() {
        if !is_number(field) {
            continue;
        }
        let column: Vec<&str> = rest
            .iter()
            .filter_map(|r| r.get(i).map(|v| v.trim()))
            .filter(|v| !v.is_empty())
            .collect();
        if !column.is_empty() && column.iter().all(|v| is_number(v)) {
            return Header::Absent(format!(
                "its first line holds {field:?} in a column of numbers"
            ));
        }
    }
    Header::Present
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, dialect: &CsvDialect, declared: Option<&[String]>) -> ResolvedCsv {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, text).unwrap();
        dialect.resolve(&p, b',', declared).unwrap()
    }

    #[test]
    fn a_plain_file_needs_no_note() {
        let r = resolve("age,sex\n39,F\n50,M\n", &CsvDialect::default(), None);
        assert!(r.options.has_header && !r.options.trim && r.options.delimiter == b',');
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        // All-text columns keep their header: there is no evidence against it.
        let r = resolve("sex,ethnicity\nF,A\nM,B\n", &CsvDialect::default(), None);
        assert!(r.options.has_header && r.notes.is_empty());
    }

    #[test]
    fn a_census_style_file_is_headerless_padded() {
        let text = "39, State-gov, 77516, Bachelors\n50, Self-emp, 83311, Bachelors\n";
        let r = resolve(text, &CsvDialect::default(), None);
        assert!(!r.options.has_header && r.options.trim);
        assert_eq!(
            r.options.column_names.as_deref().unwrap(),
            ["column_1", "column_2", "column_3", "column_4"]
        );
        assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
        assert!(r.notes.iter().any(|n| n.contains("no header")));
        assert!(r.notes.iter().any(|n| n.contains("\" State-gov\"")));
        // With a schema of four columns the names are the schema's.
        let declared: Vec<String> = ["age", "work", "fnlwgt", "edu"].map(String::from).into();
        let r = resolve(text, &CsvDialect::default(), Some(&declared));
        assert_eq!(r.options.column_names.as_deref().unwrap(), declared);
    }

    #[test]
    fn semicolons_are_sniffed_and_given_fields_win() {
        let r = resolve("a;b;c\n1;2;3\n", &CsvDialect::default(), None);
        assert_eq!(r.options.delimiter, b';');
        assert_eq!(r.notes.len(), 1);
        let given = CsvDialect {
            header: Some(true),
            trim: Some(false),
            delimiter: Some(','),
            null_values: Some(vec!["".into(), "?".into()]),
            ..Default::default()
        };
        let r = resolve("1, 2\n3, 4\n", &given, None);
        assert!(r.options.has_header && !r.options.trim && r.notes.is_empty());
        assert_eq!(r.options.null_values, ["", "?"]);
    }

    #[test]
    fn a_declared_schema_decides_the_header() {
        let declared: Vec<String> = ["sex", "band"].map(String::from).into();
        let r = resolve("F,young\nM,old\n", &CsvDialect::default(), Some(&declared));
        assert!(!r.options.has_header);
        assert_eq!(r.options.column_names.as_deref().unwrap(), declared);
        let r = resolve("sex,band\nM,old\n", &CsvDialect::default(), Some(&declared));
        assert!(r.options.has_header && r.notes.is_empty());
    }

    #[test]
    fn flags_override_the_schema_field_by_field() {
        let schema = CsvDialect {
            trim: Some(true),
            delimiter: Some(';'),
            ..Default::default()
        };
        let flags = CsvDialect {
            trim: Some(false),
            ..Default::default()
        };
        let d = flags.or(Some(&schema));
        assert_eq!((d.trim, d.delimiter), (Some(false), Some(';')));
        assert!(CsvDialect::default().is_empty());
    }

    #[test]
    fn bad_characters_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a\n1\n").unwrap();
        let d = CsvDialect {
            delimiter: Some('é'),
            ..Default::default()
        };
        let e = d.resolve(&p, b',', None).unwrap_err().to_string();
        assert!(e.contains("delimiter") && e.contains("ASCII"), "{e}");
    }
}
