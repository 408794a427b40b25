//! `pets anonymise` end to end: the release it writes passes `pets risk` under the release
//! schema it writes, and the record matches the file.

mod common;

use common::{ae, p, pets, text};

#[test]
fn the_release_passes_pets_risk() {
    let (dir, data, schema) = ae(20_000, 5);
    let out = dir.path().join("release.csv");
    let html = dir.path().join("anonymise.html");
    let o = pets(&[
        "anonymise",
        p(&data),
        "--schema",
        p(&schema),
        "--qi",
        "age,sex,postcode_district,arrival_datetime",
        "--sensitive",
        "diagnosis_group",
        "--k",
        "5",
        "--l",
        "2",
        "--hierarchy",
        "age=5,10,20;top=90",
        "--hierarchy",
        "arrival_datetime=day,week",
        "--drop",
        "lsoa,age_band",
        "--output",
        p(&out),
        "--report",
        p(&html),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("FAIL -> PASS"), "{}", text(&o));
    let release_schema = dir.path().join("release.schema.json");
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("release.record.json")).unwrap(),
    )
    .unwrap();
    let released = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        released.lines().count() as u64 - 1,
        record["records_out"].as_u64().unwrap()
    );
    // Direct identifiers are left out.
    let header = released.lines().next().unwrap();
    assert!(
        !header.contains("nhs_number") && !header.contains("postcode,"),
        "{header}"
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    let o = pets(&[
        "risk",
        p(&out),
        "--schema",
        p(&release_schema),
        "--qi",
        "age,sex,postcode_district,arrival_datetime",
        "--sensitive",
        "diagnosis_group",
        "--k",
        "5",
        "--l",
        "2",
        "--no-suda",
        "--no-scenarios",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn microaggregation_and_local_recoding_pass_pets_risk() {
    let (dir, data, schema) = ae(5_000, 3);
    let out = dir.path().join("release.csv");
    let json = dir.path().join("anonymise.json");
    let html = dir.path().join("anonymise.html");
    let qi = "age,sex,postcode_district";
    let o = pets(&[
        "anonymise",
        p(&data),
        "--schema",
        p(&schema),
        "--qi",
        qi,
        "--k",
        "5",
        "--microaggregate",
        "age=mean",
        "--local-recoding",
        "3",
        "--output",
        p(&out),
        "--json",
        p(&json),
        "--report",
        p(&html),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("age: microaggregated (mean)"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("local recoding:"), "{}", text(&o));
    let outcome: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let record = &outcome["record"];
    assert_eq!(record["microaggregation"][0]["column"], "age");
    assert_eq!(record["microaggregation"][0]["loss_measure"], "sse/sst");
    assert!(
        record["records_suppressed"].as_u64().unwrap()
            <= record["records_suppressed_global"].as_u64().unwrap()
    );
    let released: u64 = record["iterations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["records_released"].as_u64().unwrap())
        .sum();
    assert_eq!(released, record["records_out"].as_u64().unwrap());
    let report = std::fs::read_to_string(&html).unwrap();
    assert!(report.contains("Microaggregated columns") && report.contains("Local recoding"));
    let o = pets(&[
        "risk",
        p(&out),
        "--schema",
        p(&dir.path().join("release.schema.json")),
        "--qi",
        qi,
        "--k",
        "5",
        "--no-suda",
        "--no-scenarios",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
