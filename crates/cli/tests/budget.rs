//! `pets budget init|show|charge` end to end: the file, its exit codes, tampering, and many
//! processes charging one budget at once.

mod common;

use std::process::{Command, Stdio};

use common::{p, pets, text};

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn init_show_and_charge() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ae.budget");
    let f = p(&file);
    let o = pets(&[
        "budget",
        "init",
        f,
        "--epsilon",
        "1",
        "--dataset",
        "ae-2026",
        "--note",
        "panel of 3 Sep",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("epsilon = 1 set for \"ae-2026\""),
        "{}",
        text(&o)
    );

    let o = pets(&[
        "budget",
        "charge",
        f,
        "--epsilon",
        "0.25",
        "--what",
        "tables for the trust board",
        "--data",
        "ae.parquet",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let receipt = json(&o);
    assert_eq!(receipt["entry"], 1);
    assert_eq!(receipt["entries"], 2);
    assert_eq!(receipt["remaining"]["epsilon"], 0.75);
    assert_eq!(receipt["head"].as_str().unwrap().len(), 64);
    assert!(text(&o).contains("charged epsilon = 0.25"), "{}", text(&o));

    let o = pets(&["budget", "show", f]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for want in [
        "dataset      ae-2026",
        "note         panel of 3 Sep",
        "total        epsilon = 1",
        "spent        epsilon = 0.25 in 1 charge",
        "remaining    epsilon = 0.75",
        "tables for the trust board [data: ae.parquet]",
        "chain verified: 2 entries, head",
    ] {
        assert!(out.contains(want), "{want:?} not in\n{out}");
    }
    assert!(out.contains(receipt["head"].as_str().unwrap()), "{out}");

    let o = pets(&["budget", "show", f, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let status = json(&o);
    assert_eq!(status["spent"]["epsilon"], 0.25);
    assert_eq!(status["entries"][0]["what"], "tables for the trust board");
    assert!(status["broken"].is_null());

    // zCDP budgets take pure-DP charges, converted (rho = epsilon^2 / 2).
    let z = dir.path().join("z.budget");
    let o = pets(&["budget", "init", p(&z), "--rho", "0.5", "--dataset", "ae"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = pets(&[
        "budget",
        "charge",
        p(&z),
        "--epsilon",
        "0.5",
        "--what",
        "laplace",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("charged rho = 0.125"), "{}", text(&o));
    let o = pets(&["budget", "show", p(&z)]);
    assert!(
        text(&o).contains("epsilon = 0.5 (charged as rho = 0.125)"),
        "{}",
        text(&o)
    );
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ae.budget");
    let f = p(&file);
    let init = |args: &[&str]| {
        let mut all = vec!["budget", "init", f];
        all.extend_from_slice(args);
        pets(&all)
    };
    // Bad usage: an invalid budget, no measure, two measures, no dataset.
    for args in [
        &["--epsilon", "0", "--dataset", "ae"][..],
        &["--epsilon", "-1", "--dataset", "ae"],
        &["--epsilon", "1", "--delta", "1.5", "--dataset", "ae"],
        &["--dataset", "ae"],
        &["--epsilon", "1", "--rho", "1", "--dataset", "ae"],
        &["--epsilon", "1"],
    ] {
        let o = init(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(!file.exists());
    }
    assert!(
        init(&["--epsilon", "1", "--dataset", "ae"])
            .status
            .success()
    );
    let before = std::fs::read(&file).unwrap();
    // A budget is never reset: init on an existing file is a file error.
    let o = init(&["--epsilon", "100", "--dataset", "ae"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    let charge = |cost: &[&str]| {
        let mut all = vec!["budget", "charge", f, "--what", "x"];
        all.extend_from_slice(cost);
        pets(&all)
    };
    assert!(charge(&["--epsilon", "0.75"]).status.success());
    let before = std::fs::read(&file).unwrap();
    // Over budget: 3, like any over-budget refusal, and the file is untouched.
    let o = charge(&["--epsilon", "0.5"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("over budget"), "{}", text(&o));
    assert!(
        text(&o).contains("only epsilon = 0.25 is left"),
        "{}",
        text(&o)
    );
    // A zCDP cost on an (epsilon, delta) budget, or an invalid cost: bad usage.
    assert_eq!(charge(&["--rho", "0.01"]).status.code(), Some(2));
    assert_eq!(charge(&["--epsilon", "nan"]).status.code(), Some(2));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // Files: missing is 4; not a budget file is 3.
    let missing = dir.path().join("missing.budget");
    let o = pets(&["budget", "show", p(&missing)]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let o = pets(&[
        "budget",
        "charge",
        p(&missing),
        "--epsilon",
        "0.1",
        "--what",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "not a budget\n").unwrap();
    let o = pets(&["budget", "show", p(&other)]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("is not a pets budget file"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_tampered_file_is_shown_broken_and_never_charged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ae.budget");
    let f = p(&file);
    let o = pets(&["budget", "init", f, "--epsilon", "1", "--dataset", "ae"]);
    assert!(o.status.success(), "{}", text(&o));
    for i in 0..3 {
        let what = format!("release {i}");
        let o = pets(&["budget", "charge", f, "--epsilon", "0.25", "--what", &what]);
        assert!(o.status.success(), "{}", text(&o));
    }
    // Someone lowers the second charge to make room.
    let t = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = t.lines().collect();
    let edited = lines[2].replacen("\"epsilon\":0.25", "\"epsilon\":0.05", 1);
    lines[2] = &edited;
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let before = std::fs::read(&file).unwrap();

    let o = pets(&["budget", "show", f]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("CHAIN BROKEN at entry 2"), "{out}");
    assert!(
        out.contains("its hash does not match its contents"),
        "{out}"
    );
    assert!(out.contains("custodian must investigate"), "{out}");
    assert!(
        out.contains("spent        epsilon = 0.25 in 1 charge"),
        "{out}"
    );

    let o = pets(&["budget", "show", f, "--json"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(json(&o)["broken"]["entry"], 2);

    let o = pets(&["budget", "charge", f, "--epsilon", "0.01", "--what", "x"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("broken at entry 2"), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn processes_charging_at_once_never_overspend() {
    // 12 processes each charge 1/8 of a budget of 1 at the same moment: exactly 8 are
    // admitted, 4 refused, and the chain stays whole.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ae.budget");
    let f = p(&file);
    let o = pets(&["budget", "init", f, "--epsilon", "1", "--dataset", "ae"]);
    assert!(o.status.success(), "{}", text(&o));
    let children: Vec<_> = (0..12)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_pets"))
                .args(["budget", "charge", f, "--epsilon", "0.125", "--what"])
                .arg(format!("run {i}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("pets starts")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("pets runs"))
        .collect();
    let ok = outputs.iter().filter(|o| o.status.success()).count();
    for o in outputs.iter().filter(|o| !o.status.success()) {
        assert_eq!(o.status.code(), Some(3), "{}", text(o));
        assert!(text(o).contains("over budget"), "{}", text(o));
    }
    assert_eq!(ok, 8);
    let o = pets(&["budget", "show", f, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let status = json(&o);
    assert_eq!(status["spent"]["epsilon"], 1.0);
    assert_eq!(status["remaining"]["epsilon"], 0.0);
    assert_eq!(status["entries"].as_array().unwrap().len(), 8);
    assert!(status["broken"].is_null());
}
