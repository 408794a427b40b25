//! `pets synth fit|sample` end to end: model file, seeded sampling, exit codes.

mod common;

use common::{p, pets, text};

#[test]
fn fit_then_sample_without_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ae.parquet");
    let schema = dir.path().join("ae.schema.json");
    let o = pets(&[
        "datasets",
        "generate",
        "--rows",
        "20000",
        "--seed",
        "3",
        "--out",
        p(&data),
        "--schema-out",
        p(&schema),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    let model = dir.path().join("model.json");
    let o = pets(&[
        "synth",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--method",
        "mst",
        "--epsilon",
        "1",
        "--delta",
        "1e-9",
        "--columns",
        "age_band,sex,postcode_district,provider_code,acuity,admitted,total_time_in_dept_min",
        "--out",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("selected 6 pairs"), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(v["format"], "pets-synth-model");
    assert_eq!(v["version"], 1);
    assert_eq!(v["epsilon"], 1.0);
    assert!(v["ledger"]["entries"].as_array().unwrap().len() == 7 + 6 + 6);
    // Postcode district x provider is sparse at 20k rows: released above a threshold (the
    // model keeps T, the ledger its delta, the output says so); --dense-pairs measures it
    // densely with no delta spent.
    let thresholded = |v: &serde_json::Value| -> Vec<String> {
        v["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["measurement"].get("threshold").is_some())
            .map(|m| m["columns"].to_string())
            .collect()
    };
    let sparse = thresholded(&v);
    assert!(
        sparse.iter().any(|c| c.contains("postcode_district")),
        "{sparse:?}"
    );
    assert!(text(&o).contains("is sparse"), "{}", text(&o));
    assert!(v["ledger"]["spent"]["delta"].as_f64().unwrap() > 0.0);
    let dense_model = dir.path().join("dense.json");
    let o = pets(&[
        "synth",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--epsilon",
        "1",
        "--delta",
        "1e-9",
        "--columns",
        "age_band,sex,postcode_district,provider_code,acuity,admitted,total_time_in_dept_min",
        "--dense-pairs",
        "--out",
        p(&dense_model),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("is sparse"), "{}", text(&o));
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dense_model).unwrap()).unwrap();
    assert!(thresholded(&d).is_empty());
    assert_eq!(d["ledger"]["spent"]["delta"].as_f64().unwrap(), 0.0);

    // The data file is not needed any more.
    std::fs::remove_file(&data).unwrap();
    let out1 = dir.path().join("s1.parquet");
    let out2 = dir.path().join("s2.parquet");
    for out in [&out1, &out2] {
        let o = pets(&[
            "synth",
            "sample",
            p(&model),
            "--rows",
            "50000",
            "--seed",
            "7",
            "--out",
            p(out),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("50000 synthetic rows"), "{}", text(&o));
    }
    let s = pets::data::Schema::load(&schema)
        .unwrap()
        .select(&[
            "age_band",
            "sex",
            "postcode_district",
            "provider_code",
            "acuity",
            "admitted",
            "total_time_in_dept_min",
        ])
        .unwrap();
    let a = pets::data::encode_file(&out1, &s, Default::default()).unwrap();
    let b = pets::data::encode_file(&out2, &s, Default::default()).unwrap();
    assert_eq!(a.n_rows(), 50_000);
    assert_eq!(a, b);
    // Default rows: the noisy total of the fit, close to 20000.
    let csv = dir.path().join("s.csv");
    let o = pets(&["synth", "sample", p(&model), "--out", p(&csv)]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn privbayes_fits_and_samples_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ae.parquet");
    let schema = dir.path().join("ae.schema.json");
    let o = pets(&[
        "datasets",
        "generate",
        "--rows",
        "20000",
        "--seed",
        "4",
        "--out",
        p(&data),
        "--schema-out",
        p(&schema),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let model = dir.path().join("model.json");
    let o = pets(&[
        "synth",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--method",
        "privbayes",
        "--degree",
        "2",
        "--epsilon",
        "1",
        "--columns",
        "age_band,sex,provider_code,acuity,admitted,total_time_in_dept_min",
        "--out",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The mutual-information score: the same network rounds, labelled as such.
    let mi = dir.path().join("mi.json");
    let o = pets(&[
        "synth",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--method",
        "privbayes",
        "--privbayes-score",
        "mi",
        "--epsilon",
        "1",
        "--columns",
        "age_band,sex,provider_code,acuity,admitted,total_time_in_dept_min",
        "--out",
        p(&mi),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mi).unwrap()).unwrap();
    let rounds = v["ledger"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["query"].as_str().unwrap().contains("mutual information"))
        .count();
    assert_eq!(rounds, 5, "{v}");
    assert!(
        text(&o).contains("PrivBayes over 6 columns") && text(&o).contains("selected 5 families"),
        "{}",
        text(&o)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(v["method"], "privbayes");
    // 6 one-ways, 5 network rounds, 5 families; at most two parents each.
    let entries = v["ledger"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 6 + 5 + 5);
    assert!(
        v["selected"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.as_array().unwrap().len() <= 3)
    );
    std::fs::remove_file(&data).unwrap();
    let out = dir.path().join("s.csv");
    let o = pets(&[
        "synth",
        "sample",
        p(&model),
        "--rows",
        "1000",
        "--seed",
        "1",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "age_band,sex,provider_code,acuity,admitted,total_time_in_dept_min"
    );
    assert_eq!(csv.lines().count(), 1001);
    // A bad degree is refused before the data are read.
    let o = pets(&[
        "synth",
        "fit",
        "nope.csv",
        "--schema",
        "nope.json",
        "--method",
        "privbayes",
        "--degree",
        "0",
        "--epsilon",
        "1",
        "--out",
        "m.json",
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    let o = pets(&[
        "synth",
        "fit",
        "nope.csv",
        "--schema",
        "nope.json",
        "--method",
        "privbayes",
        "--privbayes-score",
        "entropy",
        "--epsilon",
        "1",
        "--out",
        "m.json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn aim_fits_and_samples_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ae.parquet");
    let schema = dir.path().join("ae.schema.json");
    let o = pets(&[
        "datasets",
        "generate",
        "--rows",
        "20000",
        "--seed",
        "4",
        "--out",
        p(&data),
        "--schema-out",
        p(&schema),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let columns = "age_band,sex,arrival_mode,acuity,admitted";
    let fit = |extra: &[&str], out: &std::path::Path| {
        let mut args = vec![
            "synth",
            "fit",
            p(&data),
            "--schema",
            p(&schema),
            "--method",
            "aim",
            "--epsilon",
            "1",
            "--columns",
            columns,
            "--out",
            p(out),
        ];
        args.extend_from_slice(extra);
        pets(&args)
    };
    // The default workload: every 3-way marginal of the 5 columns.
    let model = dir.path().join("model.json");
    let o = fit(&[], &model);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("AIM over 5 columns"), "{}", text(&o));
    assert!(text(&o).contains("sigma halved"), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(v["method"], "aim");
    let entries = v["ledger"]["entries"].as_array().unwrap();
    let rounds = v["selected"].as_array().unwrap().len();
    assert!(rounds >= 1);
    assert_eq!(entries.len(), 5 + 2 * rounds);
    assert!(
        v["selected"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.as_array().unwrap().len() <= 3)
    );
    let out = dir.path().join("s.csv");
    let o = pets(&[
        "synth",
        "sample",
        p(&model),
        "--rows",
        "500",
        "--seed",
        "1",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().next().unwrap(), columns);
    assert_eq!(csv.lines().count(), 501);
    // A workload file: MST's tree only pairs columns an entry holds together (the one
    // pair acuity x admitted; age_band is in no pair), then the rounds measure only its
    // marginals (and their subsets).
    let workload = dir.path().join("w.json");
    std::fs::write(&workload, r#"[["acuity", "admitted"], ["age_band"]]"#).unwrap();
    let small = dir.path().join("small.json");
    let o = fit(&["--workload", p(&workload)], &small);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&small).unwrap()).unwrap();
    let selected = v["selected"].as_array().unwrap();
    assert_eq!(selected[0], serde_json::json!(["acuity", "admitted"]));
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("MST's tree of 1 pair(s)")),
        "{v:?}"
    );
    for s in &selected[1..] {
        let s: Vec<&str> = s
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(
            [
                &["acuity", "admitted"][..],
                &["acuity"],
                &["admitted"],
                &["age_band"]
            ]
            .contains(&&s[..]),
            "{s:?}"
        );
    }
    // A workload naming a column that is not synthesised, a malformed file, zero rounds:
    // refused with exit code 2 and what to do.
    std::fs::write(&workload, r#"[["acuity", "postcode_district"]]"#).unwrap();
    let o = fit(&["--workload", p(&workload)], &dir.path().join("x.json"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("postcode_district") && text(&o).contains("synthesised"),
        "{}",
        text(&o)
    );
    std::fs::write(&workload, r#"{"acuity": 1}"#).unwrap();
    let o = fit(&["--workload", p(&workload)], &dir.path().join("x.json"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("list of lists"), "{}", text(&o));
    let o = fit(&["--rounds", "0"], &dir.path().join("x.json"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("rounds"), "{}", text(&o));
    let o = fit(
        &["--workload", "/nonexistent/w.json"],
        &dir.path().join("x.json"),
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(!dir.path().join("x.json").exists());
}

#[test]
fn bad_inputs_have_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = pets(&[
        "synth",
        "sample",
        "no-such-model.json",
        "--out",
        "x.parquet",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("no-such-model.json"), "{}", text(&o));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": \"something else\"}").unwrap();
    let o = pets(&["synth", "sample", p(&bad), "--out", "x.parquet"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("not a pets synthesiser model"),
        "{}",
        text(&o)
    );
    let o = pets(&[
        "synth", "fit", "x.csv", "--schema", "s.json", "--out", "m.json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o)); // --epsilon missing
    let o = pets(&[
        "synth",
        "fit",
        "nope.csv",
        "--schema",
        "nope.json",
        "--epsilon",
        "1",
        "--out",
        "m.json",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
}

#[test]
fn fit_by_default_leaves_out_identifiers_and_coarsens_wide_domains() {
    let (dir, data, schema) = common::ae(5_000, 11);
    let model = dir.path().join("model.json");
    let o = pets(&[
        "synth",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--epsilon",
        "1",
        "--out",
        p(&model),
    ]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("nhs_number") && said.contains("free text"),
        "{said}"
    );
    assert!(
        said.contains("date_of_birth") && said.contains("direct identifier"),
        "{said}"
    );
    assert!(
        said.contains("total_time_in_dept_min: 4,321 values cut into")
            && said.contains("geometric bands"),
        "{said}"
    );
    assert!(
        said.contains(
            "arrival_datetime: 525,600 codes modelled as arrival_datetime.period + \
             arrival_datetime.weekday + arrival_datetime.hour (53 x 7 x 24)"
        ),
        "{said}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let notes = v["notes"].as_array().unwrap();
    assert!(notes.len() >= 4, "{notes:?}");
    let names: Vec<&str> = v["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"date_of_birth") && !names.contains(&"nhs_number"));
    assert!(names.contains(&"arrival_datetime") && names.contains(&"length_of_stay_days"));
    // Synthesised as derived parts, output as the declared column.
    let synthesised = v["schema"]["columns"].as_array().unwrap();
    assert!(
        synthesised
            .iter()
            .any(|c| c["name"] == "arrival_datetime.hour")
    );

    // The sample is valid under the declared (finer) schema.
    let out = dir.path().join("s.parquet");
    let o = pets(&[
        "synth",
        "sample",
        p(&model),
        "--rows",
        "3000",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let declared = pets::data::Schema::load(&schema)
        .unwrap()
        .select(&names)
        .unwrap();
    let t = pets::data::encode_file(&out, &declared, Default::default()).unwrap();
    assert_eq!(t.n_rows(), 3000);
    // Typed like the input file: booleans, 32-bit integers, millisecond timestamps.
    let input = pets::data::TableSource::file(&data)
        .stream()
        .unwrap()
        .arrow_schema();
    let output = pets::data::TableSource::file(&out)
        .stream()
        .unwrap()
        .arrow_schema();
    for f in output.fields() {
        let i = input.field_with_name(f.name()).unwrap();
        assert_eq!(f.data_type(), i.data_type(), "{}", f.name());
    }
    assert_eq!(
        output
            .field_with_name("admitted")
            .unwrap()
            .data_type()
            .to_string(),
        "Boolean"
    );
    assert_eq!(
        output
            .field_with_name("age")
            .unwrap()
            .data_type()
            .to_string(),
        "Int32"
    );

    // The evaluator, from the command line.
    let json = dir.path().join("eval.json");
    let o = pets(&[
        "synth",
        "evaluate",
        p(&data),
        p(&out),
        "--schema",
        p(&schema),
        "--json",
        p(&json),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("columns shuffled independently"),
        "{}",
        text(&o)
    );
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        e["marginals"]["views"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "arrival_datetime:hour")
    );
}

#[test]
fn csv_in_csv_out_round_trips_types() {
    // A small CSV: text in, so the sample takes the declared kinds' types; the sample is
    // read back under the same schema without error.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("t.csv");
    let rows: String = (0..400)
        .map(|i| {
            format!(
                "{},{},2024-0{}-1{} {:02}:{:02}:00\n",
                ["F", "M"][i % 2],
                i % 3 == 0,
                1 + i % 9,
                i % 10,
                i % 24,
                i % 60
            )
        })
        .collect();
    std::fs::write(&data, format!("sex,admitted,arrival\n{rows}")).unwrap();
    let schema = dir.path().join("s.json");
    std::fs::write(
        &schema,
        r#"{"columns": [
            {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
            {"name": "admitted", "kind": "categorical", "values": ["false", "true"]},
            {"name": "arrival", "kind": "datetime", "min": "2024-01-01T00:00:00",
             "max": "2024-12-31T23:59:00", "granularity": "minute"}
        ]}"#,
    )
    .unwrap();
    let model = dir.path().join("m.json");
    let o = pets(&[
        "synth",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--epsilon",
        "2",
        "--out",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.path().join("o.csv");
    let o = pets(&[
        "synth",
        "sample",
        p(&model),
        "--rows",
        "500",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let s = pets::data::Schema::load(&schema).unwrap();
    let t = pets::data::encode_file(&out, &s, Default::default()).unwrap();
    assert_eq!(t.n_rows(), 500);
    let body = std::fs::read_to_string(&out).unwrap();
    assert!(
        body.starts_with("sex,admitted,arrival\n"),
        "{}",
        &body[..60]
    );
}

#[test]
fn person_level_fit_bounds_rows_and_ledgers_the_person() {
    let (dir, data, schema) = common::ae(8_000, 5);
    let model = dir.path().join("model.json");
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "synth",
            "fit",
            p(&data),
            "--schema",
            p(&schema),
            "--columns",
            "age_band,sex,acuity,admitted",
            "--epsilon",
            "1",
            "--out",
            p(&model),
        ];
        args.extend_from_slice(extra);
        pets(&args)
    };
    let o = fit(&[
        "--person-id",
        "local_patient_id",
        "--max-rows-per-person",
        "2",
    ]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("person-level privacy: at most 2 row(s) per local_patient_id"),
        "{said}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    for e in v["ledger"]["entries"].as_array().unwrap() {
        assert_eq!(e["contribution"]["unit"], "person", "{e}");
        assert_eq!(e["contribution"]["max_rows_per_person"], 2, "{e}");
        assert_eq!(e["contribution"]["id_column"], "local_patient_id", "{e}");
    }
    // The id column is read, never synthesised.
    let names: Vec<&str> = v["schema"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["age_band", "sex", "acuity", "admitted"]);

    // Without an id the command says the guarantee is per row.
    let o = fit(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("row-level privacy"), "{}", text(&o));

    // A missing id column names the file's columns; a zero bound is refused.
    let o = fit(&["--person-id", "nope"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("nope") && text(&o).contains("local_patient_id"),
        "{}",
        text(&o)
    );
    let o = fit(&[
        "--person-id",
        "local_patient_id",
        "--max-rows-per-person",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("max_rows_per_person"), "{}", text(&o));

    // A negative score threshold is refused by name.
    let o = fit(&["--score-threshold=-1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("score_threshold"), "{}", text(&o));

    // A missing file is still a file error (exit 4) when the id is read alongside.
    let missing = dir.path().join("missing.parquet");
    let o = pets(&[
        "synth",
        "fit",
        p(&missing),
        "--schema",
        p(&schema),
        "--columns",
        "sex",
        "--epsilon",
        "1",
        "--person-id",
        "local_patient_id",
        "--out",
        p(&model),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
}

/// Ctrl-C (SIGINT) stops `pets synth sample` at its next safe point: exit code 130, no
/// output file and no temporary file left in the folder.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_sampling_with_exit_130_and_no_file() {
    let (dir, data, schema) = common::ae(5_000, 4);
    let model = dir.path().join("model.json");
    let o = pets(&[
        "synth",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--epsilon",
        "1",
        "--columns",
        "age_band,sex,acuity",
        "--out",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("big.parquet");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pets"))
        .args([
            "synth",
            "sample",
            p(&model),
            "--rows",
            "500000000",
            "--out",
            p(&out),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(
        text(&o).contains("stopped at the user's request"),
        "{}",
        text(&o)
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn evaluate_writes_json_and_html_and_catches_a_copy() {
    let (dir, real, schema) = common::ae(4_000, 41);
    let (_hdir, holdout, _) = common::ae(2_000, 42);
    let report = dir.path().join("eval.html");
    let json = dir.path().join("eval.json");
    let workload = dir.path().join("workload.json");
    std::fs::write(
        &workload,
        r#"[["age_band", "acuity", "admitted"], ["arrival_datetime"]]"#,
    )
    .unwrap();
    // The real file as its own "synthesis": a copy, which the privacy tests must catch.
    let o = pets(&[
        "synth",
        "evaluate",
        p(&real),
        p(&real),
        "--schema",
        p(&schema),
        "--holdout",
        p(&holdout),
        "--target",
        "admitted",
        "--workload",
        p(&workload),
        "--sample-rows",
        "2000",
        "--report",
        p(&report),
        "--json",
        p(&json),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("columns shuffled independently"), "{out}");
    assert!(out.contains("membership inference AUC 1.000"), "{out}");
    assert!(out.contains("HTML report written"), "{out}");
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(e["format"], "pets-synth-evaluation");
    assert_eq!(e["rows"]["holdout"], 2000);
    assert_eq!(e["privacy"]["exact_matches"], 4000);
    assert_eq!(e["privacy"]["sample_rows"], 2000);
    assert_eq!(e["workload"].as_array().unwrap().len(), 2);
    assert_eq!(e["utility"]["target"], "admitted");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
    assert!(!html.contains("<script"));

    // Refused before anything is read or written: a bad target (2), an output over an input
    // (2), a missing file (4). No report is left behind.
    let fresh = dir.path().join("fresh.html");
    for (args, code) in [
        (vec!["--target", "nope", "--report", p(&fresh)], 2),
        (vec!["--target", "acuity", "--report", p(&fresh)], 2),
        (vec!["--report", p(&schema)], 2),
        (
            vec!["--holdout", "/nonexistent/h.parquet", "--report", p(&fresh)],
            4,
        ),
    ] {
        let mut a = vec![
            "synth",
            "evaluate",
            p(&real),
            p(&real),
            "--schema",
            p(&schema),
        ];
        a.extend(args.iter().copied());
        let o = pets(&a);
        assert_eq!(o.status.code(), Some(code), "{a:?}: {}", text(&o));
        assert!(!fresh.exists());
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

/// A DataSynthesizer description (correlated mode; the fixture DataSynthesizer made from 400
/// generated rows) samples like a model file, with the declared values and missing values.
#[test]
fn a_datasynthesizer_description_samples_like_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let desc = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../synth/tests/data/datasynthesizer_description.json"
    );
    let out = dir.path().join("s.csv");
    let o = pets(&[
        "synth",
        "sample",
        desc,
        "--rows",
        "2000",
        "--seed",
        "3",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "age,sex,acuity,arrival_mode,admitted,total_time_in_dept_min"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2000);
    assert!(
        rows.iter()
            .all(|r| ["female", "male", "indeterminate"].contains(&r[1]))
    );
    assert!(rows.iter().all(|r| ["yes", "no"].contains(&r[4])));
    assert!(rows.iter().any(|r| r[5].is_empty()), "some missing times");
    assert!(
        rows.iter()
            .all(|r| r[0].parse::<i64>().is_ok_and(|a| (0..=99).contains(&a)))
    );
}
