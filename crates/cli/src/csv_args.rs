//! The text-file options every command that reads data takes (`--no-header`, `--trim`,
//! `--null N`, ...). They become a [`CsvDialect`]: each one given wins over the schema's
//! `csv` section, and whatever neither says is sniffed from the file (and announced).

use clap::Args;
use pets::data::CsvDialect;

use crate::exit::CliError;

/// How a CSV/TSV file is written. Parquet files ignore these.
#[derive(Debug, Clone, Default, Args)]
pub struct CsvArgs {
    /// The first line names the columns (default: sniffed).
    #[arg(long, conflicts_with = "no_header", help_heading = "Text files")]
    pub header: bool,
    /// The first line is data, not column names; name the columns with --column-names or a
    /// schema (default: sniffed).
    #[arg(long, help_heading = "Text files")]
    pub no_header: bool,
    /// Column names of a file without a header, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        help_heading = "Text files"
    )]
    pub column_names: Option<Vec<String>>,
    /// Field separator: one character, or `tab` (default: `,`, tab for .tsv, else sniffed).
    #[arg(long, value_name = "CHAR", help_heading = "Text files")]
    pub delimiter: Option<String>,
    /// Quote character (default `"`).
    #[arg(long, value_name = "CHAR", help_heading = "Text files")]
    pub quote: Option<char>,
    /// Strip spaces around every field (default: sniffed, on when fields are padded).
    #[arg(long, conflicts_with = "no_trim", help_heading = "Text files")]
    pub trim: bool,
    /// Keep spaces around fields.
    #[arg(long, help_heading = "Text files")]
    pub no_trim: bool,
    /// A text that means "missing", besides the empty field; repeat for several
    /// (`--null N --null '?'`).
    #[arg(long = "null", value_name = "TEXT", help_heading = "Text files")]
    pub null: Vec<String>,
    /// The file's encoding: utf-8 (default), latin-1, windows-1252, utf-16le, ... (a
    /// byte-order mark wins).
    #[arg(long, value_name = "NAME", help_heading = "Text files")]
    pub encoding: Option<String>,
}

impl CsvArgs {
    /// The dialect these flags give (unset fields left to the schema and sniffing).
    pub fn dialect(&self) -> Result<CsvDialect, CliError> {
        let delimiter = match self.delimiter.as_deref() {
            None => None,
            Some("tab" | "\\t" | "\t") => Some('\t'),
            Some(d) => {
                let mut chars = d.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => {
                        return Err(CliError::usage(format!(
                            "--delimiter {d:?}: give one character, or `tab`"
                        )));
                    }
                }
            }
        };
        let flag = |yes: bool, no: bool| match (yes, no) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        let null_values = (!self.null.is_empty()).then(|| {
            std::iter::once(String::new())
                .chain(self.null.iter().cloned())
                .collect()
        });
        Ok(CsvDialect {
            header: flag(self.header, self.no_header),
            delimiter,
            quote: self.quote,
            trim: flag(self.trim, self.no_trim),
            null_values,
            column_names: self.column_names.clone(),
            encoding: self.encoding.clone(),
        })
    }
}
