//! Privacy budgets and their exact accounting.
//!
//! A [`Cost`] is a privacy loss in one of two measures:
//!
//! - **(epsilon, delta)-differential privacy** (Dwork, McSherry, Nissim & Smith 2006;
//!   Dwork, Kenthapadi, McSherry, Mironov & Naor 2006 for delta > 0): for neighbouring
//!   datasets `x, x'` and every set of outputs `S`,
//!   `P[M(x) in S] <= e^epsilon P[M(x') in S] + delta`. `delta = 0` is pure DP.
//! - **delta-approximate rho-zero-concentrated DP** (Bun & Steinke 2016, "Concentrated
//!   Differential Privacy: Simplifications, Extensions, and Lower Bounds"): the Renyi
//!   divergence of every order `a > 1` is at most `rho * a` (outside an event of probability
//!   delta). The Gaussian mechanism is naturally in this measure.
//!
//! The [`Accountant`] holds a total and what has been spent, **in exact rational arithmetic**
//! (every `f64` is a dyadic rational, converted without rounding; sums, differences and the
//! pure-to-zCDP conversion `rho = epsilon^2 / 2` are exact). A charge is admitted only if
//! the exact total spent stays within the exact budget, so rounding can never let a session
//! overspend. Figures shown to people are rounded conservatively: spent up, remaining down.
//!
//! Composition (Dwork, Rothblum & Vadhan 2010; Bun & Steinke 2016, Lemma 2.3):
//! - sequential: costs add, `(e1, d1) + (e2, d2) = (e1 + e2, d1 + d2)`, `rho1 + rho2`;
//! - parallel (McSherry 2009, PINQ): releases on disjoint parts of the data charge once —
//!   more precisely, if each person's rows fall in at most `k` parts, `k` times the largest
//!   per-part cost ([`Accountant::charge_parallel`]).
//!
//! **Charging (epsilon, delta)-DP to a zCDP budget** (the only cast between measures): an
//! `(epsilon, delta)`-DP release is charged as delta-approximate `epsilon^2 / 2`-zCDP, in
//! exact arithmetic. For `delta = 0` this is OpenDP's `make_pureDP_to_zCDP` (Bun & Steinke
//! 2016, Prop. 1.4 / 3.3; pets computes it exactly where OpenDP rounds up). For
//! `delta > 0` (Laplace-noised thresholded group-by under a zCDP budget) no OpenDP map
//! covers it; the argument: an `(epsilon, delta)`-indistinguishable pair of output
//! distributions is a post-processing of the four-outcome randomised response (Kairouz, Oh
//! & Viswanath 2015), whose outcomes other than the two "leak" ones have probability
//! `1 - delta` and are `epsilon`-indistinguishable; conditioned on that event the Renyi
//! divergences are at most `alpha epsilon^2 / 2` (Bun & Steinke 2016, Prop. 3.3), which is
//! delta-approximate `epsilon^2 / 2`-zCDP (their Def. 1.2). The full proof and its limits are
//! in `dp/proofs/approx_dp_to_zcdp.md`; the tests check the charged figures against
//! OpenDP's pure cast and the Renyi divergences of the discrete Laplace numerically.

use std::fmt;

use dashu::rational::RBig;
use opendp::combinators::ConcentratedMeasure;
use opendp::measures::ZeroConcentratedDivergence;
use opendp::traits::InfCast;
use serde::{Deserialize, Serialize};

use crate::dp::error::{DpError, Result, check_delta};

/// Above this epsilon a budget is announced as giving almost no protection
/// ([`Cost::weak_budget_warning`]).
pub const WEAK_EPSILON: f64 = 10.0;

/// The measure a budget is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyMeasure {
    /// (epsilon, delta)-DP; pure when delta is zero.
    Dp,
    /// delta-approximate rho-zCDP; plain zCDP when delta is zero.
    Zcdp,
}

impl fmt::Display for PrivacyMeasure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrivacyMeasure::Dp => "(epsilon, delta)-DP",
            PrivacyMeasure::Zcdp => "rho-zCDP",
        })
    }
}

/// A privacy loss: what a release costs, or what a session may spend in total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "measure", rename_all = "snake_case")]
pub enum Cost {
    /// (epsilon, delta)-DP (Dwork et al. 2006); pure epsilon-DP when `delta == 0`.
    Dp {
        /// Epsilon, the bound on the privacy loss random variable.
        epsilon: f64,
        /// Delta, the probability the bound may fail.
        #[serde(default)]
        delta: f64,
    },
    /// delta-approximate rho-zCDP (Bun & Steinke 2016).
    Zcdp {
        /// Rho.
        rho: f64,
        /// Delta (zero for plain zCDP).
        #[serde(default)]
        delta: f64,
    },
}

impl Cost {
    /// Pure epsilon-DP.
    pub fn epsilon(epsilon: f64) -> Cost {
        Cost::Dp {
            epsilon,
            delta: 0.0,
        }
    }

    /// Plain rho-zCDP.
    pub fn rho(rho: f64) -> Cost {
        Cost::Zcdp { rho, delta: 0.0 }
    }

    /// The same cost with `delta` set.
    pub fn with_delta(self, delta: f64) -> Cost {
        match self {
            Cost::Dp { epsilon, .. } => Cost::Dp { epsilon, delta },
            Cost::Zcdp { rho, .. } => Cost::Zcdp { rho, delta },
        }
    }

    /// A zero cost in `measure`.
    pub fn zero(measure: PrivacyMeasure) -> Cost {
        match measure {
            PrivacyMeasure::Dp => Cost::epsilon(0.0),
            PrivacyMeasure::Zcdp => Cost::rho(0.0),
        }
    }

    /// The measure.
    pub fn measure(&self) -> PrivacyMeasure {
        match self {
            Cost::Dp { .. } => PrivacyMeasure::Dp,
            Cost::Zcdp { .. } => PrivacyMeasure::Zcdp,
        }
    }

    /// Epsilon or rho.
    pub fn main(&self) -> f64 {
        match *self {
            Cost::Dp { epsilon, .. } => epsilon,
            Cost::Zcdp { rho, .. } => rho,
        }
    }

    /// Delta.
    pub fn delta(&self) -> f64 {
        match *self {
            Cost::Dp { delta, .. } | Cost::Zcdp { delta, .. } => delta,
        }
    }

    /// Name of the main parameter ("epsilon" or "rho").
    pub fn main_name(&self) -> &'static str {
        match self {
            Cost::Dp { .. } => "epsilon",
            Cost::Zcdp { .. } => "rho",
        }
    }

    /// Check the cost is a valid privacy loss: finite, not negative, delta below one.
    pub fn validate(&self) -> Result<()> {
        let m = self.main();
        if !(m.is_finite() && m >= 0.0) || m.is_sign_negative() {
            return Err(DpError::invalid(
                self.main_name(),
                m,
                "it must be a finite number, zero or more",
            ));
        }
        check_delta("delta", self.delta())
    }

    /// Check the cost can be a session's total budget: valid, with epsilon or rho above zero.
    pub fn validate_total(&self) -> Result<()> {
        self.validate()?;
        if self.main() <= 0.0 {
            return Err(DpError::invalid(
                self.main_name(),
                self.main(),
                "a budget must be greater than zero",
            ));
        }
        Ok(())
    }

    /// A warning when this budget protects next to nothing: an epsilon (for zCDP, the
    /// epsilon of its conversion at delta = 1e-9) above [`WEAK_EPSILON`], where a release's
    /// likelihood may change by a factor over `e^10 = 22026` with one person. pets runs it
    /// (a custodian may mean it, e.g. to test a pipeline) but says so in every output.
    pub fn weak_budget_warning(&self) -> Option<crate::Warning> {
        let (eps, _) = self.to_approx_dp(1e-9).ok()?;
        (eps > WEAK_EPSILON).then(|| {
            crate::Warning::new(
                crate::WarningKind::Note,
                format!(
                    "the budget {self} gives almost no protection (epsilon {} above \
                     {WEAK_EPSILON}): released values are close to exact; use it to test a \
                     pipeline, not to publish",
                    if matches!(self, Cost::Zcdp { .. }) {
                        format!("{eps:.3e} at delta = 1e-9 is")
                    } else {
                        format!("{eps:e} is")
                    }
                ),
            )
        })
    }

    /// The cost `(epsilon, delta)` as a conservative (epsilon, delta)-DP statement: exact
    /// for [`Cost::Dp`]; for zCDP, rho is converted at `delta_conversion` with OpenDP's
    /// conversion (Canonne, Kamath & Steinke 2020, Prop. 12; tighter than Bun & Steinke's
    /// `epsilon = rho + 2 sqrt(rho ln(1/delta))`) and the zCDP's own delta is added.
    /// Proof: [`crate::dp::proofs::zcdp`].
    pub fn to_approx_dp(&self, delta_conversion: f64) -> Result<(f64, f64)> {
        match *self {
            Cost::Dp { epsilon, delta } => Ok((epsilon, delta)),
            Cost::Zcdp { rho, delta } => {
                if rho == 0.0 {
                    return Ok((0.0, delta));
                }
                if !(delta_conversion > 0.0 && delta_conversion < 1.0) {
                    return Err(DpError::invalid(
                        "delta for the zCDP conversion",
                        delta_conversion,
                        "it must be strictly between 0 and 1, e.g. 1e-7",
                    ));
                }
                let profile = ZeroConcentratedDivergence::convert(rho)
                    .map_err(|e| DpError::opendp("converting rho to (epsilon, delta)", e))?;
                let eps = profile
                    .epsilon(delta_conversion)
                    .map_err(|e| DpError::opendp("converting rho to (epsilon, delta)", e))?;
                let total_delta = exact(delta_conversion)? + exact(delta)?;
                Ok((eps, up(&total_delta)))
            }
        }
    }
}

/// A number for messages: plain, or in exponent form when very small or large.
/// A privacy parameter for people: 12 decimals, or 4 significant digits when tiny or huge (the accountant itself is exact;
/// shares are rounded *down* to the f64 below, so `0.2` may be held as 0.19999999999999998).
fn num(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e7) {
        let s = format!("{x:.3e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    } else {
        let s = format!("{x:.12}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.into() }
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, main, delta) = (self.main_name(), self.main(), self.delta());
        if delta == 0.0 {
            write!(f, "{name} = {}", num(main))
        } else {
            write!(f, "{name} = {}, delta = {}", num(main), num(delta))
        }
    }
}

/// A cost held exactly, in the accountant's measure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd)]
struct Exact {
    main: RBig,
    delta: RBig,
}

fn exact(x: f64) -> Result<RBig> {
    RBig::try_from(x).map_err(|_| DpError::invalid("privacy parameter", x, "it must be finite"))
}

/// Round up to the nearest `f64` at or above `x`.
pub(crate) fn up(x: &RBig) -> f64 {
    f64::inf_cast(x.clone()).unwrap_or(f64::INFINITY)
}

/// Round down to the nearest `f64` at or below `x`.
pub(crate) fn down(x: &RBig) -> f64 {
    f64::neg_inf_cast(x.clone()).unwrap_or(0.0)
}

impl Exact {
    fn zero() -> Exact {
        Exact {
            main: RBig::ZERO,
            delta: RBig::ZERO,
        }
    }

    /// Convert `cost` exactly into `measure`. Pure/approximate DP becomes zCDP through
    /// `(epsilon, delta)-DP => delta-approximate (epsilon^2 / 2)-zCDP` (Bun & Steinke 2016,
    /// Prop. 1.4 for the pure part; the delta carried over by the decomposition argument in
    /// the module docs); zCDP cannot be charged to an (epsilon, delta) budget without
    /// choosing a conversion delta, so that is refused.
    /// Proof: [`crate::dp::proofs::zcdp`], [`crate::dp::proofs::approx_dp_to_zcdp`].
    fn of(cost: &Cost, measure: PrivacyMeasure, mechanism: &str) -> Result<Exact> {
        cost.validate()?;
        let delta = exact(cost.delta())?;
        match (cost, measure) {
            (Cost::Dp { epsilon, .. }, PrivacyMeasure::Dp) => Ok(Exact {
                main: exact(*epsilon)?,
                delta,
            }),
            (Cost::Zcdp { rho, .. }, PrivacyMeasure::Zcdp) => Ok(Exact {
                main: exact(*rho)?,
                delta,
            }),
            (Cost::Dp { epsilon, .. }, PrivacyMeasure::Zcdp) => {
                let e = exact(*epsilon)?;
                Ok(Exact {
                    main: &e * &e / RBig::from(2u8),
                    delta,
                })
            }
            (Cost::Zcdp { .. }, PrivacyMeasure::Dp) => Err(DpError::IncompatibleMeasure {
                mechanism: mechanism.to_string(),
                mechanism_measure: "rho-zCDP".into(),
                budget_measure: "(epsilon, delta)-DP".into(),
                hint: "start the session with a zCDP budget (Cost::rho, or `--rho` on the \
                       command line), or use Laplace noise"
                    .into(),
            }),
        }
    }

    fn to_cost(&self, measure: PrivacyMeasure, round_up: bool) -> Cost {
        let r = |x: &RBig| if round_up { up(x) } else { down(x) };
        match measure {
            PrivacyMeasure::Dp => Cost::Dp {
                epsilon: r(&self.main),
                delta: r(&self.delta),
            },
            PrivacyMeasure::Zcdp => Cost::Zcdp {
                rho: r(&self.main),
                delta: r(&self.delta),
            },
        }
    }

    fn add(&self, o: &Exact) -> Exact {
        Exact {
            main: &self.main + &o.main,
            delta: &self.delta + &o.delta,
        }
    }

    fn fits_in(&self, total: &Exact) -> bool {
        self.main <= total.main && self.delta <= total.delta
    }
}

/// Holds a total privacy budget and charges releases against it, exactly.
///
/// Invariants (tested by property tests): the exact amount spent never exceeds the total
/// (so the remaining budget never goes negative), and it equals the exact sum of the
/// charges admitted. Deliberately not `Clone`: a copy would be a second budget.
#[derive(Debug)]
pub struct Accountant {
    total: Cost,
    total_x: Exact,
    spent_x: Exact,
    charges: usize,
}

impl Accountant {
    /// An accountant with `total` to spend. Refuses a zero, negative or non-finite budget.
    pub fn new(total: Cost) -> Result<Accountant> {
        total.validate_total()?;
        let total_x = Exact::of(&total, total.measure(), "budget")?;
        Ok(Accountant {
            total,
            total_x,
            spent_x: Exact::zero(),
            charges: 0,
        })
    }

    /// The measure the budget is kept in.
    pub fn measure(&self) -> PrivacyMeasure {
        self.total.measure()
    }

    /// The total budget.
    pub fn total(&self) -> Cost {
        self.total
    }

    /// What has been spent, rounded up.
    pub fn spent(&self) -> Cost {
        self.spent_x.to_cost(self.measure(), true)
    }

    /// What is left, rounded down (never negative).
    pub fn remaining(&self) -> Cost {
        let left = Exact {
            main: &self.total_x.main - &self.spent_x.main,
            delta: &self.total_x.delta - &self.spent_x.delta,
        };
        left.to_cost(self.measure(), false)
    }

    /// Number of charges admitted.
    pub fn charges(&self) -> usize {
        self.charges
    }

    /// `cost` expressed in this accountant's measure (rounded up), or an error if it cannot
    /// be charged here.
    pub fn convert(&self, cost: &Cost, mechanism: &str) -> Result<Cost> {
        Ok(Exact::of(cost, self.measure(), mechanism)?.to_cost(self.measure(), true))
    }

    /// Whether `cost` would fit in what is left.
    pub fn fits(&self, cost: &Cost) -> bool {
        Exact::of(cost, self.measure(), "query")
            .map(|c| self.spent_x.add(&c).fits_in(&self.total_x))
            .unwrap_or(false)
    }

    /// Charge `cost` for `query`, or refuse it (charging nothing) if it does not fit.
    /// Returns the amount charged in the accountant's measure, rounded up.
    pub fn charge(&mut self, query: &str, cost: &Cost) -> Result<Cost> {
        let c = Exact::of(cost, self.measure(), query)?;
        self.admit(query, c)
    }

    /// Charge for `parts` releases on disjoint parts of the data, each costing at most
    /// `per_part`, when one person's rows fall in at most `parts_per_person` parts: the
    /// cost is `min(parts, parts_per_person) * per_part` (parallel composition; McSherry
    /// 2009). With `parts_per_person = 1` (parts split by person) it is charged once.
    pub fn charge_parallel(
        &mut self,
        query: &str,
        per_part: &Cost,
        parts: u64,
        parts_per_person: u64,
    ) -> Result<Cost> {
        if parts_per_person == 0 {
            return Err(DpError::invalid(
                "parts_per_person",
                0.0,
                "each person is in at least one part; give 1 when parts split people",
            ));
        }
        let c = Exact::of(per_part, self.measure(), query)?;
        let k = RBig::from(parts.min(parts_per_person));
        let c = Exact {
            main: &c.main * &k,
            delta: &c.delta * &k,
        };
        self.admit(query, c)
    }

    fn admit(&mut self, query: &str, c: Exact) -> Result<Cost> {
        let after = self.spent_x.add(&c);
        if !after.fits_in(&self.total_x) {
            return Err(DpError::OverBudget {
                query: query.to_string(),
                requested: c.to_cost(self.measure(), true),
                remaining: self.remaining(),
                spent: self.spent(),
                total: self.total,
            });
        }
        self.spent_x = after;
        self.charges += 1;
        Ok(c.to_cost(self.measure(), true))
    }

    /// The spending as an (epsilon, delta)-DP statement (see [`Cost::to_approx_dp`]).
    pub fn spent_as_approx_dp(&self, delta_conversion: f64) -> Result<(f64, f64)> {
        self.spent().to_approx_dp(delta_conversion)
    }

    /// Exact equality of what was spent with the exact sum of `costs` (for audits and tests):
    /// true when the ledger adds up.
    pub fn spent_equals_sum_of(&self, costs: &[Cost]) -> Result<bool> {
        let mut s = Exact::zero();
        for c in costs {
            s = s.add(&Exact::of(c, self.measure(), "ledger")?);
        }
        Ok(s == self.spent_x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_bad_totals() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Accountant::new(Cost::epsilon(bad)).is_err(), "{bad}");
            assert!(Accountant::new(Cost::rho(bad)).is_err(), "{bad}");
        }
        assert!(Accountant::new(Cost::epsilon(1.0).with_delta(1.5)).is_err());
        assert!(Accountant::new(Cost::epsilon(1.0).with_delta(-0.0)).is_err());
    }

    #[test]
    fn costs_display_for_people() {
        assert_eq!(
            Cost::epsilon(0.19999999999999998).to_string(),
            "epsilon = 0.2"
        );
        assert_eq!(
            Cost::epsilon(1.0).with_delta(1e-9).to_string(),
            "epsilon = 1, delta = 1e-9"
        );
        assert_eq!(
            Cost::epsilon(1.1102230246251565e-16).to_string(),
            "epsilon = 1.11e-16"
        );
        assert_eq!(Cost::rho(0.005).to_string(), "rho = 0.005");
    }

    #[test]
    fn exact_tenths_fill_the_budget() {
        // 0.1 ten times is 1.0000000000000002 in floating point; exactly it is a hair over
        // 1 too (0.1 is not dyadic), so the tenth charge must be refused, not rounded away.
        let mut a = Accountant::new(Cost::epsilon(1.0)).unwrap();
        for _ in 0..9 {
            a.charge("q", &Cost::epsilon(0.1)).unwrap();
        }
        let err = a.charge("q", &Cost::epsilon(0.1)).unwrap_err();
        assert!(matches!(err, DpError::OverBudget { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("asks for epsilon = 0.1") && msg.contains("is left"),
            "{msg}"
        );
        // Dyadic shares fill it exactly.
        let mut a = Accountant::new(Cost::epsilon(1.0)).unwrap();
        for _ in 0..8 {
            a.charge("q", &Cost::epsilon(0.125)).unwrap();
        }
        assert_eq!(a.remaining(), Cost::epsilon(0.0));
        assert!(a.charge("q", &Cost::epsilon(f64::MIN_POSITIVE)).is_err());
    }

    #[test]
    fn pure_converts_to_zcdp_but_not_back() {
        let mut a = Accountant::new(Cost::rho(0.5)).unwrap();
        let c = a.charge("q", &Cost::epsilon(1.0)).unwrap();
        assert_eq!(c, Cost::rho(0.5));
        assert_eq!(a.remaining(), Cost::rho(0.0));
        let mut b = Accountant::new(Cost::epsilon(1.0)).unwrap();
        let e = b.charge("g", &Cost::rho(0.01)).unwrap_err();
        assert!(matches!(e, DpError::IncompatibleMeasure { .. }), "{e}");
    }

    #[test]
    fn parallel_charges_once_per_part_touched() {
        let mut a = Accountant::new(Cost::epsilon(1.0)).unwrap();
        let c = a
            .charge_parallel("by provider", &Cost::epsilon(0.25), 200, 1)
            .unwrap();
        assert_eq!(c, Cost::epsilon(0.25));
        let c = a
            .charge_parallel("by provider, 3 rows a person", &Cost::epsilon(0.25), 200, 3)
            .unwrap();
        assert_eq!(c, Cost::epsilon(0.75));
        assert!(a.charge_parallel("x", &Cost::epsilon(0.25), 2, 1).is_err());
    }

    #[test]
    fn delta_is_accounted() {
        let mut a = Accountant::new(Cost::epsilon(1.0).with_delta(1e-6)).unwrap();
        a.charge("t", &Cost::epsilon(0.5).with_delta(1e-6)).unwrap();
        assert!(a.charge("t", &Cost::epsilon(0.1).with_delta(1e-9)).is_err());
        a.charge("t", &Cost::epsilon(0.1)).unwrap();
        let mut p = Accountant::new(Cost::epsilon(1.0)).unwrap();
        assert!(p.charge("t", &Cost::epsilon(0.1).with_delta(1e-9)).is_err());
    }

    #[test]
    fn zcdp_reports_as_approx_dp() {
        let (eps, delta) = Cost::rho(0.5).to_approx_dp(1e-6).unwrap();
        // Bun & Steinke's bound is rho + 2 sqrt(rho ln(1/delta)) = 5.756; the CKS bound is tighter.
        assert!(eps > 0.5 && eps < 0.5 + 2.0 * (0.5f64 * (1e6f64).ln()).sqrt());
        assert_eq!(delta, 1e-6);
    }

    /// Renyi divergence `D_alpha(P || Q)` of the discrete Laplace of scale `b` at 0 and at
    /// `shift`, summed over `|z| <= 400 b + shift` (the rest is below 1e-170 of the mass),
    /// in log space.
    fn renyi_discrete_laplace(b: f64, shift: i64, alpha: f64) -> f64 {
        let log_norm = ((1.0 - (-1.0 / b).exp()) / (1.0 + (-1.0 / b).exp())).ln();
        let lp = |z: i64| log_norm - (z.abs() as f64) / b;
        let lq = |z: i64| log_norm - ((z - shift).abs() as f64) / b;
        let reach = (400.0 * b) as i64 + shift.abs() + 10;
        let terms: Vec<f64> = (-reach..=reach)
            .map(|z| alpha * lp(z) + (1.0 - alpha) * lq(z))
            .collect();
        let mx = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = mx + terms.iter().map(|t| (t - mx).exp()).sum::<f64>().ln();
        lse / (alpha - 1.0)
    }

    #[test]
    fn approx_dp_charges_to_zcdp_as_half_epsilon_squared_with_its_delta() {
        use opendp::combinators::make_pureDP_to_zCDP;
        use opendp::domains::{AtomDomain, VectorDomain};
        use opendp::measurements::make_laplace;
        use opendp::metrics::L1Distance;
        for &eps in &[0.01, 0.1, 0.5, 1.0, 2.3] {
            for &delta in &[0.0, 1e-12, 1e-7] {
                let mut a = Accountant::new(Cost::rho(100.0).with_delta(1e-3)).unwrap();
                let c = a
                    .charge("q", &Cost::epsilon(eps).with_delta(delta))
                    .unwrap();
                let Cost::Zcdp { rho, delta: d } = c else {
                    panic!("charged in the wrong measure: {c:?}")
                };
                // The delta is carried over unchanged.
                assert_eq!(d, delta);
                // rho is epsilon^2 / 2 rounded up to the next f64, never below it.
                let e = exact(eps).unwrap();
                let want = &e * &e / RBig::from(2u8);
                assert!(exact(rho).unwrap() >= want);
                assert_eq!(rho, up(&want));
            }
        }
        // The pure cast agrees with OpenDP's make_pureDP_to_zCDP (which rounds up twice, so
        // it is never below pets' once-rounded figure, and within an ulp or two of it).
        for &b in &[0.3, 1.0, 2.0, 7.5] {
            let m = make_laplace(
                VectorDomain::new(AtomDomain::<i64>::default()),
                L1Distance::<f64>::default(),
                b,
                None,
            )
            .unwrap();
            let eps = m.map(&1.0).unwrap();
            let rho_opendp = make_pureDP_to_zCDP(m).unwrap().map(&1.0).unwrap();
            let mut a = Accountant::new(Cost::rho(100.0)).unwrap();
            let rho = a.charge("q", &Cost::epsilon(eps)).unwrap().main();
            assert!(rho <= rho_opendp, "b {b}: pets {rho} > OpenDP {rho_opendp}");
            assert!(
                rho_opendp <= rho.next_up().next_up(),
                "b {b}: {rho} vs {rho_opendp}"
            );
        }
    }

    #[test]
    fn pure_epsilon_bounds_renyi_divergences_by_the_charged_rho() {
        // Bun & Steinke 2016, Prop. 3.3, checked numerically on the mechanism pets uses:
        // the discrete Laplace of scale b at sensitivity 1 (epsilon = 1/b) has
        // D_alpha <= alpha epsilon^2 / 2 at every order, so charging rho = epsilon^2 / 2 is
        // enough. The bound is nearly tight for small alpha and small epsilon.
        for &b in &[0.5, 1.0, 3.0, 10.0] {
            let eps = 1.0 / b;
            let mut a = Accountant::new(Cost::rho(100.0)).unwrap();
            let rho = a.charge("q", &Cost::epsilon(eps)).unwrap().main();
            for &alpha in &[1.01, 1.5, 2.0, 3.0, 5.0, 10.0, 50.0, 200.0] {
                let d = renyi_discrete_laplace(b, 1, alpha);
                assert!(
                    d <= alpha * rho * (1.0 + 1e-9),
                    "b {b} alpha {alpha}: D = {d} > alpha rho = {}",
                    alpha * rho
                );
                // and never above the pure bound epsilon either
                assert!(d <= eps * (1.0 + 1e-9));
            }
        }
    }

    fn cost_strategy() -> impl Strategy<Value = Cost> {
        prop_oneof![
            (0.0f64..2.0).prop_map(Cost::epsilon),
            (0.0f64..2.0, 0.0f64..1e-6).prop_map(|(e, d)| Cost::epsilon(e).with_delta(d)),
        ]
    }

    proptest! {
        #[test]
        fn never_negative_and_adds_up(costs in prop::collection::vec(cost_strategy(), 0..60),
                                      total in 0.01f64..10.0) {
            let mut a = Accountant::new(Cost::epsilon(total).with_delta(1e-6)).unwrap();
            let mut admitted = Vec::new();
            for c in &costs {
                let before = a.remaining();
                match a.charge("q", c) {
                    Ok(_) => admitted.push(*c),
                    Err(DpError::OverBudget { .. }) => prop_assert_eq!(a.remaining(), before),
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
                let r = a.remaining();
                prop_assert!(r.main() >= 0.0 && r.delta() >= 0.0);
                prop_assert!(a.spent().main() <= total * (1.0 + 1e-15));
            }
            prop_assert!(a.spent_equals_sum_of(&admitted).unwrap());
            prop_assert_eq!(a.charges(), admitted.len());
        }

        #[test]
        fn zcdp_never_negative(costs in prop::collection::vec(0.0f64..0.3, 0..60), total in 0.01f64..2.0) {
            let mut a = Accountant::new(Cost::rho(total)).unwrap();
            let mut admitted = Vec::new();
            for &c in &costs {
                let cost = if c < 0.15 { Cost::rho(c) } else { Cost::epsilon(c) };
                if a.charge("q", &cost).is_ok() { admitted.push(cost); }
                prop_assert!(a.remaining().main() >= 0.0);
            }
            prop_assert!(a.spent_equals_sum_of(&admitted).unwrap());
        }
    }
}
