//! The output-checking rules, their configuration ([`OutputRules`], one TOML file) and the
//! check of one cell ([`check_cell`]) or one model ([`check_dof`]).
//!
//! Semantics follow ACRO 1.0.2 (`acro/sdcchecks.py`, `acro/analyses.json`), so that the set
//! of failing cells per rule is the same for the same table and settings:
//!
//! | statistic | rules applied |
//! |---|---|
//! | count (frequency table, crosstab) | threshold, zeros |
//! | sum, mean | threshold, (n,k) dominance, p%-ratio dominance |
//! | median, quantile, min, max | threshold, zeros (a small group's extreme or position is one record's value) |
//! | std | residual degrees of freedom `count - 1 >= dof_threshold` |
//! | a model (regression) | residual degrees of freedom `>= dof_threshold` |
//!
//! - **threshold**: a cell fails when its record count is *below* `threshold`
//!   (`count < 10` by default; so an empty cell fails it too, as in ACRO). The count is of
//!   the records in the cell, whether or not their value is missing.
//! - **zeros**: with `zeros_disclosive` (default on) a cell of count 0 fails (it tells that
//!   no one in the group has the combination).
//! - **(n,k) dominance**: fails when the `nk_n` largest values make up at least `nk_k` of
//!   the cell's sum: `top_n / sum >= k` (default n = 2, k = 0.9). A cell with sum 0 passes.
//! - **p%-ratio dominance**: fails when `(sum - x1 - x2) / x1 < p` (x1, x2 the two largest
//!   values; default p = 0.10): the others contribute less than p of the largest, so the
//!   second largest contributor can estimate the largest too closely. As in ACRO, a cell
//!   whose values are all 0 fails (`x1 = 0` makes the ratio `0`), and a cell with no value
//!   passes.
//! - **negative values**: dominance is not defined with negative contributions: when any
//!   value in the table is negative, the two dominance rules are not applied and every cell
//!   holding a negative value fails with that reason (ACRO's "review").
//! - **dof**: a model fails when its residual degrees of freedom are below `dof_threshold`
//!   (10); a model with more parameters than observations is an error.
//! - **HES/ECDS preset** (`preset = "hes"`): the NHS rule of [`crate::tables::Rule::Hes`]
//!   replaces threshold and zeros: counts 1 to 7 fail (0 is published), and statistics based
//!   on 1 to 7 records fail; dominance and dof rules still apply.
//!
//! Missing values of the value column are left out of sum, mean and the other statistics
//! (as pandas does) but counted in the cell's record count.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::OutputError;

/// Which set of rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Common TRE practice and ACRO's defaults: minimum frequency, zeros, dominance, dof.
    #[default]
    Acro,
    /// The NHS HES/ECDS small-numbers rule instead of minimum frequency and zeros.
    Hes,
}

/// The rules and their parameters, loaded from one TOML file; every key is optional (the
/// defaults are ACRO's) and an unknown key is refused by name.
///
/// ```toml
/// preset = "acro"          # or "hes"
/// threshold = 10           # a cell fails when its count is below this
/// zeros_disclosive = true
/// p_ratio = 0.10           # p%-ratio dominance
/// nk_n = 2                 # (n,k) dominance
/// nk_k = 0.90
/// dof_threshold = 10       # residual degrees of freedom of models, and of std
/// round_base = 5           # the `round` mitigation
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputRules {
    /// Which set of rules.
    pub preset: Preset,
    /// Minimum cell frequency: a cell with fewer records fails.
    pub threshold: u64,
    /// Whether a count of 0 fails.
    pub zeros_disclosive: bool,
    /// p%-ratio dominance: the others' sum must be at least `p_ratio` of the largest value.
    pub p_ratio: f64,
    /// (n,k) dominance: how many of the largest values.
    pub nk_n: usize,
    /// (n,k) dominance: the share of the sum they must stay below.
    pub nk_k: f64,
    /// Minimum residual degrees of freedom of a model (and of a standard deviation).
    pub dof_threshold: u64,
    /// The base counts and sums are rounded to by the `round` mitigation.
    pub round_base: u64,
}

impl Default for OutputRules {
    fn default() -> Self {
        OutputRules {
            preset: Preset::Acro,
            threshold: 10,
            zeros_disclosive: true,
            p_ratio: 0.10,
            nk_n: 2,
            nk_k: 0.90,
            dof_threshold: 10,
            round_base: 5,
        }
    }
}

impl OutputRules {
    /// The NHS HES/ECDS preset (counts 1-7 fail, zeros published, rounding to 5).
    pub fn hes() -> OutputRules {
        OutputRules {
            preset: Preset::Hes,
            zeros_disclosive: false,
            ..OutputRules::default()
        }
    }

    /// Rules from TOML text (see the type's documentation); `what` names it in errors.
    pub fn from_toml(text: &str, what: &str) -> Result<OutputRules, OutputError> {
        let mut rules: OutputRules = toml::from_str(text).map_err(|e| OutputError::Rules {
            message: format!("{what}: {}", e.message()),
        })?;
        // The HES preset publishes zeros unless the file says otherwise.
        if rules.preset == Preset::Hes && !text.contains("zeros_disclosive") {
            rules.zeros_disclosive = false;
        }
        rules.validate()?;
        Ok(rules)
    }

    /// Rules from a TOML file.
    pub fn load(path: &Path) -> Result<OutputRules, OutputError> {
        let text = std::fs::read_to_string(path).map_err(|e| OutputError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        OutputRules::from_toml(&text, &path.display().to_string())
    }

    /// Refuse parameters outside their range, naming the key.
    pub fn validate(&self) -> Result<(), OutputError> {
        let bad = |key: &str, why: &str| {
            Err(OutputError::Rules {
                message: format!("{key}: {why}"),
            })
        };
        if self.threshold < 1 {
            return bad("threshold", "must be at least 1");
        }
        if !(self.p_ratio.is_finite() && self.p_ratio >= 0.0) {
            return bad("p_ratio", "must be a finite number >= 0 (0.10 is 10%)");
        }
        if !(self.nk_k > 0.0 && self.nk_k <= 1.0) {
            return bad("nk_k", "must be in (0, 1] (0.90 is 90%)");
        }
        if self.nk_n < 1 {
            return bad("nk_n", "must be at least 1");
        }
        if self.round_base < 1 {
            return bad("round_base", "must be at least 1");
        }
        Ok(())
    }

    /// How many of a cell's largest values the checks need.
    pub(crate) fn top_needed(&self) -> usize {
        self.nk_n.max(2)
    }
}

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Minimum cell frequency.
    Threshold,
    /// Zeros are disclosive.
    Zeros,
    /// (n,k) dominance.
    NkDominance,
    /// p%-ratio dominance.
    PRatio,
    /// Dominance undefined: negative values.
    Negative,
    /// Residual degrees of freedom.
    Dof,
    /// The NHS HES/ECDS small-numbers rule.
    Hes,
}

impl Check {
    /// Its name as the record shows it.
    pub fn name(self) -> &'static str {
        match self {
            Check::Threshold => "threshold",
            Check::Zeros => "zeros",
            Check::NkDominance => "nk_dominance",
            Check::PRatio => "p_ratio",
            Check::Negative => "negative",
            Check::Dof => "dof",
            Check::Hes => "hes",
        }
    }
}

/// A rule a cell fails, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The rule.
    pub check: Check,
    /// Why, in the checker's terms.
    pub reason: String,
}

/// The statistic a table's cells hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "agg", content = "q")]
pub enum Agg {
    /// Number of records.
    Count,
    /// Sum of the values.
    Sum,
    /// Arithmetic mean of the values.
    Mean,
    /// Median (the mean of the middle two of an even number).
    Median,
    /// Sample standard deviation (`n - 1` in the denominator, as pandas).
    Std,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Quantile `q` in [0, 1], linear interpolation between order statistics (pandas'
    /// default).
    Quantile(f64),
    /// A model's estimated coefficients ([`super::model`]; not a pivot statistic).
    Estimate,
    /// A Kaplan-Meier survival estimate ([`super::survival`]; not a pivot statistic).
    Survival,
}

impl Agg {
    /// Its name (`mean`, `quantile(0.25)`).
    pub fn name(&self) -> String {
        match self {
            Agg::Count => "count".into(),
            Agg::Sum => "sum".into(),
            Agg::Mean => "mean".into(),
            Agg::Median => "median".into(),
            Agg::Std => "std".into(),
            Agg::Min => "min".into(),
            Agg::Max => "max".into(),
            Agg::Quantile(q) => format!("quantile({q})"),
            Agg::Estimate => "estimate".into(),
            Agg::Survival => "survival".into(),
        }
    }

    /// Parse `count`, `sum`, `mean`, `median`, `std`, `min`, `max`, `quantile:0.25` /
    /// `q0.25` / `p25`.
    pub fn parse(text: &str) -> Result<Agg, OutputError> {
        let t = text.trim().to_ascii_lowercase();
        let bad = || OutputError::Invalid {
            column: None,
            message: format!(
                "unknown statistic {text:?}: use count, sum, mean, median, std, min, max or \
                 quantile:Q (Q in [0, 1])"
            ),
        };
        Ok(match t.as_str() {
            "count" | "size" => Agg::Count,
            "sum" => Agg::Sum,
            "mean" => Agg::Mean,
            "median" => Agg::Median,
            "std" => Agg::Std,
            "min" => Agg::Min,
            "max" => Agg::Max,
            _ => {
                let q: f64 = if let Some(q) = t.strip_prefix("quantile:") {
                    q.parse().map_err(|_| bad())?
                } else if let Some(p) = t.strip_prefix('p') {
                    p.parse::<f64>().map_err(|_| bad())? / 100.0
                } else {
                    return Err(bad());
                };
                if !(0.0..=1.0).contains(&q) {
                    return Err(bad());
                }
                Agg::Quantile(q)
            }
        })
    }

    /// Whether it needs a value column.
    pub fn needs_values(&self) -> bool {
        !matches!(self, Agg::Count)
    }

    /// The rules applied to its cells (see the module documentation).
    pub fn checks(&self, rules: &OutputRules) -> Vec<Check> {
        let small = match rules.preset {
            Preset::Acro => vec![Check::Threshold],
            Preset::Hes => vec![Check::Hes],
        };
        let zeros = rules.zeros_disclosive;
        let mut v = match self {
            Agg::Count | Agg::Median | Agg::Min | Agg::Max | Agg::Quantile(_) => {
                let mut v = small;
                if zeros {
                    v.push(Check::Zeros);
                }
                v
            }
            Agg::Sum | Agg::Mean => {
                let mut v = small;
                v.extend([Check::NkDominance, Check::PRatio]);
                v
            }
            Agg::Std | Agg::Estimate => vec![Check::Dof],
            Agg::Survival => vec![Check::Threshold, Check::Dof],
        };
        v.sort();
        v
    }
}

/// What the checks of one cell need: computed in the same pass as the cell's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellEvidence {
    /// Records in the cell (missing values included).
    pub count: u64,
    /// Records with a value.
    pub n: u64,
    /// Sum of the values.
    pub sum: f64,
    /// The largest values, largest first (at most `max(nk_n, 2)` of them).
    pub top: Vec<f64>,
    /// How many values are negative.
    pub negatives: u64,
}

impl CellEvidence {
    /// Add one record with value `v` (`None`: missing), keeping the `keep` largest.
    pub fn add(&mut self, v: Option<f64>, keep: usize) {
        self.count += 1;
        if let Some(v) = v {
            self.n += 1;
            self.sum += v;
            if v < 0.0 {
                self.negatives += 1;
            }
            insert_top(&mut self.top, v, keep);
        }
    }

    /// Merge another cell's evidence (a margin is the merge of its cells).
    pub fn merge(&mut self, o: &CellEvidence, keep: usize) {
        self.count += o.count;
        self.n += o.n;
        self.sum += o.sum;
        self.negatives += o.negatives;
        for &v in &o.top {
            insert_top(&mut self.top, v, keep);
        }
    }
}

fn insert_top(top: &mut Vec<f64>, v: f64, keep: usize) {
    if top.len() == keep && top.last().is_some_and(|&l| v <= l) {
        return;
    }
    let at = top.partition_point(|&x| x >= v);
    top.insert(at, v);
    top.truncate(keep);
}

/// The rules `checks` that cell `e` fails. `table_has_negatives`: whether any value in the
/// whole table is negative (dominance is then replaced by the negative-value check).
// The negative-value arm must stay one arm (it stops both dominance arms below), so its
// inner `if` is not collapsed into the guard.
#[allow(clippy::collapsible_match)]
pub fn check_cell(
    e: &CellEvidence,
    checks: &[Check],
    rules: &OutputRules,
    table_has_negatives: bool,
) -> Vec<Failure> {
    let mut out = Vec::new();
    let mut fail = |check: Check, reason: String| out.push(Failure { check, reason });
    for &c in checks {
        match c {
            Check::Threshold if e.count < rules.threshold => fail(
                c,
                format!(
                    "{} record(s), below the minimum cell frequency {}",
                    e.count, rules.threshold
                ),
            ),
            Check::Hes if (1..=7).contains(&e.count) => fail(
                c,
                format!(
                    "{} record(s): 1-7 are suppressed under the HES/ECDS rule",
                    e.count
                ),
            ),
            Check::Zeros if e.count == 0 => fail(c, "a zero count is disclosive".into()),
            Check::NkDominance | Check::PRatio if table_has_negatives => {
                if e.negatives > 0 && c == Check::NkDominance {
                    fail(
                        Check::Negative,
                        format!(
                            "{} negative value(s): dominance is not defined with negative \
                             contributions; review by hand",
                            e.negatives
                        ),
                    );
                }
            }
            Check::NkDominance => {
                let top_n: f64 = e.top.iter().take(rules.nk_n).sum();
                if e.sum > 0.0 && top_n / e.sum >= rules.nk_k {
                    fail(
                        c,
                        format!(
                            "the {} largest value(s) are {:.1}% of the total, at least {}%",
                            rules.nk_n,
                            100.0 * top_n / e.sum,
                            100.0 * rules.nk_k
                        ),
                    );
                }
            }
            Check::PRatio if e.n > 0 => {
                let x1 = e.top.first().copied().unwrap_or(0.0);
                let x2 = e.top.get(1).copied().unwrap_or(0.0);
                let rest = e.sum - x1 - x2;
                let ratio = if x1 == 0.0 { rest } else { rest / x1 };
                if ratio < rules.p_ratio {
                    fail(
                        c,
                        format!(
                            "the values other than the two largest sum to {:.1}% of the \
                             largest, under {}%",
                            100.0 * ratio,
                            100.0 * rules.p_ratio
                        ),
                    );
                }
            }
            Check::Dof if e.count.saturating_sub(1) < rules.dof_threshold => fail(
                c,
                format!(
                    "{} residual degree(s) of freedom (records - 1), below {}",
                    e.count.saturating_sub(1),
                    rules.dof_threshold
                ),
            ),
            _ => {}
        }
    }
    out
}

/// The residual degrees-of-freedom rule of a model with `observations` rows and
/// `parameters` estimated parameters: `dof = observations - parameters`, failing below
/// `dof_threshold`. More parameters than observations is an error.
pub fn check_dof(
    observations: u64,
    parameters: u64,
    rules: &OutputRules,
) -> Result<Option<Failure>, OutputError> {
    if parameters > observations {
        return Err(OutputError::Invalid {
            column: None,
            message: format!(
                "the model has {parameters} parameters but only {observations} rows: it \
                 cannot be estimated; use fewer terms or more data"
            ),
        });
    }
    let dof = observations - parameters;
    Ok((dof < rules.dof_threshold).then(|| Failure {
        check: Check::Dof,
        reason: format!(
            "{dof} residual degree(s) of freedom, below {}",
            rules.dof_threshold
        ),
    }))
}
