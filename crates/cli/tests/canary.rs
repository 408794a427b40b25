//! Canary test on released artefacts (issue 10): a dataset whose exact counts are distinctive
//! numbers, run through every DP command (the federated fit and training included); no ledger, model file, results file or message of a
//! DP command may contain any of them.
//!
//! Released *values* are noisy draws that may, by chance, equal an exact count; they are
//! removed before searching (keys `value`, `values`, `lower`, `upper`, `counts`, `cells`,
//! `total`, `measurements`, `tables`, ...), as is the noisy total a fit's message quotes
//! (after checking it is the model's), so the test checks what must never carry an exact
//! statistic: the metadata, ledger entries, warnings, notes and messages.

mod common;

use common::{p, pets, text};
use serde_json::Value;

/// 31,337 rows: 19,186 patients (8,490 with one attendance, 9,241 with two, 1,455 with
/// three), sex F on 17,903 rows. Every figure is chosen to be found nowhere else.
fn write_canary_data(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut rows = String::from("patient,sex,age\n");
    let mut n = 0usize;
    let mut person = 0usize;
    for (people, each) in [(8_490usize, 1usize), (9_241, 2), (1_455, 3)] {
        for _ in 0..people {
            for _ in 0..each {
                let sex = if n < 17_903 { "F" } else { "M" };
                rows.push_str(&format!("p{person},{sex},{}\n", 20 + (n * 7) % 60));
                n += 1;
            }
            person += 1;
        }
    }
    assert_eq!(n, 31_337);
    let data = dir.join("canary.csv");
    std::fs::write(&data, rows).unwrap();
    let schema = dir.join("canary.schema.json");
    std::fs::write(
        &schema,
        r#"{"columns": [
            {"name": "patient", "kind": "text", "role": "direct_identifier"},
            {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
            {"name": "age", "kind": "integer", "min": 0, "max": 110}
        ]}"#,
    )
    .unwrap();
    (data, schema)
}

/// The exact statistics no artefact may hold: rows, people, rows kept with at most 2 rows a
/// person, rows dropped by that bound, the F and M counts.
const CANARIES: [&str; 6] = ["31337", "19186", "29882", "1455", "17903", "13434"];

fn strip_values(v: &mut Value) {
    const RELEASED: [&str; 18] = [
        "value",
        "values",
        "lower",
        "upper",
        "counts",
        "cells",
        "total",
        "measurements",
        "tables",
        "noisy_counts",
        "groups",
        "estimation",
        "fitted",
        "compression",
        // A federated training run's noisy figures (weights, each round's loss, row count
        // and gradient norm).
        "weights",
        "noisy_loss",
        "noisy_rows",
        "gradient_norm",
    ];
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !RELEASED.contains(&k.as_str()));
            map.values_mut().for_each(strip_values);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_values),
        _ => {}
    }
}

/// A message may quote one released figure, the model's noisy total ("noisy total N"); a
/// noisy draw equals an exact count by chance a few times in a hundred, so the figure is
/// removed before searching, as the JSON's released values are. It is removed only after
/// checking it is the model file's `total`, rounded: a released value, not a count of its own.
fn without_noisy_total(message: &str, model: &std::path::Path) -> String {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(model).unwrap()).unwrap();
    let released = format!(
        "noisy total {:.0}",
        m["total"].as_f64().expect("model total")
    );
    assert!(
        message.contains(&released),
        "the message's noisy total is not the model's ({released}):\n{message}"
    );
    message.replace(&released, "noisy total <released>")
}

fn assert_clean(what: &str, text: &str) {
    let digits: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .collect();
    for c in CANARIES {
        assert!(
            !digits.contains(&c),
            "{what} contains the exact statistic {c}:\n{text}"
        );
    }
}

#[test]
fn no_exact_statistic_in_any_dp_artefact_or_message() {
    // Sanity of the canaries against the data they describe.
    let kept_at_two = 8_490 + 2 * 9_241 + 2 * 1_455;
    assert_eq!(kept_at_two, 29_882, "rows kept at m = 2");
    assert_eq!(8_490 + 9_241 + 1_455, 19_186, "patients");
    assert_eq!(31_337 - kept_at_two, 1_455, "rows dropped at m = 2");
    assert_eq!(31_337 - 17_903, 13_434, "M rows");

    let dir = tempfile::tempdir().unwrap();
    let (data, schema) = write_canary_data(dir.path());

    // pets dp query, person-level, every kind of query.
    let spec = dir.path().join("q.toml");
    std::fs::write(
        &spec,
        r#"
id_column = "patient"
max_rows_per_person = 2
[[query]]
kind = "count"
[[query]]
kind = "histogram"
dimensions = ["sex"]
[[query]]
kind = "mean"
column = "age"
lower = 0
upper = 110
[[query]]
kind = "median"
column = "age"
lower = 0
upper = 110
[[query]]
kind = "group_by"
dimensions = ["sex"]
"#,
    )
    .unwrap();
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
        "--delta",
        "1e-6",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_clean("pets dp query's messages", &text(&o));
    let mut results: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    strip_values(&mut results);
    assert_clean("pets dp query's results and ledger", &results.to_string());

    // --show-exact says what it is doing, and is the only way to see the figures.
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
        "--delta",
        "1e-6",
        "--out",
        p(&out),
        "--show-exact",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("EXACT, UNPROTECTED") && t.contains("31337"),
        "{t}"
    );

    // pets synth fit: the model file and the messages.
    let model = dir.path().join("model.json");
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
        "--person-id",
        "patient",
        "--max-rows-per-person",
        "2",
        "--out",
        p(&model),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_clean(
        "pets synth fit's messages",
        &without_noisy_total(&text(&o), &model),
    );
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    strip_values(&mut m);
    assert_clean("the model file", &m.to_string());

    // pets federated fit: two trusts (by sex), the model file, the rounds and the messages.
    let fed_model = dir.path().join("fed_model.json");
    let rounds = dir.path().join("rounds.json");
    let o = pets(&[
        "federated",
        "fit",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "sex",
        "--epsilon",
        "1",
        "--person-id",
        "patient",
        "--max-rows-per-person",
        "2",
        "--out",
        p(&fed_model),
        "--json",
        p(&rounds),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_clean(
        "pets federated fit's messages",
        &without_noisy_total(&text(&o), &fed_model),
    );
    for (what, path) in [
        ("the federated model file", &fed_model),
        ("the rounds", &rounds),
    ] {
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        strip_values(&mut v);
        assert_clean(what, &v.to_string());
    }

    // pets federated train: two trusts (by sex), the model file and the messages (each round's
    // line quotes released noisy figures only: checked to be there, then left out).
    let fed_logit = dir.path().join("fed_logit.json");
    let o = pets(&[
        "federated",
        "train",
        p(&data),
        "--schema",
        p(&schema),
        "--split-by",
        "sex",
        "--target",
        "sex",
        "--features",
        "age",
        "--epsilon",
        "1",
        "--rounds",
        "5",
        "--person-id",
        "patient",
        "--max-rows-per-person",
        "2",
        "--out",
        p(&fed_logit),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let message = text(&o);
    assert_eq!(
        message.matches("noisy mean log-loss").count(),
        5,
        "{message}"
    );
    let message: String = message
        .lines()
        .filter(|l| !l.trim_start().starts_with("round "))
        .collect::<Vec<_>>()
        .join("\n");
    assert_clean("pets federated train's messages", &message);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&fed_logit).unwrap()).unwrap();
    strip_values(&mut v);
    assert_clean("the federated training model file", &v.to_string());

    // pets synth sample without --rows samples the model's noisy size, not the exact one.
    let synth = dir.path().join("synth.csv");
    let o = pets(&["synth", "sample", p(&model), "--out", p(&synth)]);
    assert!(o.status.success(), "{}", text(&o));
    let sampled = std::fs::read_to_string(&synth).unwrap().lines().count() - 1;
    assert_ne!(sampled, 31_337, "sampled exactly the real row count");
}
