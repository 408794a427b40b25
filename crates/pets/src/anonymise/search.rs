//! The optimal search over the generalisation lattice.
//!
//! A **node** is one level per quasi-identifier; the lattice orders nodes componentwise
//! (coarser is higher). A node is evaluated by **rolling up** classes: those of the bottom
//! node (computed once from the rows) or, when one is cached, of an evaluated finer node with
//! fewer classes (a node with at most four fifths of its source's classes is kept, stored
//! narrow, up to a budget in bytes, `CACHE_BUDGET` times the bottom's: off outside tests,
//! where it saved no time; once a node is turned away for want of room, cached nodes that
//! nothing still to do lies above are dropped). Each source class's groups
//! are mapped through the hierarchies ([`ColumnHierarchy::between`]) into the node's and
//! merged, so no node re-reads a row (classes ranked in a bitset of the cells present for
//! nodes with few group combinations, a hash map otherwise; nodes in parallel with rayon). Because levels nest,
//! rolling up from any finer node gives exactly the classes rolling up from the bottom would.
//!
//! Under a node a class **passes** when it meets every per-class model of the configuration
//! (k-anonymity, the re-identification risk threshold, l-diversity, t-closeness,
//! (alpha,k)-anonymity, beta-likeness, delta-disclosure); failing classes are suppressed
//! (ARX's semantics). The node is **anonymous** when the suppressed records are within the
//! limit and, if asked, the average risk of what is kept is within its threshold.
//!
//! **Optimality.** The search is a branch and bound: nodes are visited in increasing order of
//! a lower bound of their loss that never decreases up the lattice
//! ([`super::loss`]), and it stops once the next bound reaches the best loss found. Every
//! node it skips therefore has a loss at least the optimum's, so the result is a true
//! optimum over the whole lattice (the tests check it against brute force).
//!
//! **Predictive tagging** (as in ARX's Flash, Kohlmayer et al. 2012). The size-based models
//! (k and the risk threshold) are monotone with suppression: under a coarser node every class
//! is a union of classes of the finer one, and a union containing a class of at least k
//! records has at least k, so the records failing them can only shrink going up. When they
//! alone already exceed the suppression limit at a node, every node below it fails too and is
//! tagged without evaluation. The search starts with **axis probes** (one column at each of
//! its levels, every other column suppressed): a probe that fails rules out at once every
//! node with that column as fine, e.g. arrival times to the minute when they single people
//! out whatever else is coarsened. (Entropy and recursive l-diversity, t-closeness and the other
//! distributional models are not monotone with suppression, so they never tag.)
//!
//! **Looking up before evaluating** (Flash's binary search along paths). A fine node rolled
//! up from (nearly) one class per record is the expensive kind, and near the bottom it is
//! usually hopeless. Before such a node is evaluated, the search walks a chain from it up
//! to the top (one level of one column at a time, the columns raised evenly) and binary
//! searches the chain for the highest node past the limit on the size-based models: along a
//! chain that property holds up to some node and not after it, so a failing node tags the
//! starting node and everything below it, and a passing one settles everything above it.
//! The nodes evaluated on the way are real lattice nodes (an anonymous one becomes a
//! candidate), so this changes which nodes are evaluated, never the result.
//!
//! **Verification.** t-closeness, beta-likeness and delta-disclosure compare classes with the
//! distribution of the whole table, which suppression changes. A candidate optimum is
//! therefore checked again on the records it keeps by the same assessment `pets risk` runs
//! (the caller's `verify`); a candidate that fails is dropped and the search resumes, so the
//! release it returns passes `pets risk` as written.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::AnonymiseError;
use super::hierarchy::ColumnHierarchy;
use super::loss::{ClassTotals, LossModel};
use crate::disclosure::beta_likeness::class_beta;
use crate::disclosure::classes::{ClassColumns, Narrow};
use crate::disclosure::l_diversity::class_diversity;
use crate::disclosure::t_closeness::{emd_equal, emd_ordered};
use crate::disclosure::{ClassLayout, EquivalenceClasses, GroundDistance, LVariant, RiskConfig};
use crate::progress::Progress;

/// Largest lattice searched (nodes); more levels than this is a hierarchy to rethink.
pub const MAX_LATTICE_NODES: u64 = 2_000_000;

/// Group combinations up to which a node's classes are found through a bitset of the cells
/// present (a larger node is keyed by its mixed-radix number in a hash map, or by a 128-bit
/// hash of its groups when that number overflows 64 bits).
const DENSE_CELLS: f64 = (1u64 << 22) as f64;

/// Source classes from which nodes are grouped one at a time. Grouping a node holds about
/// 12 to 16 bytes a source class besides the source (the node class of each, the cell
/// bitset or key index, the node's sizes, then the histogram order), so at 10M bottom classes
/// two nodes at once on 2 cores held 250 MB over the 210 MB of narrow classes: 462 MB of
/// heap, 2.4x the 190.7 MiB of codes, against issue 12's target of 2x. One at a time costs
/// wall time on the search's heaviest nodes only (measured in `benches/README.md`); smaller
/// sources (1M rows and below) keep every core.
const SERIAL_SOURCE_CLASSES: usize = 1 << 22;

/// Source classes the histogram pass places at a time (see [`Lattice::histograms`]): 16 MB
/// of order (4M source classes or fewer take one run, as before; tests take runs of 7, so the runs'
/// boundaries are checked against the brute force).
#[cfg(not(test))]
const ORDER_CHUNK: usize = 1 << 22;
#[cfg(test)]
const ORDER_CHUNK: usize = 7;

/// Class-by-code cells below which the histogram pass always takes the dense matrix (tests
/// take it only for tiny nodes, so both of its paths are checked against the recoded bottom
/// classes).
#[cfg(not(test))]
const MATRIX_MIN_CELLS: u64 = 1 << 20;
#[cfg(test)]
const MATRIX_MIN_CELLS: u64 = 64;

/// Smallest node worth caching to roll up from (every node in tests, so the brute-force
/// comparison exercises rolling up).
#[cfg(not(test))]
const CACHE_MIN_CLASSES: usize = 1024;
#[cfg(test)]
const CACHE_MIN_CLASSES: usize = 1;

/// The cache holds at most this many times the bottom classes' bytes. Off outside tests:
/// measured 2026-12-04 (README command at 1M and 10M, the default arrival hierarchy and k
/// alone at 1M), the upward probes leave few nodes to roll up and caching saved no time
/// (at 10M it cost about 2 CPU-s and 290 MB of peak at a budget of 2). Tests keep it on, so
/// rolling up from cached nodes stays checked against the brute force.
#[cfg(not(test))]
const CACHE_BUDGET: f64 = 0.0;
#[cfg(test)]
const CACHE_BUDGET: f64 = 2.0;

/// Smallest source (classes to roll up) that makes a node worth an upward probe first:
/// below it evaluating the node is cheaper than looking for a failing node above it (every
/// node in tests, so the brute-force comparison exercises the probes).
#[cfg(not(test))]
const PROBE_MIN_SOURCE: usize = 1 << 15;
#[cfg(test)]
const PROBE_MIN_SOURCE: usize = 1;

/// The per-class models of a configuration: what a class must meet to be kept.
#[derive(Debug, Clone)]
pub(crate) struct ClassRule {
    k: u64,
    risk_threshold: f64,
    l: Option<(LVariant, u64, f64)>,
    t: Option<(f64, bool)>,
    alpha: Option<f64>,
    beta: Option<f64>,
    delta: Option<f64>,
    /// The global distribution of the sensitive attribute (the table's).
    q: Vec<f64>,
}

impl ClassRule {
    /// The models of `config` with the sensitive attribute's global distribution `q` and
    /// whether its values are ordered (for the ordered ground distance).
    pub(crate) fn new(
        config: &RiskConfig,
        q: Vec<f64>,
        ordered: bool,
    ) -> Result<ClassRule, AnonymiseError> {
        let t = match config.t {
            None => None,
            Some(t) => Some((
                t,
                match &config.ground_distance {
                    GroundDistance::Auto => ordered,
                    GroundDistance::Equal => false,
                    GroundDistance::Ordered => true,
                    GroundDistance::Hierarchical(_) => {
                        return Err(AnonymiseError::Invalid {
                            column: config.sensitive.clone(),
                            message: "the search supports the equal and ordered ground distances \
                                      for t-closeness, not the hierarchical one"
                                .into(),
                        });
                    }
                },
            )),
        };
        Ok(ClassRule {
            k: config.k,
            risk_threshold: config.risk_threshold,
            l: config.l.map(|l| (config.l_variant, l, config.c)),
            t,
            alpha: config.alpha,
            beta: config.beta,
            delta: config.delta,
            q,
        })
    }

    /// Whether the rule reads the sensitive attribute.
    pub(crate) fn needs_sensitive(&self) -> bool {
        self.l.is_some()
            || self.t.is_some()
            || self.alpha.is_some()
            || self.beta.is_some()
            || self.delta.is_some()
    }

    /// Whether a verdict on the kept records can differ from the one under the table's
    /// distribution (models that compare a class with the whole).
    pub(crate) fn needs_verification(&self) -> bool {
        self.t.is_some() || self.beta.is_some() || self.delta.is_some()
    }

    /// The size-based models (monotone with suppression): k and the risk threshold.
    #[inline]
    pub(crate) fn size_passes(&self, size: u64) -> bool {
        size >= self.k && 1.0 / size as f64 <= self.risk_threshold
    }

    /// The distributional models on a class's sparse histogram (`codes` ascending).
    pub(crate) fn sensitive_passes(&self, codes: &[u32], counts: &[u32], size: u64) -> bool {
        if let Some((variant, l, c)) = self.l {
            let (distinct, entropy, ratio) = class_diversity(counts, size, l);
            let ok = match variant {
                LVariant::Distinct => distinct >= l,
                LVariant::Entropy => entropy >= l as f64 * (1.0 - 1e-12),
                LVariant::Recursive => ratio.is_some_and(|r| r < c),
            };
            if !ok {
                return false;
            }
        }
        if let Some(alpha) = self.alpha {
            let max = counts.iter().copied().max().unwrap_or(0);
            if max as f64 / size as f64 > alpha + 1e-12 {
                return false;
            }
        }
        if let Some((t, ordered)) = self.t {
            let d = if ordered {
                emd_ordered(codes, counts, size, &self.q)
            } else {
                emd_equal(codes, counts, size, &self.q)
            };
            if d > t + 1e-12 {
                return false;
            }
        }
        if let Some(beta) = self.beta
            && class_beta(codes, counts, size, &self.q) > beta + 1e-12
        {
            return false;
        }
        if let Some(delta) = self.delta {
            let d = codes
                .iter()
                .zip(counts)
                .map(|(&s, &k)| ((k as f64 / size as f64) / self.q[s as usize]).ln().abs())
                .fold(0.0f64, f64::max);
            if d >= delta {
                return false;
            }
        }
        true
    }
}

/// Classes to roll nodes up from (the bottom node's, or a cached node's), stored narrow: one
/// code column per quasi-identifier in the narrowest unsigned type its cardinality allows (1,
/// 2 or 4 bytes), sizes and histogram counts as `u32` (a class, or a count, is at most the
/// records, which [`BaseClasses::new`] checks fit), histogram offsets as `u32` (there are at
/// most as many (class, code) pairs as records) and sensitive codes narrow. With a sensitive
/// attribute a class's size is not stored but added up from its histogram (the counts of a
/// class sum to its size), so at 10M records and about one class per record this is 17 bytes
/// a class, against 44 for `u32` tuples and `u64` counts.
#[derive(Debug, Clone)]
pub(crate) struct BaseClasses {
    columns: Vec<Narrow>,
    /// Class sizes without a sensitive attribute; empty with one (see [`BaseClasses::size`]).
    sizes: Vec<u32>,
    /// Histogram offsets (`classes + 1`) with a sensitive attribute; empty without.
    hist_start: Vec<u32>,
    hist_codes: Narrow,
    /// Histogram counts, narrowed: at 10M records most bottom classes hold a record or two,
    /// so a byte each instead of four (30 MB held through the whole search).
    hist_counts: Narrow,
    n_classes: usize,
    sensitive_cardinality: usize,
    n: u64,
}

impl BaseClasses {
    /// The classes of `classes`, copied (the caller keeps them).
    pub(crate) fn new(classes: &EquivalenceClasses) -> Result<BaseClasses, AnonymiseError> {
        BaseClasses::from_columns(classes.clone().into_columns())
    }

    /// The classes of `classes`, taken apart (their arrays are narrowed and freed).
    pub(crate) fn from_classes(classes: EquivalenceClasses) -> Result<BaseClasses, AnonymiseError> {
        BaseClasses::from_columns(classes.into_columns())
    }

    fn from_columns(c: ClassColumns) -> Result<BaseClasses, AnonymiseError> {
        if c.n_records > u64::from(u32::MAX) {
            return Err(AnonymiseError::Invalid {
                column: None,
                message: format!(
                    "{} records is more than the search handles ({}); anonymise a sample, or \
                     partitions of the extract one at a time",
                    c.n_records,
                    u32::MAX
                ),
            });
        }
        Ok(BaseClasses {
            columns: c.codes,
            sizes: c.sizes,
            hist_start: c.hist_start,
            hist_codes: c.hist_codes,
            hist_counts: c.hist_counts,
            n_classes: c.n_classes,
            sensitive_cardinality: c.sensitive_cardinality,
            n: c.n_records,
        })
    }

    fn len(&self) -> usize {
        self.n_classes
    }

    /// Class `i`'s size: stored without a sensitive attribute, else its histogram's sum.
    #[inline]
    fn size(&self, i: usize) -> u32 {
        if self.hist_start.is_empty() {
            self.sizes[i]
        } else {
            let (a, b) = (self.hist_start[i] as usize, self.hist_start[i + 1] as usize);
            (a..b).map(|p| self.hist_counts.get(p)).sum()
        }
    }

    fn width(&self) -> usize {
        self.columns.len()
    }

    /// Bytes held (what the cache's budget counts).
    fn bytes(&self) -> usize {
        self.columns.iter().map(Narrow::bytes).sum::<usize>()
            + 4 * (self.sizes.capacity() + self.hist_start.capacity())
            + self.hist_codes.bytes()
            + self.hist_counts.bytes()
    }

    /// Class `i`'s code of column `j`.
    #[inline]
    fn code(&self, i: usize, j: usize) -> u32 {
        self.columns[j].get(i)
    }

    /// Class `i`'s histogram: `(code, count)` pairs, codes ascending.
    #[inline]
    fn hist(&self, i: usize) -> impl Iterator<Item = (u32, u32)> + '_ {
        let (a, b) = (self.hist_start[i] as usize, self.hist_start[i + 1] as usize);
        (a..b).map(move |p| (self.hist_codes.get(p), self.hist_counts.get(p)))
    }
}

/// What one node does to the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeOutcome {
    /// The level of each quasi-identifier (0 = as encoded).
    pub levels: Vec<usize>,
    /// Information loss under the chosen measure, in `[0, 1]`.
    pub loss: f64,
    /// Records suppressed (in classes that fail the models).
    pub suppressed_records: u64,
    /// Classes suppressed.
    pub suppressed_classes: u64,
    /// Classes kept.
    pub classes: u64,
    /// Smallest kept class (0 when nothing is kept).
    pub smallest_class: u64,
    /// Average prosecutor risk of the kept records: kept classes / kept records.
    pub average_risk: f64,
    /// Highest prosecutor risk of a kept record: 1 / smallest kept class.
    pub highest_risk: f64,
}

/// A node's evaluation.
#[derive(Debug, Clone)]
struct Evaluation {
    outcome: NodeOutcome,
    anonymous: bool,
    /// Records in classes failing the size-based (monotone) models alone.
    size_failing_records: u64,
}

/// What the search knows about each node.
struct Known {
    /// Evaluated.
    done: Vec<bool>,
    /// Ruled out: at or below a node whose size-failing records exceed the limit.
    tagged: Vec<bool>,
    /// Evaluated nodes within the limit on the size-based models: every node above one of
    /// them is within it too (the failing records only shrink going up).
    passing: Vec<Vec<usize>>,
}

impl Known {
    fn new(total: usize) -> Known {
        Known {
            done: vec![false; total],
            tagged: vec![false; total],
            passing: Vec::new(),
        }
    }

    /// Whether the node at `levels` is known to be within the limit on size.
    fn not_hopeless(&self, levels: &[usize]) -> bool {
        self.passing
            .iter()
            .any(|p| p.iter().zip(levels).all(|(a, b)| a <= b))
    }
}

/// A binary search along an upward chain for the highest node past the suppression limit on
/// the size-based models alone (Flash's idea, Kohlmayer et al. 2012): such a node tags the
/// node the chain starts from and everything else below it, usually far more cheaply than
/// evaluating the fine node itself, which rolls up from (nearly) one class per record.
/// Along a chain "past the limit" holds up to some point and not after, so the search is
/// exact; the top is taken as within the limit without evaluation.
struct PathSearch {
    path: Vec<usize>,
    /// Highest position known past the limit (0: none; positions are 1-based along `path`).
    lo: usize,
    /// Lowest position known within it (`path.len()`, the top, is assumed within).
    hi: usize,
}

impl PathSearch {
    fn new(path: Vec<usize>) -> PathSearch {
        let hi = path.len();
        PathSearch { path, lo: 0, hi }
    }

    /// The next node to evaluate, after settling every position already known; `None` once
    /// the boundary is found.
    fn next_probe(&mut self, lattice: &Lattice<'_>, known: &Known) -> Option<usize> {
        while self.hi > self.lo + 1 {
            let mid = (self.lo + self.hi) / 2;
            let node = self.path[mid - 1];
            if known.tagged[node] {
                self.lo = mid;
            } else if known.done[node] || known.not_hopeless(&lattice.levels(node)) {
                self.hi = mid;
            } else {
                return Some(node);
            }
        }
        None
    }
}

/// How the search runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchLimits {
    /// Largest share of records that may be suppressed, in `[0, 1]`.
    pub suppression_limit: f64,
    /// Largest average risk of the kept records, if checked.
    pub max_average_risk: Option<f64>,
    /// Keep evaluating nodes whose loss bound is within `(1 + front_slack)` times the
    /// optimum's, for the trade-off front.
    pub front_slack: f64,
}

/// The result of a search.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    /// The optimum (least loss among anonymous nodes).
    pub optimum: NodeOutcome,
    /// Anonymous nodes no other evaluated node beats on both loss and average risk, by
    /// increasing loss (the optimum first).
    pub front: Vec<NodeOutcome>,
    /// Nodes in the lattice.
    pub lattice_nodes: u64,
    /// Nodes evaluated.
    pub evaluated: u64,
    /// Nodes tagged as failing without evaluation.
    pub tagged: u64,
    /// Nodes evaluated on the way up from an expensive node (counted in `evaluated`).
    pub upward_probes: u64,
    /// Candidates dropped because they failed on the records they keep.
    pub rejected_by_verification: u64,
}

/// The lattice, the loss tables and the base classes: everything the search needs.
pub(crate) struct Lattice<'a> {
    pub hierarchies: &'a [ColumnHierarchy],
    pub base: &'a BaseClasses,
    pub rule: &'a ClassRule,
    pub loss: &'a LossModel,
    radix: Vec<usize>,
    total: usize,
    /// Classes of evaluated nodes much smaller than their source, to roll up from.
    cache: Mutex<Vec<Arc<CachedNode>>>,
    /// Bytes held in the cache (bounded by [`CACHE_BUDGET`] times the bottom's).
    cached_bytes: AtomicUsize,
    /// Whether a node was left out of the cache for want of room since the last pruning.
    cache_full: AtomicBool,
    /// Held while a node is evaluated from a source of [`SERIAL_SOURCE_CLASSES`] or more
    /// classes (nothing parallel runs under it, so a worker blocked on it cannot deadlock).
    heavy: Mutex<()>,
}

/// An evaluated node's classes, kept to derive coarser nodes from.
struct CachedNode {
    levels: Vec<usize>,
    classes: BaseClasses,
}

/// A node's classes grouped from a source's: the maps from the source's groups to the node's
/// (one per column), the node class of every source class and each node class's size (at
/// most the records, checked to fit `u32`). No array of each node class's first source class
/// is kept while grouping; [`Grouped::firsts`] finds it from `class_of` when the groups are
/// wanted.
struct Grouped {
    maps: Vec<Vec<u32>>,
    class_of: Vec<u32>,
    sizes: Vec<u32>,
}

impl Grouped {
    /// Each node class's first source class, exactly sized (built only when the classes'
    /// groups are wanted: a node's classes for the assessment, the suppressed classes'
    /// losses, or a node cached).
    fn firsts(&self) -> Vec<u32> {
        let mut first = vec![u32::MAX; self.sizes.len()];
        for (i, &c) in self.class_of.iter().enumerate() {
            let f = &mut first[c as usize];
            if *f == u32::MAX {
                *f = i as u32;
            }
        }
        first
    }
}

/// A node's classes as a release at that node has them: group tuples (`width` a class),
/// sizes, sensitive histograms (codes ascending) and each class's verdict under the rule.
#[derive(Debug, Clone)]
pub(crate) struct NodeClasses {
    width: usize,
    tuples: Vec<u32>,
    sizes: Vec<u32>,
    hist_start: Vec<u32>,
    hist_codes: Vec<u32>,
    hist_counts: Vec<u32>,
    passes: Vec<bool>,
}

impl NodeClasses {
    /// The classes that pass, over `layout` (the node's groups as codes, the sensitive
    /// attribute's histograms): what [`EquivalenceClasses::retain`] of the recoded bottom
    /// classes gives, so the assessment `pets risk` runs can be made on them.
    pub(crate) fn kept(&self, layout: ClassLayout) -> EquivalenceClasses {
        let w = self.width;
        let mut tuples = Vec::new();
        let mut sizes = Vec::new();
        let (mut hist_start, mut hist_codes, mut hist_counts) = (vec![0], Vec::new(), Vec::new());
        for c in (0..self.sizes.len()).filter(|&c| self.passes[c]) {
            tuples.extend_from_slice(&self.tuples[c * w..(c + 1) * w]);
            sizes.push(self.sizes[c]);
            let r = self.hist_start[c] as usize..self.hist_start[c + 1] as usize;
            hist_codes.extend_from_slice(&self.hist_codes[r.clone()]);
            hist_counts.extend_from_slice(&self.hist_counts[r]);
            hist_start.push(hist_codes.len() as u32);
        }
        EquivalenceClasses::from_groups(layout, &tuples, sizes, hist_start, hist_codes, hist_counts)
    }

    /// The group tuples of the classes that fail (`width` a class).
    pub(crate) fn failing(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let w = self.width;
        (0..self.sizes.len())
            .filter(|&c| !self.passes[c])
            .map(move |c| &self.tuples[c * w..(c + 1) * w])
    }
}

impl<'a> Lattice<'a> {
    pub(crate) fn new(
        hierarchies: &'a [ColumnHierarchy],
        base: &'a BaseClasses,
        rule: &'a ClassRule,
        loss: &'a LossModel,
    ) -> Result<Lattice<'a>, AnonymiseError> {
        let radix: Vec<usize> = hierarchies.iter().map(|h| h.height() + 1).collect();
        let total = radix
            .iter()
            .try_fold(1u64, |a, &r| a.checked_mul(r as u64))
            .filter(|&t| t <= MAX_LATTICE_NODES)
            .ok_or_else(|| AnonymiseError::Invalid {
                column: None,
                message: format!(
                    "the lattice has more than {MAX_LATTICE_NODES} nodes ({}); declare fewer \
                     levels or fewer quasi-identifiers",
                    radix
                        .iter()
                        .map(|r| r.to_string())
                        .collect::<Vec<_>>()
                        .join(" x ")
                ),
            })? as usize;
        Ok(Lattice {
            hierarchies,
            base,
            rule,
            loss,
            radix,
            total,
            cache: Mutex::new(Vec::new()),
            cached_bytes: AtomicUsize::new(0),
            cache_full: AtomicBool::new(false),
            heavy: Mutex::new(()),
        })
    }

    #[cfg(test)]
    pub(crate) fn size(&self) -> usize {
        self.total
    }

    /// The levels of node `index` (mixed radix, last column fastest).
    pub(crate) fn levels(&self, mut index: usize) -> Vec<usize> {
        let mut out = vec![0; self.radix.len()];
        for j in (0..self.radix.len()).rev() {
            out[j] = index % self.radix[j];
            index /= self.radix[j];
        }
        out
    }

    fn index(&self, levels: &[usize]) -> usize {
        levels
            .iter()
            .zip(&self.radix)
            .fold(0, |acc, (&l, &r)| acc * r + l)
    }

    fn cells(&self, levels: &[usize]) -> f64 {
        levels
            .iter()
            .zip(self.hierarchies)
            .map(|(&l, h)| h.levels[l].n_groups() as f64)
            .product()
    }

    /// The cached node with the fewest classes below (or at) `levels`, else the bottom.
    fn source_for(&self, levels: &[usize]) -> Option<Arc<CachedNode>> {
        let cache = self.cache.lock().expect("cache lock");
        cache
            .iter()
            .filter(|c| c.levels.iter().zip(levels).all(|(a, b)| a <= b))
            .min_by_key(|c| c.classes.len())
            .cloned()
    }

    /// Evaluate the node at `levels` under `limits`, rolled up from the smallest cached
    /// finer node (or the bottom); nodes much smaller than their source are cached in turn.
    fn evaluate(&self, levels: &[usize], limits: &SearchLimits) -> Evaluation {
        self.evaluate_with(levels, limits, true)
    }

    /// The source to roll node `levels` up from: the smallest cached finer node (with its
    /// levels), or the bottom when `roll_up` is false or nothing cached lies below.
    fn source(&self, levels: &[usize], roll_up: bool) -> (Option<Arc<CachedNode>>, Vec<usize>) {
        match roll_up.then(|| self.source_for(levels)).flatten() {
            Some(c) => {
                let from = c.levels.clone();
                (Some(c), from)
            }
            None => (None, vec![0; levels.len()]),
        }
    }

    /// Group the classes of `base` (the node at `from`) into the classes of the node at
    /// `levels` (at or above `from`): each source class's groups are mapped through the
    /// hierarchies ([`ColumnHierarchy::between`]) and equal group tuples merged.
    fn group(&self, base: &BaseClasses, from: &[usize], levels: &[usize]) -> Grouped {
        let w = base.width();
        // Maps from the source's groups to this node's.
        let maps: Vec<Vec<u32>> = levels
            .iter()
            .zip(from)
            .zip(self.hierarchies)
            .map(|((&l, &f), h)| h.between(f, l))
            .collect();
        let cards: Vec<u128> = levels
            .iter()
            .zip(self.hierarchies)
            .map(|(&l, h)| u128::from(h.levels[l].n_groups()))
            .collect();
        let cells = self.cells(levels);
        let n = base.len();
        // Node class of every source class. The sizes are reserved for as many classes as
        // the node can have (address space only: pages are touched as classes are found), so
        // they never move while growing.
        let mut class_of = vec![0u32; n];
        let mut sizes: Vec<u32> = Vec::with_capacity((n as f64).min(cells) as usize);
        // Columns at their top level have one group and add nothing to a class's key;
        // columns at their source's level keep their codes (no map to look up). Keys are
        // mixed-radix numbers over the remaining columns when they fit in 64 bits (ranked in
        // a bitset when few, a hash map otherwise), else a 128-bit hash of the groups. Keys are
        // computed a block of classes at a time, column by column.
        let active: Vec<(usize, Option<&[u32]>)> = (0..w)
            .filter(|&j| cards[j] > 1)
            .map(|j| (j, (levels[j] != from[j]).then_some(maps[j].as_slice())))
            .collect();
        let mut strides = vec![0u64; active.len()];
        let mut span: Option<u64> = Some(1);
        for (a, &(j, _)) in active.iter().enumerate().rev() {
            strides[a] = span.unwrap_or(0);
            span = span.and_then(|s| u64::try_from(cards[j]).ok().and_then(|c| s.checked_mul(c)));
        }
        let slot_of = |i: usize, s: u32, class: &mut u32, sizes: &mut Vec<u32>| {
            *class = s;
            sizes[s as usize] += base.size(i);
        };
        const BLOCK: usize = 4096;
        // The keys of source classes `lo..hi` (mixed radix over the active columns).
        let keys_of = |lo: usize, keys: &mut [u64]| {
            keys.fill(0);
            for (&(j, map), &s) in active.iter().zip(&strides) {
                base.columns[j].add_into(keys, lo, map, s);
            }
        };
        if span.is_some() && cells <= self.dense_cells(n) && cells <= f64::from(u32::MAX) {
            // Few cells: each source class's key is parked in `class_of`, the keys present
            // are marked in a bitset (one bit a cell), and a class's number is its key's
            // rank among the keys present (a popcount within the word plus the count of
            // bits in the words before it). Node classes are numbered in key order, and the
            // grouping holds 1 bit a cell, not a 4-byte slot.
            let words = (cells as usize).div_ceil(64).max(1);
            let mut present = vec![0u64; words];
            let mut keys = vec![0u64; BLOCK.min(n)];
            let mut lo = 0;
            while lo < n {
                let hi = (lo + BLOCK).min(n);
                let keys = &mut keys[..hi - lo];
                keys_of(lo, keys);
                for (c, &key) in class_of[lo..hi].iter_mut().zip(keys.iter()) {
                    // key < cells <= u32::MAX
                    *c = key as u32;
                    present[(key >> 6) as usize] |= 1u64 << (key & 63);
                }
                lo = hi;
            }
            let mut before = vec![0u32; words];
            let mut total = 0u32;
            for (b, &word) in before.iter_mut().zip(&present) {
                *b = total;
                total += word.count_ones();
            }
            sizes.resize(total as usize, 0);
            for (i, c) in class_of.iter_mut().enumerate() {
                let key = *c as usize;
                let below = present[key >> 6] & ((1u64 << (key & 63)) - 1);
                *c = before[key >> 6] + below.count_ones();
                sizes[*c as usize] += base.size(i);
            }
        } else if span.is_some() {
            let mut index: FxHashMap<u64, u32> =
                FxHashMap::with_capacity_and_hasher(n + 1, Default::default());
            let mut keys = vec![0u64; BLOCK.min(n)];
            let mut lo = 0;
            while lo < n {
                let hi = (lo + BLOCK).min(n);
                let keys = &mut keys[..hi - lo];
                keys_of(lo, keys);
                for (t, &key) in keys.iter().enumerate() {
                    let i = lo + t;
                    let next = sizes.len() as u32;
                    let s = *index.entry(key).or_insert(next);
                    if s == next {
                        sizes.push(0);
                    }
                    slot_of(i, s, &mut class_of[i], &mut sizes);
                }
                lo = hi;
            }
        } else {
            let mut index: FxHashMap<u128, u32> =
                FxHashMap::with_capacity_and_hasher(n + 1, Default::default());
            let mut tuple = vec![0u32; w];
            for i in 0..n {
                for (j, t) in tuple.iter_mut().enumerate() {
                    *t = maps[j][base.code(i, j) as usize];
                }
                let next = sizes.len() as u32;
                let s = *index
                    .entry(crate::disclosure::classes::hash_tuple(&tuple))
                    .or_insert(next);
                if s == next {
                    sizes.push(0);
                }
                slot_of(i, s, &mut class_of[i], &mut sizes);
            }
        }
        Grouped {
            maps,
            class_of,
            sizes,
        }
    }

    /// The group in column `j` of the node class whose first source class is `first`.
    #[inline]
    fn group_code(base: &BaseClasses, g: &Grouped, first: u32, j: usize) -> u32 {
        g.maps[j][base.code(first as usize, j) as usize]
    }

    /// The sensitive histogram of every node class `c` with `wanted[c]`, in class order:
    /// `visit(c, codes ascending, counts)`. With few node classes (at most a quarter cell
    /// per source class, or [`MATRIX_MIN_CELLS`], for every class and code) the source classes' histograms
    /// are added into a dense class-by-code matrix in one sequential pass; otherwise the
    /// source classes of wanted node classes are grouped by node class (counting sort) and
    /// each node class's histogram gathered densely in a scratch vector.
    ///
    /// The counting sort places at most [`ORDER_CHUNK`] source classes at a time: node
    /// classes are taken in runs whose source classes fit (a run is at least one class), and
    /// each run re-scans `class_of`. At 10M bottom classes that is a 16 MB order array
    /// instead of 40 MB, for two more sequential scans; and classes that already failed (`wanted`
    /// false, e.g. too small for k) are never placed at all.
    fn histograms(
        base: &BaseClasses,
        g: &Grouped,
        wanted: &[bool],
        mut visit: impl FnMut(usize, &[u32], &[u32]),
    ) {
        let n_classes = g.sizes.len();
        let card = base.sensitive_cardinality;
        let mut touched: Vec<u32> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        if (n_classes as u64) * (card as u64) <= (base.len() as u64 / 4).max(MATRIX_MIN_CELLS) {
            // Counts are at most the records, checked to fit `u32`.
            let mut matrix = vec![0u32; n_classes * card];
            for (i, &c) in g.class_of.iter().enumerate() {
                if wanted[c as usize] {
                    let row = &mut matrix[c as usize * card..(c as usize + 1) * card];
                    for (s, k) in base.hist(i) {
                        row[s as usize] += k;
                    }
                }
            }
            for c in (0..n_classes).filter(|&c| wanted[c]) {
                touched.clear();
                counts.clear();
                for (s, &k) in matrix[c * card..(c + 1) * card].iter().enumerate() {
                    if k > 0 {
                        touched.push(s as u32);
                        counts.push(k);
                    }
                }
                visit(c, &touched, &counts);
            }
            return;
        }
        // One array serves the counting sort: each wanted class's number of source classes,
        // then within a run each class's start, then (once the run is placed) its end; class
        // `c` of the run `lo..hi` spans `end[c - 1]..end[c]` of `order` (from 0 for `lo`).
        let mut end = vec![0u32; n_classes];
        let mut wanted_sources = 0usize;
        for &c in &g.class_of {
            if wanted[c as usize] {
                end[c as usize] += 1;
                wanted_sources += 1;
            }
        }
        let mut order: Vec<u32> = Vec::with_capacity(wanted_sources.min(ORDER_CHUNK));
        let mut hist = vec![0u32; card];
        let mut lo = 0usize;
        while lo < n_classes {
            let mut hi = lo;
            let mut run = 0usize;
            while hi < n_classes && (hi == lo || run + end[hi] as usize <= ORDER_CHUNK) {
                run += end[hi] as usize;
                hi += 1;
            }
            if run > 0 {
                let mut at = 0u32;
                for e in &mut end[lo..hi] {
                    let k = *e;
                    *e = at;
                    at += k;
                }
                order.clear();
                order.resize(run, 0);
                for (i, &c) in g.class_of.iter().enumerate() {
                    let c = c as usize;
                    if (lo..hi).contains(&c) && wanted[c] {
                        let e = &mut end[c];
                        order[*e as usize] = i as u32;
                        *e += 1;
                    }
                }
            }
            for c in lo..hi {
                if !wanted[c] {
                    continue;
                }
                let begin = if c == lo { 0 } else { end[c - 1] as usize };
                for &i in &order[begin..end[c] as usize] {
                    for (s, k) in base.hist(i as usize) {
                        if hist[s as usize] == 0 {
                            touched.push(s);
                        }
                        hist[s as usize] += k;
                    }
                }
                touched.sort_unstable();
                counts.clear();
                counts.extend(touched.iter().map(|&s| hist[s as usize]));
                visit(c, &touched, &counts);
                for &s in &touched {
                    hist[s as usize] = 0;
                }
                touched.clear();
            }
            lo = hi;
        }
    }

    /// The classes of the node at `levels` (rolled up from the smallest cached finer node),
    /// each with its sensitive histogram and whether it meets every per-class model of the
    /// rule: what the release at that node keeps and suppresses, without going back to the
    /// bottom classes. Rolling up from any finer node gives exactly the classes rolling up
    /// from the bottom would, so this is [`super::local::recode`] of the bottom classes.
    pub(crate) fn node_classes(&self, levels: &[usize]) -> NodeClasses {
        let (cached, from) = self.source(levels, true);
        let base: &BaseClasses = cached.as_ref().map_or(self.base, |c| &c.classes);
        let g = self.group(base, &from, levels);
        let w = base.width();
        let n_classes = g.sizes.len();
        let mut tuples = Vec::with_capacity(n_classes * w);
        for first in g.firsts() {
            tuples.extend((0..w).map(|j| Self::group_code(base, &g, first, j)));
        }
        let mut passes: Vec<bool> = g
            .sizes
            .iter()
            .map(|&s| self.rule.size_passes(u64::from(s)))
            .collect();
        let (mut hist_start, mut hist_codes, mut hist_counts) = (vec![0], Vec::new(), Vec::new());
        if base.sensitive_cardinality > 0 {
            Self::histograms(base, &g, &vec![true; n_classes], |c, codes, counts| {
                if passes[c] && self.rule.needs_sensitive() {
                    passes[c] = self
                        .rule
                        .sensitive_passes(codes, counts, u64::from(g.sizes[c]));
                }
                hist_codes.extend_from_slice(codes);
                hist_counts.extend_from_slice(counts);
                hist_start.push(hist_codes.len() as u32);
            });
        } else {
            hist_start = vec![0; n_classes + 1];
        }
        NodeClasses {
            width: w,
            tuples,
            sizes: g.sizes,
            hist_start,
            hist_codes,
            hist_counts,
            passes,
        }
    }

    /// [`Lattice::evaluate`]; `roll_up` false derives the node from the bottom classes and
    /// caches nothing (the brute-force reference of the tests).
    fn evaluate_with(&self, levels: &[usize], limits: &SearchLimits, roll_up: bool) -> Evaluation {
        let (cached, from) = self.source(levels, roll_up);
        let base: &BaseClasses = cached.as_ref().map_or(self.base, |c| &c.classes);
        let _one_at_a_time = (base.len() >= SERIAL_SOURCE_CLASSES)
            .then(|| self.heavy.lock().unwrap_or_else(|e| e.into_inner()));
        let w = base.width();
        let g = self.group(base, &from, levels);
        let sizes = &g.sizes;
        let n_classes = sizes.len();
        let worth_caching =
            roll_up && n_classes * 5 <= base.len() * 4 && n_classes >= CACHE_MIN_CLASSES;
        // The cached node's size, estimated from its source's bytes a class.
        let estimate = n_classes * (base.bytes() / base.len().max(1) + 1);
        let cache_this = worth_caching
            && (self.cached_bytes.load(Ordering::Relaxed) + estimate) as f64
                <= CACHE_BUDGET * self.base.bytes() as f64;
        if worth_caching && !cache_this {
            self.cache_full.store(true, Ordering::Relaxed);
        }
        let mut passes: Vec<bool> = sizes
            .iter()
            .map(|&s| self.rule.size_passes(u64::from(s)))
            .collect();
        let size_failing_records: u64 = sizes
            .iter()
            .zip(&passes)
            .filter(|(_, p)| !**p)
            .map(|(&s, _)| u64::from(s))
            .sum();
        let mut node_hist: (Vec<u32>, Narrow, Vec<u32>) = (
            vec![0],
            Narrow::with_capacity(base.sensitive_cardinality as u32, 0),
            Vec::new(),
        );
        let limit = (limits.suppression_limit * base.n as f64 + 1e-9).floor() as u64;
        // Suppressed records are at least those failing the size models: past the limit the
        // node cannot be anonymous, and its distributional checks are skipped (the outcome
        // then counts only the size failures, which the search never uses as a candidate).
        let hopeless = size_failing_records > limit;
        let check = self.rule.needs_sensitive() && !hopeless;
        if check || (cache_this && base.sensitive_cardinality > 0) {
            let wanted: Vec<bool> = if cache_this {
                vec![true; n_classes]
            } else {
                passes.clone()
            };
            Self::histograms(base, &g, &wanted, |c, codes, counts| {
                if passes[c] && check {
                    passes[c] = self
                        .rule
                        .sensitive_passes(codes, counts, u64::from(sizes[c]));
                }
                if cache_this {
                    for (&s, &k) in codes.iter().zip(counts) {
                        node_hist.1.push(s);
                        // Counts are at most the records, checked to fit `u32`.
                        node_hist.2.push(k);
                    }
                    node_hist.0.push(node_hist.2.len() as u32);
                }
            });
        }
        let mut totals = ClassTotals::default();
        let mut smallest = u64::MAX;
        let mut suppressed_classes = 0u64;
        for c in 0..n_classes {
            let size = u64::from(sizes[c]);
            if passes[c] {
                totals.kept_records += size;
                totals.kept_classes += 1;
                totals.kept_square_sum += (size as f64) * (size as f64);
                smallest = smallest.min(size);
            } else {
                totals.suppressed_records += size;
                suppressed_classes += 1;
            }
        }
        if self.loss.uses_extras() && suppressed_classes > 0 {
            for (c, first) in g.firsts().into_iter().enumerate() {
                if !passes[c] {
                    let extra: f64 = (0..w)
                        .map(|j| {
                            self.loss
                                .extra(j, levels[j], Self::group_code(base, &g, first, j))
                        })
                        .sum();
                    totals.suppressed_extra += f64::from(sizes[c]) * extra;
                }
            }
        }
        if cache_this {
            let firsts = g.firsts();
            let columns: Vec<Narrow> = (0..w)
                .map(|j| {
                    let mut col = Narrow::with_capacity(
                        self.hierarchies[j].levels[levels[j]].n_groups(),
                        n_classes,
                    );
                    for &first in &firsts {
                        col.push(Self::group_code(base, &g, first, j));
                    }
                    col
                })
                .collect();
            // As the source: sizes without a sensitive attribute, histograms with one.
            let (sizes, hist_start) = if base.hist_start.is_empty() {
                (sizes.clone(), Vec::new())
            } else {
                debug_assert_eq!(node_hist.0.len(), n_classes + 1);
                (Vec::new(), node_hist.0)
            };
            let classes = BaseClasses {
                columns,
                sizes,
                hist_start,
                hist_codes: node_hist.1,
                hist_counts: Narrow::from_values(node_hist.2),
                n_classes,
                sensitive_cardinality: base.sensitive_cardinality,
                n: base.n,
            };
            self.cached_bytes
                .fetch_add(classes.bytes(), Ordering::Relaxed);
            self.cache
                .lock()
                .expect("cache lock")
                .push(Arc::new(CachedNode {
                    levels: levels.to_vec(),
                    classes,
                }));
        }
        let average_risk = if totals.kept_records == 0 {
            0.0
        } else {
            totals.kept_classes as f64 / totals.kept_records as f64
        };
        let anonymous = !hopeless
            && totals.suppressed_records <= limit
            && totals.kept_records > 0
            && limits.max_average_risk.is_none_or(|m| average_risk <= m);
        Evaluation {
            outcome: NodeOutcome {
                levels: levels.to_vec(),
                loss: self.loss.loss(levels, &totals),
                suppressed_records: totals.suppressed_records,
                suppressed_classes,
                classes: totals.kept_classes,
                smallest_class: if smallest == u64::MAX { 0 } else { smallest },
                average_risk,
                highest_risk: if smallest == u64::MAX {
                    0.0
                } else {
                    1.0 / smallest as f64
                },
            },
            anonymous,
            size_failing_records,
        }
    }

    /// Once the cache has turned a node away, drop the cached nodes that nothing still to do
    /// lies above: no node neither evaluated nor tagged, and no candidate (verification and
    /// the release roll a candidate's classes up again). Only which source a node is rolled
    /// up from changes, never its classes.
    fn prune_cache(&self, known: &Known, candidates: &[NodeOutcome]) {
        if !self.cache_full.swap(false, Ordering::Relaxed) {
            return;
        }
        let live: Vec<Vec<usize>> = (0..self.total)
            .filter(|&i| !known.done[i] && !known.tagged[i])
            .map(|i| self.levels(i))
            .chain(candidates.iter().map(|c| c.levels.clone()))
            .collect();
        let mut cache = self.cache.lock().expect("cache lock");
        cache.retain(|c| {
            let used = live
                .iter()
                .any(|n| c.levels.iter().zip(n).all(|(a, b)| a <= b));
            if !used {
                self.cached_bytes
                    .fetch_sub(c.classes.bytes(), Ordering::Relaxed);
            }
            used
        });
    }

    /// Evaluate every node (for tests): the exhaustive answer.
    #[cfg(test)]
    pub(crate) fn evaluate_all(&self, limits: &SearchLimits) -> Vec<(NodeOutcome, bool)> {
        (0..self.total)
            .into_par_iter()
            .map(|i| {
                let e = self.evaluate_with(&self.levels(i), limits, false);
                (e.outcome, e.anonymous)
            })
            .collect()
    }

    /// Take node `i`'s evaluation into what is known: a node whose size-failing records
    /// exceed the limit tags itself and everything below it; an anonymous node becomes a
    /// candidate. Returns the nodes newly tagged without evaluation.
    fn record(
        &self,
        i: usize,
        e: Evaluation,
        limit: u64,
        known: &mut Known,
        candidates: &mut Vec<NodeOutcome>,
    ) -> u64 {
        known.done[i] = true;
        let mut newly = 0;
        if e.size_failing_records > limit {
            newly = self.tag_down(i, known);
        } else {
            known.passing.push(e.outcome.levels.clone());
        }
        if e.anonymous {
            candidates.push(e.outcome);
        }
        newly
    }

    /// Node `i`'s projections that are cheap to evaluate: the node with some of its columns
    /// raised to the top (each column alone, each pair, ...; at most three kept below the
    /// top), counted in dense cells, fewest kept columns first, then most cells (likeliest
    /// to fail). Each lies
    /// above `i`, so one past the limit on size rules `i` out; e.g. age in 5-year bands by
    /// arrival minute fails almost every record whatever else a node keeps.
    fn cheap_projections(&self, i: usize) -> Vec<usize> {
        let levels = self.levels(i);
        let heights: Vec<usize> = self.radix.iter().map(|r| r - 1).collect();
        let below: Vec<usize> = (0..levels.len())
            .filter(|&j| levels[j] < heights[j])
            .collect();
        let m = below.len();
        let dense = self.dense_cells(self.base.len());
        let mut out: Vec<(usize, f64, usize)> = Vec::new();
        // Every set of one to three of the columns below the top (all but the node itself).
        let mut sets: Vec<Vec<usize>> = Vec::new();
        for a in 0..m {
            sets.push(vec![a]);
            for b in a + 1..m {
                sets.push(vec![a, b]);
                for c in b + 1..m {
                    sets.push(vec![a, b, c]);
                }
            }
        }
        for set in sets.into_iter().filter(|set| set.len() < m) {
            let mut p = heights.clone();
            for &b in &set {
                p[below[b]] = levels[below[b]];
            }
            let cells = self.cells(&p);
            if cells <= dense {
                out.push((set.len(), cells, self.index(&p)));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
        out.into_iter().map(|(_, _, p)| p).collect()
    }

    /// Group combinations up to which a node rolled up from `source_classes` classes is
    /// grouped through a presence bitset: [`DENSE_CELLS`], or 32 cells a source class when
    /// more (4 bytes of bits a source class, the size of its `class_of` entry, against a hash
    /// map entry of 16 bytes or more a source class).
    fn dense_cells(&self, source_classes: usize) -> f64 {
        DENSE_CELLS.max(32.0 * source_classes as f64)
    }

    /// A chain from node `i` (exclusive) up to the top (inclusive), one level of one column
    /// at a time, raising the column whose level after the step is the lowest share of its
    /// height (so the chain climbs every column evenly and its middle is a balanced node).
    fn upward_path(&self, i: usize) -> Vec<usize> {
        let mut levels = self.levels(i);
        let heights: Vec<usize> = self.radix.iter().map(|r| r - 1).collect();
        let mut path = Vec::new();
        loop {
            let step = (0..levels.len())
                .filter(|&j| levels[j] < heights[j])
                .min_by(|&a, &b| {
                    let ra = (levels[a] + 1) as f64 / heights[a] as f64;
                    let rb = (levels[b] + 1) as f64 / heights[b] as f64;
                    ra.total_cmp(&rb).then(a.cmp(&b))
                });
            match step {
                Some(j) => {
                    levels[j] += 1;
                    path.push(self.index(&levels));
                }
                None => return path,
            }
        }
    }

    /// Tag `index` and every node below it as failing; returns how many of the newly tagged
    /// nodes were never evaluated.
    fn tag_down(&self, index: usize, known: &mut Known) -> u64 {
        let mut stack = vec![index];
        let mut count = 0;
        while let Some(i) = stack.pop() {
            if known.tagged[i] {
                continue;
            }
            known.tagged[i] = true;
            count += u64::from(!known.done[i]);
            let levels = self.levels(i);
            for j in 0..levels.len() {
                if levels[j] > 0 {
                    let mut below = levels.clone();
                    below[j] -= 1;
                    stack.push(self.index(&below));
                }
            }
        }
        count
    }

    /// The branch-and-bound search (see the module documentation). `verify(levels)` checks a
    /// candidate on the records it keeps; it is called only when the rule needs it.
    pub(crate) fn search(
        &self,
        limits: &SearchLimits,
        verify: &(dyn Fn(&[usize]) -> Result<bool, AnonymiseError> + Sync),
        progress: &Progress,
    ) -> Result<SearchResult, AnonymiseError> {
        progress.stage("searching", Some(self.total as u64), "nodes");
        let mut order: Vec<(f64, usize, usize)> = (0..self.total)
            .map(|i| {
                let levels = self.levels(i);
                let lb = self.loss.lower_bound(&levels, self.cells(&levels));
                (lb, levels.iter().sum::<usize>(), i)
            })
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let (mut evaluated, mut tagged_count, mut rejected) = (0u64, 0u64, 0u64);
        let mut upward_probes = 0u64;
        let mut candidates: Vec<NodeOutcome> = Vec::new();
        let mut verified: FxHashMap<Vec<usize>, bool> = FxHashMap::default();
        let batch = (rayon::current_num_threads() * 2).max(2);
        let mut next = 0usize;
        let needs_verification = self.rule.needs_verification();
        let limit = (limits.suppression_limit * self.base.n as f64 + 1e-9).floor() as u64;
        // Axis probes: one column at each of its levels, every other column at `*`. Every
        // node whose level of that column is at most the probe's lies below the probe, so a
        // probe failing the size-based models tags them all (e.g. arrival to the minute).
        let heights: Vec<usize> = self.radix.iter().map(|r| r - 1).collect();
        let probes: Vec<usize> = (0..heights.len())
            .flat_map(|j| {
                let heights = heights.clone();
                (0..heights[j]).map(move |l| {
                    let mut levels = heights.clone();
                    levels[j] = l;
                    levels
                })
            })
            .map(|levels| self.index(&levels))
            .collect();
        let mut known = Known::new(self.total);
        let probed: Vec<(usize, Evaluation)> = probes
            .par_iter()
            .map(|&i| (i, self.evaluate(&self.levels(i), limits)))
            .collect();
        for (i, e) in probed {
            evaluated += 1;
            tagged_count += self.record(i, e, limit, &mut known, &mut candidates);
        }
        loop {
            // A safe point: nothing is released before the search ends. Progress counts
            // the nodes settled (evaluated, or tagged by a node evaluated).
            progress.advance((evaluated + tagged_count).min(self.total as u64))?;
            // The best verified candidate so far bounds the search.
            let best = candidates
                .iter()
                .filter(|c| {
                    verified
                        .get(&c.levels)
                        .copied()
                        .unwrap_or(!needs_verification)
                })
                .map(|c| c.loss)
                .fold(f64::INFINITY, f64::min);
            let unverified_best = candidates
                .iter()
                .filter(|c| !verified.contains_key(&c.levels) && needs_verification)
                .min_by(|a, b| a.loss.total_cmp(&b.loss))
                .cloned();
            if let Some(c) = unverified_best
                && c.loss < best
            {
                let ok = verify(&c.levels)?;
                verified.insert(c.levels.clone(), ok);
                if !ok {
                    rejected += 1;
                    candidates.retain(|x| x.levels != c.levels);
                }
                continue;
            }
            self.prune_cache(&known, &candidates);
            let stop = best * (1.0 + limits.front_slack.max(0.0)) + 1e-12;
            let mut todo = Vec::with_capacity(batch);
            while next < order.len() && todo.len() < batch {
                let (lb, _, i) = order[next];
                if lb > stop {
                    break;
                }
                next += 1;
                if !known.tagged[i] && !known.done[i] {
                    todo.push(i);
                }
            }
            if todo.is_empty() {
                break;
            }
            // Upward probes: an expensive node is first looked at from above, through its
            // cheap projections, then along a chain.
            let expensive: Vec<usize> = todo
                .iter()
                .copied()
                .filter(|&i| {
                    let levels = self.levels(i);
                    !known.not_hopeless(&levels)
                        && self
                            .source_for(&levels)
                            .map_or(self.base.len(), |c| c.classes.len())
                            >= PROBE_MIN_SOURCE
                })
                .collect();
            let mut projections: Vec<(usize, Vec<usize>)> = expensive
                .iter()
                .map(|&i| (i, self.cheap_projections(i)))
                .collect();
            loop {
                let mut wanted: Vec<usize> = Vec::new();
                for (i, list) in &mut projections {
                    if known.tagged[*i] {
                        list.clear();
                    }
                    // The first projection not yet known either way.
                    while let Some(&p) = list.first() {
                        if known.tagged[p] || known.done[p] || known.not_hopeless(&self.levels(p)) {
                            list.remove(0);
                        } else {
                            wanted.push(p);
                            break;
                        }
                    }
                }
                wanted.sort_unstable();
                wanted.dedup();
                if wanted.is_empty() {
                    break;
                }
                let results: Vec<(usize, Evaluation)> = wanted
                    .par_iter()
                    .map(|&i| (i, self.evaluate(&self.levels(i), limits)))
                    .collect();
                for (i, e) in results {
                    evaluated += 1;
                    upward_probes += 1;
                    tagged_count += self.record(i, e, limit, &mut known, &mut candidates);
                }
            }
            let mut paths: Vec<PathSearch> = expensive
                .iter()
                .filter(|&&i| !known.tagged[i])
                .map(|&i| PathSearch::new(self.upward_path(i)))
                .collect();
            loop {
                let mut wanted: Vec<usize> = paths
                    .iter_mut()
                    .filter_map(|p| p.next_probe(self, &known))
                    .collect();
                wanted.sort_unstable();
                wanted.dedup();
                if wanted.is_empty() {
                    break;
                }
                let results: Vec<(usize, Evaluation)> = wanted
                    .par_iter()
                    .map(|&i| (i, self.evaluate(&self.levels(i), limits)))
                    .collect();
                for (i, e) in results {
                    evaluated += 1;
                    upward_probes += 1;
                    tagged_count += self.record(i, e, limit, &mut known, &mut candidates);
                }
            }
            todo.retain(|&i| !known.tagged[i] && !known.done[i]);
            let results: Vec<(usize, Evaluation)> = todo
                .par_iter()
                .map(|&i| (i, self.evaluate(&self.levels(i), limits)))
                .collect();
            for (i, e) in results {
                evaluated += 1;
                tagged_count += self.record(i, e, limit, &mut known, &mut candidates);
            }
        }
        let is_ok = |c: &NodeOutcome| {
            !needs_verification || verified.get(&c.levels).copied().unwrap_or(false)
        };
        let mut front: Vec<NodeOutcome> = Vec::new();
        let mut sorted = candidates.clone();
        sorted.sort_by(|a, b| {
            a.loss
                .total_cmp(&b.loss)
                .then(a.average_risk.total_cmp(&b.average_risk))
                .then(a.levels.cmp(&b.levels))
        });
        let optimum =
            sorted
                .iter()
                .find(|c| is_ok(c))
                .cloned()
                .ok_or(AnonymiseError::NoSolution {
                    suppression_limit: limits.suppression_limit,
                    rejected,
                })?;
        // The front: by increasing loss, each with a lower average risk than every
        // cheaper one; candidates are verified as they join it.
        let mut lowest_risk = f64::INFINITY;
        for c in sorted {
            if c.average_risk < lowest_risk - 1e-15 {
                let ok = if needs_verification {
                    match verified.get(&c.levels) {
                        Some(&v) => v,
                        None => {
                            let v = verify(&c.levels)?;
                            verified.insert(c.levels.clone(), v);
                            v
                        }
                    }
                } else {
                    true
                };
                if ok {
                    lowest_risk = c.average_risk;
                    front.push(c);
                }
            }
        }
        Ok(SearchResult {
            optimum,
            front,
            lattice_nodes: self.total as u64,
            evaluated,
            tagged: tagged_count,
            upward_probes,
            rejected_by_verification: rejected,
        })
    }
}
