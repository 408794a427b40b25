//! pets' optimal lattice search on UCI Adult against ARX's own optima (issue 12's proof).
//!
//! ARX (Prasser & Kohlmayer, Apache-2.0) ships anonymisation test cases on Adult with the
//! optimal transformation and its information loss (`src/test/org/deidentifier/arx/test/
//! TestAnonymization{KAnonymity,LDiversity,TCloseness,Combinations}.java`). This test
//! reproduces them with the hierarchies in `benches/data/adult/` (ARX's own files; see the
//! README there for the source and every setting) and the data cleaned as ARX did: the rows
//! of `adult.data` without a `?` (30,162 of 32,561), the columns `sex, age, race,
//! marital-status, education, native-country, workclass, occupation, salary-class` (ARX's
//! `adult.csv`; its transformations list one level per column in this order).
//!
//! For every case it runs pets' search through [`AnonymiseJob`] (the entry point of `pets
//! anonymise`) and checks, independently of pets' search, by **brute force over the whole
//! lattice** (every node's classes rolled up from the rows by this file's own code):
//!
//! - with no suppression allowed, pets' measures and ARX's coincide (non-uniform entropy,
//!   DM = DM*), so pets' optimum must be ARX's transformation and its loss, converted to
//!   ARX's raw scale (`entropy * sum_j sum_v c_v log2(n / c_v)`, `discernibility * n^2`),
//!   ARX's figure;
//! - with 4% suppression the measures differ on suppressed records (ARX's monotonic
//!   entropy and DM* ignore suppression; pets charges a suppressed record as generalised to
//!   `*`), so the brute force must find ARX's optimum under ARX's measure (which proves the
//!   privacy models and the suppression limit mean the same in both tools) and pets'
//!   optimum under pets' measure, and pets' search must return the latter;
//! - k = 5 with distinct 2-diversity, which ARX's suite does not cover on Adult, against
//!   the brute force alone.
//!
//! Skips with a message when the shared data folder is absent (CI may not have it); set
//! `PETS_SHARED_DATA` to the folder holding `adult/adult.data`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pets::anonymise::{AnonymiseJob, LossMeasure};
use pets::data::{Schema, TableSource};
use pets::disclosure::{GroundDistance, LVariant, RiskConfig};
use rustc_hash::FxHashMap;

/// ARX's column order (`adult.csv`), with `income` called `salary-class` as ARX does.
const ARX_COLUMNS: [&str; 9] = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
    "salary-class",
];

/// Positions of ARX's columns in `adult.data` (UCI's order, `adult.names`).
const UCI_POSITION: [usize; 9] = [9, 0, 8, 5, 3, 13, 1, 6, 14];

/// The eight quasi-identifiers of the cases with `occupation` as the sensitive attribute.
const QI8: [&str; 8] = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "salary-class",
];

fn adult_path() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(d) = std::env::var("PETS_SHARED_DATA") {
        candidates.push(PathBuf::from(d).join("adult/adult.data"));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // `<workspace>/../shared/data`, and the same beside a worktree's parent.
    candidates.push(root.join("../shared/data/adult/adult.data"));
    candidates.push(root.join("../../shared/data/adult/adult.data"));
    candidates.into_iter().find(|p| p.exists())
}

fn hierarchy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/data/adult")
}

/// One ARX hierarchy file: each value's labels, level 0 (the value) first, `*` last.
fn read_hierarchy(column: &str) -> Vec<Vec<String>> {
    let path = hierarchy_dir().join(format!("adult_hierarchy_{column}.csv"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().split(';').map(str::to_string).collect())
        .collect()
}

/// `adult.data` cleaned as ARX did: rows with a `?` dropped, ARX's nine columns.
fn clean_rows(path: &Path) -> Vec<[String; 9]> {
    let text = std::fs::read_to_string(path).expect("read adult.data");
    let rows: Vec<[String; 9]> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(str::trim).collect::<Vec<_>>())
        .filter(|f| !f.contains(&"?"))
        .map(|f| UCI_POSITION.map(|p| f[p].to_string()))
        .collect();
    assert_eq!(rows.len(), 30_162, "ARX's adult.csv has 30,162 records");
    rows
}

/// The schema of the cleaned file: categoricals over ARX's hierarchy values (in the files'
/// order), age an integer, each with its ARX hierarchy.
fn schema_json() -> String {
    let columns: Vec<String> = ARX_COLUMNS
        .iter()
        .map(|&c| {
            let file = hierarchy_dir().join(format!("adult_hierarchy_{c}.csv"));
            let file = serde_json::to_string(&file.display().to_string()).unwrap();
            if c == "age" {
                format!(
                    r#"{{"name": "age", "kind": "integer", "min": 17, "max": 90, "hierarchy": {{"csv": {file}}}}}"#
                )
            } else {
                let values: Vec<String> = read_hierarchy(c).into_iter().map(|r| r[0].clone()).collect();
                format!(
                    r#"{{"name": {}, "kind": "categorical", "values": {}, "hierarchy": {{"csv": {file}}}}}"#,
                    serde_json::to_string(c).unwrap(),
                    serde_json::to_string(&values).unwrap()
                )
            }
        })
        .collect();
    format!(
        r#"{{"csv": {{"header": true, "delimiter": ";"}}, "columns": [{}]}}"#,
        columns.join(",\n")
    )
}

/// ARX's information-loss measures used by the cases.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ArxMetric {
    /// `Metric.createEntropyMetric(true)`: non-uniform entropy of the generalisation alone
    /// (`MetricMDNUEntropyPrecomputed`), suppression not charged.
    MonotonicEntropy,
    /// `Metric.createEntropyMetric(false)`: the above plus, per column, `S log2 S - sum_g
    /// c_g log2 c_g` over the suppressed records' groups (`MetricMDNUNMEntropyPrecomputed`).
    NonMonotonicEntropy,
    /// `Metric.createDiscernabilityMetric(true)`: DM*, the sum of squared class sizes,
    /// suppressed classes included (`MetricSDDiscernability`).
    DmStar,
}

#[derive(Debug, Clone)]
struct Arx {
    metric: ArxMetric,
    loss: f64,
    levels: [usize; 9],
    source: &'static str,
}

#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    nine: bool,
    k: u64,
    l: Option<(LVariant, u64)>,
    t: Option<f64>,
    limit: f64,
    measure: LossMeasure,
    arx: Option<Arx>,
}

impl Case {
    fn qis(&self) -> Vec<&'static str> {
        if self.nine {
            ARX_COLUMNS.to_vec()
        } else {
            QI8.to_vec()
        }
    }

    fn sensitive(&self) -> bool {
        self.l.is_some() || self.t.is_some()
    }

    fn arx_levels(&self) -> Option<Vec<usize>> {
        self.arx
            .as_ref()
            .map(|a| a.levels[..if self.nine { 9 } else { 8 }].to_vec())
    }
}

const KA: &str = "TestAnonymizationKAnonymity";
const LD: &str = "TestAnonymizationLDiversity";
const TC: &str = "TestAnonymizationTCloseness";
const CO: &str = "TestAnonymizationCombinations";

fn cases() -> Vec<Case> {
    use ArxMetric::*;
    use LossMeasure::{Discernibility, Entropy};
    let arx = |metric, loss, levels: &[usize], source| {
        let mut l = [0; 9];
        l[..levels.len()].copy_from_slice(levels);
        Some(Arx {
            metric,
            loss,
            levels: l,
            source,
        })
    };
    let case = |name, nine, k, l, t, limit, measure, arx| Case {
        name,
        nine,
        k,
        l,
        t,
        limit,
        measure,
        arx,
    };
    vec![
        // No suppression: pets' measure is ARX's; transformation and loss must match.
        case(
            "k=5, 0%",
            true,
            5,
            None,
            None,
            0.0,
            Entropy,
            arx(
                MonotonicEntropy,
                407_289.538_892_529_3,
                &[1, 2, 1, 1, 3, 2, 2, 1, 1],
                KA,
            ),
        ),
        case(
            "k=100, 0%",
            true,
            100,
            None,
            None,
            0.0,
            Entropy,
            arx(
                MonotonicEntropy,
                453_196.893_245_874_3,
                &[0, 4, 1, 1, 3, 2, 2, 1, 1],
                KA,
            ),
        ),
        case(
            "k=5 (occupation not a QI), 0%",
            false,
            5,
            None,
            None,
            0.0,
            Entropy,
            arx(
                MonotonicEntropy,
                324_620.526_991_869_5,
                &[1, 1, 1, 1, 3, 2, 2, 1],
                CO,
            ),
        ),
        case(
            "entropy 5-diversity of occupation, 0%",
            false,
            1,
            Some((LVariant::Entropy, 5)),
            None,
            0.0,
            Entropy,
            arx(
                NonMonotonicEntropy,
                324_620.526_991_869_2,
                &[1, 1, 1, 1, 3, 2, 2, 1],
                LD,
            ),
        ),
        case(
            "k=5 + equal-distance 0.2-closeness of occupation, 0%",
            false,
            5,
            None,
            Some(0.2),
            0.0,
            Discernibility,
            arx(DmStar, 4.568_531_72e8, &[1, 4, 1, 1, 3, 2, 2, 1], TC),
        ),
        case(
            "k=100 + equal-distance 0.2-closeness of occupation, 0%",
            false,
            100,
            None,
            Some(0.2),
            0.0,
            Discernibility,
            arx(DmStar, 4.568_531_72e8, &[1, 4, 1, 1, 3, 2, 2, 1], TC),
        ),
        // 4% suppression: ARX's measures ignore (or discount) suppressed records.
        case(
            "k=5, 4%",
            true,
            5,
            None,
            None,
            0.04,
            Entropy,
            arx(
                MonotonicEntropy,
                255_559.854_557_310_67,
                &[1, 0, 1, 1, 3, 2, 2, 0, 1],
                KA,
            ),
        ),
        case(
            "k=100, 4%",
            true,
            100,
            None,
            None,
            0.04,
            Entropy,
            arx(
                MonotonicEntropy,
                379_417.346_057_098_8,
                &[1, 1, 1, 1, 3, 2, 2, 1, 1],
                KA,
            ),
        ),
        case(
            "entropy 5-diversity of occupation, 4%",
            false,
            1,
            Some((LVariant::Entropy, 5)),
            None,
            0.04,
            Entropy,
            arx(
                NonMonotonicEntropy,
                228_878.203_910_951_7,
                &[1, 0, 1, 1, 2, 2, 2, 1],
                LD,
            ),
        ),
        case(
            "k=5 + equal-distance 0.2-closeness of occupation, 4%",
            false,
            5,
            None,
            Some(0.2),
            0.04,
            Discernibility,
            arx(DmStar, 3.118_800_88e8, &[1, 4, 1, 0, 3, 2, 2, 1], TC),
        ),
        // Not in ARX's suite on Adult: against the brute force only.
        case(
            "k=5 + distinct 2-diversity of occupation, 0%",
            false,
            5,
            Some((LVariant::Distinct, 2)),
            None,
            0.0,
            Entropy,
            None,
        ),
        case(
            "k=5 + distinct 2-diversity of occupation, 4%",
            false,
            5,
            Some((LVariant::Distinct, 2)),
            None,
            0.04,
            Entropy,
            None,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// The brute force: this file's own evaluation of every node (no pets code involved).

/// Hierarchies of the quasi-identifiers as group ids per level.
struct Lattice {
    heights: Vec<usize>,
    /// `up[j][l][g]`: the group at level `l + 1` of group `g` at level `l`.
    up: Vec<Vec<Vec<u32>>>,
    /// `counts[j][l][g]`: records in group `g` of column `j` at level `l`.
    counts: Vec<Vec<Vec<u64>>>,
    /// `generalisation[j][l]`: `sum_v c_v log2(c_g(v) / c_v)`, the non-uniform entropy of
    /// column `j` at level `l` with nothing suppressed.
    generalisation: Vec<Vec<f64>>,
    /// Mixed-radix strides and bottom cardinalities of the keys.
    strides: Vec<u64>,
    cards: Vec<u64>,
    n: u64,
}

/// A node's classes: mixed-radix keys of their groups (strides from the bottom's
/// cardinalities, which bound every level's), sizes and occupation histograms (empty when
/// no case reads them).
#[derive(Clone, Default)]
struct Classes {
    keys: Vec<u64>,
    sizes: Vec<u64>,
    hists: Vec<[u32; 16]>,
}

/// The bottom classes of `qis` (value ids per column) and the lattice.
fn prepare(rows: &[[String; 9]], qis: &[&str], with_hist: bool) -> (Lattice, Classes) {
    let n = rows.len() as u64;
    let occupation: Vec<String> = read_hierarchy("occupation")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let (mut heights, mut up, mut counts, mut generalisation) = (vec![], vec![], vec![], vec![]);
    let mut value_id: Vec<HashMap<String, u32>> = vec![];
    let mut strides = vec![1u64; qis.len()];
    for (i, &c) in qis.iter().enumerate() {
        let table = read_hierarchy(c);
        if i + 1 < qis.len() {
            strides[i + 1] = strides[i] * table.len() as u64;
        }
        let height = table[0].len() - 1;
        // group ids per level, in order of first appearance
        let mut ids: Vec<Vec<u32>> = vec![vec![0; table.len()]; height + 1];
        for (l, level_ids) in ids.iter_mut().enumerate() {
            let mut seen: HashMap<&str, u32> = HashMap::new();
            for (v, row) in table.iter().enumerate() {
                let next = seen.len() as u32;
                level_ids[v] = *seen.entry(row[l].as_str()).or_insert(next);
            }
        }
        let mut col_up = vec![];
        for l in 0..height {
            let groups = ids[l].iter().max().unwrap() + 1;
            let mut map = vec![u32::MAX; groups as usize];
            for (&g, &parent) in ids[l].iter().zip(&ids[l + 1]) {
                map[g as usize] = parent;
            }
            col_up.push(map);
        }
        let j = ARX_COLUMNS.iter().position(|x| *x == c).unwrap();
        let vid: HashMap<String, u32> = table
            .iter()
            .enumerate()
            .map(|(v, r)| (r[0].clone(), v as u32))
            .collect();
        let mut value_counts = vec![0u64; table.len()];
        for r in rows {
            value_counts[vid[&r[j]] as usize] += 1;
        }
        let mut col_counts = vec![];
        let mut col_gen = vec![];
        for level_ids in &ids {
            let groups = *level_ids.iter().max().unwrap() as usize + 1;
            let mut gc = vec![0u64; groups];
            for (v, &g) in level_ids.iter().enumerate() {
                gc[g as usize] += value_counts[v];
            }
            col_gen.push(
                value_counts
                    .iter()
                    .zip(level_ids)
                    .filter(|(a, _)| **a > 0)
                    .map(|(&a, &g)| a as f64 * (gc[g as usize] as f64 / a as f64).log2())
                    .sum(),
            );
            col_counts.push(gc);
        }
        heights.push(height);
        up.push(col_up);
        counts.push(col_counts);
        generalisation.push(col_gen);
        value_id.push(vid);
    }
    let cards: Vec<u64> = value_id.iter().map(|v| v.len() as u64).collect();
    let occ = ARX_COLUMNS.iter().position(|x| *x == "occupation").unwrap();
    let mut index: FxHashMap<u64, usize> = FxHashMap::default();
    let mut base = Classes::default();
    for r in rows {
        let mut key = 0u64;
        for (i, &c) in qis.iter().enumerate() {
            let j = ARX_COLUMNS.iter().position(|x| *x == c).unwrap();
            key += u64::from(value_id[i][&r[j]]) * strides[i];
        }
        let next = base.keys.len();
        let i = *index.entry(key).or_insert(next);
        if i == next {
            base.keys.push(key);
            base.sizes.push(0);
            if with_hist {
                base.hists.push([0; 16]);
            }
        }
        base.sizes[i] += 1;
        if with_hist {
            base.hists[i][occupation.iter().position(|o| *o == r[occ]).unwrap()] += 1;
        }
    }
    let lattice = Lattice {
        heights,
        up,
        counts,
        generalisation,
        strides,
        cards,
        n,
    };
    (lattice, base)
}

impl Lattice {
    /// The group of column `j` in a key.
    fn digit(&self, key: u64, j: usize) -> u32 {
        ((key / self.strides[j]) % self.cards[j]) as u32
    }
}

/// Classes of the node one level above `parent` in column `j` (now at level `l`).
fn roll_up(lattice: &Lattice, parent: &Classes, j: usize, l: usize) -> Classes {
    let mut index: FxHashMap<u64, u32> =
        FxHashMap::with_capacity_and_hasher(parent.keys.len(), Default::default());
    let mut out = Classes::default();
    let stride = lattice.strides[j];
    for (c, &key) in parent.keys.iter().enumerate() {
        let g = lattice.digit(key, j);
        let key =
            key - u64::from(g) * stride + u64::from(lattice.up[j][l - 1][g as usize]) * stride;
        let next = out.keys.len() as u32;
        let i = *index.entry(key).or_insert(next) as usize;
        if i == next as usize {
            out.keys.push(key);
            out.sizes.push(0);
            if !parent.hists.is_empty() {
                out.hists.push([0; 16]);
            }
        }
        out.sizes[i] += parent.sizes[c];
        if !parent.hists.is_empty() {
            for (a, b) in out.hists[i].iter_mut().zip(&parent.hists[c]) {
                *a += b;
            }
        }
    }
    out
}

/// One node's verdict and losses under a case.
struct Verdict {
    anonymous: bool,
    /// pets' measure, raw (entropy in bits, discernibility as a sum of squares).
    pets: f64,
    /// ARX's measure, raw.
    arx: Option<f64>,
}

fn judge(
    lattice: &Lattice,
    case: &Case,
    q: &[f64],
    levels: &[usize],
    classes: &Classes,
) -> Verdict {
    let n = lattice.n;
    let fails = |c: usize| -> bool {
        if classes.sizes[c] < case.k {
            return true;
        }
        let size = classes.sizes[c] as f64;
        if let Some((variant, l)) = case.l {
            let present = classes.hists[c].iter().filter(|&&x| x > 0);
            match variant {
                LVariant::Distinct => {
                    if (present.count() as u64) < l {
                        return true;
                    }
                }
                LVariant::Entropy => {
                    let h: f64 = present
                        .map(|&x| -(x as f64 / size) * (x as f64 / size).ln())
                        .sum();
                    if h < (l as f64).ln() - 1e-12 {
                        return true;
                    }
                }
                LVariant::Recursive => unreachable!(),
            }
        }
        if let Some(t) = case.t {
            let d: f64 = 0.5
                * classes.hists[c]
                    .iter()
                    .zip(q)
                    .map(|(&x, &qv)| (x as f64 / size - qv).abs())
                    .sum::<f64>();
            if d > t + 1e-12 {
                return true;
            }
        }
        false
    };
    // Which classes fail; past the limit the node is not anonymous and its losses unused.
    let failing: Vec<bool> = (0..classes.sizes.len()).map(fails).collect();
    let suppressed: u64 = classes
        .sizes
        .iter()
        .zip(&failing)
        .filter(|(_, f)| **f)
        .map(|(s, _)| s)
        .sum();
    let limit = (case.limit * n as f64 + 1e-9).floor() as u64;
    let anonymous = suppressed <= limit && suppressed < n;
    if !anonymous {
        return Verdict {
            anonymous,
            pets: f64::NAN,
            arx: None,
        };
    }
    let generalisation: f64 = levels
        .iter()
        .enumerate()
        .map(|(j, &l)| lattice.generalisation[j][l])
        .sum();
    let (mut kept_squares, mut all_squares, mut entropy_extra) = (0f64, 0f64, 0f64);
    let non_monotonic = case
        .arx
        .as_ref()
        .is_some_and(|a| a.metric == ArxMetric::NonMonotonicEntropy);
    let mut suppressed_groups: Vec<HashMap<u32, u64>> = vec![HashMap::new(); levels.len()];
    for (c, &size) in classes.sizes.iter().enumerate() {
        let square = (size as f64) * (size as f64);
        all_squares += square;
        if failing[c] {
            for (j, &l) in levels.iter().enumerate() {
                let g = lattice.digit(classes.keys[c], j);
                entropy_extra +=
                    size as f64 * (n as f64 / lattice.counts[j][l][g as usize] as f64).log2();
                if non_monotonic {
                    *suppressed_groups[j].entry(g).or_default() += size;
                }
            }
        } else {
            kept_squares += square;
        }
    }
    let pets = match case.measure {
        LossMeasure::Entropy => generalisation + entropy_extra,
        LossMeasure::Discernibility => kept_squares + (suppressed * n) as f64,
        other => unreachable!("{other:?}"),
    };
    let arx = case.arx.as_ref().map(|a| match a.metric {
        ArxMetric::MonotonicEntropy => generalisation,
        ArxMetric::DmStar => all_squares,
        ArxMetric::NonMonotonicEntropy => {
            let s = suppressed as f64;
            generalisation
                + suppressed_groups
                    .iter()
                    .map(|m| {
                        m.values()
                            .map(|&c| c as f64 * (s / c as f64).log2())
                            .sum::<f64>()
                    })
                    .sum::<f64>()
        }
    });
    Verdict {
        anonymous,
        pets,
        arx,
    }
}

/// The best anonymous node under pets' measure and under ARX's, each with how many nodes
/// tie with it (relative 1e-12).
#[derive(Debug, Default, Clone)]
struct Best {
    pets: Option<(f64, Vec<usize>)>,
    pets_ties: usize,
    arx: Option<(f64, Vec<usize>)>,
    arx_ties: usize,
    anonymous_nodes: usize,
}

fn offer(best: &mut Option<(f64, Vec<usize>)>, ties: &mut usize, loss: f64, levels: &[usize]) {
    match best {
        Some((b, _)) if (loss - *b).abs() <= 1e-12 * b.abs().max(1.0) => *ties += 1,
        Some((b, _)) if loss > *b => {}
        _ => {
            *best = Some((loss, levels.to_vec()));
            *ties = 1;
        }
    }
}

/// Every node of the lattice, each derived from its parent in the enumeration tree (raise
/// columns in non-decreasing order: every node is reached exactly once), judged under every
/// case.
fn brute_force(lattice: &Lattice, base: Classes, cases: &[&Case], q: &[f64]) -> (Vec<Best>, usize) {
    let mut best = vec![Best::default(); cases.len()];
    let mut nodes = 0usize;
    let m = lattice.heights.len();
    // stack of (levels, last raised column, classes)
    let mut stack: Vec<(Vec<usize>, usize, Classes)> = vec![(vec![0; m], 0, base)];
    while let Some((levels, last, classes)) = stack.pop() {
        nodes += 1;
        for (case, b) in cases.iter().zip(best.iter_mut()) {
            let v = judge(lattice, case, q, &levels, &classes);
            if v.anonymous {
                b.anonymous_nodes += 1;
                offer(&mut b.pets, &mut b.pets_ties, v.pets, &levels);
                if let Some(a) = v.arx {
                    offer(&mut b.arx, &mut b.arx_ties, a, &levels);
                }
            }
        }
        for j in last..m {
            if levels[j] < lattice.heights[j] {
                let mut next = levels.clone();
                next[j] += 1;
                let classes = roll_up(lattice, &classes, j, next[j]);
                stack.push((next, j, classes));
            }
        }
    }
    (best, nodes)
}

// ---------------------------------------------------------------------------------------

/// pets' search on the cleaned file: (optimum levels, raw loss, seconds).
fn run_pets(
    file: &Path,
    schema: &Schema,
    case: &Case,
    full_entropy: f64,
    n: u64,
) -> (Vec<usize>, f64, f64) {
    let config = RiskConfig {
        quasi_identifiers: case.qis().iter().map(|s| s.to_string()).collect(),
        sensitive: case.sensitive().then(|| "occupation".to_string()),
        k: case.k,
        // ARX's models alone: no separate re-identification risk threshold.
        risk_threshold: 1.0,
        l: case.l.map(|(_, l)| l),
        l_variant: case.l.map_or(LVariant::Distinct, |(v, _)| v),
        t: case.t,
        ground_distance: GroundDistance::Equal,
        ..RiskConfig::default()
    };
    let start = Instant::now();
    let outcome = AnonymiseJob::new(TableSource::file(file), config)
        .schema(schema.clone())
        .suppression_limit(case.limit)
        .measure(case.measure)
        .front_slack(0.0)
        .run()
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let seconds = start.elapsed().as_secs_f64();
    let optimum = outcome.search.optimum;
    let raw = match case.measure {
        LossMeasure::Entropy => optimum.loss * full_entropy,
        LossMeasure::Discernibility => optimum.loss * (n as f64) * (n as f64),
        other => unreachable!("{other:?}"),
    };
    (optimum.levels, raw, seconds)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn adult_optima_match_arx() {
    let Some(path) = adult_path() else {
        eprintln!(
            "SKIPPED: UCI Adult not found (set PETS_SHARED_DATA to the folder holding \
             adult/adult.data, or put shared/data/adult beside the repository)"
        );
        return;
    };
    let rows = clean_rows(&path);
    let n = rows.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("adult.csv");
    let mut text = ARX_COLUMNS.join(";");
    text.push('\n');
    for r in &rows {
        text.push_str(&r.join(";"));
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let schema = Schema::from_json(&schema_json()).unwrap();
    // The table's distribution of occupation, in the hierarchy file's order.
    let occupation: Vec<String> = read_hierarchy("occupation")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let occ = ARX_COLUMNS.iter().position(|x| *x == "occupation").unwrap();
    let mut q = vec![0.0; 16];
    for r in &rows {
        q[occupation.iter().position(|o| *o == r[occ]).unwrap()] += 1.0 / n as f64;
    }

    let cases = cases();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for nine in [true, false] {
        let set: Vec<&Case> = cases.iter().filter(|c| c.nine == nine).collect();
        let qis = set[0].qis();
        let with_hist = set.iter().any(|c| c.sensitive());
        let (lattice, base) = prepare(&rows, &qis, with_hist);
        // pets' normaliser of the entropy measure: every column fully generalised.
        let full_entropy: f64 = lattice
            .generalisation
            .iter()
            .map(|g| *g.last().unwrap())
            .sum();
        let start = Instant::now();
        let (best, nodes) = brute_force(&lattice, base, &set, &q);
        eprintln!(
            "brute force over {nodes} nodes ({} quasi-identifiers, {} cases): {:.2}s",
            qis.len(),
            set.len(),
            start.elapsed().as_secs_f64()
        );
        for (case, b) in set.iter().zip(best) {
            let (levels, raw, seconds) = run_pets(&file, &schema, case, full_entropy, n);
            let (bf_loss, bf_levels) = b.pets.clone().expect("an anonymous node");
            let line = format!(
                "{}: pets {:?} {:.10} in {:.3}s | brute force (pets' measure) {:?} {:.10} ({} tie(s), {} anonymous nodes){}",
                case.name,
                levels,
                raw,
                seconds,
                bf_levels,
                bf_loss,
                b.pets_ties,
                b.anonymous_nodes,
                match (&case.arx, &b.arx) {
                    (Some(a), Some((al, alv))) => format!(
                        " | ARX ({}, {:?}) {:?} {} | brute force (ARX's measure) {:?} {:.10} ({} tie(s))",
                        a.source,
                        a.metric,
                        case.arx_levels().unwrap(),
                        a.loss,
                        alv,
                        al,
                        b.arx_ties
                    ),
                    _ => String::new(),
                }
            );
            eprintln!("{line}");
            report.push(line.clone());
            // pets' search finds the brute-force optimum of its own measure.
            if !close(raw, bf_loss) || (b.pets_ties == 1 && levels != bf_levels) {
                failures.push(format!("search != brute force: {line}"));
            }
            if let (Some(a), Some((al, alv))) = (&case.arx, &b.arx) {
                // The brute force reproduces ARX's optimum under ARX's measure: the models
                // and the suppression limit mean the same here as in ARX.
                if !close(*al, a.loss) || (b.arx_ties == 1 && *alv != case.arx_levels().unwrap()) {
                    failures.push(format!("brute force != ARX: {line}"));
                }
                // Without suppression the measures coincide: pets returns ARX's optimum.
                if case.limit == 0.0
                    && (!close(raw, a.loss) || levels != case.arx_levels().unwrap())
                {
                    failures.push(format!("pets != ARX: {line}"));
                }
            }
        }
    }
    if let Ok(p) = std::env::var("PETS_ADULT_ARX_REPORT") {
        std::fs::write(p, report.join("\n")).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The documented command-line recipe, through the same job and options `pets anonymise`
/// builds: `adult.data` without the lines holding a `?` (`grep -v '?'`), read with
/// `benches/data/adult/adult.schema.json` (no header, trimmed fields, UCI's names, the
/// hierarchies relative to the schema's folder), gives ARX's k = 5 optimum.
#[test]
fn adult_cli_recipe_gives_arx_optimum() {
    let Some(path) = adult_path() else {
        eprintln!("SKIPPED: UCI Adult not found (set PETS_SHARED_DATA)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("adult_complete.csv");
    let text: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains('?'))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    let schema_path = hierarchy_dir().join("adult.schema.json");
    let schema = Schema::load(&schema_path).unwrap();
    // `--k 5 --risk-threshold 1 --max-suppression 0 --measure entropy --front-slack 0`
    let config = RiskConfig {
        quasi_identifiers: ARX_COLUMNS.iter().map(|s| s.to_string()).collect(),
        k: 5,
        risk_threshold: 1.0,
        ..RiskConfig::default()
    };
    let outcome = AnonymiseJob::new(TableSource::file(&file), config)
        .schema(schema)
        .hierarchy_dir(schema_path.parent().unwrap())
        .suppression_limit(0.0)
        .measure(LossMeasure::Entropy)
        .front_slack(0.0)
        .run()
        .unwrap();
    assert_eq!(outcome.record.records_in, 30_162);
    assert_eq!(
        outcome.search.optimum.levels,
        vec![1, 2, 1, 1, 3, 2, 2, 1, 1]
    );
    let names: Vec<&str> = outcome
        .record
        .quasi_identifiers
        .iter()
        .map(|q| q.level_name.as_str())
        .collect();
    eprintln!(
        "recipe: {names:?}, warnings: {:?}",
        outcome
            .warnings
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
    );
}
