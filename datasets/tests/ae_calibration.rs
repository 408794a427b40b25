//! Calibration of the A&E generator on 200,000 rows against national figures and the
//! SynAE extract. Run with `--nocapture` to see the figures.
//!
//! Targets (and tolerances asserted here):
//! - ambulance arrivals 24% of all attendances (±3 points), rising with age (65+ over 40%);
//! - admitted 27% of type 1 attendances (±3 points), over 60% of type 1 attendances aged 65+;
//! - Monday 16% of attendances (±1.5 points);
//! - four-hour spike: 5-8% of type 1 attendances leave after 230-239 minutes, at least twice
//!   the share at 210-219 minutes;
//! - 12-hour waits: 10% of type 1 attendances (±2.5 points);
//! - type 1 departments 60-65% of attendances;
//! - IMD decile 1 about twice decile 10 (ratio 1.6-2.6);
//! - 1.5-1.7 attendances per patient, with frequent attenders (someone with 10+).

mod common;

use std::collections::HashMap;

use chrono::{Datelike, Timelike};
use common::{bools, datetimes, generate, ints, strs};
use pets_datasets::ae::AeConfig;
use pets_datasets::ae::columns::*;

#[derive(Default)]
struct Tally {
    n: f64,
    hits: f64,
}

impl Tally {
    fn add(&mut self, hit: bool) {
        self.n += 1.0;
        self.hits += f64::from(u8::from(hit));
    }
    fn pct(&self) -> f64 {
        100.0 * self.hits / self.n.max(1.0)
    }
}

#[test]
fn calibration_on_200k_rows() {
    let batches = generate(AeConfig::new(200_000, 2024));
    let bands = ["0-1", "1-17", "18-24", "25-44", "45-64", "65-84", "85+"];

    let mut total = 0.0;
    let mut ambulance = Tally::default();
    let mut ambulance_band: HashMap<String, Tally> = HashMap::new();
    let mut admit_t1 = Tally::default();
    let mut admit_t1_band: HashMap<String, Tally> = HashMap::new();
    let mut admit_t1_65 = Tally::default();
    let mut admit_all_65 = Tally::default();
    let mut monday = Tally::default();
    let mut type1 = Tally::default();
    let mut spike = Tally::default();
    let mut before_spike = Tally::default();
    let mut over_12h = Tally::default();
    let mut within_4h = Tally::default();
    let mut imd = [0.0f64; 11];
    let mut per_patient: HashMap<String, u32> = HashMap::new();
    let mut hours_child = [0.0f64; 24];
    let mut hours_adult = [0.0f64; 24];
    let mut acuity_time: HashMap<i32, (f64, f64)> = HashMap::new();
    let mut acuity_n = [0.0f64; 6];
    let mut winter_acuity = Tally::default();
    let mut summer_acuity = Tally::default();
    let mut months = [0.0f64; 13];

    for b in &batches {
        let mode = strs(b, ARRIVAL_MODE);
        let band = strs(b, AGE_BAND);
        let age = ints(b, AGE);
        let dept = strs(b, DEPARTMENT_TYPE);
        let admitted = bools(b, ADMITTED);
        let time = ints(b, TOTAL_TIME_IN_DEPT_MIN);
        let decile = ints(b, IMD_DECILE);
        let id = strs(b, LOCAL_PATIENT_ID);
        let acuity = ints(b, ACUITY);
        let when = datetimes(b, ARRIVAL_DATETIME);
        for i in 0..b.num_rows() {
            total += 1.0;
            let amb = mode.value(i) == "1";
            ambulance.add(amb);
            ambulance_band
                .entry(band.value(i).to_string())
                .or_default()
                .add(amb);
            let t1 = dept.value(i) == "01";
            type1.add(t1);
            let old = age.value(i) >= 65;
            if old {
                admit_all_65.add(admitted.value(i));
            }
            if t1 {
                admit_t1.add(admitted.value(i));
                admit_t1_band
                    .entry(band.value(i).to_string())
                    .or_default()
                    .add(admitted.value(i));
                if old {
                    admit_t1_65.add(admitted.value(i));
                }
                let t = time.value(i);
                spike.add((230..240).contains(&t));
                before_spike.add((210..220).contains(&t));
                over_12h.add(t > 720);
                within_4h.add(t <= 240);
            }
            monday.add(when[i].weekday() == chrono::Weekday::Mon);
            months[when[i].month() as usize] += 1.0;
            imd[decile.value(i) as usize] += 1.0;
            *per_patient.entry(id.value(i).to_string()).or_default() += 1;
            let h = when[i].hour() as usize;
            if age.value(i) < 18 {
                hours_child[h] += 1.0;
            } else if age.value(i) < 65 {
                hours_adult[h] += 1.0;
            }
            let a = acuity.value(i);
            acuity_n[a as usize] += 1.0;
            let e = acuity_time.entry(a).or_default();
            e.0 += 1.0;
            e.1 += f64::from(time.value(i));
            let m = when[i].month();
            if old && (m == 12 || m <= 2) {
                winter_acuity.add(a <= 2);
            }
            if old && (6..=8).contains(&m) {
                summer_acuity.add(a <= 2);
            }
        }
    }

    println!("rows {total}");
    println!("ambulance {:.1}%", ambulance.pct());
    for b in bands {
        println!(
            "  {b:>6}: ambulance {:5.1}%  admitted@type1 {:5.1}%",
            ambulance_band[b].pct(),
            admit_t1_band[b].pct()
        );
    }
    println!("type 1 share {:.1}%", type1.pct());
    println!(
        "admitted at type 1 {:.1}%, 65+ at type 1 {:.1}%, 65+ all types {:.1}%",
        admit_t1.pct(),
        admit_t1_65.pct(),
        admit_all_65.pct()
    );
    println!("monday {:.2}%", monday.pct());
    println!(
        "type 1 time: 230-239 {:.2}%, 210-219 {:.2}%, <=240 {:.1}%, >12h {:.1}%",
        spike.pct(),
        before_spike.pct(),
        within_4h.pct(),
        over_12h.pct()
    );
    let imd_total: f64 = imd.iter().sum();
    println!(
        "imd deciles {:?}",
        imd[1..]
            .iter()
            .map(|x| (1000.0 * x / imd_total).round() / 10.0)
            .collect::<Vec<_>>()
    );
    let patients = per_patient.len() as f64;
    let once = per_patient.values().filter(|&&c| c == 1).count() as f64;
    let max = per_patient.values().max().copied().unwrap_or(0);
    println!(
        "patients {patients}, attendances per patient {:.3}, once {:.1}%, max {max}",
        total / patients,
        100.0 * once / patients
    );
    let norm = |h: &[f64; 24]| {
        let s: f64 = h.iter().sum();
        h.iter()
            .map(|x| (1000.0 * x / s).round() / 10.0)
            .collect::<Vec<_>>()
    };
    println!("hours (children) {:?}", norm(&hours_child));
    println!("hours (adults)   {:?}", norm(&hours_adult));
    for a in 1..=5 {
        let (n, t) = acuity_time[&a];
        println!(
            "  acuity {a}: {:.1}% of rows, mean time {:.0} min",
            100.0 * acuity_n[a as usize] / total,
            t / n
        );
    }
    println!(
        "acuity 1-2 among 65+: winter {:.1}%, summer {:.1}%",
        winter_acuity.pct(),
        summer_acuity.pct()
    );
    println!(
        "months {:?}",
        months[1..]
            .iter()
            .map(|x| (1000.0 * x / total).round() / 10.0)
            .collect::<Vec<_>>()
    );

    assert_eq!(total, 200_000.0);
    assert!(
        (ambulance.pct() - 24.0).abs() <= 3.0,
        "ambulance {}",
        ambulance.pct()
    );
    assert!(ambulance_band["85+"].pct() > 40.0);
    assert!(ambulance_band["65-84"].pct() > 2.0 * ambulance_band["25-44"].pct());
    assert!(
        (admit_t1.pct() - 27.0).abs() <= 3.0,
        "admitted {}",
        admit_t1.pct()
    );
    assert!(
        admit_t1_65.pct() > 60.0,
        "admitted 65+ {}",
        admit_t1_65.pct()
    );
    assert!(
        (monday.pct() - 16.0).abs() <= 1.5,
        "monday {}",
        monday.pct()
    );
    assert!((5.0..=8.0).contains(&spike.pct()), "spike {}", spike.pct());
    assert!(spike.pct() >= 2.0 * before_spike.pct());
    assert!(
        (over_12h.pct() - 10.0).abs() <= 2.5,
        "12h {}",
        over_12h.pct()
    );
    assert!(
        (60.0..=65.0).contains(&type1.pct()),
        "type 1 {}",
        type1.pct()
    );
    let ratio = imd[1] / imd[10];
    assert!((1.6..=2.6).contains(&ratio), "imd ratio {ratio}");
    let mean = total / patients;
    assert!((1.5..=1.7).contains(&mean), "per patient {mean}");
    assert!(max >= 10, "frequent attenders");
    // Children peak in the evening, adults in the late morning; nights are quiet.
    let peak = |h: &[f64; 24]| (0..24).max_by(|&a, &b| h[a].total_cmp(&h[b])).unwrap();
    assert!((17..=20).contains(&peak(&hours_child)));
    assert!((10..=12).contains(&peak(&hours_adult)));
    assert!(hours_adult[5] < hours_adult[11] / 3.0);
    // More urgent attendances stay longer; winter is more acute for the old.
    assert!(acuity_time[&2].1 / acuity_time[&2].0 > acuity_time[&5].1 / acuity_time[&5].0);
    assert!(winter_acuity.pct() > summer_acuity.pct());
    // Summer volume peak.
    assert!(months[7] > months[1]);
}
