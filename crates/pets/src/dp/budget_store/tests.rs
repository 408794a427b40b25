use super::*;

use std::sync::{Arc, Barrier};

fn store(total: Cost) -> (tempfile::TempDir, PathBuf, BudgetStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ae.budget");
    let s = BudgetStore::init(&path, total, "ae-2026", Some("panel of 3 Sep")).unwrap();
    (dir, path, s)
}

fn rec(what: &str) -> ChargeRecord {
    ChargeRecord::new(what)
        .data("ae.parquet")
        .user(Some("analyst".into()))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// `line` with `from` replaced by `to` in its body and, if `reseal`, its hash recomputed.
fn edit(line: &str, from: &str, to: &str, reseal: bool) -> String {
    assert!(line.contains(from), "{from} not in {line}");
    let line = line.replacen(from, to, 1);
    if !reseal {
        return line;
    }
    let (canonical, _) = unseal(&line).unwrap();
    let hash = sha256_hex(canonical.as_bytes());
    format!(
        "{},\"hash\":\"{hash}\"}}",
        &canonical[..canonical.len() - 1]
    )
}

fn broken_at(path: &Path) -> u64 {
    match BudgetStore::open(path) {
        Err(BudgetStoreError::Broken {
            entry, ref reason, ..
        }) => {
            let status = BudgetStore::inspect(path).unwrap();
            assert_eq!(status.broken.as_ref().map(|b| b.entry), Some(entry));
            assert!(!status.verified());
            assert_eq!(status.entries.len() as u64, entry.saturating_sub(1));
            assert!(!reason.is_empty());
            entry
        }
        Err(e) => panic!("expected a broken chain, got {e}"),
        Ok(_) => panic!("expected a broken chain, the file opened"),
    }
}

#[test]
fn init_open_charge_status() {
    let (_dir, path, s) = store(Cost::epsilon(1.0));
    assert_eq!(s.dataset(), "ae-2026");
    assert_eq!(s.total(), Cost::epsilon(1.0));
    let s = BudgetStore::open(&path).unwrap();
    let st = s.status().unwrap();
    assert!(st.verified());
    assert_eq!(st.spent, Cost::epsilon(0.0));
    assert_eq!(st.remaining, Cost::epsilon(1.0));
    assert_eq!(st.note.as_deref(), Some("panel of 3 Sep"));
    assert_eq!(st.store_id, s.store_id());
    assert_eq!(st.head, st.store_id);

    let r = s
        .charge(&Cost::epsilon(0.25), &rec("pets dp query").note("waits"))
        .unwrap();
    assert_eq!((r.entry, r.entries), (1, 2));
    assert_eq!(r.charged, Cost::epsilon(0.25));
    assert_eq!(r.spent, Cost::epsilon(0.25));
    assert_eq!(r.remaining, Cost::epsilon(0.75));
    assert_eq!(r.total, Cost::epsilon(1.0));
    assert_eq!(r.store_id, s.store_id());
    assert_eq!(r.dataset, "ae-2026");

    // Another handle, e.g. another notebook, sees and continues the same ledger.
    let other = BudgetStore::open(&path).unwrap();
    let r2 = other
        .charge(&Cost::epsilon(0.5), &rec("pets synth fit"))
        .unwrap();
    assert_eq!(r2.entry, 2);
    assert_eq!(r2.remaining, Cost::epsilon(0.25));

    let st = s.status().unwrap();
    assert!(st.verified());
    assert_eq!(st.n_entries(), 3);
    assert_eq!(st.spent, Cost::epsilon(0.75));
    assert_eq!(st.remaining, Cost::epsilon(0.25));
    assert_eq!(st.head, r2.head);
    let e = &st.entries[0];
    assert_eq!(e.seq, 1);
    assert_eq!(e.what, "pets dp query");
    assert_eq!(e.data.as_deref(), Some("ae.parquet"));
    assert_eq!(e.note.as_deref(), Some("waits"));
    assert_eq!(e.user.as_deref(), Some("analyst"));
    assert_eq!(e.hash, r.head);
    s.check_receipt(&r).unwrap();
    s.check_receipt(&r2).unwrap();

    // The format: one sealed JSON line per entry, each charge naming the hash before it.
    let ls = lines(&path);
    assert_eq!(ls.len(), 3);
    assert!(ls[0].starts_with("{\"seq\":0,\"kind\":\"pets-budget\",\"format\":1,"));
    assert!(ls[1].starts_with(&format!(
        "{{\"seq\":1,\"kind\":\"charge\",\"prev\":\"{}\"",
        st.store_id
    )));
    assert!(ls[2].ends_with(&format!(",\"hash\":\"{}\"}}", r2.head)));
    let v: serde_json::Value = serde_json::from_str(&ls[1]).unwrap();
    assert_eq!(v["cost"]["epsilon"], 0.25);
    assert_eq!(v["what"], "pets dp query");
}

#[test]
fn init_refuses_an_existing_file_and_bad_totals() {
    let (dir, path, s) = store(Cost::epsilon(1.0));
    s.charge(&Cost::epsilon(0.5), &rec("q")).unwrap();
    let before = std::fs::read(&path).unwrap();
    let e = BudgetStore::init(&path, Cost::epsilon(5.0), "ae-2026", None).unwrap_err();
    assert!(matches!(e, BudgetStoreError::Exists { .. }), "{e}");
    assert_eq!(e.kind(), BudgetErrorKind::File);
    assert!(e.to_string().contains("never reset"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    for bad in [
        Cost::epsilon(0.0),
        Cost::epsilon(-1.0),
        Cost::epsilon(f64::NAN),
        Cost::rho(f64::INFINITY),
        Cost::epsilon(1.0).with_delta(1.5),
    ] {
        let p = dir.path().join("bad.budget");
        let e = BudgetStore::init(&p, bad, "ae", None).unwrap_err();
        assert_eq!(e.kind(), BudgetErrorKind::Invalid, "{bad:?}: {e}");
        assert!(!p.exists());
    }
    let e = BudgetStore::init(dir.path().join("x"), Cost::epsilon(1.0), " ", None).unwrap_err();
    assert_eq!(e.kind(), BudgetErrorKind::Invalid);
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("ae.budget")]);
}

#[test]
fn a_refusal_writes_nothing() {
    let (_dir, path, s) = store(Cost::epsilon(1.0).with_delta(1e-6));
    s.charge(&Cost::epsilon(0.75).with_delta(1e-6), &rec("first"))
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    for cost in [
        Cost::epsilon(0.5),
        Cost::epsilon(0.1).with_delta(1e-9),
        Cost::epsilon(f64::NAN),
        Cost::rho(0.01),
    ] {
        assert!(s.charge(&cost, &rec("second")).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before, "{cost:?}");
    }
    let e = s.charge(&Cost::epsilon(0.5), &rec("second")).unwrap_err();
    assert_eq!(e.kind(), BudgetErrorKind::OverBudget);
    match e.as_dp() {
        Some(DpError::OverBudget {
            query,
            requested,
            remaining,
            spent,
            total,
        }) => {
            assert_eq!(query, "second");
            assert_eq!(*requested, Cost::epsilon(0.5));
            assert_eq!(*remaining, Cost::epsilon(0.25));
            assert_eq!(*spent, Cost::epsilon(0.75).with_delta(1e-6));
            assert_eq!(*total, Cost::epsilon(1.0).with_delta(1e-6));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("over budget"), "{e}");
    assert!(matches!(e.into_dp(), Ok(DpError::OverBudget { .. })));
    // Still usable: what fits is admitted.
    s.charge(&Cost::epsilon(0.25), &rec("third")).unwrap();
    assert_eq!(s.status().unwrap().remaining, Cost::epsilon(0.0));
}

#[test]
fn exact_arithmetic_across_entries() {
    // 0.1 is not a binary fraction: the f64 nearest it is a hair above, so exactly nine
    // fit in 1 and the tenth is refused (it would spend 1.0000000000000000555).
    let (_d, _p, s) = store(Cost::epsilon(1.0));
    for _ in 0..9 {
        s.charge(&Cost::epsilon(0.1), &rec("tenth")).unwrap();
    }
    let e = s.charge(&Cost::epsilon(0.1), &rec("tenth")).unwrap_err();
    assert_eq!(e.kind(), BudgetErrorKind::OverBudget);
    // Eighths fill it exactly, and then nothing more fits.
    let (_d, _p, s) = store(Cost::epsilon(1.0));
    for _ in 0..8 {
        s.charge(&Cost::epsilon(0.125), &rec("eighth")).unwrap();
    }
    let st = s.status().unwrap();
    assert_eq!(
        (st.spent, st.remaining),
        (Cost::epsilon(1.0), Cost::epsilon(0.0))
    );
    assert!(
        s.charge(&Cost::epsilon(f64::MIN_POSITIVE), &rec("crumb"))
            .is_err()
    );
    // Zero costs are recorded (a release that spends nothing is still a release).
    s.charge(&Cost::epsilon(0.0), &rec("free")).unwrap();
}

#[test]
fn measures_convert_like_the_accountant() {
    let (_d, _p, s) = store(Cost::rho(0.5));
    let r = s.charge(&Cost::epsilon(0.5), &rec("laplace")).unwrap();
    assert_eq!(r.charged, Cost::rho(0.125));
    assert_eq!(r.cost, Cost::epsilon(0.5));
    let r = s.charge(&Cost::rho(0.375), &rec("gaussian")).unwrap();
    assert_eq!(r.remaining, Cost::rho(0.0));
    let st = s.status().unwrap();
    assert_eq!(st.entries[0].charged, Cost::rho(0.125));
    assert_eq!(st.entries[0].cost, Cost::epsilon(0.5));

    let (_d, path, s) = store(Cost::epsilon(1.0));
    let before = std::fs::read(&path).unwrap();
    let e = s.charge(&Cost::rho(0.01), &rec("gaussian")).unwrap_err();
    assert_eq!(e.kind(), BudgetErrorKind::Invalid);
    assert!(matches!(
        e.as_dp(),
        Some(DpError::IncompatibleMeasure { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// A store with three charges of 0.125 (and their receipts).
fn three() -> (tempfile::TempDir, PathBuf, BudgetStore, Vec<ChargeReceipt>) {
    let (dir, path, s) = store(Cost::epsilon(1.0));
    let receipts = (1..=3)
        .map(|i| {
            s.charge(&Cost::epsilon(0.125), &rec(&format!("q{i}")))
                .unwrap()
        })
        .collect();
    (dir, path, s, receipts)
}

#[test]
fn every_kind_of_tampering_is_detected() {
    type Tamper = fn(&mut Vec<String>);
    let cases: &[(&str, Tamper, u64)] = &[
        (
            "edit a charge",
            |l| l[2] = edit(&l[2], "0.125", "0.0625", false),
            2,
        ),
        (
            "edit a charge and reseal it",
            |l| l[1] = edit(&l[1], "0.125", "0.0625", true),
            2,
        ),
        (
            "edit the last charge's text",
            |l| l[3] = edit(&l[3], "\"q3\"", "\"q4\"", false),
            3,
        ),
        (
            "edit the total",
            |l| l[0] = edit(&l[0], "\"epsilon\":1.0", "\"epsilon\":9.0", false),
            0,
        ),
        (
            "edit the total and reseal it",
            |l| l[0] = edit(&l[0], "\"epsilon\":1.0", "\"epsilon\":9.0", true),
            1,
        ),
        ("delete a charge", |l| drop(l.remove(2)), 2),
        ("delete the first charge", |l| drop(l.remove(1)), 1),
        ("swap two charges", |l| l.swap(2, 3), 2),
        ("insert a copy", |l| l.insert(2, l[1].clone()), 2),
        (
            "renumber a charge",
            |l| l[2] = edit(&l[2], "\"seq\":2", "\"seq\":7", true),
            2,
        ),
        (
            "add a field",
            |l| l[3] = edit(&l[3], "\"note\":null", "\"note\":null,\"x\":1", true),
            3,
        ),
        ("a blank line", |l| l.insert(2, String::new()), 2),
        ("garbage", |l| l.push("not json".into()), 4),
        (
            "reformat a line",
            |l| l[2] = edit(&l[2], "\"seq\":2,", "\"seq\": 2,", false),
            2,
        ),
        // A forged entry with a valid chain that overspends is still refused.
        (
            "forge an overspending entry",
            |l| {
                let prev = unseal(&l[3]).map(|(_, h)| h.to_string()).unwrap();
                let forged = edit(&l[3], "\"seq\":3", "\"seq\":4", false);
                let forged = edit(&forged, "0.125", "0.75", false);
                let (c, _) = unseal(&forged).unwrap();
                let old_prev = serde_json::from_str::<serde_json::Value>(&c).unwrap()["prev"]
                    .as_str()
                    .unwrap()
                    .to_string();
                l.push(edit(&forged, &old_prev, &prev, true));
            },
            4,
        ),
    ];
    for &(name, tamper, entry) in cases {
        let (_dir, path, s, _) = three();
        let mut ls = lines(&path);
        tamper(&mut ls);
        write_lines(&path, &ls);
        let before = std::fs::read(&path).unwrap();
        assert_eq!(broken_at(&path), entry, "{name}");
        // An already-open store refuses to charge, and writes nothing.
        let e = s.charge(&Cost::epsilon(0.01), &rec("after")).unwrap_err();
        assert_eq!(e.kind(), BudgetErrorKind::Broken, "{name}: {e}");
        assert!(e.to_string().contains("custodian must investigate"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{name}");
        assert!(s.verify().is_err(), "{name}");
    }
}

#[test]
fn a_torn_last_line_and_files_that_are_not_budgets() {
    let (_dir, path, _s, _) = three();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() - 10]).unwrap();
    assert_eq!(broken_at(&path), 3);
    std::fs::write(&path, &text[..text.len() - 1]).unwrap();
    assert_eq!(broken_at(&path), 3);

    for (text, what) in [
        ("", "empty"),
        ("hello\n", "not sealed"),
        ("{\"seq\":0}", "incomplete"),
    ] {
        std::fs::write(&path, text).unwrap();
        let e = BudgetStore::open(&path).unwrap_err();
        assert!(matches!(e, BudgetStoreError::Malformed { .. }), "{e}");
        assert!(e.to_string().contains(what), "{e}");
        assert_eq!(e.kind(), BudgetErrorKind::Broken);
    }
    let e = BudgetStore::open(path.with_extension("missing")).unwrap_err();
    assert_eq!(e.kind(), BudgetErrorKind::File);
}

#[test]
fn truncation_and_rewrites_are_caught_by_receipts() {
    // The documented limit: cutting the last entries leaves a valid chain...
    let (_dir, path, s, receipts) = three();
    let mut ls = lines(&path);
    ls.pop();
    write_lines(&path, &ls);
    let st = s.verify().unwrap();
    assert_eq!(st.entries.len(), 2);
    // ... but not one that matches the receipts handed out.
    s.check_receipt(&receipts[1]).unwrap();
    let e = s.check_receipt(&receipts[2]).unwrap_err();
    assert!(e.to_string().contains("cut from the end"), "{e}");

    // A rewrite that reseals everything after the edit verifies on its own, but not against
    // a receipt.
    let (_dir, path, s, receipts) = three();
    let mut ls = lines(&path);
    ls[3] = edit(&ls[3], "0.125", "0.0625", true);
    write_lines(&path, &ls);
    s.verify().unwrap();
    s.check_receipt(&receipts[1]).unwrap();
    let e = s.check_receipt(&receipts[2]).unwrap_err();
    assert!(e.to_string().contains("rewritten"), "{e}");

    // A receipt from another budget.
    let (_dir2, _p2, other, _) = three();
    assert!(other.check_receipt(&receipts[0]).is_err());
}

#[test]
fn a_replaced_file_is_not_charged() {
    let (dir, path, s, _) = three();
    let elsewhere = dir.path().join("other.budget");
    BudgetStore::init(&elsewhere, Cost::epsilon(100.0), "ae-2026", None).unwrap();
    std::fs::rename(&elsewhere, &path).unwrap();
    let e = s.charge(&Cost::epsilon(0.1), &rec("q")).unwrap_err();
    assert!(e.to_string().contains("replaced"), "{e}");
}

#[test]
fn concurrent_charges_never_overspend() {
    // 16 threads, each with its own handle, try 3 charges of 1/8 against a budget of 1 at
    // once: exactly 8 are admitted, the chain stays whole, and the receipts number 1..=8.
    let (_dir, path, _s) = store(Cost::epsilon(1.0));
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let s = BudgetStore::open(&path).unwrap();
                barrier.wait();
                (0..3)
                    .map(|i| s.charge(&Cost::epsilon(0.125), &rec(&format!("t{t}.{i}"))))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut admitted = Vec::new();
    for h in handles {
        for r in h.join().unwrap() {
            match r {
                Ok(r) => admitted.push(r.entry),
                Err(e) => assert_eq!(e.kind(), BudgetErrorKind::OverBudget, "{e}"),
            }
        }
    }
    admitted.sort_unstable();
    assert_eq!(admitted, (1..=8).collect::<Vec<_>>());
    let st = BudgetStore::open(&path).unwrap().status().unwrap();
    assert!(st.verified());
    assert_eq!(st.entries.len(), 8);
    assert_eq!(st.spent, Cost::epsilon(1.0));
    assert_eq!(st.remaining, Cost::epsilon(0.0));
}

#[test]
fn concurrent_inits_make_one_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ae.budget");
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                BudgetStore::init(&path, Cost::epsilon(1.0 + t as f64), "ae", None).is_ok()
            })
        })
        .collect();
    let made = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(made, 1);
    assert!(BudgetStore::open(&path).unwrap().verify().is_ok());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
