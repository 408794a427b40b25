//! Every generated value lies in the declared schema, identifiers are well formed, and a
//! patient's attributes are the same on every attendance.

mod common;

use std::collections::HashMap;

use arrow_array::Array;
use chrono::{Datelike, NaiveDate};
use common::{assert_in_domain, bools, dates, datetimes, generate, ints, strs};
use pets_datasets::ae::columns::*;
use pets_datasets::ae::geography::domain;
use pets_datasets::ae::nhs_number;
use pets_datasets::ae::{AeConfig, ae_schema, ae_schema_for};

#[test]
fn every_value_is_in_the_declared_domain() {
    let schema = ae_schema();
    for batch in generate(AeConfig::new(60_000, 77).with_batch_rows(16_384)) {
        assert_in_domain(&schema, &batch);
    }
}

#[test]
fn other_periods_fit_their_own_schema() {
    let start = NaiveDate::from_ymd_opt(2020, 2, 29).unwrap();
    let config = AeConfig::new(20_000, 8).with_period(start, 3_000);
    let schema = ae_schema_for(&config);
    for batch in generate(config) {
        assert_in_domain(&schema, &batch);
    }
}

#[test]
fn identifiers_are_well_formed() {
    let lsoa_district: HashMap<String, String> = domain::lsoas()
        .into_iter()
        .zip(domain::lsoa_districts())
        .collect();
    let lsoa_decile: HashMap<String, u8> = domain::lsoas()
        .into_iter()
        .zip(domain::lsoa_deciles())
        .collect();
    for batch in generate(AeConfig::new(20_000, 4)) {
        let nhs = strs(&batch, NHS_NUMBER);
        let local = strs(&batch, LOCAL_PATIENT_ID);
        let postcode = strs(&batch, POSTCODE);
        let district = strs(&batch, POSTCODE_DISTRICT);
        let lsoa = strs(&batch, LSOA);
        let imd = ints(&batch, IMD_DECILE);
        for i in 0..batch.num_rows() {
            assert!(nhs_number::is_test_number(nhs.value(i)), "{}", nhs.value(i));
            let id = local.value(i);
            assert!(
                id.len() == 10
                    && id.starts_with('P')
                    && id[1..].bytes().all(|b| b.is_ascii_digit())
            );
            let (outward, inward) = postcode
                .value(i)
                .split_once(' ')
                .expect("postcode has a space");
            assert_eq!(outward, district.value(i));
            let inward = inward.as_bytes();
            assert!(inward.len() == 3 && inward[0].is_ascii_digit());
            assert!(
                inward[1..]
                    .iter()
                    .all(|b| b"ABDEFGHJLNPQRSTUWXYZ".contains(b))
            );
            assert_eq!(lsoa_district[lsoa.value(i)], district.value(i));
            assert_eq!(i32::from(lsoa_decile[lsoa.value(i)]), imd.value(i));
        }
    }
}

#[test]
fn attendances_are_internally_consistent() {
    for batch in generate(AeConfig::new(30_000, 21)) {
        let dob = dates(&batch, DATE_OF_BIRTH);
        let arrival = datetimes(&batch, ARRIVAL_DATETIME);
        let age = ints(&batch, AGE);
        let band = strs(&batch, AGE_BAND);
        let admitted = bools(&batch, ADMITTED);
        let destination = strs(&batch, DISCHARGE_DESTINATION);
        let stay = ints(&batch, LENGTH_OF_STAY_DAYS);
        let assess = ints(&batch, TIME_TO_INITIAL_ASSESSMENT_MIN);
        let total = ints(&batch, TOTAL_TIME_IN_DEPT_MIN);
        for i in 0..batch.num_rows() {
            let date = arrival[i].date();
            let mut years = date.year() - dob[i].year();
            if (date.month(), date.day()) < (dob[i].month(), dob[i].day()) {
                years -= 1;
            }
            assert_eq!(years, age.value(i), "age agrees with date of birth");
            let expected_band = match age.value(i) {
                0 => "0-1",
                1..=17 => "1-17",
                18..=24 => "18-24",
                25..=44 => "25-44",
                45..=64 => "45-64",
                65..=84 => "65-84",
                _ => "85+",
            };
            assert_eq!(band.value(i), expected_band);
            assert_eq!(admitted.value(i), destination.value(i) == "01");
            assert_eq!(admitted.value(i), stay.is_valid(i));
            assert!(assess.value(i) <= total.value(i));
        }
    }
}

#[test]
fn patients_keep_their_attributes_across_attendances() {
    let patient_columns = [
        NHS_NUMBER,
        DATE_OF_BIRTH,
        POSTCODE,
        SEX,
        ETHNIC_CATEGORY,
        POSTCODE_DISTRICT,
        LSOA,
        IMD_DECILE,
    ];
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut repeats = 0;
    for batch in generate(AeConfig::new(50_000, 99).with_batch_rows(7_000)) {
        let id = strs(&batch, LOCAL_PATIENT_ID);
        let dob = dates(&batch, DATE_OF_BIRTH);
        let imd = ints(&batch, IMD_DECILE);
        for (i, born) in dob.iter().enumerate() {
            let attrs: Vec<String> = patient_columns
                .iter()
                .map(|&c| match c {
                    DATE_OF_BIRTH => born.to_string(),
                    IMD_DECILE => imd.value(i).to_string(),
                    _ => strs(&batch, c).value(i).to_string(),
                })
                .collect();
            match seen.get(id.value(i)) {
                Some(before) => {
                    assert_eq!(before, &attrs, "patient {}", id.value(i));
                    repeats += 1;
                }
                None => {
                    seen.insert(id.value(i).to_string(), attrs);
                }
            }
        }
    }
    assert!(repeats > 10_000, "{repeats} repeat attendances");
    // NHS numbers are unique per patient at this scale.
    let distinct_nhs: std::collections::HashSet<&String> = seen.values().map(|a| &a[0]).collect();
    assert_eq!(distinct_nhs.len(), seen.len());
}
