//! `pets risk` and `pets dp query` end to end: reports, exit codes that gate a pipeline, and
//! clear errors for bad options.

mod common;

use common::{ae, p, pets, text};
use std::path::Path;

#[test]
fn risk_fails_on_a_record_level_extract_and_passes_when_coarse() {
    let (dir, data, schema) = ae(20000, 11);
    let html = dir.path().join("risk.html");
    let json = dir.path().join("risk.json");
    let o = pets(&[
        "risk",
        p(&data),
        "--schema",
        p(&schema),
        "--qi",
        "age,sex,postcode_district,arrival_datetime",
        "--generalise",
        "arrival_datetime=day,age=5",
        "--sensitive",
        "diagnosis_group",
        "--k",
        "5",
        "--l",
        "2",
        "--t",
        "0.3",
        "--report",
        p(&html),
        "--json",
        p(&json),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("[FAIL] k-anonymity"), "{out}");
    assert!(
        out.contains("arrival_datetime to the day; age in bands of 5"),
        "{out}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], false);
    assert!(report["n_records"].as_u64() == Some(20000));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg") && !page.contains("http://cdn"),
        "self-contained"
    );
    // The report never quotes the postcode districts of small groups.
    assert!(!page.contains("\"AL1\"") && !page.contains(">AL1<"));

    // Coarse quasi-identifiers with a loose k pass (exit 0).
    let o = pets(&[
        "risk",
        p(&data),
        "--schema",
        p(&schema),
        "--qi",
        "age_band,department_type",
        "--k",
        "5",
        "--no-suda",
        "--no-scenarios",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).starts_with("PASS"), "{}", text(&o));
}

#[test]
fn risk_options_are_checked() {
    let (_dir, data, schema) = ae(2000, 11);
    let cases: [(&[&str], &str); 6] = [
        (&["--qi", "age,nope"], "nope"),
        (&["--qi", "age,sex", "--sensitive", "age"], "age"),
        (&["--qi", "age", "--k", "0"], "k"),
        (
            &[
                "--qi",
                "age",
                "--sensitive",
                "diagnosis_group",
                "--t",
                "1.5",
            ],
            "t",
        ),
        (&["--qi", "age", "--generalise", "age=0"], "bands"),
        (&["--qi", "sex", "--generalise", "sex=day"], "only dates"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["risk", p(&data), "--schema", p(&schema)];
        args.extend_from_slice(extra);
        let o = pets(&args);
        let code = o.status.code();
        assert!(
            matches!(code, Some(2) | Some(3)),
            "{extra:?}: exit {code:?}: {}",
            text(&o)
        );
        assert!(text(&o).contains(needle), "{extra:?}: {}", text(&o));
    }
}

#[test]
fn dp_query_writes_results_and_a_ledger_that_adds_up() {
    let (dir, data, schema) = ae(20000, 11);
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/specs/ae_queries.toml");
    let out = dir.path().join("dp.json");
    let o = pets(&[
        "dp",
        "query",
        p(&data),
        "--schema",
        p(&schema),
        "--spec",
        p(&spec),
        "--epsilon",
        "1",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(r["results"].as_array().unwrap().len(), 4, "{r}");
    let entries = r["ledger"]["entries"].as_array().expect("ledger entries");
    assert!(!entries.is_empty());
    assert!(text(&o).contains("epsilon = 1"), "{}", text(&o));

    // Overspending is impossible: a negative budget and an unknown column are refused
    // before anything is released.
    let o = pets(&[
        "dp",
        "query",
        p(&data),
        "--schema",
        p(&schema),
        "--spec",
        p(&spec),
        "--epsilon=-1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("epsilon"), "{}", text(&o));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[query]]\nkind = \"histogram\"\ndimensions = [\"provider\"]\n",
    )
    .unwrap();
    let o = pets(&[
        "dp",
        "query",
        p(&data),
        "--schema",
        p(&schema),
        "--spec",
        p(&bad),
        "--epsilon",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("provider"), "{}", text(&o));
}
