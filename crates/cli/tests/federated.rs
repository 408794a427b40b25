//! `pets federated simulate`: a round over split trusts releases noisy tables and a ledger,
//! survives a dropout, and fails cleanly (exit codes) on bad options.

mod common;

use common::{ae, p, pets, text};

#[test]
fn a_round_by_each_protocol_releases_noisy_tables_and_its_ledger() {
    let (dir, data, schema) = ae(6_000, 4);
    for protocol in ["secagg", "prio3"] {
        let json = dir.path().join(format!("{protocol}.json"));
        let mut args = vec![
            "federated",
            "simulate",
            p(&data),
            "--schema",
            p(&schema),
            "--split-by",
            "provider_code",
            "--trusts",
            "4",
            "--table",
            "age_band,sex",
            "--table",
            "hour(arrival_datetime)",
            "--rho",
            "0.2",
            "--person-id",
            "nhs_number",
            "--protocol",
            protocol,
            "--json",
            p(&json),
        ];
        if protocol == "secagg" {
            args.extend(["--drop", "trust_2=before-masked"]);
        }
        let o = pets(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let out: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let tables = out["release"]["tables"].as_array().unwrap();
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[1]["counts"].as_array().unwrap().len(), 24);
        assert_eq!(out["ledger"]["entries"].as_array().unwrap().len(), 1);
        let counted = out["release"]["round"]["counted"].as_array().unwrap().len();
        assert_eq!(counted, if protocol == "secagg" { 3 } else { 4 });
        assert!(
            text(&o).contains("max_trusts_per_person = 1"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn sums_and_means_with_public_bounds_are_released_with_intervals() {
    let (dir, data, schema) = ae(6_000, 6);
    let json = dir.path().join("values.json");
    let o = pets(&[
        "federated",
        "simulate",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "provider_code",
        "--trusts",
        "3",
        "--table",
        "sex",
        "--value",
        "mean(total_time_in_dept_min, 0, 720) by age_band",
        "--value",
        "sum(num_treatments, 0, 10)",
        "--rho",
        "0.5",
        "--person-id",
        "nhs_number",
        "--max-rows-per-person",
        "2",
        "--json",
        p(&json),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("mean of total_time_in_dept_min clamped to [0, 720] by age_band"),
        "{out}"
    );
    assert!(
        out.contains("sum of num_treatments clamped to [0, 10]"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tables = v["release"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 3);
    assert!(tables[0]["half_width"].as_f64().unwrap() > 0.0);
    let mean = &tables[1]["value"];
    assert_eq!(mean["statistic"], "mean");
    let cells = tables[1]["counts"].as_array().unwrap().len();
    assert_eq!(mean["mean_intervals"].as_array().unwrap().len(), cells);
    assert_eq!(tables[2]["value"]["sums"].as_array().unwrap().len(), 1);
    assert_eq!(v["ledger"]["entries"].as_array().unwrap().len(), 1);
    // Bad bounds and a non-numeric column: bad usage / bad input, naming the column.
    for (spec, code) in [
        ("sum(total_time_in_dept_min, 5, 1)", 2),
        ("mean(sex, 0, 1)", 3),
    ] {
        let o = pets(&[
            "federated",
            "simulate",
            p(&data),
            "--schema",
            p(&schema),
            "--split-by",
            "provider_code",
            "--trusts",
            "3",
            "--value",
            spec,
            "--rho",
            "0.1",
        ]);
        let column = if spec.contains("sex") {
            "sex"
        } else {
            "total_time_in_dept_min"
        };
        assert!(text(&o).contains(column), "{spec}: {}", text(&o));
        assert_eq!(o.status.code(), Some(code), "{spec}: {}", text(&o));
    }
}

#[test]
fn rates_of_a_condition_are_compared_across_providers() {
    let (dir, data, schema) = ae(8_000, 9);
    let json = dir.path().join("rates.json");
    let o = pets(&[
        "federated",
        "simulate",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "provider_code",
        "--trusts",
        "3",
        "--value",
        "mean(total_time_in_dept_min > 240) by provider_code",
        "--value",
        "sum(admitted = true) by sex",
        "--rho",
        "0.5",
        "--json",
        p(&json),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("rate of total_time_in_dept_min > 240 by provider_code"),
        "{out}"
    );
    assert!(out.contains("against the pooled rate"), "{out}");
    assert!(
        out.contains("count of rows where admitted = true by sex"),
        "{out}"
    );
    assert!(
        ["within", "too few", "above", "below"]
            .iter()
            .any(|f| out.contains(f)),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rate = &v["release"]["tables"][0];
    let cells = rate["counts"].as_array().unwrap().len();
    let comparison = &rate["value"]["comparison"];
    assert_eq!(comparison["cells"].as_array().unwrap().len(), cells);
    assert_eq!(comparison["pools"].as_array().unwrap().len(), 1);
    assert!(comparison["pools"][0]["rate"].as_f64().unwrap() > 0.0);
    assert!(comparison["method"].as_str().unwrap().contains("funnel"));
    // A comparison on an unordered category: bad usage (exit 2), naming the column.
    let o = pets(&[
        "federated",
        "simulate",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "provider_code",
        "--trusts",
        "3",
        "--value",
        "mean(sex > 1)",
        "--rho",
        "0.1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("\"sex\" is an unordered"), "{}", text(&o));
}

#[test]
fn bad_options_and_too_many_dropouts_exit_with_their_codes() {
    let (_dir, data, schema) = ae(3_000, 5);
    let base = [
        "federated",
        "simulate",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "provider_code",
        "--trusts",
        "3",
        "--rho",
        "0.1",
    ];
    let run = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        pets(&a)
    };
    // Two of three drop before sharing keys: the round aborts, nothing is released.
    let o = run(&[
        "--drop",
        "trust_1=before-shares",
        "--drop",
        "trust_2=before-keys",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("aborted"), "{}", text(&o));
    // A threshold that is not a majority is bad usage.
    let o = run(&["--threshold", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // An unknown drop point or trust.
    let o = run(&["--drop", "trust_1=later"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(&["--drop", "nobody=before-keys"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("trust_1, trust_2, trust_3"),
        "{}",
        text(&o)
    );
    // An unknown column.
    let o = run(&["--table", "no_such_column"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("no_such_column"), "{}", text(&o));
    // Neither --split-by nor --trust.
    let o = pets(&[
        "federated",
        "simulate",
        "--schema",
        p(&schema),
        "--rho",
        "0.1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn the_persistent_budget_file_is_charged_once_and_refuses_an_overspend() {
    let (dir, data, schema) = ae(3_000, 6);
    let store = dir.path().join("ae.budget");
    let o = pets(&[
        "budget",
        "init",
        p(&store),
        "--rho",
        "0.15",
        "--dataset",
        "ae-test",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run = || {
        pets(&[
            "federated",
            "simulate",
            p(&data),
            "--schema",
            p(&schema),
            "--split-by",
            "provider_code",
            "--trusts",
            "3",
            "--rho",
            "0.1",
            "--budget",
            p(&store),
        ])
    };
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // 0.1 of 0.15 spent: a second run does not fit, and releases nothing.
    let o = run();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(!text(&o).contains("noisy count"), "{}", text(&o));
}

#[test]
fn a_federated_fit_writes_a_model_that_synth_sample_reads() {
    let (dir, data, schema) = ae(6_000, 7);
    let model = dir.path().join("model.json");
    let json = dir.path().join("rounds.json");
    let o = pets(&[
        "federated",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "provider_code",
        "--trusts",
        "4",
        "--epsilon",
        "1",
        "--delta",
        "1e-9",
        "--person-id",
        "nhs_number",
        "--max-rows-per-person",
        "2",
        "--max-trusts-per-person",
        "2",
        "--model",
        p(&model),
        "--json",
        p(&json),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("round A") && text(&o).contains("round C"),
        "{}",
        text(&o)
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["method"], "mst (federated)");
    let rounds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rounds["rounds"].as_array().unwrap().len(), 3);
    let out = dir.path().join("synth.csv");
    let o = pets(&[
        "synth",
        "sample",
        p(&model),
        "--rows",
        "500",
        "--out",
        p(&out),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sample = std::fs::read_to_string(&out).unwrap();
    assert_eq!(sample.lines().count(), 501);
    assert!(sample.lines().next().unwrap().contains("arrival_datetime"));
    // One trust is not a federation: bad usage, nothing written.
    let lone = dir.path().join("lone.json");
    let o = pets(&[
        "federated",
        "fit",
        "--trust",
        &format!("a={}", p(&data)),
        "--schema",
        p(&schema),
        "--epsilon",
        "1",
        "--out",
        p(&lone),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!lone.exists());
}

#[test]
fn federated_training_writes_weights_and_a_ledger_and_refuses_prio3() {
    let (dir, data, schema) = ae(6_000, 7);
    let model = dir.path().join("logit.json");
    let run = |protocol: &str| {
        pets(&[
            "federated",
            "train",
            p(&data),
            "--schema",
            p(&schema),
            "--split-by",
            "provider_code",
            "--trusts",
            "3",
            "--target",
            "admitted",
            "--features",
            "age_band,acuity,arrival_mode",
            "--epsilon",
            "1",
            "--rounds",
            "4",
            "--protocol",
            protocol,
            "--out",
            p(&model),
        ])
    };
    let o = run("prio3");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!model.exists());
    let o = run("secagg");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        text(&o).matches("noisy mean log-loss").count(),
        4,
        "{}",
        text(&o)
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(m["method"], "logistic regression (federated DP-FedAvg)");
    assert_eq!(m["ledger"]["entries"].as_array().unwrap().len(), 4);
    assert_eq!(m["rounds"].as_array().unwrap().len(), 4);
    // intercept + 7 age bands + 5 acuity (scaled: 1) ... the names line up with the weights.
    assert_eq!(
        m["model"]["names"].as_array().unwrap().len(),
        m["model"]["weights"].as_array().unwrap().len()
    );
    // Refuses to overwrite its own input; a target that is not categorical is a usage error.
    let o = pets(&[
        "federated",
        "train",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "provider_code",
        "--trusts",
        "3",
        "--target",
        "age",
        "--epsilon",
        "1",
        "--out",
        p(&dir.path().join("age.json")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("categorical"), "{}", text(&o));
}
