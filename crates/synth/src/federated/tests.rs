//! The federated fit's vectors before noise are the pooled counts, cell for cell; its
//! charge is the sum of its rounds and within the budget; one person moves the round
//! vectors by at most the stated L2 bound; bad trusts fail with typed errors.

use arrow_array::RecordBatch;
use pets::data::{EncodedColumn, Schema, TableSource};
use pets::federated::{TrustInput, split_by_column};
use pets::partial::{MarginalCounts, Partial};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};

use super::*;

fn ae(rows: u64) -> (Schema, Vec<RecordBatch>) {
    let cfg = AeConfig::new(rows, 3).with_batch_rows(1_000);
    let schema = Schema::from_json(&ae_schema_for(&cfg).to_json()).unwrap();
    (schema, AeGenerator::new(cfg).unwrap().collect())
}

fn whole(batches: &[RecordBatch]) -> TableSource {
    TableSource::batches("whole", batches[0].schema(), batches.to_vec())
}

fn pooled_counts(schema: &Schema, batches: &[RecordBatch], max_pair_values: u32) -> MarginalCounts {
    let bytes = FitJob::new(whole(batches), 1.0, 1e-9)
        .schema(schema.clone())
        .partial()
        .unwrap();
    let Some(Partial::Marginals(m)) = Partial::merge_bytes(&[bytes]).unwrap() else {
        panic!("marginal counts expected")
    };
    assert_eq!(m.max_pair_values, max_pair_values);
    m
}

fn sum(vectors: &[Vec<i64>]) -> Vec<i64> {
    let mut out = vec![0i64; vectors[0].len()];
    for v in vectors {
        assert_eq!(v.len(), out.len());
        out.iter_mut().zip(v).for_each(|(o, x)| *o += x);
    }
    out
}

#[test]
fn before_noise_the_rounds_sum_to_the_pooled_counts_cell_for_cell() {
    let (schema, batches) = ae(4_000);
    let trusts =
        split_by_column(&whole(&batches), Some(&schema), "provider_code", Some(4)).unwrap();
    let job = FederatedFitJob::new(schema.clone(), 1.0, 1e-9);
    let locals: Vec<TrustColumns> = trusts.iter().map(|t| job.read_trust(t).unwrap()).collect();
    let owned: Vec<Vec<Cow<'_, EncodedColumn>>> = locals
        .iter()
        .map(|l| crate::mst::synthesis_columns(&l.table, &[], &l.bounded).unwrap())
        .collect();
    let cols: Vec<Vec<&EncodedColumn>> = owned
        .iter()
        .map(|c| c.iter().map(|c| c.as_ref()).collect())
        .collect();
    let pooled = pooled_counts(&schema, &batches, 4_096);
    let names: Vec<&str> = cols[0].iter().map(|c| c.name()).collect();
    assert_eq!(names, pooled.columns);
    assert!(names.contains(&"arrival_datetime.period"), "{names:?}");
    let d = names.len();
    // Round A, plain and weighted.
    let ones = vec![1u64; d];
    let a = sum(&cols
        .iter()
        .map(|c| one_way_vector(c, &ones))
        .collect::<Vec<_>>());
    let want: Vec<i64> = pooled.one_way.iter().flatten().map(|&c| c as i64).collect();
    assert_eq!(a, want);
    let w: Vec<u64> = (0..d as u64).map(|i| 1 + i % 5).collect();
    let aw = sum(&cols
        .iter()
        .map(|c| one_way_vector(c, &w))
        .collect::<Vec<_>>());
    let want_w: Vec<i64> = pooled
        .one_way
        .iter()
        .zip(&w)
        .flat_map(|(v, &w)| v.iter().map(move |&c| c as i64 * w as i64))
        .collect();
    assert_eq!(aw, want_w);
    // Rounds B and C: every candidate pair, under the identity and a folding compression.
    let pairs: Vec<(usize, usize)> = pooled
        .pairs
        .iter()
        .map(|p| (p.a as usize, p.b as usize))
        .collect();
    assert!(pairs.len() > 100, "{}", pairs.len());
    let full: Vec<usize> = pooled.cards.iter().map(|&k| k as usize).collect();
    let identity: Vec<Vec<u32>> = full.iter().map(|&k| (0..k as u32).collect()).collect();
    let folded: Vec<usize> = full.iter().map(|&k| k.min(5)).collect();
    let fold: Vec<Vec<u32>> = full
        .iter()
        .zip(&folded)
        .map(|(&k, &f)| (0..k as u32).map(|i| i % f as u32).collect())
        .collect();
    for (maps, sizes) in [(&fold, &folded), (&identity, &full)] {
        let pw: Vec<u64> = (0..pairs.len() as u64).map(|i| 1 + i % 3).collect();
        let b = sum(&cols
            .iter()
            .map(|c| pair_vector(c, &pairs, maps, sizes, &pw).unwrap())
            .collect::<Vec<_>>());
        let mut want = Vec::new();
        for (&(x, y), &w) in pairs.iter().zip(&pw) {
            let t = pooled
                .mapped_pair(x, y, (&maps[x], sizes[x]), (&maps[y], sizes[y]))
                .unwrap();
            want.extend(t.iter().map(|&c| c as i64 * w as i64));
        }
        assert_eq!(b, want);
    }
}

#[test]
fn the_fit_charges_the_sum_of_its_rounds_within_the_budget_and_samples() {
    let (schema, batches) = ae(6_000);
    let trusts =
        split_by_column(&whole(&batches), Some(&schema), "provider_code", Some(3)).unwrap();
    let trusts: Vec<TrustInput> = trusts
        .into_iter()
        .map(|t| t.person_id("nhs_number"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let budget = dir.path().join("budget.json");
    pets::dp::budget_store::BudgetStore::init(
        &budget,
        Cost::epsilon(3.0).with_delta(1e-6),
        "ae",
        None,
    )
    .unwrap();
    let out = FederatedFitJob::new(schema.clone(), 1.0, 1e-9)
        .max_rows_per_person(2)
        .max_trusts_per_person(Some(2))
        .budget(Some(budget.clone()))
        .run(&trusts)
        .unwrap();
    let model = &out.fit.model;
    assert_eq!(model.method, FEDERATED_MST);
    let rho = crate::mst::cdp_rho(1.0, 1e-9).unwrap();
    assert_eq!(model.rho, rho);
    let names: Vec<&str> = out.rounds.iter().map(|r| r.round.as_str()).collect();
    assert_eq!(names, ["A", "B", "C"]);
    // Every ledger entry is a round (or a part of one), and they add up to the charge.
    let entries = &model.ledger.entries;
    assert!(entries.len() >= 3);
    assert!(
        entries
            .iter()
            .all(|e| e.query.starts_with("mst (federated): round "))
    );
    let by_round: f64 = out.rounds.iter().map(|r| r.rho).sum();
    let spent = model.ledger.spent.main();
    assert!(
        (by_round - spent).abs() <= 1e-12 * rho,
        "{by_round} {spent}"
    );
    assert!(spent <= rho, "{spent} > {rho}");
    assert!(spent >= rho * (1.0 - 1e-4), "{spent} << {rho}");
    // Each round's share is MST's split.
    let cards: Vec<u32> = model.codebooks.iter().map(|c| c.cardinality()).collect();
    let split = MstBudget::new(&cards, &crate::MstOptions::new(1.0, 1e-9), false).unwrap();
    for (r, want) in out
        .rounds
        .iter()
        .zip([split.rho1, split.rho_sel, split.rho2])
    {
        assert!(
            r.rho <= want && r.rho >= want * (1.0 - 1e-4),
            "{} {} {want}",
            r.round,
            r.rho
        );
    }
    // Person-level, T = 2: the sensitivity of round A is (m T)^2 sum_k w_k^2.
    assert!(
        entries
            .iter()
            .all(|e| e.contribution.max_rows_per_person == 2)
    );
    assert_eq!(model.selected.len(), split.rounds);
    // The tree's pairs are measured twice (rounds B and C), the 1-ways once.
    assert_eq!(
        model.measurements.len(),
        cards.len() + 2 * model.selected.len()
    );
    assert!(model.budget_receipt.is_some());
    let file = std::fs::read_to_string(&budget).unwrap();
    assert!(file.contains("pets federated fit (MST)"), "{file}");
    // The same kind of model file: saved, loaded, sampled into the declared columns.
    let path = dir.path().join("model.json");
    model.save(&path).unwrap();
    let loaded = crate::SynthModel::load(&path).unwrap();
    let sample = loaded.sample_table(200, 1).unwrap();
    assert_eq!(sample.n_rows(), 200);
    assert!(!model.output.is_empty());
    // No exact count of any trust in the rounds' reports (only bytes, trusts, timings).
    let json = serde_json::to_string(&out.rounds).unwrap();
    assert!(!json.contains("\"counts\""));
}

/// Three trusts' CSV files of two categoricals and a person id; `p0` has five rows at
/// trusts 0 and 1, `without_p0` leaves them out.
fn small_trusts(dir: &std::path::Path, without_p0: bool) -> Vec<TrustInput> {
    (0..3)
        .map(|t| {
            let mut rows = String::from("sex,band,pid\n");
            for i in 0..60 {
                rows += &format!(
                    "{},{},q{t}_{}\n",
                    ["F", "M"][(i + t) % 2],
                    ["a", "b", "c"][i % 3],
                    i / 2
                );
            }
            if t < 2 && !without_p0 {
                for i in 0..5 {
                    rows += &format!("M,{},p0\n", ["a", "c"][i % 2]);
                }
            }
            let path = dir.join(format!("t{t}_{without_p0}.csv"));
            std::fs::write(&path, rows).unwrap();
            TrustInput::new(format!("t{t}"), TableSource::file(path)).person_id("pid")
        })
        .collect()
}

fn small_schema() -> Schema {
    Schema::from_json(
        r#"{"columns": [
        {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
        {"name": "band", "kind": "categorical", "values": ["a", "b", "c"]},
        {"name": "pid", "kind": "text", "role": "direct_identifier"}
    ]}"#,
    )
    .unwrap()
}

#[test]
fn removing_one_person_moves_every_round_vector_by_at_most_the_charged_l2_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (m, t) = (2u32, 2u32);
    let job = FederatedFitJob::new(small_schema(), 1.0, 1e-9).max_rows_per_person(m);
    let vectors = |without: bool| {
        let trusts = small_trusts(dir.path(), without);
        let locals: Vec<TrustColumns> = trusts.iter().map(|t| job.read_trust(t).unwrap()).collect();
        let owned: Vec<Vec<Cow<'_, EncodedColumn>>> = locals
            .iter()
            .map(|l| crate::mst::synthesis_columns(&l.table, &[], &l.bounded).unwrap())
            .collect();
        let cols: Vec<Vec<&EncodedColumn>> = owned
            .iter()
            .map(|c| c.iter().map(|c| c.as_ref()).collect())
            .collect();
        let w = [3u64, 5];
        let a = sum(&cols
            .iter()
            .map(|c| one_way_vector(c, &w))
            .collect::<Vec<_>>());
        let maps = vec![vec![0u32, 1], vec![0, 1, 1]];
        let sizes = [2usize, 2];
        let b = sum(&cols
            .iter()
            .map(|c| pair_vector(c, &[(0, 1)], &maps, &sizes, &[7]).unwrap())
            .collect::<Vec<_>>());
        (a, b)
    };
    let (a0, b0) = vectors(false);
    let (a1, b1) = vectors(true);
    let d2 = |x: &[i64], y: &[i64]| -> f64 {
        x.iter().zip(y).map(|(p, q)| ((p - q) as f64).powi(2)).sum()
    };
    let per = f64::from(m * t).powi(2);
    // Round A: tables weighted 3 and 5: (m T)^2 (9 + 25).
    let da = d2(&a0, &a1);
    assert!(da > 0.0 && da <= per * 34.0, "{da}");
    // The person's kept rows (2 at each of 2 trusts) are all M: the sex table moves by
    // exactly m T w in one cell, the bound's worst case for that table.
    assert_eq!((a0[1] - a1[1]).abs(), i64::from(m * t) * 3);
    let db = d2(&b0, &b1);
    assert!(db > 0.0 && db <= per * 49.0, "{db}");
    // The spec the round would charge says the same.
    let spec = VectorSpec::counts(
        "a",
        vec![],
        vec![count_table("sex", 2, 3), count_table("band", 3, 5)],
    )
    .unwrap();
    assert_eq!(spec.l2_squared(m, t), per * 34.0);
}

#[test]
fn bad_trusts_and_rounds_fail_with_typed_errors_before_any_charge() {
    use pets::Classify;
    let dir = tempfile::tempdir().unwrap();
    let trusts = small_trusts(dir.path(), false);
    let job = FederatedFitJob::new(small_schema(), 1.0, 1e-9);
    // Too few trusts.
    let err = job.run(&trusts[..1]).unwrap_err();
    assert_eq!(err.kind(), pets::ErrorKind::InvalidParameter, "{err}");
    assert!(err.to_string().contains("2 to"), "{err}");
    // A trust whose schema declares a column otherwise.
    let mut other = small_schema();
    other.columns[1] = serde_json::from_value(serde_json::json!(
        {"name": "band", "kind": "categorical", "values": ["a", "b", "c", "d"]}
    ))
    .unwrap();
    let mut odd = trusts.clone();
    odd[2] = odd[2].clone().schema(other);
    let err = job.run(&odd).unwrap_err();
    assert!(
        err.to_string().contains("t2") && err.to_string().contains("schema"),
        "{err}"
    );
    assert_eq!(err.kind(), pets::ErrorKind::Input);
    // A value outside the declared domain at one trust: named with the trust and column.
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "sex,band,pid\nF,a,x\nX,b,y\n").unwrap();
    let mut bad = trusts.clone();
    bad[1] = TrustInput::new("t1", TableSource::file(&path)).person_id("pid");
    let err = job.run(&bad).unwrap_err();
    assert!(
        matches!(&err, SynthError::Trust { trust, .. } if trust == "t1"),
        "{err}"
    );
    assert_eq!(err.column(), Some("sex"), "{err}");
    // A column whose 1-way alone passes one round's cells.
    let wide = Schema::from_json(
        r#"{"columns": [
        {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
        {"name": "n", "kind": "integer", "min": 0, "max": 4500000}
    ]}"#,
    )
    .unwrap();
    let ts: Vec<TrustInput> = (0..2)
        .map(|t| {
            let p = dir.path().join(format!("w{t}.csv"));
            std::fs::write(&p, "sex,n\nF,1\nM,2\n").unwrap();
            TrustInput::new(format!("w{t}"), TableSource::file(p))
        })
        .collect();
    let err = FederatedFitJob::new(wide, 1.0, 1e-9)
        .max_values(5_000_000)
        .run(&ts)
        .unwrap_err();
    assert_eq!(err.kind(), pets::ErrorKind::InvalidParameter, "{err}");
    assert!(
        err.to_string().contains("n ") && err.to_string().contains("cells"),
        "{err}"
    );
}

#[test]
fn the_noisy_score_puts_pure_noise_near_zero_whatever_the_size_and_ranks_dependence_first() {
    assert!((excess_over_threshold(0.0) - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-9);
    // E[max(|Z| - 1, 0)] = 2 (phi(1) - (1 - Phi(1))) = 0.16663.
    assert!((excess_over_threshold(1.0) - 0.166_63).abs() < 1e-4);
    // Independent tables of 4 and 400 cells with noise of sigma 10: mean score near 0.
    let sigma = 10.0;
    for k in [2usize, 20] {
        let p = vec![1.0 / k as f64; k];
        let noise = pets::federated::DistributedNoise::new(sigma, 1, 1, 1.0, 1)
            .unwrap()
            .sample_share(k * k * 200)
            .unwrap();
        let total = 1e5;
        let mean: f64 = noise
            .chunks(k * k)
            .map(|z| {
                let y: Vec<f64> = z
                    .iter()
                    .map(|&e| total / (k * k) as f64 + e as f64)
                    .collect();
                noisy_pair_score(&y, &p, &p, total, sigma, 1.0)
            })
            .sum::<f64>()
            / 200.0;
        // The floor of k^2 cells is k^2 sigma 0.167; what is left is the margin, two
        // standard deviations of the pure-noise score below zero.
        let margin = NOISE_SD_MARGIN * sigma * (k as f64) * excess_sd(1.0);
        assert!(
            (mean + margin).abs() < 0.1 * margin + 5.0,
            "{k}: {mean} {margin}"
        );
    }
    // A dependent 2 x 2 table scores far above.
    let y = [40_000.0, 10_000.0, 10_000.0, 40_000.0];
    assert!(noisy_pair_score(&y, &[0.5, 0.5], &[0.5, 0.5], 1e5, sigma, 1.0) > 50_000.0);
    // Kruskal: best edges first, no cycle, at most `rounds`.
    let pairs = [(0, 1), (1, 2), (0, 2), (2, 3)];
    let tree = max_spanning_tree(4, &pairs, &[5.0, 4.0, 9.0, -1.0], 3);
    assert_eq!(tree, vec![2, 0, 3]);
    assert_eq!(weights(&[0.5, 0.5]), vec![1, 1]);
    assert_eq!(weights(&[1.0, 0.25]), vec![16, 8]);
}

#[test]
fn prio3_and_a_trust_that_drops_out_of_every_round_still_give_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let trusts = small_trusts(dir.path(), false);
    let out = FederatedFitJob::new(small_schema(), 2.0, 1e-9)
        .protocol(Protocol::Prio3)
        .max_rows_per_person(2)
        .run(&trusts)
        .unwrap();
    assert!(out.rounds.iter().all(|r| r.reports[0].counted.len() == 3));
    assert!(
        out.rounds
            .iter()
            .all(|r| r.reports[0].bytes_between_aggregators > 0)
    );
    assert_eq!(out.fit.model.sample_table(20, 3).unwrap().n_rows(), 20);
    // Secure aggregation, t2 gone before its masked input in every round: the others'
    // sums are released, and the model notes say who was counted.
    let mut dropping = trusts.clone();
    dropping[2] = dropping[2]
        .clone()
        .drop_at(pets::federated::DropPoint::BeforeMasked);
    let out = FederatedFitJob::new(small_schema(), 2.0, 1e-9)
        .run(&dropping)
        .unwrap();
    for r in &out.rounds {
        assert_eq!(
            r.reports[0].counted,
            vec!["t0".to_string(), "t1".to_string()]
        );
        assert_eq!(r.reports[0].dropped.len(), 1);
    }
    assert!(
        out.fit.model.notes.iter().any(|n| n.contains("counted 2")),
        "{:?}",
        out.fit.model.notes
    );
}

#[test]
fn a_round_past_one_protocol_rounds_cells_is_cut_between_tables() {
    let t = |cells: usize| count_table("x", cells, 1);
    let layout = [
        t(3_000_000),
        t(900_000),
        t(100_000),
        t(1),
        t(5_000_000),
        t(2),
    ];
    let parts = chunks(&layout);
    // 3M + 0.9M + 0.1M = 4M fits one round; the 1-cell table starts the next; a table past
    // the limit is a part of its own (refused by the round, naming it); then the rest.
    assert_eq!(parts, vec![0..3, 3..4, 4..5, 5..6]);
    assert_eq!(chunks(&layout[..2]), vec![0..2]);
    // Every table in exactly one part, in order.
    let covered: Vec<usize> = parts.iter().flat_map(|r| r.clone()).collect();
    assert_eq!(covered, (0..layout.len()).collect::<Vec<_>>());
}

/// The network's trust side: a trust computes a round's vector from its own table with
/// the coordinator's work, and refuses (typed, before anything leaves it) a work whose
/// columns, compression maps or layout are not its own.
#[test]
fn a_trust_computes_the_coordinators_work_and_refuses_one_that_is_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let trusts = small_trusts(dir.path(), false);
    let schema = small_schema();
    let mut remote = FederatedFitJob::new(schema.clone(), 1.0, 1e-9)
        .remote()
        .unwrap();
    let a = remote.next_round().unwrap();
    assert_eq!((a.round.as_str(), a.parts.len()), ("A", 1));
    let work = a.parts[0].0.clone();
    assert_eq!(work.columns, ["sex", "band"]);
    let trust = FitTrust::read("t0", trusts[0].source.clone(), &schema, &work, None, 1).unwrap();
    let local = trust.vector(&work).unwrap();
    assert_eq!(local.layout, work.layout);
    let weights = match &work.tables {
        FitTables::OneWay { weights } => weights.clone(),
        other => panic!("{other:?}"),
    };
    let job = FederatedFitJob::new(schema.clone(), 1.0, 1e-9);
    let cols = job
        .read_trust(&TrustInput::new("t0", trusts[0].source.clone()))
        .unwrap();
    let owned = crate::mst::synthesis_columns(&cols.table, &[], &cols.bounded).unwrap();
    let refs: Vec<&EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
    assert_eq!(local.values, one_way_vector(&refs, &weights));
    // Another column order, maps of the wrong length, codes past the compressed size, a
    // layout that is not the one the work's tables give: refused, naming what.
    let mut other = work.clone();
    other.columns.reverse();
    let e = trust.vector(&other).unwrap_err().to_string();
    assert!(e.contains("synthesis columns"), "{e}");
    let pairs = |maps: Vec<Vec<u32>>, sizes: Vec<usize>| FitRoundWork {
        round: "B".into(),
        tables: FitTables::Pairs {
            pairs: vec![(0, 1)],
            maps,
            sizes: sizes.clone(),
            weights: vec![1],
        },
        first: 0,
        layout: pair_layout(&work.columns, &[(0, 1)], &sizes, &[1]),
        ..work.clone()
    };
    let ok = pairs(vec![vec![0, 1], vec![0, 1, 1]], vec![2, 2]);
    assert_eq!(trust.vector(&ok).unwrap().values.len(), 4);
    for bad in [
        pairs(vec![vec![0, 1], vec![0, 1]], vec![2, 2]),
        pairs(vec![vec![0, 1], vec![0, 1, 2]], vec![2, 2]),
    ] {
        let e = trust.vector(&bad).unwrap_err().to_string();
        assert!(e.contains("compression maps"), "{e}");
    }
    let mut wrong = ok.clone();
    wrong.layout[0].weight = 5;
    let e = trust.vector(&wrong).unwrap_err().to_string();
    assert!(e.contains("laid out differently"), "{e}");
}
