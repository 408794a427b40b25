//! `pets table`: published counts carry no small number, and the audit's claim holds.

mod common;

use common::{ae, p, pets, text};

#[test]
fn threshold_tables_are_protected_and_hes_tables_rounded() {
    let (dir, data, schema) = ae(5_000, 9);
    let csv = dir.path().join("tables.csv");
    let json = dir.path().join("tables.json");
    let o = pets(&[
        "table",
        p(&data),
        "--schema",
        p(&schema),
        "--by",
        "age_band,sex",
        "--by",
        "age_band,arrival_mode",
        "--rule",
        "threshold",
        "--threshold",
        "10",
        "--out",
        p(&csv),
        "--json",
        p(&json),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(out["protected"], true);
    for t in out["tables"].as_array().unwrap() {
        for c in t["cells"].as_array().unwrap() {
            let published = c["published"].as_str().unwrap();
            if let Ok(n) = published.parse::<u64>() {
                assert!(n == 0 || n >= 10, "{published}");
            } else {
                assert_eq!(published, "*");
                if c["suppressed"] == "primary" {
                    let i = &c["interval"];
                    let width = i["high"]
                        .as_f64()
                        .map_or(f64::INFINITY, |h| h - i["low"].as_f64().unwrap());
                    assert!(width >= 10.0, "{c}");
                }
            }
        }
    }
    let released = std::fs::read_to_string(&csv).unwrap();
    assert!(released.starts_with("table,age_band,sex,arrival_mode,count"));
    let o = pets(&[
        "table",
        p(&data),
        "--schema",
        p(&schema),
        "--by",
        "age_band,sex",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Hospital Episode Statistics"));
    // A text column has nothing to tabulate over.
    let o = pets(&[
        "table",
        p(&data),
        "--schema",
        p(&schema),
        "--by",
        "nhs_number",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("text column"), "{}", text(&o));
}

#[test]
fn exact_secondary_statistics_and_the_html_report() {
    let (dir, data, schema) = ae(3_000, 4);
    let json = dir.path().join("tables.json");
    let csv = dir.path().join("tables.csv");
    let html = dir.path().join("tables.html");
    let o = pets(&[
        "table",
        p(&data),
        "--schema",
        p(&schema),
        "--by",
        "age_band,sex",
        "--rule",
        "threshold",
        "--threshold",
        "10",
        "--secondary",
        "exact",
        "--mean",
        "age",
        "--median",
        "age",
        "--out",
        p(&csv),
        "--json",
        p(&json),
        "--report",
        p(&html),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(out["protected"], true);
    let s = &out["secondary_suppression"];
    assert_eq!(s["requested"], "exact");
    assert_eq!(s["method"], "exact", "{s}");
    assert_eq!(s["cost"], "cells");
    for t in out["tables"].as_array().unwrap() {
        for c in t["cells"].as_array().unwrap() {
            let stats = c["statistics"].as_array().unwrap();
            assert_eq!(stats.len(), 2);
            if c["published"] == "*" {
                assert!(stats.iter().all(|v| v == "*" || v == ""), "{c}");
            }
        }
    }
    let released = std::fs::read_to_string(&csv).unwrap();
    assert!(
        released.starts_with("table,age_band,sex,count,mean_age,median_age"),
        "{released}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("exact"));
    assert!(text(&o).contains("exact"), "{}", text(&o));
    // A mean of a categorical column is refused, naming it (exit 2).
    let o = pets(&[
        "table",
        p(&data),
        "--schema",
        p(&schema),
        "--by",
        "sex",
        "--mean",
        "age_band",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("age_band"), "{}", text(&o));
}
