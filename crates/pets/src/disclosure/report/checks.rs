//! The report's pass/fail checks: one small [`Criterion`] per privacy model, each turning the
//! measured figures into one [`Check`] against the threshold configured in the [`RiskConfig`].
//!
//! | criterion | id | passes when | reference |
//! | --- | --- | --- | --- |
//! | [`KAnonymityCriterion`] | `k_anonymity` | every class has at least k records | Sweeney 2002 |
//! | [`LDiversityCriterion`] | `l_diversity` | every class holds l well-represented sensitive values (distinct, entropy or recursive (c,l)) | Machanavajjhala et al. 2007 |
//! | [`TClosenessCriterion`] | `t_closeness` | every class's sensitive distribution is within EMD t of the whole table's | Li et al. 2007 |
//! | [`AlphaKCriterion`] | `alpha_k` | no sensitive value has a share above alpha in any class | Wong et al. 2006 |
//! | [`BetaLikenessCriterion`] | `beta_likeness` | no sensitive value's share rises by more than beta relative to the whole | Cao & Karras 2012 |
//! | [`DeltaDisclosureCriterion`] | `delta_disclosure` | every \|log ratio\| of a class share to the whole is below delta | Brickell & Shmatikov 2008 |
//! | [`RecordsAtRiskCriterion`] | `records_at_risk` | the share of records with prosecutor risk above the threshold is small enough | El Emam & Dankar 2008 |
//! | [`AverageRiskCriterion`] | `average_risk` | the average prosecutor risk is small enough | El Emam & Dankar 2008 |
//!
//! [`criteria`] builds the list from a configuration, in the report's order; [`checks`]
//! evaluates it. A criterion whose measure was not computed (e.g. no sensitive attribute)
//! gives no check.

use super::super::alpha_k::AlphaK;
use super::super::beta_likeness::BetaLikeness;
use super::super::classes::EquivalenceClasses;
use super::super::config::{LVariant, RiskConfig};
use super::super::delta_disclosure::DeltaDisclosure;
use super::super::k_anonymity::KAnonymity;
use super::super::l_diversity::LDiversity;
use super::super::reidentification::ReidentificationRisk;
use super::super::t_closeness::TCloseness;
use super::Check;
use super::prose::{list, pct, thousands};

/// Everything a [`Criterion`] may read: the configuration, the classes and every measure
/// computed from them (`None` when it was not computed).
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// The configuration assessed.
    pub config: &'a RiskConfig,
    /// The equivalence classes.
    pub classes: &'a EquivalenceClasses,
    /// k-anonymity.
    pub k_anonymity: &'a KAnonymity,
    /// l-diversity (when a sensitive attribute is set).
    pub l_diversity: Option<&'a LDiversity>,
    /// t-closeness (when a sensitive attribute is set).
    pub t_closeness: Option<&'a TCloseness>,
    /// (alpha,k)-anonymity (when alpha and a sensitive attribute are set).
    pub alpha_k: Option<&'a AlphaK>,
    /// beta-likeness (when a sensitive attribute is set).
    pub beta_likeness: Option<&'a BetaLikeness>,
    /// delta-disclosure (when a sensitive attribute is set).
    pub delta_disclosure: Option<&'a DeltaDisclosure>,
    /// Prosecutor, journalist and marketer risk.
    pub reidentification: &'a ReidentificationRisk,
}

impl CheckContext<'_> {
    /// The quasi-identifiers as a plain-language list ("age, sex and postcode").
    fn qis(&self) -> String {
        list(&self.config.quasi_identifiers)
    }

    /// The sensitive attribute's name (empty when none).
    fn sens(&self) -> String {
        self.config.sensitive.clone().unwrap_or_default()
    }
}

/// One privacy criterion checked against a threshold.
pub trait Criterion: Send + Sync {
    /// The stable identifier of its check (`k_anonymity`, ...).
    fn id(&self) -> &'static str;
    /// The check's human title (may name what was measured, e.g. the ground distance).
    fn title(&self, ctx: &CheckContext<'_>) -> String;
    /// The check, or `None` when its measure was not computed.
    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check>;
}

/// The criteria a configuration asks for, in the report's order.
pub fn criteria(config: &RiskConfig) -> Vec<Box<dyn Criterion>> {
    let mut out: Vec<Box<dyn Criterion>> = vec![Box::new(KAnonymityCriterion { k: config.k })];
    if let Some(l) = config.l {
        out.push(Box::new(LDiversityCriterion {
            l,
            variant: config.l_variant,
            c: config.c,
        }));
    }
    if let Some(t) = config.t {
        out.push(Box::new(TClosenessCriterion { t }));
    }
    if let Some(alpha) = config.alpha {
        out.push(Box::new(AlphaKCriterion { alpha, k: config.k }));
    }
    if let Some(beta) = config.beta {
        out.push(Box::new(BetaLikenessCriterion { beta }));
    }
    if let Some(delta) = config.delta {
        out.push(Box::new(DeltaDisclosureCriterion { delta }));
    }
    out.push(Box::new(RecordsAtRiskCriterion {
        risk_threshold: config.risk_threshold,
        max_records_at_risk: config.max_records_at_risk,
    }));
    if let Some(max_average) = config.max_average_risk {
        out.push(Box::new(AverageRiskCriterion { max_average }));
    }
    out
}

/// Evaluate every criterion the configuration asks for.
pub fn checks(ctx: &CheckContext<'_>) -> Vec<Check> {
    criteria(ctx.config)
        .iter()
        .filter_map(|c| c.evaluate(ctx))
        .collect()
}

/// k-anonymity: every class has at least `k` records.
#[derive(Debug, Clone, Copy)]
pub struct KAnonymityCriterion {
    /// The smallest class size allowed.
    pub k: u64,
}

impl Criterion for KAnonymityCriterion {
    fn id(&self) -> &'static str {
        "k_anonymity"
    }

    fn title(&self, _: &CheckContext<'_>) -> String {
        format!("k-anonymity (every group has at least {} people)", self.k)
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let k = ctx.k_anonymity;
        let qis = ctx.qis();
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed: k.passes(),
            measured: k.k as f64,
            threshold: self.k as f64,
            requirement: ">=".into(),
            failing_classes: k.classes_under_k,
            failing_records: k.records_under_k,
            explanation: if k.passes() {
                format!(
                    "Every combination of {qis} is shared by at least {} records.",
                    self.k
                )
            } else {
                format!(
                    "{} records ({}) are in {} groups of fewer than {} people sharing the same \
                     {qis}; {} of them are unique.",
                    thousands(k.records_under_k),
                    pct(k.records_under_k, k.n_records),
                    thousands(k.classes_under_k),
                    self.k,
                    thousands(k.sample_uniques)
                )
            },
        })
    }
}

/// l-diversity in the configured variant.
#[derive(Debug, Clone, Copy)]
pub struct LDiversityCriterion {
    /// Well-represented values wanted per class.
    pub l: u64,
    /// Distinct, entropy or recursive (c,l).
    pub variant: LVariant,
    /// The c of recursive (c,l)-diversity.
    pub c: f64,
}

impl Criterion for LDiversityCriterion {
    fn id(&self) -> &'static str {
        "l_diversity"
    }

    fn title(&self, _: &CheckContext<'_>) -> String {
        let name = match self.variant {
            LVariant::Distinct => "distinct",
            LVariant::Entropy => "entropy",
            LVariant::Recursive => "recursive",
        };
        format!("l-diversity ({name}, l = {})", self.l)
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let lv = ctx.l_diversity?;
        let want = self.l;
        let sens = ctx.sens();
        let (measured, fc, fr) = match self.variant {
            LVariant::Distinct => (
                lv.distinct_l as f64,
                lv.distinct_failing_classes,
                lv.distinct_failing_records,
            ),
            LVariant::Entropy => (
                lv.entropy_l,
                lv.entropy_failing_classes,
                lv.entropy_failing_records,
            ),
            LVariant::Recursive => (
                lv.recursive.max_ratio.unwrap_or(f64::MAX),
                lv.recursive.failing_classes,
                lv.recursive.failing_records,
            ),
        };
        let recursive = self.variant == LVariant::Recursive;
        let passed = fc == 0;
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed,
            measured,
            threshold: if recursive { self.c } else { want as f64 },
            requirement: if recursive { "<" } else { ">=" }.into(),
            failing_classes: fc,
            failing_records: fr,
            explanation: if passed {
                format!("Every group holds at least {want} well-represented values of {sens}.")
            } else {
                format!(
                    "{} groups ({} records) hold fewer than {want} well-represented values of \
                     {sens}: knowing someone is in such a group reveals or nearly reveals their \
                     {sens}.",
                    thousands(fc),
                    thousands(fr)
                )
            },
        })
    }
}

/// t-closeness: every class's sensitive distribution within EMD `t` of the whole table's.
#[derive(Debug, Clone, Copy)]
pub struct TClosenessCriterion {
    /// The largest distance allowed.
    pub t: f64,
}

impl Criterion for TClosenessCriterion {
    fn id(&self) -> &'static str {
        "t_closeness"
    }

    fn title(&self, ctx: &CheckContext<'_>) -> String {
        let distance = ctx.t_closeness.map_or("", |tv| tv.distance.as_str());
        format!("t-closeness ({distance} distance, t = {})", self.t)
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let tv = ctx.t_closeness?;
        let want = self.t;
        let sens = ctx.sens();
        let passed = tv.failing_classes == 0;
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed,
            measured: tv.t,
            threshold: want,
            requirement: "<=".into(),
            failing_classes: tv.failing_classes,
            failing_records: tv.failing_records,
            explanation: if passed {
                format!("In every group the mix of {sens} is within {want} of the whole extract's.")
            } else {
                format!(
                    "In {} groups ({} records) the mix of {sens} differs from the whole \
                     extract's by more than {want} (largest {:.3}): membership of the group says \
                     something about {sens}.",
                    thousands(tv.failing_classes),
                    thousands(tv.failing_records),
                    tv.t
                )
            },
        })
    }
}

/// (alpha,k)-anonymity: no sensitive value's share in a class above `alpha`.
#[derive(Debug, Clone, Copy)]
pub struct AlphaKCriterion {
    /// The largest share allowed.
    pub alpha: f64,
    /// The k of the configuration (named in the title).
    pub k: u64,
}

impl Criterion for AlphaKCriterion {
    fn id(&self) -> &'static str {
        "alpha_k"
    }

    fn title(&self, _: &CheckContext<'_>) -> String {
        format!(
            "(alpha,k)-anonymity (alpha = {}, k = {})",
            self.alpha, self.k
        )
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let a = ctx.alpha_k?;
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed: a.failing_classes == 0,
            measured: a.alpha,
            threshold: self.alpha,
            requirement: "<=".into(),
            failing_classes: a.failing_classes,
            failing_records: a.failing_records,
            explanation: format!(
                "Largest share of one {} value within a group: {:.1}%.",
                ctx.sens(),
                100.0 * a.alpha
            ),
        })
    }
}

/// Basic beta-likeness: no sensitive value's share rises by more than `beta` (relative).
#[derive(Debug, Clone, Copy)]
pub struct BetaLikenessCriterion {
    /// The largest relative rise allowed.
    pub beta: f64,
}

impl Criterion for BetaLikenessCriterion {
    fn id(&self) -> &'static str {
        "beta_likeness"
    }

    fn title(&self, _: &CheckContext<'_>) -> String {
        format!("beta-likeness (beta = {})", self.beta)
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let b = ctx.beta_likeness?;
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed: b.failing_classes == 0,
            measured: b.beta,
            threshold: self.beta,
            requirement: "<=".into(),
            failing_classes: b.failing_classes,
            failing_records: b.failing_records,
            explanation: format!(
                "Largest relative rise of a {} value's share within a group: {:.1}%.",
                ctx.sens(),
                100.0 * b.beta
            ),
        })
    }
}

/// delta-disclosure privacy: every |log ratio| of a class share to the whole below `delta`.
#[derive(Debug, Clone, Copy)]
pub struct DeltaDisclosureCriterion {
    /// The bound on the log ratio.
    pub delta: f64,
}

impl Criterion for DeltaDisclosureCriterion {
    fn id(&self) -> &'static str {
        "delta_disclosure"
    }

    fn title(&self, _: &CheckContext<'_>) -> String {
        format!("delta-disclosure (delta = {})", self.delta)
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let d = ctx.delta_disclosure?;
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed: d.failing_classes == 0,
            measured: d.delta,
            threshold: self.delta,
            requirement: "<".into(),
            failing_classes: d.failing_classes,
            failing_records: d.failing_records,
            explanation: format!(
                "Largest |log ratio| of a {} value's share in a group to the whole: {:.3}.",
                ctx.sens(),
                d.delta
            ),
        })
    }
}

/// Records at risk: the share of records whose prosecutor risk is above `risk_threshold`.
#[derive(Debug, Clone, Copy)]
pub struct RecordsAtRiskCriterion {
    /// The per-record risk above which a record is at risk.
    pub risk_threshold: f64,
    /// The largest share of records at risk allowed.
    pub max_records_at_risk: f64,
}

impl Criterion for RecordsAtRiskCriterion {
    fn id(&self) -> &'static str {
        "records_at_risk"
    }

    fn title(&self, _: &CheckContext<'_>) -> String {
        format!(
            "re-identification risk (no more than {:.1}% of records above {:.0}%)",
            100.0 * self.max_records_at_risk,
            100.0 * self.risk_threshold
        )
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let p = &ctx.reidentification.prosecutor;
        let thr = self.risk_threshold;
        let risky_classes = ctx
            .classes
            .sizes()
            .iter()
            .filter(|&&f| 1.0 / f as f64 > thr)
            .count() as u64;
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed: p.records_at_risk <= self.max_records_at_risk + 1e-12,
            measured: p.records_at_risk,
            threshold: self.max_records_at_risk,
            requirement: "<=".into(),
            failing_classes: risky_classes,
            failing_records: p.records_at_risk_count,
            explanation: format!(
                "An intruder who knows someone is in the extract and knows their {} picks the \
                 right record with probability above {:.0}% for {} records ({}). Highest \
                 chance: {:.0}%; average: {:.1}%.",
                ctx.qis(),
                100.0 * thr,
                thousands(p.records_at_risk_count),
                pct(p.records_at_risk_count, ctx.classes.n_records()),
                100.0 * p.highest,
                100.0 * p.average
            ),
        })
    }
}

/// Average prosecutor risk at most `max_average`.
#[derive(Debug, Clone, Copy)]
pub struct AverageRiskCriterion {
    /// The largest average risk allowed.
    pub max_average: f64,
}

impl Criterion for AverageRiskCriterion {
    fn id(&self) -> &'static str {
        "average_risk"
    }

    fn title(&self, _: &CheckContext<'_>) -> String {
        format!(
            "average re-identification risk (at most {:.1}%)",
            100.0 * self.max_average
        )
    }

    fn evaluate(&self, ctx: &CheckContext<'_>) -> Option<Check> {
        let p = &ctx.reidentification.prosecutor;
        Some(Check {
            id: self.id().into(),
            title: self.title(ctx),
            passed: p.average <= self.max_average + 1e-12,
            measured: p.average,
            threshold: self.max_average,
            requirement: "<=".into(),
            failing_classes: 0,
            failing_records: 0,
            explanation: format!(
                "On average an intruder picks the right record with probability {:.1}%.",
                100.0 * p.average
            ),
        })
    }
}
