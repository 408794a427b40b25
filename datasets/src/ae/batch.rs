//! Turning a range of row numbers into one Arrow record batch.
//!
//! Row `r` is computed from the attendance stream `r` alone (see [`super::sampling`]), so a
//! batch is any contiguous range of rows and batches can be built on any thread in any
//! order. String columns are written straight into Arrow value buffers from the fixed code
//! tables, without a `String` per row.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use chrono::{Datelike, NaiveDate};
use pets::data::DataError;

use super::calendar::Calendar;
use super::clinical::{Attendance, ClinicalModel};
use super::codes::{
    AGE_BANDS, ARRIVAL_MODES, ATTENDANCE_CATEGORIES, DEPARTMENT_TYPES, DIAGNOSIS_GROUPS,
    DISCHARGE_DESTINATIONS, ETHNIC_CATEGORIES, HRGS, POSTCODE_UNIT_LETTERS, SEX_CODES,
    age_band_index, complaint_code,
};
use super::config::AeConfig;
use super::geography::WORLD;
use super::patient::{Patient, PatientModel, Population, age_on};
use super::sampling::{below, derive_key, domain, stream, unit};
use super::schema::ae_arrow_schema;

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const EPOCH_FROM_CE: i32 = 719_163;

/// Everything derived from a configuration that row generation needs; read-only and shared
/// by all threads.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub config: AeConfig,
    key: [u8; 32],
    calendar: Calendar,
    pub population: Population,
    patients: PatientModel,
    clinical: ClinicalModel,
}

/// One generated row before it is laid out in columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub patient_index: u64,
    pub patient: Patient,
    /// Day offset from the start date.
    pub day: u32,
    pub arrival_date: NaiveDate,
    /// Minute of the day of arrival.
    pub minute_of_day: u32,
    pub age: u8,
    pub band: u8,
    pub attendance: Attendance,
}

impl Plan {
    /// Tables for `config` (validated here).
    pub(crate) fn new(config: AeConfig) -> Result<Self, DataError> {
        config.validate()?;
        Ok(Plan {
            key: derive_key(config.seed, domain::ATTENDANCE),
            calendar: Calendar::new(config.start_date, config.days),
            population: Population::new(config.rows),
            patients: PatientModel::new(config.seed, config.start_date, config.max_base_age()),
            clinical: ClinicalModel::new(),
            config,
        })
    }

    /// Generate row `r`.
    pub(crate) fn row(&self, r: u64) -> Row {
        let mut rng = stream(&self.key, r);
        let (patient_index, class) = self.population.pick(&mut rng);
        let patient = self.patients.patient(patient_index, class);
        let day = self.calendar.day_at(unit(&mut rng));
        let arrival_date = self.calendar.start + chrono::Days::new(u64::from(day));
        let age = age_on(patient.dob, arrival_date).clamp(0, 255) as u8;
        let band = age_band_index(age);
        let hour = self.calendar.hour_at(age, unit(&mut rng));
        let minute = below(&mut rng, 60);
        let winter = self.calendar.winter(day);
        let attendance = self
            .clinical
            .attend(&mut rng, &patient, age, band, hour, winter);
        Row {
            patient_index,
            patient,
            day,
            arrival_date,
            minute_of_day: hour * 60 + minute,
            age,
            band: band as u8,
            attendance,
        }
    }

    /// Generate rows `range` as one record batch.
    pub(crate) fn batch(&self, range: Range<u64>) -> RecordBatch {
        let rows: Vec<Row> = range.map(|r| self.row(r)).collect();
        self.to_batch(&rows)
    }

    fn to_batch(&self, rows: &[Row]) -> RecordBatch {
        let world = &*WORLD;
        let n = rows.len();
        let fixed = |f: &dyn Fn(&Row, &mut Vec<u8>)| strings(rows, f);
        let code = |f: &dyn Fn(&Row) -> &'static str| {
            strings(rows, &|r: &Row, out: &mut Vec<u8>| {
                out.extend_from_slice(f(r).as_bytes())
            })
        };
        let int = |f: &dyn Fn(&Row) -> i32| -> ArrayRef {
            Arc::new(Int32Array::from(rows.iter().map(f).collect::<Vec<i32>>()))
        };
        let start_day = self.calendar.start_epoch_day;

        let columns: Vec<ArrayRef> = vec![
            fixed(&|r, out| out.extend_from_slice(&r.patient.nhs_number)),
            fixed(&|r, out| {
                out.push(b'P');
                push_digits(out, r.patient.local_id, 9);
            }),
            Arc::new(Date32Array::from(
                rows.iter()
                    .map(|r| r.patient.dob.num_days_from_ce() - EPOCH_FROM_CE)
                    .collect::<Vec<i32>>(),
            )),
            fixed(&|r, out| {
                let p = &r.patient;
                out.extend_from_slice(world.districts[p.district as usize].label.as_bytes());
                out.push(b' ');
                out.push(b'0' + p.sector);
                out.push(POSTCODE_UNIT_LETTERS[usize::from(p.unit / 20)]);
                out.push(POSTCODE_UNIT_LETTERS[usize::from(p.unit % 20)]);
            }),
            int(&|r| i32::from(r.age)),
            code(&|r| AGE_BANDS[usize::from(r.band)]),
            code(&|r| SEX_CODES[usize::from(r.patient.sex)]),
            code(&|r| ETHNIC_CATEGORIES[usize::from(r.patient.ethnic)]),
            fixed(&|r, out| {
                out.extend_from_slice(
                    world.districts[r.patient.district as usize]
                        .label
                        .as_bytes(),
                )
            }),
            fixed(&|r, out| {
                out.extend_from_slice(world.lsoa_codes[r.patient.lsoa as usize].as_bytes())
            }),
            int(&|r| i32::from(r.patient.imd)),
            fixed(&|r, out| {
                out.extend_from_slice(
                    world.providers[usize::from(r.attendance.provider)]
                        .code
                        .as_bytes(),
                )
            }),
            code(&|r| DEPARTMENT_TYPES[usize::from(r.attendance.department)]),
            Arc::new(TimestampMillisecondArray::from(
                rows.iter()
                    .map(|r| {
                        (start_day + i64::from(r.day)) * 86_400_000
                            + i64::from(r.minute_of_day) * 60_000
                    })
                    .collect::<Vec<i64>>(),
            )),
            code(&|r| ARRIVAL_MODES[usize::from(r.attendance.arrival_mode)]),
            code(&|r| ATTENDANCE_CATEGORIES[usize::from(r.attendance.category)]),
            code(&|r| complaint_code(usize::from(r.attendance.complaint))),
            int(&|r| i32::from(r.attendance.acuity)),
            int(&|r| r.attendance.assessment_min as i32),
            int(&|r| r.attendance.total_min as i32),
            code(&|r| DIAGNOSIS_GROUPS[usize::from(r.attendance.group)].0),
            int(&|r| r.attendance.investigations as i32),
            int(&|r| r.attendance.treatments as i32),
            code(&|r| HRGS[usize::from(r.attendance.hrg)]),
            code(&|r| DISCHARGE_DESTINATIONS[usize::from(r.attendance.destination)].0),
            Arc::new(BooleanArray::from(
                rows.iter()
                    .map(|r| r.attendance.admitted)
                    .collect::<Vec<bool>>(),
            )),
            Arc::new(Int32Array::from(
                rows.iter()
                    .map(|r| r.attendance.length_of_stay.map(|d| d as i32))
                    .collect::<Vec<Option<i32>>>(),
            )),
        ];
        debug_assert!(columns.iter().all(|c| c.len() == n));
        RecordBatch::try_new(ae_arrow_schema(), columns).expect("columns match the A&E schema")
    }
}

/// A non-null string column whose row values are written by `f` into the value buffer.
fn strings(rows: &[Row], f: &dyn Fn(&Row, &mut Vec<u8>)) -> ArrayRef {
    let mut values = Vec::with_capacity(rows.len() * 10);
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    offsets.push(0i32);
    for r in rows {
        f(r, &mut values);
        offsets.push(i32::try_from(values.len()).expect("batch text under 2 GiB"));
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    Arc::new(StringArray::new(offsets, Buffer::from_vec(values), None))
}

/// Append `value` as exactly `width` decimal digits (zero-padded, high digits dropped).
fn push_digits(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_padded() {
        let mut v = Vec::new();
        push_digits(&mut v, 42, 5);
        assert_eq!(v, b"00042");
    }

    #[test]
    fn rows_do_not_depend_on_the_batch_they_are_in() {
        let plan = Plan::new(AeConfig::new(1_000, 5)).unwrap();
        let whole = plan.batch(0..100);
        let part = plan.batch(40..60);
        assert_eq!(whole.slice(40, 20), part);
    }
}
