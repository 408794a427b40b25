//! End to end: CSV files encoded against a declared schema, partitions encoded separately
//! and merged, the report rendered; and the report never shows small-class values.

use std::io::Write;

use pets::data::{EncodeOptions, Schema, encode_file};
use pets::disclosure::{EquivalenceClasses, RiskConfig, assess, assess_classes, render_html};

const SCHEMA: &str = r#"{"version": 1, "name": "ae", "columns": [
  {"name": "age", "kind": "integer", "min": 0, "max": 120, "role": "quasi_identifier"},
  {"name": "sex", "kind": "categorical", "values": ["1", "2", "9"], "role": "quasi_identifier"},
  {"name": "postcode_district", "kind": "categorical",
   "values": ["LS1", "LS2", "LS6", "LS7", "ZZ99"], "role": "quasi_identifier"},
  {"name": "diagnosis_group", "kind": "categorical",
   "values": ["injury", "respiratory", "cardiac", "mental_health"], "role": "sensitive"}
]}"#;

fn rows(seed: u64, n: usize) -> Vec<String> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let districts = ["LS1", "LS2", "LS6", "LS7"];
    let dx = ["injury", "respiratory", "cardiac", "mental_health"];
    (0..n)
        .map(|_| {
            let age = 20 + next() % 8;
            let sex = if next() % 2 == 0 { "1" } else { "2" };
            let d = districts[(next() % 4) as usize];
            let g = dx[(next() % 4) as usize];
            format!("{age},{sex},{d},{g}")
        })
        .collect()
}

fn write_csv(dir: &std::path::Path, name: &str, rows: &[String]) -> std::path::PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    writeln!(f, "age,sex,postcode_district,diagnosis_group").unwrap();
    for r in rows {
        writeln!(f, "{r}").unwrap();
    }
    p
}

#[test]
fn separately_encoded_partitions_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::from_json(SCHEMA).unwrap();
    let a = rows(7, 400);
    let mut b = rows(99, 300);
    // one patient alone: age 90 in ZZ99, the combination must never appear in a report
    b.push("90,9,ZZ99,mental_health".into());
    let mut all = a.clone();
    all.extend(b.iter().cloned());
    let pa = write_csv(dir.path(), "a.csv", &a);
    let pb = write_csv(dir.path(), "b.csv", &b);
    let pall = write_csv(dir.path(), "all.csv", &all);

    let cfg = RiskConfig {
        l: Some(2),
        t: Some(0.3),
        sampling_fraction: Some(0.2),
        k: 3,
        ..RiskConfig::default()
    }
    .with_roles_from(&schema);
    assert_eq!(cfg.quasi_identifiers, ["age", "sex", "postcode_district"]);
    assert_eq!(cfg.sensitive.as_deref(), Some("diagnosis_group"));

    let whole = encode_file(&pall, &schema, EncodeOptions::default()).unwrap();
    let expect = assess(&whole, &cfg).unwrap();

    let mut merged: Option<EquivalenceClasses> = None;
    for p in [&pb, &pa] {
        let t = encode_file(p, &schema, EncodeOptions::default()).unwrap();
        let c = EquivalenceClasses::compute(&t, &cfg.quasi_identifiers, cfg.sensitive.as_deref())
            .unwrap();
        match &mut merged {
            None => merged = Some(c),
            Some(m) => m.merge(c).unwrap(),
        }
    }
    let got = assess_classes(&merged.unwrap(), &cfg, None).unwrap();
    assert_eq!(got.checks, expect.checks);
    assert_eq!(got.k_anonymity, expect.k_anonymity);
    assert_eq!(got.l_diversity, expect.l_diversity);
    assert_eq!(got.t_closeness, expect.t_closeness);
    assert_eq!(got.reidentification, expect.reidentification);
    assert_eq!(got.population_uniqueness, expect.population_uniqueness);
    assert_eq!(got.scenarios, expect.scenarios);
    assert_eq!(got.suda, expect.suda);
    assert_eq!(got.fixes, expect.fixes);

    assert!(!expect.passed);
    assert!(expect.k_anonymity.sample_uniques >= 1);
    let html = render_html(&expect);
    let json = serde_json::to_string(&expect).unwrap();
    for text in [&html, &json] {
        assert!(!text.contains("ZZ99"), "a small class's value leaked");
        assert!(!text.contains("mental_health"), "a sensitive value leaked");
    }
    assert!(html.contains("FAIL"));
}
