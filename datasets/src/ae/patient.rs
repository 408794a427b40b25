//! Patients: who attends, how often, and their fixed attributes.
//!
//! A dataset of `rows` attendances is drawn from a population of patients split into
//! attendance-frequency classes (most people attend rarely; a few attend dozens of times a
//! year). Each row picks a class in proportion to the attendances it generates, then a
//! patient uniformly within it, so a patient's number of attendances is close to Poisson
//! with the class's rate. With the rates below about 71% of patients seen attend once, about
//! 3% attend five times or more (together about 18% of attendances), and the mean is about
//! 1.6 attendances per patient.
//!
//! A patient's attributes (NHS number, local id, date of birth, sex, ethnic category, home
//! trust, postcode district, LSOA, IMD decile, postcode) are a function of `(seed, patient
//! index)` alone, drawn from the patient's own ChaCha stream, so every attendance of a
//! patient repeats them exactly.

use chrono::{Datelike, NaiveDate};
use rand::Rng;

use super::codes::{AGE_BAND_LOWER, ETHNIC_CATEGORIES};
use super::geography::WORLD;
use super::nhs_number::{AffinePermutation, TEST_RANGE_SIZE};
use super::sampling::{Weighted, below, derive_key, domain, splitmix64, stream, unit};

/// Share of the population in each frequency class.
const CLASS_SHARE: [f64; 5] = [0.9, 0.08, 0.016, 0.0032, 0.0008];
/// Expected attendances in the period for a patient of each class.
const CLASS_RATE: [f64; 5] = [0.4, 1.5, 4.0, 12.0, 36.0];
/// Number of frequency classes.
pub(crate) const N_CLASSES: usize = CLASS_SHARE.len();

/// Share of patients in each age band on the first day (see [`super::codes::AGE_BANDS`]).
/// Infants aged 0 on the first day turn one during the year, so about half their
/// attendances fall in `0-1`: the 5% here gives about 2.5% of attendances under one year.
const AGE_BAND_SHARE: [f64; 7] = [5.0, 16.5, 11.0, 28.0, 20.5, 13.5, 5.5];

/// Probability that a patient of each age band is female (sex code `2`).
const FEMALE_SHARE: [f64; 7] = [0.47, 0.47, 0.58, 0.53, 0.49, 0.50, 0.62];

/// National shares of the ethnic categories (aligned with [`ETHNIC_CATEGORIES`]); all but
/// `A`, `Z` and `99` are scaled by the district's diversity.
const ETHNIC_SHARE: [f64; 18] = [
    66.0, 0.8, 5.8, 0.7, 0.4, 0.5, 0.9, 2.7, 2.6, 1.0, 1.6, 1.0, 2.5, 0.9, 0.4, 1.8, 6.0, 4.4,
];

/// The patient population of one dataset: frequency classes laid out as contiguous ranges
/// of patient indices.
#[derive(Debug, Clone)]
pub(crate) struct Population {
    starts: [u64; N_CLASSES],
    sizes: [u64; N_CLASSES],
    class_pick: Weighted,
}

impl Population {
    /// The population for a dataset of `rows` attendances.
    pub(crate) fn new(rows: u64) -> Self {
        let per_patient: f64 = CLASS_SHARE.iter().zip(CLASS_RATE).map(|(s, r)| s * r).sum();
        let patients = rows as f64 / per_patient;
        let mut sizes = [0u64; N_CLASSES];
        let mut starts = [0u64; N_CLASSES];
        let mut next = 0;
        for k in 0..N_CLASSES {
            sizes[k] = ((patients * CLASS_SHARE[k]).ceil() as u64).max(1);
            starts[k] = next;
            next += sizes[k];
        }
        let class_pick = Weighted::new((0..N_CLASSES).map(|k| sizes[k] as f64 * CLASS_RATE[k]));
        Population {
            starts,
            sizes,
            class_pick,
        }
    }

    /// Total number of patients (not all of whom attend).
    pub(crate) fn patients(&self) -> u64 {
        self.starts[N_CLASSES - 1] + self.sizes[N_CLASSES - 1]
    }

    /// Pick the patient of an attendance: `(patient index, class)`.
    #[inline]
    pub(crate) fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> (u64, u8) {
        let k = self.class_pick.sample(rng);
        let within = (unit(rng) * self.sizes[k] as f64) as u64;
        (self.starts[k] + within.min(self.sizes[k] - 1), k as u8)
    }
}

/// A patient's fixed attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Patient {
    /// Ten ASCII digits of the NHS number.
    pub nhs_number: [u8; 10],
    /// Local patient identifier number (printed as `P` + 9 digits).
    pub local_id: u64,
    /// Date of birth.
    pub dob: NaiveDate,
    /// Index into [`super::codes::SEX_CODES`].
    pub sex: u8,
    /// Index into [`ETHNIC_CATEGORIES`].
    pub ethnic: u8,
    /// Home acute trust (index into the world's trusts).
    pub trust: u16,
    /// Home postcode district (index into the world's districts).
    pub district: u32,
    /// Home LSOA (index into the world's LSOAs).
    pub lsoa: u32,
    /// IMD decile of the LSOA.
    pub imd: u8,
    /// Postcode inward code: sector digit (0..=9).
    pub sector: u8,
    /// Postcode inward code: unit (0..400, two letters).
    pub unit: u16,
    /// Attendance-frequency class.
    pub class: u8,
}

/// Everything needed to compute any patient's attributes.
#[derive(Debug, Clone)]
pub(crate) struct PatientModel {
    key: [u8; 32],
    start: NaiveDate,
    nhs: AffinePermutation,
    local: AffinePermutation,
    band_pick: Weighted,
    age_pick: Vec<Weighted>,
}

impl PatientModel {
    /// The model for a seed, a period starting on `start`, and the oldest age a patient may
    /// have on `start`.
    pub(crate) fn new(seed: u64, start: NaiveDate, max_base_age: u8) -> Self {
        let mut s = derive_key_u64(seed);
        let nhs = AffinePermutation::new(TEST_RANGE_SIZE, splitmix64(&mut s), splitmix64(&mut s));
        let local = AffinePermutation::new(1_000_000_000, splitmix64(&mut s), splitmix64(&mut s));
        let age_pick = (0..AGE_BAND_LOWER.len())
            .map(|b| {
                let lo = AGE_BAND_LOWER[b];
                let hi = AGE_BAND_LOWER.get(b + 1).map_or(max_base_age, |&n| n - 1);
                Weighted::new((lo..=hi).map(|a| age_weight(b, a)))
            })
            .collect();
        PatientModel {
            key: derive_key(seed, domain::PATIENT),
            start,
            nhs,
            local,
            band_pick: Weighted::new(AGE_BAND_SHARE),
            age_pick,
        }
    }

    /// The attributes of patient `index` of class `class`.
    pub(crate) fn patient(&self, index: u64, class: u8) -> Patient {
        let world = &*WORLD;
        let mut rng = stream(&self.key, index);

        let band = self.band_pick.sample(&mut rng);
        let base_age = AGE_BAND_LOWER[band] + self.age_pick[band].sample(&mut rng) as u8;
        let back = below(&mut rng, 365);
        let dob = birth_date(self.start, base_age, back);

        let u = unit(&mut rng);
        let female = FEMALE_SHARE[band];
        let sex = if u < 0.0003 {
            2 // "9": indeterminate
        } else if u < 0.0033 {
            3 // "X": not known
        } else if u < 0.0033 + female * 0.9967 {
            1
        } else {
            0
        };

        let trust = world.trust_weights.sample(&mut rng) as u16;
        let t = &world.trusts[trust as usize];
        let district = t.catchment[t.catchment_weights.sample(&mut rng)];
        let d = &world.districts[district as usize];
        let pick_lsoa = |rng: &mut rand_chacha::ChaCha8Rng| {
            d.lsoa_start + world.lsoa_weights[district as usize].sample(rng) as u32
        };
        let mut lsoa = pick_lsoa(&mut rng);
        if class >= 2 {
            // Frequent attenders live disproportionately in deprived neighbourhoods.
            let other = pick_lsoa(&mut rng);
            if world.lsoa_decile[other as usize] < world.lsoa_decile[lsoa as usize] {
                lsoa = other;
            }
        }
        let imd = world.lsoa_decile[lsoa as usize];
        let local = world.lsoa_local[lsoa as usize];
        let sector = (local % 10) as u8;
        let unit_code = (local / 10) * 40 + below(&mut rng, 40) as u16;

        let ethnic = {
            let mut weights = ETHNIC_SHARE;
            for w in weights.iter_mut().take(16).skip(1) {
                *w *= d.diversity;
            }
            let total: f64 = weights.iter().sum();
            let mut x = unit(&mut rng) * total;
            let mut pick = ETHNIC_CATEGORIES.len() - 1;
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    pick = i;
                    break;
                }
                x -= w;
            }
            pick as u8
        };

        Patient {
            nhs_number: super::nhs_number::nth_test_number(self.nhs.apply(index)),
            local_id: self.local.apply(index),
            dob,
            sex,
            ethnic,
            trust,
            district,
            lsoa,
            imd,
            sector,
            unit: unit_code,
            class,
        }
    }
}

fn derive_key_u64(seed: u64) -> u64 {
    let key = derive_key(seed, domain::CONSTANTS);
    u64::from_le_bytes(key[..8].try_into().expect("8 bytes"))
}

/// Relative frequency of an age within its band.
fn age_weight(band: usize, age: u8) -> f64 {
    let a = f64::from(age);
    match band {
        0 => 1.0,
        // Toddlers and teenagers attend most among children.
        1 => 3.5 + 6.0 * (-(a - 1.0) / 2.5).exp() + 3.0 * ((a - 12.0).max(0.0) / 5.0),
        2..=4 => 1.0,
        5 => 1.0 + 0.03 * (a - 65.0),
        _ => 0.8f64.powf(a - 85.0),
    }
}

/// The date of birth of someone aged `age` on `start` whose last birthday was `back` days
/// (0..365) before `start`.
pub(crate) fn birth_date(start: NaiveDate, age: u8, back: u32) -> NaiveDate {
    let year = start.year() - i32::from(age);
    let anniversary = NaiveDate::from_ymd_opt(year, start.month(), start.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, start.month(), start.day() - 1))
        .expect("valid date");
    anniversary - chrono::Days::new(u64::from(back))
}

/// Age in completed years on `date` of someone born on `dob`.
#[inline]
pub(crate) fn age_on(dob: NaiveDate, date: NaiveDate) -> i32 {
    let mut age = date.year() - dob.year();
    if (date.month(), date.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_mean_is_about_1_6() {
        let per_patient: f64 = CLASS_SHARE.iter().zip(CLASS_RATE).map(|(s, r)| s * r).sum();
        let seen: f64 = CLASS_SHARE
            .iter()
            .zip(CLASS_RATE)
            .map(|(s, r)| s * (1.0 - (-r).exp()))
            .sum();
        let mean = per_patient / seen;
        assert!((1.5..=1.7).contains(&mean), "{mean}");
        let pop = Population::new(12_345);
        assert!(pop.patients() > 12_345);
        let tiny = Population::new(1);
        assert!((N_CLASSES as u64..=10).contains(&tiny.patients()));
    }

    #[test]
    fn birth_dates_give_the_intended_age() {
        let start = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        for age in [0u8, 1, 17, 50, 108] {
            for back in [0u32, 1, 180, 364] {
                let dob = birth_date(start, age, back);
                assert!(dob <= start);
                let got = age_on(dob, start);
                assert!(
                    got == i32::from(age) || got == i32::from(age) + 1,
                    "{age} {back} {got}"
                );
            }
        }
        let start = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
        let dob = birth_date(start, 30, 364);
        assert_eq!(age_on(dob, start), 30);
        assert_eq!(age_on(dob, start + chrono::Days::new(1)), 31);
    }

    #[test]
    fn patients_are_a_function_of_seed_and_index() {
        let start = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
        let m = PatientModel::new(9, start, 108);
        assert_eq!(m.patient(12, 0), m.patient(12, 0));
        assert_ne!(m.patient(12, 0).nhs_number, m.patient(13, 0).nhs_number);
        let other = PatientModel::new(10, start, 108);
        assert_ne!(m.patient(12, 0), other.patient(12, 0));
    }
}
