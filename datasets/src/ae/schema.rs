//! The declared schema of the A&E dataset, and its Arrow counterpart.
//!
//! Every domain here is public: code lists come from [`super::codes`], the geography from
//! [`super::geography`] (fixed, independent of the seed), and the date ranges from the
//! configured period. The shipped file `datasets/schema/ae.schema.json` is [`ae_schema`]
//! (the default period, 2024-04-01 to 2025-03-31).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use chrono::{Datelike, NaiveDate};
use pets::data::{ColumnKind, ColumnSpec, DateGranularity, Role, Schema, TimeGranularity};

use super::clinical::{
    MAX_LENGTH_OF_STAY, MAX_PROCEDURES, MAX_TIME_IN_DEPT, MAX_TIME_TO_ASSESSMENT,
};
use super::codes::{
    AGE_BANDS, ARRIVAL_MODES, ATTENDANCE_CATEGORIES, DEPARTMENT_TYPES, DIAGNOSIS_GROUPS,
    DISCHARGE_DESTINATIONS, ETHNIC_CATEGORIES, HRGS, MAX_AGE, SEX_CODES, complaint_codes,
};
use super::config::AeConfig;
use super::geography::domain;

/// Column names of the A&E dataset, in order.
pub mod columns {
    /// NHS number (test range, `999...`).
    pub const NHS_NUMBER: &str = "nhs_number";
    /// Local patient identifier.
    pub const LOCAL_PATIENT_ID: &str = "local_patient_id";
    /// Date of birth.
    pub const DATE_OF_BIRTH: &str = "date_of_birth";
    /// Full postcode.
    pub const POSTCODE: &str = "postcode";
    /// Age in years at arrival.
    pub const AGE: &str = "age";
    /// Age band at arrival.
    pub const AGE_BAND: &str = "age_band";
    /// Stated gender code.
    pub const SEX: &str = "sex";
    /// Ethnic category code.
    pub const ETHNIC_CATEGORY: &str = "ethnic_category";
    /// Postcode district of residence.
    pub const POSTCODE_DISTRICT: &str = "postcode_district";
    /// LSOA of residence.
    pub const LSOA: &str = "lsoa";
    /// IMD decile of the LSOA.
    pub const IMD_DECILE: &str = "imd_decile";
    /// Provider organisation code.
    pub const PROVIDER_CODE: &str = "provider_code";
    /// A&E department type.
    pub const DEPARTMENT_TYPE: &str = "department_type";
    /// Arrival date and time.
    pub const ARRIVAL_DATETIME: &str = "arrival_datetime";
    /// Arrival mode.
    pub const ARRIVAL_MODE: &str = "arrival_mode";
    /// Attendance category.
    pub const ATTENDANCE_CATEGORY: &str = "attendance_category";
    /// Chief complaint code.
    pub const CHIEF_COMPLAINT: &str = "chief_complaint";
    /// Triage acuity.
    pub const ACUITY: &str = "acuity";
    /// Minutes from arrival to initial assessment.
    pub const TIME_TO_INITIAL_ASSESSMENT_MIN: &str = "time_to_initial_assessment_min";
    /// Minutes from arrival to departure.
    pub const TOTAL_TIME_IN_DEPT_MIN: &str = "total_time_in_dept_min";
    /// HES diagnosis group.
    pub const DIAGNOSIS_GROUP: &str = "diagnosis_group";
    /// Number of investigations.
    pub const NUM_INVESTIGATIONS: &str = "num_investigations";
    /// Number of treatments.
    pub const NUM_TREATMENTS: &str = "num_treatments";
    /// A&E HRG.
    pub const HRG: &str = "hrg";
    /// Discharge destination.
    pub const DISCHARGE_DESTINATION: &str = "discharge_destination";
    /// Whether the patient was admitted.
    pub const ADMITTED: &str = "admitted";
    /// Length of the resulting stay (admitted patients only).
    pub const LENGTH_OF_STAY_DAYS: &str = "length_of_stay_days";

    /// All column names, in order.
    pub const ALL: [&str; 27] = [
        NHS_NUMBER,
        LOCAL_PATIENT_ID,
        DATE_OF_BIRTH,
        POSTCODE,
        AGE,
        AGE_BAND,
        SEX,
        ETHNIC_CATEGORY,
        POSTCODE_DISTRICT,
        LSOA,
        IMD_DECILE,
        PROVIDER_CODE,
        DEPARTMENT_TYPE,
        ARRIVAL_DATETIME,
        ARRIVAL_MODE,
        ATTENDANCE_CATEGORY,
        CHIEF_COMPLAINT,
        ACUITY,
        TIME_TO_INITIAL_ASSESSMENT_MIN,
        TOTAL_TIME_IN_DEPT_MIN,
        DIAGNOSIS_GROUP,
        NUM_INVESTIGATIONS,
        NUM_TREATMENTS,
        HRG,
        DISCHARGE_DESTINATION,
        ADMITTED,
        LENGTH_OF_STAY_DAYS,
    ];
}

/// The declared schema of datasets made with the default [`AeConfig`] period
/// (2024-04-01 to 2025-03-31). This is what `datasets/schema/ae.schema.json` holds.
pub fn ae_schema() -> Schema {
    ae_schema_for(&AeConfig::default())
}

/// The declared schema of datasets made with `config`; only the date and datetime ranges
/// depend on it.
pub fn ae_schema_for(config: &AeConfig) -> Schema {
    use columns::*;
    let start = config.start_date;
    let end = config.end_date();
    let dob_min =
        NaiveDate::from_ymd_opt(start.year() - i32::from(MAX_AGE) - 2, 1, 1).expect("valid date");
    let cat = |name: &str, values: &[&str]| ColumnSpec::categorical(name, values.iter().copied());
    let codes =
        |pairs: &[(&'static str, &'static str)]| pairs.iter().map(|p| p.0).collect::<Vec<_>>();
    let labelled = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(c, l)| format!("{c} {l}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let qi = Role::QuasiIdentifier;
    let direct = Role::DirectIdentifier;

    let columns = vec![
        ColumnSpec::new(NHS_NUMBER, ColumnKind::Text)
            .with_role(direct)
            .describe("NHS number, 10 digits with a valid modulus-11 check digit, always in the reserved test range 999 000 0000 - 999 999 9999 (never a real patient's)"),
        ColumnSpec::new(LOCAL_PATIENT_ID, ColumnKind::Text)
            .with_role(direct)
            .describe("Local patient identifier, 'P' and 9 digits; unique per patient"),
        ColumnSpec::new(
            DATE_OF_BIRTH,
            ColumnKind::Date {
                min: dob_min,
                max: end,
                granularity: DateGranularity::Day,
                format: None,
            },
        )
        .with_role(direct)
        .describe("Date of birth"),
        ColumnSpec::new(POSTCODE, ColumnKind::Text)
            .with_role(direct)
            .describe("Full postcode of residence (synthetic; its district is postcode_district and each full postcode lies in one LSOA)"),
        ColumnSpec::integer(AGE, 0, i64::from(MAX_AGE))
            .with_role(qi)
            .describe("Age in completed years on the arrival date"),
        ColumnSpec::new(
            AGE_BAND,
            ColumnKind::Categorical {
                values: AGE_BANDS.iter().map(|s| s.to_string()).collect(),
                ordered: true,
            },
        )
        .with_role(qi)
        .describe("Age band at arrival, as in SynAE (0-1 means under one year)"),
        cat(SEX, &SEX_CODES)
            .with_role(qi)
            .describe("Person stated gender: 1 male, 2 female, 9 indeterminate, X not known"),
        cat(ETHNIC_CATEGORY, &ETHNIC_CATEGORIES)
            .with_role(qi)
            .describe("NHS ethnic category code (Z not stated, 99 not known)"),
        ColumnSpec::categorical(POSTCODE_DISTRICT, domain::postcode_districts())
            .with_role(qi)
            .describe("Postcode district of residence (synthetic geography)"),
        ColumnSpec::categorical(LSOA, domain::lsoas())
            .with_role(qi)
            .describe("Lower-layer super output area of residence (synthetic codes; each in one postcode district)"),
        ColumnSpec::integer(IMD_DECILE, 1, 10)
            .with_role(qi)
            .describe("Index of Multiple Deprivation decile of the LSOA, 1 most deprived"),
        ColumnSpec::categorical(PROVIDER_CODE, domain::provider_codes())
            .with_role(qi)
            .describe("Provider organisation code (synthetic): R.. acute trusts and specialist hospitals, N.. urgent treatment centre operators"),
        cat(DEPARTMENT_TYPE, &DEPARTMENT_TYPES)
            .describe("A&E department type: 01 emergency department, 02 single specialty, 03 urgent treatment centre / minor injury unit"),
        ColumnSpec::new(
            ARRIVAL_DATETIME,
            ColumnKind::Datetime {
                min: start.and_hms_opt(0, 0, 0).expect("midnight"),
                max: end.and_hms_opt(23, 59, 0).expect("valid time"),
                granularity: TimeGranularity::Minute,
                format: None,
            },
        )
        .with_role(qi)
        .describe("Arrival date and time, to the minute"),
        cat(ARRIVAL_MODE, &ARRIVAL_MODES)
            .describe("Arrival mode: 1 ambulance, 2 other, 9 not known"),
        cat(ATTENDANCE_CATEGORY, &ATTENDANCE_CATEGORIES)
            .describe("Attendance category: 1 first, 2 planned follow-up, 3 unplanned follow-up"),
        ColumnSpec::categorical(CHIEF_COMPLAINT, complaint_codes().iter().cloned())
            .with_role(Role::Sensitive)
            .describe("Chief complaint, synthetic codes CC001 (commonest) to CC160"),
        ColumnSpec::integer(ACUITY, 1, 5)
            .describe("Triage acuity, 1 immediate (most urgent) to 5 non-urgent"),
        ColumnSpec::integer(
            TIME_TO_INITIAL_ASSESSMENT_MIN,
            0,
            i64::from(MAX_TIME_TO_ASSESSMENT),
        )
        .describe("Minutes from arrival to initial assessment"),
        ColumnSpec::integer(TOTAL_TIME_IN_DEPT_MIN, 0, i64::from(MAX_TIME_IN_DEPT))
            .describe("Minutes from arrival to leaving the department"),
        ColumnSpec::categorical(DIAGNOSIS_GROUP, codes(&DIAGNOSIS_GROUPS))
            .with_role(Role::Sensitive)
            .describe(format!("HES A&E diagnosis group: {}", labelled(&DIAGNOSIS_GROUPS))),
        ColumnSpec::integer(NUM_INVESTIGATIONS, 0, i64::from(MAX_PROCEDURES))
            .describe("Number of investigations"),
        ColumnSpec::integer(NUM_TREATMENTS, 0, i64::from(MAX_PROCEDURES))
            .describe("Number of treatments"),
        ColumnSpec::new(
            HRG,
            ColumnKind::Categorical {
                values: HRGS.iter().map(|s| s.to_string()).collect(),
                ordered: true,
            },
        )
        .describe("A&E healthcare resource group, VB01Z most to VB11Z least resource-intensive"),
        ColumnSpec::categorical(DISCHARGE_DESTINATION, codes(&DISCHARGE_DESTINATIONS))
            .describe(format!(
                "Attendance disposal: {}",
                labelled(&DISCHARGE_DESTINATIONS)
            )),
        cat(ADMITTED, &["false", "true"])
            .with_role(Role::Sensitive)
            .describe("Whether the attendance ended in admission (Arrow boolean)"),
        ColumnSpec::integer(LENGTH_OF_STAY_DAYS, 0, i64::from(MAX_LENGTH_OF_STAY))
            .nullable(true)
            .describe("Length of the resulting hospital stay in days; null unless admitted"),
    ];
    let mut schema = Schema::new(columns).expect("the A&E schema is valid");
    schema.name = Some("ae".into());
    schema
}

/// The Arrow schema of generated record batches.
pub fn ae_arrow_schema() -> SchemaRef {
    AE_ARROW_SCHEMA.clone()
}

static AE_ARROW_SCHEMA: std::sync::LazyLock<SchemaRef> = std::sync::LazyLock::new(|| {
    use columns::*;
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, false);
    let int = |name: &str| Field::new(name, DataType::Int32, false);
    Arc::new(ArrowSchema::new(vec![
        utf8(NHS_NUMBER),
        utf8(LOCAL_PATIENT_ID),
        Field::new(DATE_OF_BIRTH, DataType::Date32, false),
        utf8(POSTCODE),
        int(AGE),
        utf8(AGE_BAND),
        utf8(SEX),
        utf8(ETHNIC_CATEGORY),
        utf8(POSTCODE_DISTRICT),
        utf8(LSOA),
        int(IMD_DECILE),
        utf8(PROVIDER_CODE),
        utf8(DEPARTMENT_TYPE),
        Field::new(
            ARRIVAL_DATETIME,
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
        utf8(ARRIVAL_MODE),
        utf8(ATTENDANCE_CATEGORY),
        utf8(CHIEF_COMPLAINT),
        int(ACUITY),
        int(TIME_TO_INITIAL_ASSESSMENT_MIN),
        int(TOTAL_TIME_IN_DEPT_MIN),
        utf8(DIAGNOSIS_GROUP),
        int(NUM_INVESTIGATIONS),
        int(NUM_TREATMENTS),
        utf8(HRG),
        utf8(DISCHARGE_DESTINATION),
        Field::new(ADMITTED, DataType::Boolean, false),
        Field::new(LENGTH_OF_STAY_DAYS, DataType::Int32, true),
    ]))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_agree() {
        let s = ae_schema();
        let a = ae_arrow_schema();
        assert_eq!(s.columns.len(), a.fields().len());
        for (c, f) in s.columns.iter().zip(a.fields()) {
            assert_eq!(c.name, *f.name());
            assert_eq!(c.nullable, f.is_nullable(), "{}", c.name);
        }
        assert_eq!(s.names().collect::<Vec<_>>(), columns::ALL.to_vec());
        assert!(s.validate().is_ok());
        let roles = |r| s.with_role(r).map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            roles(Role::DirectIdentifier),
            [
                "nhs_number",
                "local_patient_id",
                "date_of_birth",
                "postcode"
            ]
        );
        assert!(roles(Role::Sensitive).contains(&"diagnosis_group".to_string()));
    }

    #[test]
    fn schema_round_trips_through_json() {
        let s = ae_schema();
        assert_eq!(Schema::from_json(&s.to_json()).unwrap(), s);
    }
}
