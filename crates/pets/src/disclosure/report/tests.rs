use super::*;
use crate::disclosure::testutil::{cat, int, table};

fn data() -> EncodedTable {
    // 10 records: age (0..9 codes), sex, dx
    table(vec![
        int("age", 10, &[0, 0, 0, 1, 1, 1, 5, 6, 7, 9]),
        cat("sex", 2, &[0, 0, 0, 1, 1, 1, 0, 1, 0, 1]),
        cat("dx", 3, &[0, 1, 2, 0, 0, 1, 2, 2, 0, 1]),
    ])
}

fn config() -> RiskConfig {
    RiskConfig {
        sensitive: Some("dx".into()),
        k: 3,
        l: Some(2),
        t: Some(0.5),
        ..RiskConfig::new(["age", "sex"])
    }
}

#[test]
fn report_figures_and_checks() {
    let r = assess(&data(), &config()).unwrap();
    assert_eq!(r.n_records, 10);
    assert_eq!(r.k_anonymity.k, 1);
    assert_eq!(r.k_anonymity.records_under_k, 4);
    assert!(!r.passed);
    assert_eq!(r.verdict, "FAIL");
    let k = r.checks.iter().find(|c| c.id == "k_anonymity").unwrap();
    assert!(!k.passed);
    assert_eq!((k.failing_classes, k.failing_records), (4, 4));
    let l = r.checks.iter().find(|c| c.id == "l_diversity").unwrap();
    assert_eq!((l.failing_classes, l.failing_records), (4, 4));
    assert!(r.summary[0].starts_with("FAIL"));
    // dropping age leaves groups by sex of 5 and 5: none under 3; bands of 5 leave 4
    assert_eq!(r.fixes[0].kind, "suppress");
    assert_eq!(r.fixes[1].kind, "drop");
    assert_eq!(r.fixes[1].column.as_deref(), Some("age"));
    assert_eq!(r.fixes[1].records_under_k_after, 0);
    let band5 = r
        .fixes
        .iter()
        .find(|f| f.action.contains("bands of 5"))
        .unwrap();
    assert_eq!(band5.records_under_k_after, 4);
    let s = r.scenarios.as_ref().unwrap();
    assert_eq!(s.scenarios.len(), 3);
    assert!(r.suda.is_some());
    // JSON round trip
    let json = serde_json::to_string(&r).unwrap();
    let back: RiskReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.checks, r.checks);
}

#[test]
fn passing_release() {
    let t = table(vec![
        int("age", 2, &[0, 0, 0, 1, 1, 1]),
        cat("dx", 2, &[0, 1, 0, 1, 0, 1]),
    ]);
    let c = RiskConfig {
        sensitive: Some("dx".into()),
        k: 3,
        l: Some(2),
        t: Some(0.2),
        risk_threshold: 0.5,
        ..RiskConfig::new(["age"])
    };
    let r = assess(&t, &c).unwrap();
    assert!(r.passed, "{:?}", r.checks);
    assert_eq!(r.verdict, "PASS");
    assert!(r.fixes.is_empty());
}

#[test]
fn report_never_contains_small_class_values() {
    // label values are "v0".."v2" and integers; a JSON report must hold no labels at all
    let r = assess(&data(), &config()).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    for label in ["\"v0\"", "\"v1\"", "\"v2\""] {
        assert!(!json.contains(label), "{label} leaked");
    }
}

#[test]
fn config_errors_surface() {
    let mut c = config();
    c.quasi_identifiers.push("nope".into());
    assert!(matches!(
        assess(&data(), &c),
        Err(ReportError::Config(ConfigError::UnknownColumn { .. }))
    ));
}

#[test]
fn partitions_assess_like_the_whole() {
    let whole = data();
    let cfg = config();
    let cols = whole.columns();
    let part = |lo: usize, hi: usize| {
        table(
            cols.iter()
                .map(|c| crate::data::EncodedColumn {
                    spec: c.spec.clone(),
                    codebook: c.codebook,
                    codes: c.codes[lo..hi].to_vec(),
                })
                .collect(),
        )
    };
    let mut merged =
        EquivalenceClasses::compute(&part(0, 4), &cfg.quasi_identifiers, Some("dx")).unwrap();
    merged
        .merge(
            EquivalenceClasses::compute(&part(4, 10), &cfg.quasi_identifiers, Some("dx")).unwrap(),
        )
        .unwrap();
    let a = assess_classes(&merged, &cfg, None).unwrap();
    let b = assess(&whole, &cfg).unwrap();
    assert_eq!(a.checks, b.checks);
    assert_eq!(a.k_anonymity, b.k_anonymity);
    assert_eq!(a.t_closeness, b.t_closeness);
    assert_eq!(a.scenarios, b.scenarios);
}

#[test]
fn with_population_and_attacker() {
    let t = data();
    let cfg = RiskConfig {
        sampling_fraction: Some(0.1),
        ..config()
    };
    let attacker = table(vec![int("age", 10, &[9, 0]), cat("sex", 2, &[1, 0])]);
    let r = Assessment::new(&t, &cfg)
        .attacker(&attacker, LinkageOptions::default())
        .run()
        .unwrap();
    let l = r.linkage.unwrap();
    assert_eq!(l.release_matched_uniquely, 1);
    assert_eq!(l.attacker_rows_matching_one, 1);
    assert!(r.population_uniqueness.is_some());
    assert!(r.reidentification.journalist.is_some());
}

#[test]
fn criteria_follow_the_config_in_report_order() {
    let mut c = config();
    c.alpha = Some(0.5);
    c.max_average_risk = Some(0.1);
    let ids: Vec<&str> = criteria(&c).iter().map(|k| k.id()).collect();
    assert_eq!(
        ids,
        [
            "k_anonymity",
            "l_diversity",
            "t_closeness",
            "alpha_k",
            "records_at_risk",
            "average_risk"
        ]
    );
    let r = assess(&data(), &c).unwrap();
    let got: Vec<&str> = r.checks.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(got, ids);
    // without a sensitive attribute only the risk criteria are checked
    let plain = RiskConfig {
        k: 3,
        ..RiskConfig::new(["age", "sex"])
    };
    let r = assess(&data(), &plain).unwrap();
    let got: Vec<&str> = r.checks.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(got, ["k_anonymity", "records_at_risk"]);
}
