//! t-closeness (Li, Li, Venkatasubramanian 2007, "t-closeness: privacy beyond k-anonymity
//! and l-diversity", ICDE).
//!
//! An equivalence class is t-close when the Earth Mover's Distance (EMD) between the
//! distribution `P` of the sensitive attribute in the class and its distribution `Q` in the
//! whole table is at most `t`; the table's t is the largest class distance. Three ground
//! distances from the paper:
//! - **equal distance** (unordered categories): every two values are at distance 1, and
//!   `EMD = 1/2 sum_i |p_i - q_i|`;
//! - **ordered distance** (ordinal, numeric, date codes): values `v_1 < ... < v_m` are
//!   `|i - j| / (m - 1)` apart, and `EMD = 1/(m-1) sum_i |sum_{j<=i} (p_j - q_j)|`. As in
//!   the paper's examples (and pycanon and ARX), `v_1..v_m` are the values that occur in the
//!   table, in code order (null and "other" codes, when present, rank last);
//! - **hierarchical distance** (a [`Hierarchy`] is given): two leaves are
//!   `level(lowest common ancestor) / H` apart, and
//!   `EMD = sum_N height(N)/H * min(pos_extra(N), neg_extra(N))` over internal nodes `N`.
//!
//! Each class costs time proportional to the number of distinct sensitive values in it
//! (times `log m` for the ordered distance, times the depth for the hierarchical one), not
//! to the size of the domain.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::classes::EquivalenceClasses;
use super::hierarchy::{Hierarchy, HierarchyError, Tree};

/// Errors of the t-closeness measure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TClosenessError {
    /// The classes were computed without a sensitive attribute.
    #[error(
        "t-closeness needs a sensitive attribute; compute the classes with one \
         (e.g. --sensitive diagnosis_group)"
    )]
    NoSensitive,
    /// `t` outside `[0, 1]`.
    #[error("t must lie in [0, 1] (got {t}); 0.2 to 0.3 is usual")]
    InvalidT {
        /// The value given.
        t: f64,
    },
    /// The hierarchy is not usable.
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
}

/// Which ground distance to use between sensitive values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroundDistance {
    /// Ordered when the sensitive column is ordered, otherwise equal.
    #[default]
    Auto,
    /// Equal distance (unordered categories).
    Equal,
    /// Ordered distance over the values present.
    Ordered,
    /// Hierarchical distance over a generalisation tree.
    Hierarchical(Hierarchy),
}

/// t-closeness of a set of classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TCloseness {
    /// The ground distance used: `equal`, `ordered` or `hierarchical`.
    pub distance: String,
    /// The table's t: the largest class EMD.
    pub t: f64,
    /// The threshold checked against.
    pub threshold: f64,
    /// Record-weighted mean class EMD.
    pub mean: f64,
    /// Classes with EMD above the threshold.
    pub failing_classes: u64,
    /// Records in those classes.
    pub failing_records: u64,
}

/// Equal-distance EMD of a sparse class distribution (`codes` ascending, `counts`, class
/// `size`) from the global distribution `q` (dense).
pub fn emd_equal(codes: &[u32], counts: &[u32], size: u64, q: &[f64]) -> f64 {
    // 1/2 sum |p-q| = 1/2 (sum_{i in class} (|p_i - q_i| - q_i) + 1)
    let n = size as f64;
    let s: f64 = codes
        .iter()
        .zip(counts)
        .map(|(&c, &k)| {
            let qi = q[c as usize];
            (k as f64 / n - qi).abs() - qi
        })
        .sum();
    (0.5 * (s + 1.0)).clamp(0.0, 1.0)
}

/// Precomputed cumulative global distribution over the ranks of the values present.
#[derive(Debug, Clone)]
struct Ordered {
    rank: Vec<u32>,
    cum: Vec<f64>,
    prefix: Vec<f64>,
}

impl Ordered {
    fn new(q: &[f64]) -> Self {
        let mut rank = vec![u32::MAX; q.len()];
        let mut cum = Vec::new();
        let mut acc = 0.0;
        for (c, &qi) in q.iter().enumerate() {
            if qi > 0.0 {
                rank[c] = cum.len() as u32;
                acc += qi;
                cum.push(acc);
            }
        }
        let mut prefix = Vec::with_capacity(cum.len());
        let mut s = 0.0;
        for &x in &cum {
            s += x;
            prefix.push(s);
        }
        Ordered { rank, cum, prefix }
    }

    fn m(&self) -> usize {
        self.cum.len()
    }

    /// sum_{j=a}^{b} |p - cum[j]| for a constant class cumulative `p`.
    fn run(&self, p: f64, a: usize, b: usize) -> f64 {
        if a > b {
            return 0.0;
        }
        let s = |i: usize| self.prefix[i];
        let range_sum = |lo: usize, hi: usize| -> f64 {
            // inclusive lo..=hi, lo <= hi
            s(hi) - if lo == 0 { 0.0 } else { s(lo - 1) }
        };
        let t = a + self.cum[a..=b].partition_point(|&x| x <= p);
        let mut total = 0.0;
        if t > a {
            total += p * (t - a) as f64 - range_sum(a, t - 1);
        }
        if t <= b {
            total += range_sum(t, b) - p * (b - t + 1) as f64;
        }
        total
    }

    fn emd(&self, codes: &[u32], counts: &[u32], size: u64) -> f64 {
        let m = self.m();
        if m <= 1 {
            return 0.0;
        }
        let n = size as f64;
        let mut p = 0.0;
        let mut a = 0usize;
        let mut total = 0.0;
        for (&c, &k) in codes.iter().zip(counts) {
            let r = self.rank[c as usize] as usize;
            if r > a {
                total += self.run(p, a, r - 1);
            }
            p += k as f64 / n;
            total += (p - self.cum[r]).abs();
            a = r + 1;
        }
        if a < m {
            total += self.run(p, a, m - 1);
        }
        (total / (m - 1) as f64).clamp(0.0, 1.0)
    }
}

/// Ordered-distance EMD of a sparse class distribution from the global distribution `q`.
pub fn emd_ordered(codes: &[u32], counts: &[u32], size: u64, q: &[f64]) -> f64 {
    Ordered::new(q).emd(codes, counts, size)
}

/// Global mass under every node of the tree.
fn node_mass(tree: &Tree, q: &[f64]) -> Vec<f64> {
    let mut mass = vec![0.0; tree.parent.len()];
    for (c, &qi) in q.iter().enumerate() {
        if qi > 0.0 {
            let mut n = tree.leaf[c];
            while n != usize::MAX {
                mass[n] += qi;
                n = tree.parent[n];
            }
        }
    }
    mass
}

struct Scratch {
    p: Vec<f64>,
    pos: Vec<f64>,
    touched: Vec<usize>,
    seen: Vec<bool>,
}

fn emd_tree(
    tree: &Tree,
    qmass: &[f64],
    codes: &[u32],
    counts: &[u32],
    size: u64,
    s: &mut Scratch,
) -> f64 {
    let n = size as f64;
    s.touched.clear();
    for (&c, &k) in codes.iter().zip(counts) {
        let pk = k as f64 / n;
        let mut node = tree.leaf[c as usize];
        while node != usize::MAX {
            if !s.seen[node] {
                s.seen[node] = true;
                s.p[node] = 0.0;
                s.pos[node] = 0.0;
                s.touched.push(node);
            }
            s.p[node] += pk;
            node = tree.parent[node];
        }
    }
    // positive extras of touched children flow to their parents
    for &node in &s.touched {
        let extra = s.p[node] - qmass[node];
        let par = tree.parent[node];
        if par != usize::MAX && extra > 0.0 {
            s.pos[par] += extra;
        }
    }
    let h = tree.height as f64;
    let mut total = 0.0;
    for &node in &s.touched {
        let d = tree.depth[node];
        if d < tree.height {
            let extra = s.p[node] - qmass[node];
            let pos = s.pos[node];
            let neg = pos - extra;
            let cost = pos.min(neg).max(0.0);
            total += (tree.height - d) as f64 / h * cost;
        }
    }
    for &node in &s.touched {
        s.seen[node] = false;
    }
    total.clamp(0.0, 1.0)
}

/// Resolve `Auto` against the classes' sensitive column.
fn resolve(distance: &GroundDistance, ordered: bool) -> &'static str {
    match distance {
        GroundDistance::Auto if ordered => "ordered",
        GroundDistance::Auto | GroundDistance::Equal => "equal",
        GroundDistance::Ordered => "ordered",
        GroundDistance::Hierarchical(_) => "hierarchical",
    }
}

/// The EMD of every class from the table's distribution, in class order.
pub fn class_distances(
    classes: &EquivalenceClasses,
    distance: &GroundDistance,
) -> Result<Vec<f64>, TClosenessError> {
    let mut all = Vec::with_capacity(classes.n_classes());
    with_distances(classes, distance, |_, d| all.extend_from_slice(d))?;
    Ok(all)
}

/// Classes per block of distances handed to the sink of [`with_distances`].
const DISTANCE_BLOCK: usize = 1 << 16;

/// Compute the EMD of every class (in parallel within blocks of [`DISTANCE_BLOCK`] classes)
/// and hand each block to `sink(first class, distances)` in class order, so that callers
/// that only reduce the distances never hold one `f64` per class.
fn with_distances(
    classes: &EquivalenceClasses,
    distance: &GroundDistance,
    mut sink: impl FnMut(usize, &[f64]),
) -> Result<(), TClosenessError> {
    enum Method {
        Tree { tree: Tree, qmass: Vec<f64> },
        Ordered(Ordered),
        Equal,
    }
    let sens = classes
        .layout()
        .sensitive
        .as_ref()
        .ok_or(TClosenessError::NoSensitive)?;
    let n = classes.n_records().max(1) as f64;
    let q: Vec<f64> = classes
        .sensitive_totals()
        .iter()
        .map(|&k| k as f64 / n)
        .collect();
    let kind = resolve(distance, sens.ordered);
    let method = match (kind, distance) {
        ("hierarchical", GroundDistance::Hierarchical(h)) => {
            let needed: Vec<u32> = classes
                .sensitive_totals()
                .iter()
                .enumerate()
                .filter(|(_, k)| **k > 0)
                .map(|(c, _)| c as u32)
                .collect();
            let tree = h.tree(sens.cardinality, &needed)?;
            let qmass = node_mass(&tree, &q);
            Method::Tree { tree, qmass }
        }
        ("ordered", _) => Method::Ordered(Ordered::new(&q)),
        _ => Method::Equal,
    };
    let nc = classes.n_classes();
    let mut buf: Vec<f64> = Vec::new();
    let mut lo = 0;
    while lo < nc {
        let hi = (lo + DISTANCE_BLOCK).min(nc);
        let views = (lo..hi).into_par_iter().map(|i| classes.class(i));
        match &method {
            Method::Tree { tree, qmass } => {
                let nodes = tree.parent.len();
                views
                    .map_init(
                        || Scratch {
                            p: vec![0.0; nodes],
                            pos: vec![0.0; nodes],
                            touched: Vec::new(),
                            seen: vec![false; nodes],
                        },
                        |s, c| {
                            emd_tree(
                                tree,
                                qmass,
                                c.sensitive_codes,
                                c.sensitive_counts,
                                c.size,
                                s,
                            )
                        },
                    )
                    .collect_into_vec(&mut buf);
            }
            Method::Ordered(o) => views
                .map(|c| o.emd(c.sensitive_codes, c.sensitive_counts, c.size))
                .collect_into_vec(&mut buf),
            Method::Equal => views
                .map(|c| emd_equal(c.sensitive_codes, c.sensitive_counts, c.size, &q))
                .collect_into_vec(&mut buf),
        }
        sink(lo, &buf);
        lo = hi;
    }
    Ok(())
}

/// Measure t-closeness (Li et al. 2007) with the given ground distance against threshold `t`.
pub fn t_closeness(
    classes: &EquivalenceClasses,
    distance: &GroundDistance,
    t: f64,
) -> Result<TCloseness, TClosenessError> {
    if !(0.0..=1.0).contains(&t) {
        return Err(TClosenessError::InvalidT { t });
    }
    let ordered = classes
        .layout()
        .sensitive
        .as_ref()
        .is_some_and(|s| s.ordered);
    let mut max = 0.0f64;
    let mut weighted = 0.0;
    let (mut fc, mut fr) = (0u64, 0u64);
    let sizes = classes.sizes();
    with_distances(classes, distance, |lo, d| {
        for (&x, &size) in d.iter().zip(&sizes[lo..]) {
            max = max.max(x);
            weighted += x * size as f64;
            if x > t + 1e-12 {
                fc += 1;
                fr += u64::from(size);
            }
        }
    })?;
    Ok(TCloseness {
        distance: resolve(distance, ordered).to_string(),
        t: max,
        threshold: t,
        mean: weighted / classes.n_records().max(1) as f64,
        failing_classes: fc,
        failing_records: fr,
    })
}

#[cfg(test)]
mod tests;
