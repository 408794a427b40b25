//! A corpus of bad inputs across the commands: each case asserts the documented exit code,
//! that the message names the thing at fault, that no file is left behind in the output
//! folder, and that it answers within a few seconds (no hang).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{ae, p, pets, text};

/// One case: arguments (`{d}` = data, `{s}` = schema, `{q}` = spec, `{o}` = output folder,
/// `{m}` = a model file, `{x}` = a scratch file the case wrote), the exit code, and words
/// the message must contain.
struct Case {
    args: &'static str,
    code: i32,
    says: &'static [&'static str],
}

const fn case(args: &'static str, code: i32, says: &'static [&'static str]) -> Case {
    Case { args, code, says }
}

const SPEC: &str = "[[query]]\nkind = \"count\"\n[[query]]\nkind = \"mean\"\ncolumn = \"age\"\nlower = 0\nupper = 110\n";

fn corpus() -> Vec<Case> {
    vec![
        // Files that are not there, not tables, or not what they claim.
        case("summary {o}/missing.csv", 4, &["missing.csv"]),
        case("summary {o}/data.xlsx --schema {s}", 4, &["xlsx"]),
        case("summary {o} --schema {s}", 4, &[]),
        case("risk {x} --qi age", 3, &["bad.csv"]),
        case("schema check {d} --schema {o}/nope.json", 4, &["nope.json"]),
        case(
            "dp query {d} --schema {s} --spec {o}/nope.toml --epsilon 1",
            4,
            &["nope.toml"],
        ),
        case(
            "synth sample {o}/nope.json --rows 5 --out {o}/s.csv",
            4,
            &["nope.json"],
        ),
        case(
            "synth sample {s} --rows 5 --out {o}/s.csv",
            3,
            &["not a pets synthesiser model"],
        ),
        // Options out of range exit 2, before anything is read.
        case("risk {d} --schema {s} --qi age --k 0", 2, &["k"]),
        case(
            "anonymise {d} --schema {s} --qi age,sex --max-suppression 1.5",
            2,
            &["between 0 and 1"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --hierarchy age=3,5",
            2,
            &["age", "nest"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --hierarchy sex=@{o}/nope.csv",
            2,
            &["nope.csv"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age --hierarchy ethnic_category=none",
            2,
            &["not a quasi-identifier"],
        ),
        case(
            "anonymise {d} --schema {s} --qi sex --k 100000 --max-suppression 0",
            3,
            &["no transformation"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age --output {d}",
            2,
            &["--output"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon=-1",
            2,
            &["epsilon"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 0",
            2,
            &["epsilon"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon nan",
            2,
            &["epsilon"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --rho inf",
            2,
            &["rho"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --rho 1",
            2,
            &["--rho"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --delta 2",
            2,
            &["delta"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --alpha 1.5",
            2,
            &["alpha"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon=-1 --delta 1e-9 --out {o}/m.json",
            2,
            &["epsilon"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --delta 1 --out {o}/m.json",
            2,
            &["delta"],
        ),
        case(
            "synth sample {m} --rows 10000000000000 --out {o}/s.csv",
            2,
            &["rows"],
        ),
        case(
            "risk {d} --schema {s} --qi age --delimiter ab",
            2,
            &["--delimiter"],
        ),
        case(
            "risk {d} --schema {s} --qi age --header --no-header",
            2,
            &["--no-header"],
        ),
        // Outputs that would destroy inputs.
        case("schema infer {d} --out {d}", 2, &["destroy"]),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --out {d}",
            2,
            &["destroy"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --out {q}",
            2,
            &["destroy"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --delta 1e-9 --out {s}",
            2,
            &["destroy"],
        ),
        case(
            "datasets generate --rows 10 --out {o}/g.csv --schema-out {o}/g.csv",
            2,
            &["destroy"],
        ),
        case(
            "risk {d} --schema {s} --qi age --report {d}",
            2,
            &["destroy"],
        ),
        case(
            "risk {d} --schema {s} --qi age --report {o}/r.html --json {o}/r.html",
            2,
            &["destroy"],
        ),
        case("schema explain", 0, &["null_values", "column_names"]),
        // Columns the data or schema lack.
        case("risk {d} --schema {s} --qi nope", 3, &["nope"]),
        case(
            "dp query {d} --schema {s} --spec {x} --epsilon 1",
            3,
            &["wibble"],
        ),
        // Budgets the accountant refuses, and a budget file that is not one.
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --budget {s}",
            3,
            &["budget"],
        ),
    ]
}

fn expand(args: &str, dir: &Path, data: &Path, schema: &Path, model: &Path) -> Vec<String> {
    let o = dir.join("out");
    args.split_whitespace()
        .map(|a| {
            a.replace("{d}", p(data))
                .replace("{s}", p(schema))
                .replace("{q}", p(&dir.join("q.toml")))
                .replace("{m}", p(model))
                .replace("{x}", p(&o.join("bad.csv")))
                .replace("{o}", p(&o))
        })
        .collect()
}

#[test]
fn every_bad_input_is_a_clear_error_with_nothing_left_behind() {
    let (dir, _parquet, schema) = ae(2_000, 5);
    // A CSV copy, so the text-file paths are exercised too.
    let data = dir.path().join("ae.csv");
    let generated = pets(&[
        "datasets",
        "generate",
        "--rows",
        "2000",
        "--seed",
        "5",
        "--out",
        p(&data),
    ]);
    assert!(generated.status.success(), "{}", text(&generated));
    std::fs::write(dir.path().join("q.toml"), SPEC).unwrap();
    let model = dir.path().join("model.json");
    fit(&data, &schema, "1", "age_band,sex", &model);
    let out = dir.path().join("out");
    let mut failures = Vec::new();
    for c in corpus() {
        std::fs::create_dir_all(&out).unwrap();
        // The scratch file: a CSV with a ragged row, or a spec naming an unknown column.
        let scratch = if c.args.contains("--spec {x}") {
            "[[query]]\nkind = \"mean\"\ncolumn = \"wibble\"\nlower = 0\nupper = 1\n"
        } else {
            "age,sex\n1,2\n3\n"
        };
        std::fs::write(out.join("bad.csv"), scratch).unwrap();
        let before: Vec<_> = listing(&out);
        let args = expand(c.args, dir.path(), &data, &schema, &model);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let o = pets(&args);
        let took = started.elapsed();
        let said = text(&o);
        let code = o.status.code().unwrap_or(-1);
        let after = listing(&out);
        if code != c.code {
            failures.push(format!(
                "{}: exit {code}, wanted {}: {said}",
                c.args, c.code
            ));
        } else if let Some(w) = c.says.iter().find(|w| !said.contains(*w)) {
            failures.push(format!("{}: message lacks {w:?}: {said}", c.args));
        } else if after != before {
            failures.push(format!("{}: left files behind: {after:?}", c.args));
        } else if took > Duration::from_secs(10) {
            failures.push(format!("{}: took {took:?}", c.args));
        } else if said.contains("panicked") {
            failures.push(format!("{}: panicked: {said}", c.args));
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
    // The inputs are untouched by every case.
    assert!(
        pets(&["schema", "check", p(&data), "--schema", p(&schema)])
            .status
            .success()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        corpus().len(),
        failures.join("\n")
    );
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn tampered_model_files_are_refused_not_sampled() {
    let (dir, data, schema) = ae(1_000, 6);
    let model = dir.path().join("model.json");
    fit(&data, &schema, "2", "age_band,sex,arrival_mode", &model);
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    type Tamper = Box<dyn Fn(&mut serde_json::Value)>;
    let tamperings: Vec<(&str, Tamper)> = vec![
        (
            "negative",
            Box::new(|m| m["fitted"]["tables"][0][0] = serde_json::json!(-0.5)),
        ),
        (
            "no mass",
            Box::new(|m| {
                let n = m["fitted"]["tables"][0].as_array().unwrap().len();
                m["fitted"]["tables"][0] = serde_json::json!(vec![0.0; n]);
            }),
        ),
        ("total", Box::new(|m| m["total"] = serde_json::json!(-5.0))),
        (
            "listed twice",
            Box::new(|m| {
                let kept = m["compression"][0]["kept"].as_array().unwrap().clone();
                let mut twice = kept.clone();
                twice.push(kept[0].clone());
                m["compression"][0]["kept"] = serde_json::json!(twice);
            }),
        ),
    ];
    for (says, tamper) in tamperings {
        let mut m = good.clone();
        tamper(&mut m);
        let bad = dir.path().join("tampered.json");
        std::fs::write(&bad, m.to_string()).unwrap();
        let out = dir.path().join("s.csv");
        let o = pets(&["synth", "sample", p(&bad), "--rows", "10", "--out", p(&out)]);
        assert_eq!(o.status.code(), Some(3), "{says}: {}", text(&o));
        assert!(text(&o).contains(says), "{says}: {}", text(&o));
        assert!(!out.exists(), "{says}: a sample was written");
    }
}

/// Fit an MST model of `columns` at (`epsilon`, 1e-9) to `out`.
fn fit(data: &Path, schema: &Path, epsilon: &str, columns: &str, out: &Path) {
    let o = pets(&[
        "synth",
        "fit",
        p(data),
        "--schema",
        p(schema),
        "--epsilon",
        epsilon,
        "--delta",
        "1e-9",
        "--columns",
        columns,
        "--out",
        p(out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}
