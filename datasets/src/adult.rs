//! UCI Adult (census income; Becker and Kohavi, 1996), the standard benchmark of the
//! k-anonymity and DP-synthesis literature.
//!
//! The shared data folder (see [`crate::shared_data_dir`]) holds `adult/adult.data`
//! (32,561 rows) and `adult/adult.test` (16,281 rows). Both have no header, `", "`
//! separators and `?` for a missing value; `adult.test` starts with a comment line
//! (`|1x3 Cross validator`) and its labels end in a full stop (`<=50K.`). The loaders here
//! name the columns as `adult.names` does, read `?` as null, and strip the full stop so
//! that both files share the label values `<=50K` and `>50K`.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use pets::data::io::{BatchStream, CsvReadOptions, read_csv};
use pets::data::{Binning, ColumnKind, ColumnSpec, DataError, Role, Schema};

use crate::shared::shared_file;

/// Column names, from `adult.names`; the class label is called `income`.
pub const COLUMNS: [&str; 15] = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
];

/// Name of the label column.
pub const LABEL: &str = "income";

/// The two label values (after normalisation).
pub const LABELS: [&str; 2] = ["<=50K", ">50K"];

/// Which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// `adult.data`, 32,561 rows.
    Train,
    /// `adult.test`, 16,281 rows.
    Test,
}

impl Split {
    /// Path of the file inside the shared data folder.
    pub fn relative_path(self) -> &'static str {
        match self {
            Split::Train => "adult/adult.data",
            Split::Test => "adult/adult.test",
        }
    }

    /// Number of data rows in the file.
    pub fn rows(self) -> u64 {
        match self {
            Split::Train => 32_561,
            Split::Test => 16_281,
        }
    }
}

/// The file of a split, when the shared data folder holds it.
pub fn path(split: Split) -> Option<PathBuf> {
    shared_file(split.relative_path())
}

const WORKCLASS: [&str; 8] = [
    "Private",
    "Self-emp-not-inc",
    "Self-emp-inc",
    "Federal-gov",
    "Local-gov",
    "State-gov",
    "Without-pay",
    "Never-worked",
];

/// Education levels in order (education-num 1 to 16).
const EDUCATION: [&str; 16] = [
    "Preschool",
    "1st-4th",
    "5th-6th",
    "7th-8th",
    "9th",
    "10th",
    "11th",
    "12th",
    "HS-grad",
    "Some-college",
    "Assoc-voc",
    "Assoc-acdm",
    "Bachelors",
    "Masters",
    "Prof-school",
    "Doctorate",
];

const MARITAL_STATUS: [&str; 7] = [
    "Married-civ-spouse",
    "Divorced",
    "Never-married",
    "Separated",
    "Widowed",
    "Married-spouse-absent",
    "Married-AF-spouse",
];

const OCCUPATION: [&str; 14] = [
    "Tech-support",
    "Craft-repair",
    "Other-service",
    "Sales",
    "Exec-managerial",
    "Prof-specialty",
    "Handlers-cleaners",
    "Machine-op-inspct",
    "Adm-clerical",
    "Farming-fishing",
    "Transport-moving",
    "Priv-house-serv",
    "Protective-serv",
    "Armed-Forces",
];

const RELATIONSHIP: [&str; 6] = [
    "Wife",
    "Own-child",
    "Husband",
    "Not-in-family",
    "Other-relative",
    "Unmarried",
];

const RACE: [&str; 5] = [
    "White",
    "Asian-Pac-Islander",
    "Amer-Indian-Eskimo",
    "Other",
    "Black",
];

const NATIVE_COUNTRY: [&str; 41] = [
    "United-States",
    "Cambodia",
    "England",
    "Puerto-Rico",
    "Canada",
    "Germany",
    "Outlying-US(Guam-USVI-etc)",
    "India",
    "Japan",
    "Greece",
    "South",
    "China",
    "Cuba",
    "Iran",
    "Honduras",
    "Philippines",
    "Italy",
    "Poland",
    "Jamaica",
    "Vietnam",
    "Mexico",
    "Portugal",
    "Ireland",
    "France",
    "Dominican-Republic",
    "Laos",
    "Ecuador",
    "Taiwan",
    "Haiti",
    "Columbia",
    "Hungary",
    "Guatemala",
    "Nicaragua",
    "Scotland",
    "Thailand",
    "Yugoslavia",
    "El-Salvador",
    "Trinadad&Tobago",
    "Peru",
    "Hong",
    "Holand-Netherlands",
];

/// The declared schema of the 15 columns (domains from `adult.names`; numeric bounds are
/// the documented ranges, rounded out).
pub fn schema() -> Schema {
    let qi = Role::QuasiIdentifier;
    let cat = |name: &str, values: &[&str]| ColumnSpec::categorical(name, values.iter().copied());
    let binned = |name: &str, min: i64, max: i64, bins: u32| {
        ColumnSpec::new(
            name,
            ColumnKind::Integer {
                min,
                max,
                bins: Some(Binning::EqualWidth(bins)),
            },
        )
    };
    let columns = vec![
        ColumnSpec::integer("age", 17, 90)
            .with_role(qi)
            .describe("Age in years (90 means 90 or over)"),
        cat("workclass", &WORKCLASS).nullable(true).with_role(qi),
        binned("fnlwgt", 0, 1_500_000, 30).describe("Census sampling weight"),
        ColumnSpec::new(
            "education",
            ColumnKind::Categorical {
                values: EDUCATION.iter().map(|s| s.to_string()).collect(),
                ordered: true,
            },
        )
        .with_role(qi),
        ColumnSpec::integer("education-num", 1, 16)
            .with_role(qi)
            .describe("Education level as a number (same information as education)"),
        cat("marital-status", &MARITAL_STATUS).with_role(qi),
        cat("occupation", &OCCUPATION).nullable(true).with_role(qi),
        cat("relationship", &RELATIONSHIP).with_role(qi),
        cat("race", &RACE).with_role(qi),
        cat("sex", &["Female", "Male"]).with_role(qi),
        binned("capital-gain", 0, 99_999, 20),
        binned("capital-loss", 0, 4_999, 20),
        ColumnSpec::integer("hours-per-week", 1, 99),
        cat("native-country", &NATIVE_COUNTRY)
            .nullable(true)
            .with_role(qi),
        cat(LABEL, &LABELS)
            .with_role(Role::Sensitive)
            .describe("Income over 50K a year (test-file labels have their full stop removed)"),
    ];
    let mut schema = Schema::new(columns).expect("the Adult schema is valid");
    schema.name = Some("adult".into());
    schema
}

fn read_options(split: Split) -> CsvReadOptions {
    CsvReadOptions {
        delimiter: b',',
        has_header: false,
        column_names: Some(COLUMNS.iter().map(|s| s.to_string()).collect()),
        null_values: vec![String::new(), "?".into()],
        trim: true,
        comment: match split {
            Split::Test => Some(b'|'),
            Split::Train => None,
        },
        ..CsvReadOptions::default()
    }
}

/// Stream one file, with labels normalised; `Ok(None)` when it is absent.
pub fn load_split(split: Split) -> Result<Option<BatchStream>, DataError> {
    let Some(path) = path(split) else {
        return Ok(None);
    };
    let stream = read_csv(&path, &read_options(split))?;
    let schema = stream.arrow_schema();
    let label = schema.index_of(LABEL)?;
    let inner = stream.map(move |batch| normalise_labels(batch?, label));
    Ok(Some(
        BatchStream::new(schema, inner).with_rows_hint(split.rows()),
    ))
}

/// Stream both files, `adult.data` then `adult.test` (48,842 rows), with labels
/// normalised; `Ok(None)` when either is absent.
pub fn load() -> Result<Option<BatchStream>, DataError> {
    let (Some(train), Some(test)) = (load_split(Split::Train)?, load_split(Split::Test)?) else {
        return Ok(None);
    };
    let schema = train.arrow_schema();
    let rows = Split::Train.rows() + Split::Test.rows();
    Ok(Some(
        BatchStream::new(schema, train.chain(test)).with_rows_hint(rows),
    ))
}

/// Strip the trailing full stop of `adult.test` labels (`<=50K.` → `<=50K`).
fn normalise_labels(batch: RecordBatch, label: usize) -> Result<RecordBatch, DataError> {
    let col = batch
        .column(label)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| DataError::SchemaMismatch {
            detail: format!("column {LABEL:?} is not text"),
            column: Some(LABEL.to_string()),
        })?;
    if !col.iter().flatten().any(|v| v.ends_with('.')) {
        return Ok(batch);
    }
    let fixed: StringArray = col
        .iter()
        .map(|v| v.map(|v| v.strip_suffix('.').unwrap_or(v)))
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[label] = Arc::new(fixed);
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_valid() {
        let s = schema();
        assert_eq!(s.names().collect::<Vec<_>>(), COLUMNS.to_vec());
    }

    #[test]
    fn labels_are_normalised() {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            LABEL,
            arrow_schema::DataType::Utf8,
            true,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec![
                Some("<=50K."),
                None,
                Some(">50K"),
            ]))],
        )
        .unwrap();
        let out = normalise_labels(batch, 0).unwrap();
        let col = out
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(
            col.iter().collect::<Vec<_>>(),
            [Some("<=50K"), None, Some(">50K")]
        );
        assert_eq!(col.null_count(), 1);
    }
}
