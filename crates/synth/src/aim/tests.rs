//! AIM's tests: the budget (ledger, annealing), the score's sensitivity, the selection on a
//! planted 3-way structure, and the model against MST's.

use super::*;
use crate::inference::Factor;
use pets::data::{CodeBook, ColumnSpec, EncodedTable};

/// A small deterministic generator (splitmix64), so the tests need no RNG crate.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn column(name: &str, n: u32, codes: Vec<u32>) -> EncodedColumn {
    EncodedColumn {
        spec: ColumnSpec::integer(name, 0, i64::from(n) - 1),
        codebook: CodeBook {
            n_values: n,
            null_code: None,
            other_code: None,
        },
        codes,
    }
}

/// A planted 3-way dependence no pair shows: `c = (a + b) mod 3` 90% of the time (else
/// uniform), with `a`, `b` uniform and independent, so every pair of `a, b, c` is
/// independent; `d` and `e` independent of everything.
fn planted(rows: usize, seed: u64) -> EncodedTable {
    let mut g = Mix(seed);
    let mut cols: Vec<Vec<u32>> = vec![Vec::new(); 5];
    for _ in 0..rows {
        let (a, b) = (g.below(3), g.below(3));
        let c = if g.unit() < 0.9 {
            (a + b) % 3
        } else {
            g.below(3)
        };
        cols[0].push(a);
        cols[1].push(b);
        cols[2].push(c);
        cols[3].push(g.below(4));
        cols[4].push(g.below(2));
    }
    let mut it = cols.into_iter();
    EncodedTable::from_columns(vec![
        column("a", 3, it.next().unwrap()),
        column("b", 3, it.next().unwrap()),
        column("c", 3, it.next().unwrap()),
        column("d", 4, it.next().unwrap()),
        column("e", 2, it.next().unwrap()),
    ])
    .unwrap()
}

/// Total variation distance of a fitted model's marginal over `attrs` from the table's.
fn tvd(model: &SynthModel, table: &EncodedTable, attrs: &[usize]) -> f64 {
    let g = model.graph_model().unwrap();
    let p = g.project(attrs, u64::MAX).unwrap().to_vec();
    let ident: Vec<Vec<u32>> = attrs
        .iter()
        .map(|&a| (0..g.sizes[a] as u32).collect())
        .collect();
    let spec: Vec<(&[u32], &[u32], usize)> = attrs
        .iter()
        .zip(&ident)
        .map(|(&a, id)| {
            (
                table.columns()[a].codes.as_slice(),
                id.as_slice(),
                g.sizes[a],
            )
        })
        .collect();
    let x = count_mapped(&spec);
    let n = table.n_rows() as f64;
    0.5 * x
        .iter()
        .zip(&p)
        .map(|(&c, &q)| (c as f64 / n - q).abs())
        .sum::<f64>()
}

fn uncompressed(epsilon: f64) -> AimOptions {
    let mut o = AimOptions::new(epsilon, 1e-9);
    o.compress = false;
    o
}

/// The paper's AIM: the 1-ways first, no MST tree.
fn paper(epsilon: f64) -> AimOptions {
    let mut o = uncompressed(epsilon);
    o.tree_share = 0.0;
    o
}

#[test]
fn candidates_are_the_downward_closure_weighted_by_overlap() {
    let c = workload_candidates(&[vec![0, 1, 2], vec![1, 2, 3]]);
    let get = |r: &[usize]| c.iter().find(|(x, _)| x == r).map(|x| x.1);
    // 4 single columns, 5 pairs (0-1, 0-2, 1-2, 1-3, 2-3), 2 triples.
    assert_eq!(c.len(), 4 + 5 + 2);
    assert_eq!(get(&[0]), Some(1));
    assert_eq!(get(&[1]), Some(2));
    assert_eq!(get(&[1, 2]), Some(4));
    assert_eq!(get(&[0, 1]), Some(1 + 1 + 1));
    assert_eq!(get(&[0, 1, 2]), Some(3 + 2));
    assert_eq!(get(&[0, 3]), None);
    // Smaller first.
    assert!(c.windows(2).all(|w| w[0].0.len() <= w[1].0.len()));
}

#[test]
fn one_row_moves_every_score_by_at_most_its_weight() {
    let mut g = Mix(3);
    for case in 0..300 {
        let n = 1 + g.below(40) as usize;
        let x: Vec<u32> = (0..n)
            .map(|_| g.below(if case % 2 == 0 { 4 } else { 50_000 }))
            .collect();
        let e: Vec<f64> = (0..n).map(|_| g.unit() * 1_000.0).collect();
        let w_max = 1 + u64::from(g.below(200));
        let w = 1 + u64::from(g.below(w_max as u32));
        let penalty = [0.0, 3.7, 1e4, 1e9][case % 4];
        let grid = aim_score_grid(1e5, penalty, w_max);
        let base = aim_score(&x, &e, w, penalty, grid, w_max);
        for cell in 0..n {
            for delta in [1i64, -1] {
                if delta < 0 && x[cell] == 0 {
                    continue;
                }
                let mut y = x.clone();
                y[cell] = (i64::from(y[cell]) + delta) as u32;
                let moved = (aim_score(&y, &e, w, penalty, grid, w_max) - base).abs();
                assert!(moved <= w as f64, "case {case}: {moved} > {w}");
            }
        }
    }
    // The bound is reached away from the clamps: one row where the estimate is zero.
    let s0 = aim_score(&[0, 5], &[0.0, 5.0], 7, 0.0, 20, 10);
    let s1 = aim_score(&[1, 5], &[0.0, 5.0], 7, 0.0, 20, 10);
    assert_eq!((s0, s1), (0.0, 7.0));
    // Weighted L1 error minus the penalty, exactly on the grid.
    let s = aim_score(&[10, 0, 3], &[7.5, 1.0, 3.0], 3, 1.25, 10, 3);
    assert_eq!(s, 3.0 * (2.5 + 1.0 + 0.0 - 1.25));
}

#[test]
fn the_budget_follows_the_paper_and_annealing_halves_sigma() {
    let rho = cdp_rho(1.0, 1e-9).unwrap();
    let t = 80;
    let b = RoundBudget::initial(rho, t);
    assert!((b.total() - rho / t as f64).abs() < 1e-12 * rho);
    // sigma = sqrt(T / (2 * 0.9 rho)), epsilon = sqrt(8 * 0.1 rho / T) at sensitivity 1.
    let sigma = DiscreteGaussian::for_rho(1.0, b.measure).unwrap().scale();
    let want = (t as f64 / (2.0 * 0.9 * rho)).sqrt();
    assert!((sigma / want - 1.0).abs() < 1e-6, "{sigma} vs {want}");
    let eps = (8.0 * b.select).sqrt();
    assert!((eps / (8.0 * 0.1 * rho / t as f64).sqrt() - 1.0).abs() < 1e-9);
    let a = b.annealed();
    let sigma2 = DiscreteGaussian::for_rho(1.0, a.measure).unwrap().scale();
    assert!((sigma2 / sigma - 0.5).abs() < 1e-6, "{sigma2} / {sigma}");
    let scale = |r: f64| {
        Selection::for_cost(1.0, false, 10, &Cost::rho(r))
            .unwrap()
            .scale()
    };
    assert!((scale(a.select) / scale(b.select) - 0.5).abs() < 1e-6);
    // The last round takes what is left, 90/10, rounded down.
    let l = RoundBudget::last(0.004);
    assert!(l.total() <= 0.004 && l.total() > 0.004 * (1.0 - 1e-12));
    assert!((l.select / l.total() - 0.1).abs() < 1e-9);
}

#[test]
fn spends_exactly_the_budget_and_the_ledger_adds_up() {
    let t = planted(4_000, 1);
    for (eps, rounds) in [(1.0, None), (0.3, Some(5)), (8.0, None)] {
        let mut o = AimOptions::new(eps, 1e-9);
        o.rounds = rounds;
        let model = fit_aim(&t, &[], &o).unwrap();
        assert_eq!(model.method, "aim");
        let rho = cdp_rho(eps, 1e-9).unwrap();
        assert_eq!(model.rho, rho);
        let spent = model.ledger.spent.main();
        assert!(spent <= rho, "{spent} > {rho}");
        assert!(spent >= rho * (1.0 - 1e-9), "eps {eps}: {spent} < {rho}");
        let sum: f64 = model.ledger.entries.iter().map(|e| e.charged.main()).sum();
        assert!((sum - spent).abs() <= 1e-12 * rho, "{sum} vs {spent}");
        // 5 one-ways, then a selection and a measurement per round.
        let k = model.selected.len();
        assert!(k >= 1);
        assert_eq!(model.ledger.entries.len(), 5 + 2 * k);
        assert_eq!(model.measurements.len(), 5 + k);
        assert!(
            model
                .ledger
                .entries
                .iter()
                .all(|e| e.query.starts_with("aim: "))
        );
        assert_eq!(model.sample_table(100, 1).unwrap().n_rows(), 100);
    }
}

#[test]
fn annealing_halves_sigma_when_a_measurement_teaches_little() {
    let t = planted(3_000, 2);
    let model = fit_aim(&t, &[], &paper(30.0)).unwrap();
    let sig: Vec<f64> = model.measurements[5..]
        .iter()
        .map(|m| m.measurement.sigma)
        .collect();
    assert!(sig.len() >= 3, "{sig:?}");
    // Between rounds before the last, sigma stays or halves; it halves at least once.
    let ratios: Vec<f64> = sig[..sig.len() - 1]
        .windows(2)
        .map(|w| w[1] / w[0])
        .collect();
    assert!(
        ratios
            .iter()
            .all(|r| (r - 1.0).abs() < 1e-9 || (r - 0.5).abs() < 1e-6),
        "{ratios:?}"
    );
    assert!(ratios.iter().any(|r| (r - 0.5).abs() < 1e-6), "{ratios:?}");
    assert!(model.notes[0].contains("sigma halved"), "{:?}", model.notes);
}

#[test]
fn selection_picks_the_planted_three_way_clique_first() {
    let t = planted(20_000, 3);
    for seed_fit in 0..2 {
        let model = fit_aim(&t, &[], &paper(10.0)).unwrap();
        assert_eq!(
            model.selected[0],
            ["a", "b", "c"],
            "fit {seed_fit}: {:?}",
            model.selected
        );
    }
}

#[test]
fn reproduces_a_planted_three_way_structure_better_than_mst() {
    let t = planted(20_000, 4);
    // The default (MST's tree first, then the rounds) and the paper's start.
    for o in [uncompressed(10.0), paper(10.0)] {
        reproduces_planted_with(&t, &o);
    }
}

fn reproduces_planted_with(t: &EncodedTable, o: &AimOptions) {
    let aim = fit_aim(t, &[], o).unwrap();
    let mst = crate::fit_mst(t, &[], &crate::MstOptions::new(10.0, 1e-9)).unwrap();
    let (ta, tm) = (tvd(&aim, t, &[0, 1, 2]), tvd(&mst, t, &[0, 1, 2]));
    // MST's tree of pairs cannot hold a dependence no pair shows: ~0.3 TVD.
    assert!(ta < 0.05 && tm > 0.2, "AIM {ta}, MST {tm}");
    // And AIM's samples show it: c = a + b mod 3 in about 90% + 10%/3 of rows.
    let s = aim.sample_table(5_000, 7).unwrap();
    let col = |i: usize| &s.columns()[i].codes;
    let hits = (0..5_000)
        .filter(|&r| (col(0)[r] + col(1)[r]) % 3 == col(2)[r])
        .count() as f64
        / 5_000.0;
    assert!(hits > 0.85, "{hits}");
}

#[test]
fn person_level_fits_scale_every_sensitivity_by_m() {
    use pets::dp::bounding::RowKeys;
    let t = planted(4_000, 5);
    let ids: Vec<u32> = (0..t.n_rows() as u32).map(|r| (r + r % 4) / 4).collect();
    let n_keys = *ids.iter().max().unwrap() as usize + 1;
    let keys = RowKeys::from_ids("person", ids, n_keys).unwrap();
    let bounded = Bounded::by_person(&keys, 3, 1).unwrap();
    let o = AimOptions::new(1.0, 1e-9);
    let model = fit_aim_bounded_with(&t, &[], &o, &bounded, &Progress::none()).unwrap();
    let spent = model.ledger.spent.main();
    assert!(spent <= model.rho && spent >= model.rho * (1.0 - 1e-9));
    // Default workload over 5 columns: 10 triples; the largest weight is a pair's or a
    // triple's overlap sum, the same for every round's candidates at this size.
    let w_max = workload_candidates(&resolve_default(5))
        .iter()
        .map(|c| c.1)
        .max()
        .unwrap() as f64;
    for e in &model.ledger.entries {
        let s = e.mechanism.sensitivity.value;
        if e.query.contains("select") {
            assert!(s <= 3.0 * w_max && s >= 3.0, "{}: {s}", e.query);
            assert_eq!(s % 3.0, 0.0, "{}", e.query);
        } else {
            assert_eq!(s, 3.0, "{}", e.query);
        }
        assert_eq!(e.contribution.max_rows_per_person, 3);
    }
}

fn resolve_default(d: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for a in 0..d {
        for b in a + 1..d {
            for c in b + 1..d {
                out.push(vec![a, b, c]);
            }
        }
    }
    out
}

#[test]
fn workloads_are_resolved_and_bad_options_refused() {
    let t = planted(2_000, 6);
    let mut o = AimOptions::new(1.0, 1e-9);
    o.workload = vec![vec!["a".into(), "c".into()], vec!["d".into()]];
    let model = fit_aim(&t, &[], &o).unwrap();
    // MST's tree spans the workload's columns (a, c, d): two edges among them.
    let tree = &model.selected[..2];
    assert!(
        tree.iter()
            .flatten()
            .all(|c| ["a", "c", "d"].contains(&c.as_str())),
        "{tree:?}"
    );
    // Only the workload's closure is ever measured in the rounds.
    for s in &model.selected[2..] {
        assert!(
            [vec!["a", "c"], vec!["a"], vec!["c"], vec!["d"]]
                .iter()
                .any(|w| w == s),
            "{s:?}"
        );
    }
    o.workload = vec![vec!["a".into(), "nope".into()]];
    let err = fit_aim(&t, &[], &o).unwrap_err().to_string();
    assert!(err.contains("nope") && err.contains("synthesised"), "{err}");
    let bad = |f: &dyn Fn(&mut AimOptions)| {
        let mut o = AimOptions::new(1.0, 1e-9);
        f(&mut o);
        o.validate().unwrap_err().to_string()
    };
    assert!(bad(&|o| o.rounds = Some(0)).contains("rounds"));
    assert!(bad(&|o| o.max_model_cells = 1).contains("max_model_cells"));
    assert!(bad(&|o| o.workload = vec![vec![]]).contains("entry 1"));
    assert!(bad(&|o| o.workload = vec![vec!["a".into(), "a".into()]]).contains("twice"));
    assert!(bad(&|o| o.epsilon = 0.0).contains("epsilon"));
    assert!(bad(&|o| o.round_estimation.max_iters = 0).contains("round_estimation"));
    // Fewer rounds than columns: refused when the columns are known.
    let mut o = AimOptions::new(1.0, 1e-9);
    o.rounds = Some(4);
    assert!(
        fit_aim(&t, &[], &o)
            .unwrap_err()
            .to_string()
            .contains("rounds")
    );
    // One column: the whole budget measures it (no workload to adapt to beyond itself).
    let one = fit_aim(&t, &["c"], &AimOptions::new(1.0, 1e-9)).unwrap();
    assert!(one.ledger.spent.main() >= one.rho * (1.0 - 1e-9));
}

#[test]
fn projection_is_the_model_marginal_by_brute_force() {
    // A chain model a - b - c - d with cliques {a,b}, {b,c}, {c,d}: project onto sets that
    // no clique holds and compare with the joint summed out.
    let sizes = vec![2, 3, 2, 4];
    let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let mut g = Mix(9);
    let mut joint = vec![0.0; 48];
    let mut ms = Vec::new();
    for (attrs, n) in [(vec![0, 1], 6), (vec![1, 2], 6), (vec![2, 3], 8)] {
        ms.push(Measurement {
            attrs,
            values: (0..n).map(|_| 10.0 + 90.0 * g.unit()).collect(),
            sigma: 1.0,
            scale: None,
            threshold: None,
        });
    }
    let (model, _) =
        crate::inference::estimate(&sizes, &names, &ms, &[], &EstimationOptions::default())
            .unwrap();
    // The joint from the cliques: p_ab p_bc p_cd / (p_b p_c).
    let m = |a: &[usize]| model.marginal(a).unwrap();
    let (ab, bc, cd, b, c) = (m(&[0, 1]), m(&[1, 2]), m(&[2, 3]), m(&[1]), m(&[2]));
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..2 {
                for l in 0..4 {
                    joint[((i * 3 + j) * 2 + k) * 4 + l] =
                        ab.values[[i, j]] * bc.values[[j, k]] * cd.values[[k, l]]
                            / (b.values[[j]] * c.values[[k]]);
                }
            }
        }
    }
    let full = Factor::from_vec(&[0, 1, 2, 3], &sizes, joint);
    for attrs in [
        vec![0, 3],
        vec![0, 2, 3],
        vec![0, 1, 3],
        vec![1, 3],
        vec![0, 1, 2, 3],
    ] {
        let want = full.sum_to(&attrs).to_vec();
        let got = model.project(&attrs, u64::MAX).unwrap().to_vec();
        for (w, g) in want.iter().zip(&got) {
            assert!((w - g).abs() < 1e-12, "{attrs:?}: {w} vs {g}");
        }
    }
    // Refused above the cell cap.
    assert!(model.project(&[0, 3], 4).is_none());
}

#[test]
fn one_ways_share_the_papers_budget_equally_or_by_size() {
    let t = planted(2_000, 6);
    let rho = cdp_rho(1.0, 1e-9).unwrap();
    // The paper's 1-way total: d rho_meas at T = 16 d rounds (d = 5).
    let total = 5.0 * RoundBudget::initial(rho, 80).measure;
    for weighted in [false, true] {
        let mut o = paper(1.0);
        o.size_weighted_shares = weighted;
        let model = fit_aim(&t, &[], &o).unwrap();
        let c: Vec<f64> = model.ledger.entries[..5]
            .iter()
            .map(|e| e.charged.main())
            .collect();
        assert!(
            model.ledger.entries[..5]
                .iter()
                .all(|e| e.query.contains("1-way")),
            "{:?}",
            model.ledger.entries
        );
        let sum: f64 = c.iter().sum();
        assert!(
            sum <= total && sum >= total * (1.0 - 1e-6),
            "{sum} vs {total}"
        );
        // Sizes 3, 3, 3, 4, 2: equal shares, or rho_i ~ codes_i^(2/3).
        let want = if weighted {
            (4.0f64 / 2.0).powf(2.0 / 3.0)
        } else {
            1.0
        };
        assert!((c[3] / c[4] / want - 1.0).abs() < 1e-6, "{c:?}");
        assert!((c[0] / c[1] - 1.0).abs() < 1e-6, "{c:?}");
    }
}

#[test]
fn the_tree_start_spends_its_share_as_mst_and_the_rounds_the_rest() {
    let t = planted(4_000, 8);
    let rho = cdp_rho(1.0, 1e-9).unwrap();
    for share in [0.2, 1.0 / 3.0, 0.6] {
        let mut o = AimOptions::new(1.0, 1e-9);
        o.tree_share = share;
        let model = fit_aim(&t, &[], &o).unwrap();
        let e = &model.ledger.entries;
        // 5 one-ways, 4 tree edges chosen, 4 pairs measured: MST's steps 1-3 on the share.
        assert!(e[..5].iter().all(|e| e.query.starts_with("aim: 1-way")));
        assert!(
            e[5..9]
                .iter()
                .all(|e| e.query.starts_with("aim: select the next tree edge"))
        );
        assert!(
            e[9..13]
                .iter()
                .all(|e| e.query.starts_with("aim: 2-way marginal"))
        );
        assert!(e[13..].iter().all(|e| e.query.starts_with("aim: round")));
        assert!(e.len() > 13, "no round ran");
        let part = |r: std::ops::Range<usize>| e[r].iter().map(|e| e.charged.main()).sum::<f64>();
        let tree = part(0..13);
        assert!(
            tree <= share * rho && tree >= share * rho * (1.0 - 1e-9),
            "share {share}: {tree} vs {}",
            share * rho
        );
        // MST's split of that share: a tenth choosing, the rest halved.
        let (one, sel, two) = (part(0..5), part(5..9), part(9..13));
        assert!((sel / (share * rho) - 0.1).abs() < 1e-6, "{sel}");
        assert!((one / two - 1.0).abs() < 1e-6, "{one} vs {two}");
        // The whole budget is spent, never more.
        let spent = model.ledger.spent.main();
        assert!(
            spent <= rho && spent >= rho * (1.0 - 1e-9),
            "{spent} vs {rho}"
        );
        assert!((part(0..e.len()) - spent).abs() <= 1e-12 * rho);
        // The first four selections are a spanning tree of the five columns.
        let mut comp: Vec<usize> = (0..5).collect();
        for s in &model.selected[..4] {
            assert_eq!(s.len(), 2);
            let idx = |n: &String| t.columns().iter().position(|c| c.name() == n).unwrap();
            let (a, b) = (comp[idx(&s[0])], comp[idx(&s[1])]);
            assert_ne!(a, b, "{:?}", model.selected);
            for c in comp.iter_mut() {
                if *c == a {
                    *c = b;
                }
            }
        }
        assert!(
            model.notes[0].contains("MST's tree of 4 pair(s)"),
            "{:?}",
            model.notes
        );
    }
    let mut o = AimOptions::new(1.0, 1e-9);
    for bad in [1.0, -0.1, f64::NAN] {
        o.tree_share = bad;
        assert!(fit_aim(&t, &[], &o).is_err(), "{bad}");
    }
}

#[test]
fn with_a_users_workload_the_tree_only_pairs_columns_an_entry_holds() {
    // Entries {a, b, c} and {d, e}: the tree is a spanning forest of their pairs (two
    // edges among a, b, c and the edge d-e), never a pair across the entries, and the
    // selections charged are those three edges'.
    let t = planted(4_000, 8);
    let mut o = AimOptions::new(1.0, 1e-9);
    o.workload = vec![
        vec!["a".into(), "b".into(), "c".into()],
        vec!["d".into(), "e".into()],
    ];
    let model = fit_aim(&t, &[], &o).unwrap();
    let tree: Vec<&Vec<String>> = model.selected[..3].iter().collect();
    for s in &tree {
        assert_eq!(s.len(), 2, "{:?}", model.selected);
        let inside = |entry: &[&str]| s.iter().all(|c| entry.contains(&c.as_str()));
        assert!(
            inside(&["a", "b", "c"]) || inside(&["d", "e"]),
            "{:?}",
            model.selected
        );
    }
    assert!(
        tree.iter()
            .any(|s| s.contains(&"d".to_string()) && s.contains(&"e".to_string()))
    );
    let e = &model.ledger.entries;
    let selections = e
        .iter()
        .filter(|e| e.query.starts_with("aim: select the next tree edge"))
        .count();
    assert_eq!(selections, 3);
    assert!(
        model.notes[0].contains("MST's tree of 3 pair(s)"),
        "{:?}",
        model.notes
    );
    // Every measured marginal lies within a workload entry.
    for s in &model.selected {
        let inside = |entry: &[&str]| s.iter().all(|c| entry.contains(&c.as_str()));
        assert!(inside(&["a", "b", "c"]) || inside(&["d", "e"]), "{s:?}");
    }
    let spent = model.ledger.spent.main();
    let rho = cdp_rho(1.0, 1e-9).unwrap();
    assert!(
        spent <= rho && spent >= rho * (1.0 - 1e-9),
        "{spent} vs {rho}"
    );
}

#[test]
fn a_forest_budget_has_one_selection_per_forest_edge() {
    // Pairable 0..5; allowed pairs join {0,1,2} and {3,4}; 5 is not pairable.
    let pairable = vec![true, true, true, true, true, false];
    let b = MstBudget::only_pairs(
        1.0,
        pairable,
        vec![(0, 1), (1, 2), (2, 0), (4, 3), (3, 5)],
        0.1,
    )
    .unwrap();
    assert_eq!(b.rounds, 3);
    assert_eq!(
        b.allowed.as_deref(),
        Some(&[(0, 1), (0, 2), (1, 2), (3, 4)][..])
    );
    let whole = MstBudget::split(1.0, vec![true; 4], 0.1).unwrap();
    assert_eq!(
        (b.rho1, b.rho_sel, b.rho2),
        (whole.rho1, whole.rho_sel, whole.rho2)
    );
    assert_eq!(
        b.candidates(&[3, 3, 3, 3, 3, 3], u64::MAX),
        vec![(0, 1), (0, 2), (1, 2), (3, 4)]
    );
    // No allowed pair: no tree.
    let none = MstBudget::only_pairs(1.0, vec![true; 3], vec![], 0.1).unwrap();
    assert_eq!(none.rounds, 0);
}

#[test]
fn narrow_true_counts_score_and_measure_as_wide_ones() {
    // Tables whose largest count needs one, two and four bytes: the same score as
    // `aim_score` on the u32 counts, and the same counts handed to the measurement.
    for top in [200u64, 60_000, 5_000_000] {
        let counts: Vec<u64> = (0..50)
            .map(|i| (i * 7919) % (top + 1))
            .chain([top])
            .collect();
        let wide: Vec<u32> = counts.iter().map(|&c| c as u32).collect();
        let e: Vec<f64> = counts.iter().map(|&c| c as f64 * 0.9 + 1.5).collect();
        let narrow = TrueCounts::new(counts.clone());
        let width = match &narrow {
            TrueCounts::U8(_) => 1,
            TrueCounts::U16(_) => 2,
            TrueCounts::U32(_) => 4,
        };
        assert_eq!(
            width,
            if top < 256 {
                1
            } else if top < 65_536 {
                2
            } else {
                4
            }
        );
        for grid in [0, 7, 20] {
            assert_eq!(
                narrow.score(&e, 3, 12.5, grid, 5),
                aim_score(&wide, &e, 3, 12.5, grid, 5),
                "top {top} grid {grid}"
            );
        }
        assert_eq!(narrow.to_u64(), counts);
    }
}
