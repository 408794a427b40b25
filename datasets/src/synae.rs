//! NHS England's SynAE synthetic A&E extract: a one-provider, one-year (2016) subset.
//!
//! The file `synae/synae_provider15273_2016.csv` in the shared data folder (see
//! [`crate::shared_data_dir`]) has 106,102 rows and 13 columns. It is synthetic data
//! published by NHS England; treat its statistics as shape, not truth. Quirks the declared
//! [`schema`] allows for:
//!
//! - a few blank cells (`Sex`, `AE_Arrive_HourOfDay`, `Admitted_Flag`,
//!   `IMD_Decile_From_LSOA`, `Provider_Patient_Distance_Miles`, `AE_HRG`), so those columns
//!   are nullable;
//! - the hour of arrival is a six-level band (`01-04` .. `21-24`), not an hour;
//! - `AE_Time_Mins` moves in 10-minute steps; `AE_Num_Investigations` is constant (8);
//! - the distance is a float (whole miles, capped at 200);
//! - there is no band for infants: the youngest band is `1-17`.

use std::path::PathBuf;

use chrono::NaiveDate;
use pets::data::io::{BatchStream, CsvReadOptions, read_csv};
use pets::data::{Binning, ColumnKind, ColumnSpec, DataError, DateGranularity, Role, Schema};

use crate::shared::shared_file;

/// Path of the file inside the shared data folder.
pub const RELATIVE_PATH: &str = "synae/synae_provider15273_2016.csv";

/// Number of data rows in the file.
pub const ROWS: u64 = 106_102;

/// The file, when the shared data folder holds it.
pub fn path() -> Option<PathBuf> {
    shared_file(RELATIVE_PATH)
}

/// The declared schema of the file's 13 columns.
pub fn schema() -> Schema {
    let qi = Role::QuasiIdentifier;
    let ordered = |name: &str, values: &[&str]| {
        ColumnSpec::new(
            name,
            ColumnKind::Categorical {
                values: values.iter().map(|s| s.to_string()).collect(),
                ordered: true,
            },
        )
    };
    let columns = vec![
        ColumnSpec::integer("IMD_Decile_From_LSOA", 1, 10)
            .nullable(true)
            .with_role(qi)
            .describe("IMD decile of the patient's LSOA, 1 most deprived"),
        ordered(
            "Age_Band",
            &["1-17", "18-24", "25-44", "45-64", "65-84", "85+"],
        )
        .with_role(qi)
        .describe("Age band"),
        ColumnSpec::categorical("Sex", ["1", "2"])
            .nullable(true)
            .with_role(qi)
            .describe("1 male, 2 female"),
        ColumnSpec::new(
            "AE_Arrive_Date",
            ColumnKind::Date {
                min: NaiveDate::from_ymd_opt(2016, 1, 1).expect("date"),
                max: NaiveDate::from_ymd_opt(2016, 12, 31).expect("date"),
                granularity: DateGranularity::Day,
                format: None,
            },
        )
        .with_role(qi)
        .describe("Arrival date"),
        ordered(
            "AE_Arrive_HourOfDay",
            &["01-04", "05-08", "09-12", "13-16", "17-20", "21-24"],
        )
        .nullable(true)
        .with_role(qi)
        .describe("Hour of arrival, in six 4-hour bands"),
        ColumnSpec::integer("AE_Time_Mins", 0, 1440)
            .describe("Total time in department, minutes, in 10-minute steps"),
        ordered("AE_HRG", &["Nothing", "Low", "Medium", "High"])
            .nullable(true)
            .describe("HRG resource level"),
        ColumnSpec::integer("AE_Num_Diagnoses", 0, 12).describe("Number of diagnoses"),
        ColumnSpec::integer("AE_Num_Investigations", 0, 12)
            .describe("Number of investigations (constant 8 in this extract)"),
        ColumnSpec::integer("AE_Num_Treatments", 0, 12).describe("Number of treatments"),
        ColumnSpec::categorical("AE_Arrival_Mode", ["0", "1", "2"])
            .describe("1 ambulance, 2 other, 0 not known"),
        ColumnSpec::new(
            "Provider_Patient_Distance_Miles",
            ColumnKind::Float {
                min: 0.0,
                max: 200.0,
                bins: Binning::Edges(vec![
                    0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0,
                ]),
            },
        )
        .nullable(true)
        .with_role(qi)
        .describe("Distance from home to provider, whole miles, capped at 200"),
        ColumnSpec::categorical("Admitted_Flag", ["0", "1"])
            .nullable(true)
            .with_role(Role::Sensitive)
            .describe("1 when the attendance ended in admission"),
    ];
    let mut schema = Schema::new(columns).expect("the SynAE schema is valid");
    schema.name = Some("synae_provider15273_2016".into());
    schema
}

/// Stream the file (every column as text, blank cells null), or `Ok(None)` when the shared
/// data folder or the file is absent.
pub fn load() -> Result<Option<BatchStream>, DataError> {
    let Some(path) = path() else {
        return Ok(None);
    };
    read_csv(&path, &CsvReadOptions::default()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_valid_and_has_13_columns() {
        let s = schema();
        assert_eq!(s.columns.len(), 13);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn loads_every_row() {
        let Some(stream) = load().unwrap() else {
            eprintln!("skipped: SynAE file not found (set PETS_SHARED_DATA)");
            return;
        };
        let names: Vec<String> = stream
            .arrow_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, schema().names().collect::<Vec<_>>());
        let rows: usize = stream.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows as u64, ROWS);
    }
}
