//! Federated training by federated averaging with patient-level DP ([`FederatedTrainJob`]):
//! a logistic regression fitted across trusts without pooling rows, each round a
//! declared-vector round of [`crate::federated::FederatedJob::for_vector`].
//!
//! ```text
//! check the options, the encoding (from the declared schema alone), the trusts
//! every trust: read its rows (target, features, person id), cut each person to m rows
//! charge the persistent budget file once with (epsilon, delta); rho = zCDP of it,
//!   split equally over R rounds up front
//! round r = 1..R (weights w_r public: the coordinator sends them with the round):
//!   every trust: for each kept row i, g_i = (sigma(w_r . x_i) - y_i) x_i clipped to L2
//!     norm C, each coordinate to the fixed-point grid (C = 2^16 units) by truncation
//!     toward zero; sums sum_i q(g_i), its row count and its clipped log-losses
//!   round: secure aggregation with distributed discrete Gaussian noise, charged rho / R
//!     before any party draws (the ledger has one entry a round)
//!   coordinator (post-processing of the noisy sums): n_hat = mean of the noisy counts so
//!     far; gradient = noisy sum / n_hat + l2 w; Adam (FedAdam) step -> w_{r+1}
//! the model: the encoding and w_{R+1}, with every round's noisy loss and the ledger
//! ```
//!
//! The coordinator's side is [`TrainCoordinator`] (each round's [`TrainRoundWork`] at the
//! current weights; the step from each release), run by [`FederatedTrainJob::run`] with
//! every trust in this process, and over the network by `pets-federated-net`'s submitter
//! through [`RemoteTrain`] (each round one declared-vector job; each node checks the
//! encoding against its own schema and runs [`TrustRows::clipped_sums`]).
//!
//! This is DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018, "Learning differentially
//! private recurrent language models") with one local step of full-batch gradient per
//! round (FedSGD) and the server optimiser of Reddi et al. 2021 ("Adaptive federated
//! optimization", FedAdam); the sums carry distributed discrete Gaussian noise (Kairouz,
//! Liu & Steinke 2021) under secure aggregation (Bonawitz et al. 2017).
//!
//! **Why hand-written** (rather than `linfa-logistic`): the private step is not an
//! optimiser's internal loop but a clipped, fixed-point *sum* that leaves each trust through
//! the round, and the update is a few lines of post-processing of the released sum; a
//! crate's solver could be neither clipped per example nor split between trusts and
//! coordinator. linfa-logistic (with `argmin` and `ndarray`) would also add a dependency
//! tree for a dozen lines.
//!
//! **Privacy** (`federated/proofs/federated_training.md`): one person's rows (at most `m` at
//! each of at most `T` trusts) move a round's summed vector by at most
//! `m T sqrt(U^2 + K_c^2 + K_l^2)` in L2 (`U = 2^16` grid units for the clip norm `C`;
//! `K_c = K_l = 2^14` for the count and the loss), whatever the weights; a round is
//! `rho / R`-zCDP by the distributed discrete Gaussian's bound; the weights each round
//! uses are post-processing of earlier releases, so the rounds compose adaptively to
//! `rho`-zCDP, at most the (epsilon, delta) asked.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{ColumnKind, Role, Schema, TableSource};
use crate::dp::budget_store::{BudgetStore, ChargeReceipt, ChargeRecord};
use crate::dp::ledger::Ledger;
use crate::dp::table::DpTable;
use crate::dp::{Cost, PrivacyUnit, Session};
use crate::error::Warning;
use crate::federated::aggregate::{LocalAggregate, MAX_FEDERATED_CELLS, TableLayout};
use crate::federated::error::{FederatedError, Result};
use crate::federated::job::{FederatedJob, FederatedRelease, Protocol, RoundReport, TrustInput};
use crate::federated::vector::{VectorSpec, columns_fingerprint};

/// Grid units of the clip norm `C`: a clipped gradient's coordinates are multiples of
/// `C / 2^16`, and its integer vector has L2 norm at most `2^16`.
pub const GRID_UNITS: i64 = 1 << 16;
/// What one row adds to the count cell.
pub const COUNT_UNITS: i64 = 1 << 14;
/// What one row adds to the loss cell at most (a log-loss of [`LOSS_CAP`] or more).
pub const LOSS_UNITS: i64 = 1 << 14;
/// Each row's log-loss is clipped to `[0, LOSS_CAP]` in the noisy loss (nats).
pub const LOSS_CAP: f64 = 4.0;
/// Most rounds a job may run.
pub const MAX_ROUNDS: usize = 10_000;
/// Categorical columns with more declared values are not default features.
pub const MAX_DEFAULT_VALUES: usize = 64;

/// `||Delta||_2^2` of one round's summed vector for one row (proof §2):
/// `U^2 + K_c^2 + K_l^2`, exact in `f64` (powers of two).
pub fn unit_l2_squared() -> f64 {
    let sq = |v: i64| (v as f64) * (v as f64);
    sq(GRID_UNITS) + sq(COUNT_UNITS) + sq(LOSS_UNITS)
}

/// One feature of the model, read from the declared schema alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureSpec {
    /// One indicator per declared value (a null or unlisted value: all zero).
    OneHot {
        /// The column.
        column: String,
        /// Its declared values, in code order.
        values: Vec<String>,
    },
    /// A number scaled to `[0, 1]` by its declared bounds, `(clamp(x) - lower) / (upper -
    /// lower)` (a null: 0).
    Scaled {
        /// The column.
        column: String,
        /// Declared lower bound.
        lower: f64,
        /// Declared upper bound.
        upper: f64,
    },
}

impl FeatureSpec {
    /// The column read.
    pub fn column(&self) -> &str {
        match self {
            FeatureSpec::OneHot { column, .. } | FeatureSpec::Scaled { column, .. } => column,
        }
    }

    fn width(&self) -> usize {
        match self {
            FeatureSpec::OneHot { values, .. } => values.len(),
            FeatureSpec::Scaled { .. } => 1,
        }
    }
}

/// How rows become feature vectors: an intercept, then each feature in order. Depends on
/// the declared schema and the options only, so every trust's vectors line up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// The binary target column (categorical).
    pub target: String,
    /// Its positive value (every other value, and null, is negative).
    pub positive: String,
    /// The features, in order.
    pub features: Vec<FeatureSpec>,
}

impl Encoding {
    /// The encoding of `target` (its `positive` value, default the second of two declared
    /// values such as `["false", "true"]`) from `schema`, with `features` (default: every
    /// categorical column of at most [`MAX_DEFAULT_VALUES`] values and every integer or
    /// float column, except the target and direct identifiers).
    pub fn from_schema(
        schema: &Schema,
        target: &str,
        positive: Option<&str>,
        features: Option<&[String]>,
    ) -> Result<Encoding> {
        let col = |name: &str| {
            schema.column(name).map_err(|_| {
                FederatedError::invalid(
                    "column",
                    name,
                    format!(
                        "not in the schema; it declares {}",
                        schema
                            .columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
        };
        let spec = col(target)?;
        let ColumnKind::Categorical { values, .. } = &spec.kind else {
            return Err(FederatedError::invalid(
                "target",
                target,
                format!(
                    "a binary target is a categorical column (e.g. admitted with values \
                     [\"false\", \"true\"]); it is declared {}",
                    spec.kind.name()
                ),
            ));
        };
        let positive = match positive {
            Some(p) if values.iter().any(|v| v == p) => p.to_string(),
            Some(p) => {
                return Err(FederatedError::invalid(
                    "positive",
                    p,
                    format!("not a declared value of {target} ({})", values.join(", ")),
                ));
            }
            None if values.len() == 2 => values[1].clone(),
            None => {
                return Err(FederatedError::invalid(
                    "positive",
                    "(none)",
                    format!(
                        "{target} declares {} values: name the positive one",
                        values.len()
                    ),
                ));
            }
        };
        let names: Vec<String> = match features {
            Some([]) => {
                return Err(FederatedError::invalid(
                    "features",
                    "(empty)",
                    "name at least one feature column, or leave the list out for the default",
                ));
            }
            Some(f) => f.to_vec(),
            None => schema
                .columns
                .iter()
                .filter(|c| c.name != target && c.role != Role::DirectIdentifier)
                .filter(|c| match &c.kind {
                    ColumnKind::Categorical { values, .. } => values.len() <= MAX_DEFAULT_VALUES,
                    ColumnKind::Integer { .. } | ColumnKind::Float { .. } => true,
                    _ => false,
                })
                .map(|c| c.name.clone())
                .collect(),
        };
        let mut out = Vec::with_capacity(names.len());
        for name in &names {
            if name == target {
                return Err(FederatedError::invalid(
                    "features",
                    name,
                    "the target cannot be a feature",
                ));
            }
            if out.iter().any(|f: &FeatureSpec| f.column() == name) {
                return Err(FederatedError::invalid("features", name, "named twice"));
            }
            let spec = col(name)?;
            if spec.role == Role::DirectIdentifier {
                return Err(FederatedError::invalid(
                    "features",
                    name,
                    "a direct identifier is not a model feature",
                ));
            }
            if spec.domain_from_data {
                return Err(FederatedError::invalid(
                    "schema",
                    name,
                    "a domain read from the data would differ from trust to trust: declare \
                     its values and ranges",
                ));
            }
            out.push(match &spec.kind {
                ColumnKind::Categorical { values, .. } => FeatureSpec::OneHot {
                    column: name.clone(),
                    values: values.clone(),
                },
                ColumnKind::Integer { min, max, .. } => FeatureSpec::Scaled {
                    column: name.clone(),
                    lower: *min as f64,
                    upper: *max as f64,
                },
                ColumnKind::Float { min, max, .. } => FeatureSpec::Scaled {
                    column: name.clone(),
                    lower: *min,
                    upper: *max,
                },
                other => {
                    return Err(FederatedError::invalid(
                        "features",
                        name,
                        format!(
                            "declared {}: features are categorical, integer or float columns \
                             (derive an hour or weekday column first)",
                            other.name()
                        ),
                    ));
                }
            });
        }
        if let Some(FeatureSpec::Scaled {
            column,
            lower,
            upper,
        }) = out
            .iter()
            .find(|f| matches!(f, FeatureSpec::Scaled { lower, upper, .. } if upper.partial_cmp(lower) != Some(std::cmp::Ordering::Greater)))
        {
            return Err(FederatedError::invalid(
                "features",
                column,
                format!(
                    "declared bounds [{lower}, {upper}] are empty: a scaled feature needs min < max"
                ),
            ));
        }
        let enc = Encoding {
            target: target.to_string(),
            positive,
            features: out,
        };
        if enc.dim() + 2 > MAX_FEDERATED_CELLS {
            return Err(FederatedError::invalid(
                "features",
                enc.dim(),
                "more coordinates than one round carries; name fewer features",
            ));
        }
        Ok(enc)
    }

    /// Coordinates of a feature vector (and of the weights): the intercept, then each
    /// feature's width.
    pub fn dim(&self) -> usize {
        1 + self.features.iter().map(FeatureSpec::width).sum::<usize>()
    }

    /// The largest L2 norm of a feature vector: `sqrt(1 + #features)` (one active indicator
    /// per one-hot feature, a scaled value at most 1). A public figure of the schema.
    pub fn max_norm(&self) -> f64 {
        ((1 + self.features.len()) as f64).sqrt()
    }

    /// A name for every coordinate (`intercept`, `sex=2`, `age (scaled)`).
    pub fn names(&self) -> Vec<String> {
        let mut out = vec!["intercept".to_string()];
        for f in &self.features {
            match f {
                FeatureSpec::OneHot { column, values } => {
                    out.extend(values.iter().map(|v| format!("{column}={v}")))
                }
                FeatureSpec::Scaled { column, .. } => out.push(format!("{column} (scaled)")),
            }
        }
        out
    }

    /// The declared columns read (target first).
    pub fn columns(&self) -> Vec<String> {
        std::iter::once(self.target.clone())
            .chain(self.features.iter().map(|f| f.column().to_string()))
            .collect()
    }

    /// Read `source`'s rows as feature vectors against `schema`, each person's rows cut to
    /// `max_rows_per_person` (seeded) when `person_id` is given. The rows are exact data:
    /// they never leave the trust (only rounds' noisy sums do).
    pub fn read(
        &self,
        source: &TableSource,
        schema: &Schema,
        person_id: Option<&str>,
        max_rows_per_person: u32,
        seed: u64,
    ) -> Result<TrustRows> {
        let data_err = |e: crate::dp::DpError| FederatedError::Data {
            trust: source.describe(),
            source: Box::new(e),
        };
        let mut grouped = vec![self.target.clone()];
        let mut numeric = Vec::new();
        for f in &self.features {
            match f {
                FeatureSpec::OneHot { column, .. } => grouped.push(column.clone()),
                FeatureSpec::Scaled { column, .. } => numeric.push(column.clone()),
            }
        }
        let input = DpTable::load(source.clone(), schema)
            .person_id_opt(person_id.map(str::to_string), max_rows_per_person)
            .seed(seed)
            .read(&grouped, &numeric)
            .map_err(data_err)?;
        let data = &input.data;
        let kept: Vec<usize> = match data.bounded().rows() {
            Some(r) => r.iter().map(|&r| r as usize).collect(),
            None => (0..data.bounded().n_rows()).collect(),
        };
        let target = data.column(&self.target).map_err(data_err)?;
        let pos = match &target.spec.kind {
            ColumnKind::Categorical { values, .. } => values
                .iter()
                .position(|v| *v == self.positive)
                .map(|p| p as u32),
            _ => None,
        };
        let y: Vec<bool> = kept.iter().map(|&r| Some(target.codes[r]) == pos).collect();
        let mut codes = Vec::new();
        let mut scaled = Vec::new();
        for f in &self.features {
            match f {
                FeatureSpec::OneHot { column, values } => {
                    let c = data.column(column).map_err(data_err)?;
                    let k = values.len() as u32;
                    codes.push(
                        kept.iter()
                            .map(|&r| if c.codes[r] < k { c.codes[r] } else { NONE })
                            .collect(),
                    );
                }
                FeatureSpec::Scaled {
                    column,
                    lower,
                    upper,
                } => {
                    let raw = data.raw(column).ok_or_else(|| {
                        FederatedError::invalid("features", column, "its values were not read")
                    })?;
                    let mut v = Vec::with_capacity(kept.len());
                    for &r in &kept {
                        v.push(match raw[r] {
                            None => 0.0,
                            Some(x) if x.is_finite() => {
                                (x.clamp(*lower, *upper) - lower) / (upper - lower)
                            }
                            Some(x) => {
                                return Err(data_err(crate::dp::DpError::NonFinite {
                                    column: column.clone(),
                                    row: r as u64 + 1,
                                    value: x,
                                }));
                            }
                        });
                    }
                    scaled.push(v);
                }
            }
        }
        let mut offsets = Vec::with_capacity(self.features.len());
        let mut at = 1;
        for f in &self.features {
            offsets.push(at);
            at += f.width();
        }
        let kinds = self
            .features
            .iter()
            .map(|f| matches!(f, FeatureSpec::OneHot { .. }))
            .collect();
        Ok(TrustRows {
            codes,
            scaled,
            y,
            offsets,
            one_hot: kinds,
            dim: at,
            unit: if person_id.is_some() {
                PrivacyUnit::Person
            } else {
                PrivacyUnit::Row
            },
            warnings: input.warnings,
        })
    }
}

const NONE: u32 = u32::MAX;

/// One trust's kept rows as feature vectors (exact: they never leave the trust; only a
/// round's noisy sum of their clipped gradients does).
#[derive(Debug, Clone)]
pub struct TrustRows {
    /// Per one-hot feature: each row's active value, or `NONE`.
    codes: Vec<Vec<u32>>,
    /// Per scaled feature: each row's value in `[0, 1]`.
    scaled: Vec<Vec<f64>>,
    y: Vec<bool>,
    /// Each feature's first coordinate.
    offsets: Vec<usize>,
    /// Whether each feature is one-hot (else scaled).
    one_hot: Vec<bool>,
    dim: usize,
    unit: PrivacyUnit,
    warnings: Vec<Warning>,
}

/// `log(1 + e^z)`, without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The logistic function.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl TrustRows {
    /// Rows kept (an exact figure: for computing, never for release).
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    /// Row `r`'s label.
    pub fn label(&self, r: usize) -> bool {
        self.y[r]
    }

    /// Coordinates of a feature vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `r`'s non-zero coordinates `(index, value)`, intercept first, into `out`.
    pub fn row(&self, r: usize, out: &mut Vec<(usize, f64)>) {
        out.clear();
        out.push((0, 1.0));
        let (mut ci, mut si) = (0, 0);
        for (&off, &one_hot) in self.offsets.iter().zip(&self.one_hot) {
            if one_hot {
                let c = self.codes[ci][r];
                ci += 1;
                if c != NONE {
                    out.push((off + c as usize, 1.0));
                }
            } else {
                let v = self.scaled[si][r];
                si += 1;
                if v != 0.0 {
                    out.push((off, v));
                }
            }
        }
    }

    /// `w . x_r`.
    fn margin(w: &[f64], x: &[(usize, f64)]) -> f64 {
        x.iter().map(|&(j, v)| w[j] * v).sum()
    }

    /// This trust's vector for one round at weights `w` with clip norm `clip` (proof §1):
    /// `sum_i q(g_i)` over its kept rows, where `g_i = (sigma(w . x_i) - y_i) x_i` scaled
    /// by `min(1, C / ||g_i||)` and `q` puts each coordinate on the grid of `C / 2^16` by
    /// truncation toward zero (so `||q(g_i)||_2 <= 2^16`, checked in integers); then the
    /// rows times [`COUNT_UNITS`]; then `sum_i floor(min(l_i, 4) / 4 * 2^14)` with `l_i`
    /// row `i`'s log-loss. `dim + 2` cells.
    pub fn clipped_sums(&self, w: &[f64], clip: f64) -> Vec<i64> {
        let cells = self.dim + 2;
        let u = GRID_UNITS as f64;
        let fold = |mut acc: Vec<i64>, r: usize, x: &mut Vec<(usize, f64)>| {
            self.row(r, x);
            let z = Self::margin(w, x);
            let y = if self.y[r] { 1.0 } else { 0.0 };
            let e = sigmoid(z) - y;
            let norm = x.iter().map(|&(_, v)| v * v).sum::<f64>().sqrt();
            let g = e.abs() * norm;
            // Coordinates in units of C: a * x_j, with |a| ||x|| <= 1.
            let mut a = e / clip * if g > clip { clip / g } else { 1.0 };
            let q = |a: f64, v: f64| (a * v * u).trunc() as i64;
            // Truncation never raises a coordinate's magnitude, so ||q|| <= U up to the
            // float rounding of `a`; the exact integer check below enforces it.
            while x
                .iter()
                .map(|&(_, v)| i128::from(q(a, v)).pow(2))
                .sum::<i128>()
                > i128::from(GRID_UNITS).pow(2)
            {
                a *= 1.0 - 1e-9;
            }
            for &(j, v) in x.iter() {
                acc[j] += q(a, v);
            }
            acc[self.dim] += COUNT_UNITS;
            let loss = softplus(z) - y * z;
            let l = (loss.clamp(0.0, LOSS_CAP) / LOSS_CAP * LOSS_UNITS as f64).floor() as i64;
            acc[self.dim + 1] += l.clamp(0, LOSS_UNITS);
            acc
        };
        (0..self.n_rows())
            .into_par_iter()
            .fold(
                || (vec![0i64; cells], Vec::with_capacity(64)),
                |(acc, mut x), r| {
                    let acc = fold(acc, r, &mut x);
                    (acc, x)
                },
            )
            .map(|(acc, _)| acc)
            .reduce(
                || vec![0i64; cells],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            )
    }

    /// Each row's predicted probability under `w`.
    pub fn predict(&self, w: &[f64]) -> Vec<f64> {
        (0..self.n_rows())
            .into_par_iter()
            .map_init(Vec::new, |x, r| {
                self.row(r, x);
                sigmoid(Self::margin(w, x))
            })
            .collect()
    }
}

/// The zCDP `rho` of a target (epsilon, delta): the largest `rho` whose conversion by
/// OpenDP's map (which rounds outward) is within `epsilon` at `delta`, by bisection.
pub fn rho_for(epsilon: f64, delta: f64) -> Result<f64> {
    if !(epsilon > 0.0 && epsilon.is_finite()) {
        return Err(FederatedError::invalid(
            "epsilon",
            epsilon,
            "a positive, finite number, e.g. 1",
        ));
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(FederatedError::invalid(
            "delta",
            delta,
            "strictly between 0 and 1, e.g. 1e-9 (well below 1 / rows)",
        ));
    }
    let fits = |rho: f64| -> Result<bool> {
        let (eps, _) = Cost::rho(rho).to_approx_dp(delta)?;
        Ok(eps <= epsilon)
    };
    let (mut good, mut bad) = (0.0f64, epsilon);
    for _ in 0..200 {
        let mid = (good + bad) / 2.0;
        if mid <= good || mid >= bad {
            break;
        }
        if fits(mid)? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    if good <= 0.0 {
        return Err(FederatedError::invalid(
            "epsilon",
            epsilon,
            "too small for this delta to buy any zCDP budget",
        ));
    }
    Ok(good)
}

/// A fitted logistic regression: the encoding and the weights (public: every round's were
/// sent to the trusts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// How rows become feature vectors.
    pub encoding: Encoding,
    /// A name for every coordinate.
    pub names: Vec<String>,
    /// The weights, intercept first.
    pub weights: Vec<f64>,
}

impl LogisticModel {
    /// `P(target = positive)` for every row of `source` (read against `schema`, every row,
    /// no person bound: scoring releases nothing).
    pub fn predict(&self, source: &TableSource, schema: &Schema) -> Result<Vec<f64>> {
        let rows = self.encoding.read(source, schema, None, 1, 0)?;
        Ok(rows.predict(&self.weights))
    }
}

/// One round of a [`FederatedTrainJob`], as the release panel reads it (no exact figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRound {
    /// 1, 2, ...
    pub round: usize,
    /// rho charged (zCDP).
    pub rho: f64,
    /// The noisy number of rows the coordinator averages by: the mean of the rounds' noisy
    /// counts so far (post-processing; not an exact count).
    pub noisy_rows: f64,
    /// The noisy mean log-loss (each row's clipped to [`LOSS_CAP`]) at the weights the
    /// round was computed at.
    pub noisy_loss: f64,
    /// The L2 norm of the noisy mean gradient (penalty included) the step used.
    pub gradient_norm: f64,
    /// The protocol round.
    pub report: RoundReport,
}

/// The options of a training run, as recorded in its model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Rounds.
    pub rounds: usize,
    /// The clip norm `C` of each row's gradient.
    pub clip: f64,
    /// Adam's step size.
    pub learning_rate: f64,
    /// The L2 penalty on the non-intercept weights (added by the coordinator).
    pub l2: f64,
    /// The protocol of every round.
    pub protocol: Protocol,
    /// Rows kept per person at each trust.
    pub max_rows_per_person: u32,
    /// Trusts one person may attend (declared; 1 when not given, announced).
    pub max_trusts_per_person: u32,
}

/// What a [`FederatedTrainJob`] returns: the model file's contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// `logistic regression (federated DP-FedAvg)`.
    pub method: String,
    /// The model.
    pub model: LogisticModel,
    /// Target epsilon of the whole run.
    pub epsilon: f64,
    /// Target delta.
    pub delta: f64,
    /// The zCDP budget of (epsilon, delta), split equally over the rounds.
    pub rho: f64,
    /// The options.
    pub options: TrainOptions,
    /// Every round.
    pub rounds: Vec<TrainRound>,
    /// The ledger: one entry a round.
    pub ledger: Ledger,
    /// The persistent budget file's receipt, when one was charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_receipt: Option<ChargeReceipt>,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

/// The method name a training run writes.
pub const FEDERATED_LOGISTIC: &str = "logistic regression (federated DP-FedAvg)";

/// Federated training of a logistic regression by federated averaging with patient-level
/// DP (module docs).
///
/// ```
/// use pets::data::{Schema, TableSource};
/// use pets::federated::TrustInput;
/// use pets::federated::train::FederatedTrainJob;
/// # let dir = tempfile::tempdir().unwrap();
/// let schema = Schema::from_json(r#"{"columns": [
///     {"name": "band", "kind": "categorical", "values": ["a", "b"]},
///     {"name": "admitted", "kind": "categorical", "values": ["false", "true"]}
/// ]}"#)?;
/// let trusts: Vec<TrustInput> = (0..3)
///     .map(|t| {
///         let path = dir.path().join(format!("trust_{t}.csv"));
///         let rows: String = (0..400)
///             .map(|i| if i % 2 == 0 { "a,false\n" } else { "b,true\n" })
///             .collect();
///         std::fs::write(&path, format!("band,admitted\n{rows}")).unwrap();
///         TrustInput::new(format!("trust_{t}"), TableSource::file(path))
///     })
///     .collect();
/// let trained = FederatedTrainJob::new(schema, "admitted", 4.0, 1e-6)
///     .rounds(10)
///     .max_trusts_per_person(Some(1))
///     .run(&trusts)?;
/// assert_eq!(trained.rounds.len(), 10);
/// assert_eq!(trained.ledger.entries.len(), 10);
/// // band=b (coordinate 2) pushes towards admission, band=a (1) away.
/// assert!(trained.model.weights[2] > trained.model.weights[1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FederatedTrainJob {
    schema: Schema,
    target: String,
    positive: Option<String>,
    features: Option<Vec<String>>,
    epsilon: f64,
    delta: f64,
    rounds: usize,
    clip: Option<f64>,
    learning_rate: f64,
    l2: f64,
    protocol: Protocol,
    threshold: Option<usize>,
    colluders: usize,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    seed: u64,
    alpha: f64,
    budget: Option<std::path::PathBuf>,
    progress: crate::progress::Progress,
}

/// Default rounds.
pub const DEFAULT_ROUNDS: usize = 50;
/// Default step size of the coordinator's Adam.
pub const DEFAULT_LEARNING_RATE: f64 = 0.2;
/// Default L2 penalty.
pub const DEFAULT_L2: f64 = 1e-4;
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.99;
const ADAM_EPS: f64 = 1e-4;

impl FederatedTrainJob {
    /// A logistic regression of `target` at (epsilon, delta) over trusts whose tables follow
    /// the declared `schema`, by secure aggregation, one row a person at each trust,
    /// [`DEFAULT_ROUNDS`] rounds, the clip norm the largest feature norm.
    pub fn new(schema: Schema, target: impl Into<String>, epsilon: f64, delta: f64) -> Self {
        FederatedTrainJob {
            schema,
            target: target.into(),
            positive: None,
            features: None,
            epsilon,
            delta,
            rounds: DEFAULT_ROUNDS,
            clip: None,
            learning_rate: DEFAULT_LEARNING_RATE,
            l2: DEFAULT_L2,
            protocol: Protocol::SecAgg,
            threshold: None,
            colluders: 0,
            max_rows_per_person: 1,
            max_trusts_per_person: None,
            seed: 0,
            alpha: 0.05,
            budget: None,
            progress: crate::progress::Progress::none(),
        }
    }

    /// The target's positive value (default: the second of two declared values).
    pub fn positive(mut self, positive: Option<String>) -> Self {
        self.positive = positive;
        self
    }

    /// The feature columns (default: see [`Encoding::from_schema`]).
    pub fn features(mut self, features: Option<Vec<String>>) -> Self {
        self.features = features;
        self
    }

    /// Rounds (each `rho / rounds`).
    pub fn rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds;
        self
    }

    /// The clip norm `C` (default: [`Encoding::max_norm`], at which no gradient is clipped,
    /// since `|sigma - y| < 1`).
    pub fn clip(mut self, clip: Option<f64>) -> Self {
        self.clip = clip;
        self
    }

    /// Adam's step size.
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }

    /// The L2 penalty on the non-intercept weights.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// The protocol (secure aggregation; Prio3 is refused: see [`FederatedTrainJob::run`]).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Secure aggregation: trusts that must survive every stage (`None`: a strict majority).
    pub fn threshold(mut self, threshold: Option<usize>) -> Self {
        self.threshold = threshold;
        self
    }

    /// Secure aggregation: trusts that may collude with the aggregator.
    pub fn colluders(mut self, colluders: usize) -> Self {
        self.colluders = colluders;
        self
    }

    /// Rows kept per person at each trust that gives a person id.
    pub fn max_rows_per_person(mut self, m: u32) -> Self {
        self.max_rows_per_person = m;
        self
    }

    /// Trusts one person may attend (public; `None`: 1, announced).
    pub fn max_trusts_per_person(mut self, t: Option<u32>) -> Self {
        self.max_trusts_per_person = t;
        self
    }

    /// Seed of each trust's choice of kept rows (data processing, not noise).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Significance of the rounds' accuracy statements.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Charge (epsilon, delta) to the persistent budget file before any round.
    pub fn budget(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.budget = path;
        self
    }

    /// Progress (one unit a round) and stop requests (between rounds).
    pub fn progress(mut self, progress: crate::progress::Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The declared vector of every round for `encoding` (proof §2).
    pub fn vector_spec(encoding: &Encoding, label: String) -> Result<VectorSpec> {
        let table = |name: &str, cells: usize, weight: u64| TableLayout {
            dimensions: vec![name.to_string()],
            labels: Vec::new(),
            shape: vec![cells],
            weight,
            value: None,
        };
        let spec = VectorSpec {
            label,
            columns: encoding.columns(),
            layout: vec![
                table("clipped gradient", encoding.dim(), 1),
                table("rows", 1, COUNT_UNITS as u64),
                table("log-loss", 1, LOSS_UNITS as u64),
            ],
            unit_l2_squared: unit_l2_squared(),
        };
        spec.check()?;
        Ok(spec)
    }

    fn round_job(&self, spec: VectorSpec, rho: f64) -> FederatedJob {
        FederatedJob::for_vector(spec)
            .protocol(self.protocol)
            .share(Cost::rho(rho))
            .threshold_opt(self.threshold)
            .colluders(self.colluders)
            .max_rows_per_person(self.max_rows_per_person)
            .max_trusts_per_person_opt(self.max_trusts_per_person)
            .alpha(self.alpha)
            .seed(self.seed)
    }

    fn check_options(&self) -> Result<()> {
        if !(1..=MAX_ROUNDS).contains(&self.rounds) {
            return Err(FederatedError::invalid(
                "rounds",
                self.rounds,
                format!("1 to {MAX_ROUNDS} (each round spends rho / rounds)"),
            ));
        }
        if let Some(c) = self.clip
            && !(c > 0.0 && c.is_finite())
        {
            return Err(FederatedError::invalid(
                "clip",
                c,
                "a positive, finite L2 norm, e.g. 1",
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(FederatedError::invalid(
                "learning_rate",
                self.learning_rate,
                "a positive, finite step size, e.g. 0.1",
            ));
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(FederatedError::invalid(
                "l2",
                self.l2,
                "a non-negative, finite penalty, e.g. 1e-4",
            ));
        }
        if self.max_rows_per_person == 0 {
            return Err(FederatedError::invalid(
                "max_rows_per_person",
                0,
                "at least 1",
            ));
        }
        if self.protocol == Protocol::Prio3 {
            return Err(FederatedError::invalid(
                "protocol",
                "prio3",
                "training runs by secure aggregation (secagg): a gradient's cells are signed, \
                 and Prio3's range proofs here are for non-negative counts",
            ));
        }
        Ok(())
    }

    /// Train over `trusts` (module docs). Options, encoding, trusts and schemas are checked
    /// before any row is read; every trust's rows are read before anything is charged; the
    /// budget file is charged once with (epsilon, delta) before the first round; each round
    /// charges the session `rho / rounds` before any party draws its noise.
    pub fn run(&self, trusts: &[TrustInput]) -> Result<TrainOutcome> {
        self.check_options()?;
        let encoding = Encoding::from_schema(
            &self.schema,
            &self.target,
            self.positive.as_deref(),
            self.features.as_deref(),
        )?;
        let rho = rho_for(self.epsilon, self.delta)?;
        // Equal shares; a hair under rho / R so that R charges never pass rho by rounding.
        let rho_round = rho / self.rounds as f64 * (1.0 - 1e-9);
        let clip = self.clip.unwrap_or_else(|| encoding.max_norm());
        let mut session = Session::zcdp(rho)?.with_conversion_delta(self.delta)?;
        let label = |r: usize| {
            format!(
                "{FEDERATED_LOGISTIC}: round {r} of {}, clipped gradient sum of {} \
                 coordinates (C = {clip}), rows and log-loss",
                self.rounds,
                encoding.dim()
            )
        };
        let names: Vec<&str> = trusts.iter().map(|t| t.name.as_str()).collect();
        let probe = Self::vector_spec(&encoding, label(1))?;
        let checked = self
            .round_job(probe.clone(), rho_round)
            .check_trusts(&session, &names)?;
        let mut warnings = checked_warnings(&checked);
        let columns = encoding.columns();
        let fingerprint = columns_fingerprint(&self.schema, &columns)?;
        for t in trusts {
            if let Some(s) = &t.schema {
                let theirs = columns_fingerprint(s, &columns).unwrap_or_else(|_| "missing".into());
                self.round_job(probe.clone(), rho_round)
                    .check_trust_schema(&fingerprint, &t.name, &theirs)?;
            }
        }

        // Each trust reads and bounds its own rows (on its own machine in a deployment).
        self.progress
            .stage("reading", Some(trusts.len() as u64), "trusts");
        let started = Instant::now();
        let mut rows = Vec::with_capacity(trusts.len());
        for (i, t) in trusts.iter().enumerate() {
            let r = encoding
                .read(
                    &t.source,
                    t.schema.as_ref().unwrap_or(&self.schema),
                    t.person_id.as_deref(),
                    self.max_rows_per_person,
                    self.seed,
                )
                .map_err(|e| match e {
                    FederatedError::Data { source, .. } => FederatedError::Data {
                        trust: t.name.clone(),
                        source,
                    },
                    other => other,
                })?;
            rows.push(r);
            self.progress.advance(i as u64 + 1).map_err(dp_cancel)?;
        }
        let local_seconds = started.elapsed().as_secs_f64();
        for w in rows.iter().flat_map(|r| &r.warnings) {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }

        // Every data-dependent check is done: the persistent budget, then the rounds.
        let budget_receipt = match &self.budget {
            Some(path) => {
                let record = ChargeRecord::new("pets federated train (logistic regression)").data(
                    trusts
                        .iter()
                        .map(|t| format!("{}: {}", t.name, t.source.describe()))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
                let cost = Cost::epsilon(self.epsilon).with_delta(self.delta);
                Some(
                    BudgetStore::open(path)
                        .and_then(|store| store.charge(&cost, &record))
                        .map_err(crate::dp::DpError::from)?,
                )
            }
            None => None,
        };

        let mut coordinator = self.coordinator(encoding, clip);
        self.progress
            .stage("training", Some(self.rounds as u64), "rounds");
        while let Some(work) = coordinator.next_round() {
            self.progress.check().map_err(dp_cancel)?;
            let spec = work.spec()?;
            let started = Instant::now();
            let locals: Vec<LocalAggregate> =
                rows.iter().map(|t| work.local(t)).collect::<Result<_>>()?;
            let compute = started.elapsed().as_secs_f64();
            let release =
                self.round_job(spec, rho_round)
                    .run_vectors(&mut session, trusts, &locals)?;
            let first = work.round == 1;
            coordinator.absorb(&release, compute + if first { local_seconds } else { 0.0 })?;
            self.progress.update(work.round as u64);
        }
        coordinator.finish(self, rho, session.ledger(), budget_receipt, warnings)
    }

    /// The coordinator of this run's rounds (the weights, Adam's state), for `encoding`
    /// and clip norm `clip`.
    fn coordinator(&self, encoding: Encoding, clip: f64) -> TrainCoordinator {
        let dim = encoding.dim();
        TrainCoordinator {
            encoding,
            clip,
            rounds: self.rounds,
            learning_rate: self.learning_rate,
            l2: self.l2,
            w: vec![0.0; dim],
            m1: vec![0.0; dim],
            m2: vec![0.0; dim],
            counts_sum: 0.0,
            done: Vec::with_capacity(self.rounds),
        }
    }

    /// The coordinator of this run when the trusts are elsewhere (the network submitter,
    /// `pets federated submit train.toml`): the options and the encoding checked from the
    /// declared schema alone, and a session of the run's whole rho in which every round
    /// charged by the aggregator is accounted again ([`Session::account_round`]), so the
    /// model's ledger is the in-process run's. Returns the coordinator and each round's
    /// rho.
    pub fn remote(&self) -> Result<RemoteTrain> {
        self.check_options()?;
        let encoding = Encoding::from_schema(
            &self.schema,
            &self.target,
            self.positive.as_deref(),
            self.features.as_deref(),
        )?;
        let rho = rho_for(self.epsilon, self.delta)?;
        let rho_round = rho / self.rounds as f64 * (1.0 - 1e-9);
        let clip = self.clip.unwrap_or_else(|| encoding.max_norm());
        Ok(RemoteTrain {
            coordinator: self.coordinator(encoding, clip),
            job: self.clone(),
            rho,
            rho_round,
            session: Session::zcdp(rho)?.with_conversion_delta(self.delta)?,
            warnings: Vec::new(),
        })
    }
}

/// One round of a federated training run: the public weights every trust computes its
/// clipped gradient sum at, with the encoding and clip norm (nothing but the declared
/// schema, the options and earlier releases).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainRoundWork {
    /// The release's label (as in the ledger).
    pub label: String,
    /// 1, 2, ...
    pub round: usize,
    /// Rounds of the run.
    pub rounds: usize,
    /// How rows become feature vectors (as its JSON text on the wire: the features are an
    /// internally tagged enum, which the wire format's postcard cannot carry).
    #[serde(with = "encoding_text")]
    pub encoding: Encoding,
    /// The weights of this round, intercept first.
    pub weights: Vec<f64>,
    /// The clip norm `C` of each row's gradient.
    pub clip: f64,
}

/// An [`Encoding`] as its JSON text.
mod encoding_text {
    use super::Encoding;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(e: &Encoding, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(e).map_err(serde::ser::Error::custom)?)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Encoding, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}

impl TrainRoundWork {
    /// The declared vector the round sums ([`FederatedTrainJob::vector_spec`]: its
    /// sensitivity is fixed by the grid, whatever the weights and clip).
    pub fn spec(&self) -> Result<VectorSpec> {
        FederatedTrainJob::vector_spec(&self.encoding, self.label.clone())
    }

    /// The fingerprint of how `schema` declares the columns the encoding reads.
    pub fn fingerprint(&self, schema: &Schema) -> Result<String> {
        columns_fingerprint(schema, &self.encoding.columns())
    }

    /// A trust's check of the work against its own declared `schema`, before it reads a
    /// row: the encoding is the one its schema gives for the same target, positive value
    /// and features; the weights are finite and as many as the encoding's coordinates; the
    /// clip norm is positive and finite.
    pub fn check(&self, schema: &Schema) -> Result<()> {
        let e = &self.encoding;
        let features: Vec<String> = e.features.iter().map(|f| f.column().to_string()).collect();
        let ours = Encoding::from_schema(schema, &e.target, Some(&e.positive), Some(&features))?;
        if &ours != e {
            return Err(FederatedError::invalid(
                "encoding",
                &self.label,
                "the job's encoding is not the one this trust's schema gives for the same \
                 target and features (another schema version?)",
            ));
        }
        if self.weights.len() != e.dim() || self.weights.iter().any(|w| !w.is_finite()) {
            return Err(FederatedError::invalid(
                "weights",
                self.weights.len(),
                format!("{} finite weights, one per coordinate", e.dim()),
            ));
        }
        if !(self.clip > 0.0 && self.clip.is_finite()) {
            return Err(FederatedError::invalid(
                "clip",
                self.clip,
                "a positive, finite L2 norm",
            ));
        }
        Ok(())
    }

    /// A trust's vector for this round from its kept rows ([`TrustRows::clipped_sums`] at
    /// the round's weights), as the round's local aggregate.
    pub fn local(&self, rows: &TrustRows) -> Result<LocalAggregate> {
        let spec = self.spec()?;
        if rows.dim() != self.encoding.dim() {
            return Err(FederatedError::invalid(
                "encoding",
                rows.dim(),
                format!("{} coordinates", self.encoding.dim()),
            ));
        }
        Ok(LocalAggregate {
            layout: spec.layout,
            values: rows.clipped_sums(&self.weights, self.clip),
            unit: rows.unit,
            warnings: rows.warnings.clone(),
        })
    }
}

/// The coordinator of a training run: the public weights and Adam's state, each round's
/// work, and the step from each round's noisy sums (post-processing only). The in-process
/// run and the network submitter both run it.
#[derive(Debug, Clone)]
pub struct TrainCoordinator {
    encoding: Encoding,
    clip: f64,
    rounds: usize,
    learning_rate: f64,
    l2: f64,
    w: Vec<f64>,
    m1: Vec<f64>,
    m2: Vec<f64>,
    counts_sum: f64,
    done: Vec<TrainRound>,
}

impl TrainCoordinator {
    /// The next round's work (the current weights), or `None` after the last round.
    pub fn next_round(&self) -> Option<TrainRoundWork> {
        let r = self.done.len() + 1;
        (r <= self.rounds).then(|| TrainRoundWork {
            label: format!(
                "{FEDERATED_LOGISTIC}: round {r} of {}, clipped gradient sum of {} \
                 coordinates (C = {}), rows and log-loss",
                self.rounds,
                self.encoding.dim(),
                self.clip
            ),
            round: r,
            rounds: self.rounds,
            encoding: self.encoding.clone(),
            weights: self.w.clone(),
            clip: self.clip,
        })
    }

    /// Take back the round's release: `n_hat` = the mean of the noisy counts so far, the
    /// noisy mean gradient plus the penalty, one Adam step (post-processing).
    pub fn absorb(&mut self, release: &FederatedRelease, local_seconds: f64) -> Result<()> {
        let dim = self.encoding.dim();
        let s = &release.sums;
        if s.len() != dim + 2 {
            return Err(FederatedError::invalid(
                "release",
                &release.query,
                format!(
                    "{} summed cells; a round of this run has {}",
                    s.len(),
                    dim + 2
                ),
            ));
        }
        let r = self.done.len() + 1;
        let w = &mut self.w;
        self.counts_sum += s[dim] as f64 / COUNT_UNITS as f64;
        let n_hat = (self.counts_sum / r as f64).max(1.0);
        let loss = s[dim + 1] as f64 / LOSS_UNITS as f64 * LOSS_CAP / n_hat;
        let mut g: Vec<f64> = s[..dim]
            .iter()
            .map(|&v| v as f64 * self.clip / GRID_UNITS as f64 / n_hat)
            .collect();
        for j in 1..dim {
            g[j] += self.l2 * w[j];
        }
        let t = r as i32;
        for j in 0..dim {
            self.m1[j] = BETA1 * self.m1[j] + (1.0 - BETA1) * g[j];
            self.m2[j] = BETA2 * self.m2[j] + (1.0 - BETA2) * g[j] * g[j];
            let mh = self.m1[j] / (1.0 - BETA1.powi(t));
            let vh = self.m2[j] / (1.0 - BETA2.powi(t));
            w[j] -= self.learning_rate * mh / (vh.sqrt() + ADAM_EPS);
        }
        let mut report = release.round.clone();
        report.local_seconds = local_seconds;
        self.done.push(TrainRound {
            round: r,
            rho: release.cost.main(),
            noisy_rows: n_hat,
            noisy_loss: loss,
            gradient_norm: g.iter().map(|v| v * v).sum::<f64>().sqrt(),
            report,
        });
        Ok(())
    }

    /// The model file's contents after the last round.
    fn finish(
        self,
        job: &FederatedTrainJob,
        rho: f64,
        ledger: Ledger,
        budget_receipt: Option<ChargeReceipt>,
        warnings: Vec<Warning>,
    ) -> Result<TrainOutcome> {
        if self.done.len() != self.rounds {
            return Err(FederatedError::invalid(
                "rounds",
                self.done.len(),
                format!(
                    "all {} rounds taken back before the model is written",
                    self.rounds
                ),
            ));
        }
        Ok(TrainOutcome {
            method: FEDERATED_LOGISTIC.into(),
            model: LogisticModel {
                names: self.encoding.names(),
                encoding: self.encoding,
                weights: self.w,
            },
            epsilon: job.epsilon,
            delta: job.delta,
            rho,
            options: TrainOptions {
                rounds: self.rounds,
                clip: self.clip,
                learning_rate: self.learning_rate,
                l2: self.l2,
                protocol: job.protocol,
                max_rows_per_person: job.max_rows_per_person,
                max_trusts_per_person: job.max_trusts_per_person.unwrap_or(1),
            },
            rounds: self.done,
            ledger,
            budget_receipt,
            warnings,
        })
    }
}

/// The federation options of a training run's rounds ([`RemoteTrain::options`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainFederation {
    /// The protocol (secure aggregation).
    pub protocol: Protocol,
    /// Secure aggregation's threshold (`None`: a strict majority).
    pub threshold: Option<usize>,
    /// Trusts that may collude with the aggregator.
    pub colluders: usize,
    /// Rows kept per person at each trust.
    pub max_rows_per_person: u32,
    /// Trusts one person may attend.
    pub max_trusts_per_person: Option<u32>,
    /// Seed of each trust's choice of kept rows.
    pub seed: u64,
    /// Significance of the accuracy statements.
    pub alpha: f64,
}

/// A training run coordinated from elsewhere than the trusts ([`FederatedTrainJob::remote`]).
#[derive(Debug)]
pub struct RemoteTrain {
    coordinator: TrainCoordinator,
    job: FederatedTrainJob,
    rho: f64,
    rho_round: f64,
    session: Session,
    warnings: Vec<Warning>,
}

impl RemoteTrain {
    /// The next round's work and its rho, or `None` after the last round.
    pub fn next_round(&self) -> Option<(TrainRoundWork, f64)> {
        self.coordinator.next_round().map(|w| (w, self.rho_round))
    }

    /// The federation options of every round, as a network job carries them.
    pub fn options(&self) -> TrainFederation {
        let j = &self.job;
        TrainFederation {
            protocol: j.protocol,
            threshold: j.threshold,
            colluders: j.colluders,
            max_rows_per_person: j.max_rows_per_person,
            max_trusts_per_person: j.max_trusts_per_person,
            seed: j.seed,
            alpha: j.alpha,
        }
    }

    /// Take back a round's release with the ledger entry the aggregator charged for it
    /// (accounted in the run's session: refused past the run's budget, or when it is not
    /// the release's charge), then the coordinator's step.
    pub fn absorb(
        &mut self,
        release: &FederatedRelease,
        entry: &crate::dp::ledger::LedgerEntry,
    ) -> Result<()> {
        if entry.cost != release.cost || entry.query != release.query {
            return Err(FederatedError::invalid(
                "ledger",
                &entry.query,
                "the aggregator's ledger entry is not the charge of the release it came with: \
                 not accounted",
            ));
        }
        self.session.account_round(entry)?;
        for w in &release.warnings {
            if !self.warnings.contains(w) {
                self.warnings.push(w.clone());
            }
        }
        self.coordinator
            .absorb(release, release.round.local_seconds)
    }

    /// The run's ledger so far.
    pub fn ledger(&self) -> Ledger {
        self.session.ledger()
    }

    /// The model file's contents, as the in-process run writes them.
    pub fn finish(self) -> Result<TrainOutcome> {
        let ledger = self.session.ledger();
        self.coordinator
            .finish(&self.job, self.rho, ledger, None, self.warnings)
    }
}

fn dp_cancel(e: crate::data::DataError) -> FederatedError {
    FederatedError::Dp(Box::new(e.into()))
}

fn checked_warnings(checked: &crate::federated::job::CheckedJob) -> Vec<Warning> {
    checked.warnings().to_vec()
}

#[cfg(test)]
mod tests;
