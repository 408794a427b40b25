//! The release panel's report: every figure, which checks pass or fail against the
//! configured thresholds, and what would fix the failures.
//!
//! [`assess`] (or [`Assessment`] for a population table or an intruder's table) validates the
//! [`RiskConfig`], groups the records once ([`EquivalenceClasses`]) and derives every measure
//! from the classes. A [`RiskReport`] serialises to JSON (serde) and renders to HTML with
//! [`crate::disclosure::html::render_html`]. Reports never contain the values of a class:
//! only sizes, counts, shares, column names and class indices.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::alpha_k::{AlphaK, AlphaKError, alpha_k_anonymity};
use super::beta_likeness::{BetaLikeness, BetaLikenessError, beta_likeness};
use super::classes::{ClassesError, EquivalenceClasses};
use super::config::{ConfigError, LVariant, RiskConfig};
use super::delta_disclosure::{DeltaDisclosure, DeltaDisclosureError, delta_disclosure};
use super::k_anonymity::{KAnonymity, KAnonymityError, k_anonymity};
use super::l_diversity::{LDiversity, LDiversityError, l_diversity};
use super::linkage::{Linkage, LinkageError, LinkageOptions, linkage};
use super::population::{PopulationError, PopulationUniqueness, population_uniqueness};
use super::reidentification::{
    ReidentificationError, ReidentificationRisk, RiskBand, reidentification_risk, risk_distribution,
};
use super::scenarios::{IntruderScenarios, ScenarioOptions, intruder_scenarios};
use super::suda::{Suda, SudaOptions, suda};
use super::t_closeness::{TCloseness, TClosenessError, t_closeness};
use crate::data::EncodedTable;

/// The warning every front door (CLI, Python) prints and puts in the report when no schema
/// was given and it was inferred from the data being assessed: domains read from private
/// data are themselves disclosive and may not match the released extract.
pub const INFERRED_SCHEMA_WARNING: &str = "NO SCHEMA GIVEN: the schema was INFERRED FROM THE \
     DATA. Column domains read from private data are themselves disclosive and may not match \
     the released extract. Review it (pets schema infer) and pass --schema.";

/// Errors of an assessment.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Grouping failed.
    #[error(transparent)]
    Classes(#[from] ClassesError),
    /// k-anonymity failed.
    #[error(transparent)]
    KAnonymity(#[from] KAnonymityError),
    /// l-diversity failed.
    #[error(transparent)]
    LDiversity(#[from] LDiversityError),
    /// t-closeness failed.
    #[error(transparent)]
    TCloseness(#[from] TClosenessError),
    /// (alpha,k)-anonymity failed.
    #[error(transparent)]
    AlphaK(#[from] AlphaKError),
    /// beta-likeness failed.
    #[error(transparent)]
    BetaLikeness(#[from] BetaLikenessError),
    /// delta-disclosure failed.
    #[error(transparent)]
    DeltaDisclosure(#[from] DeltaDisclosureError),
    /// Re-identification risk failed.
    #[error(transparent)]
    Reidentification(#[from] ReidentificationError),
    /// Population uniqueness failed.
    #[error(transparent)]
    Population(#[from] PopulationError),
    /// The linkage attack failed.
    #[error(transparent)]
    Linkage(#[from] LinkageError),
    /// The classes given do not fit the configuration.
    #[error("the equivalence classes do not fit the configuration: {detail}")]
    ClassesMismatch {
        /// What differs.
        detail: String,
    },
}

/// One pass/fail check against a configured threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable identifier (`k_anonymity`, `l_diversity`, `t_closeness`, `alpha_k`,
    /// `beta_likeness`, `delta_disclosure`, `records_at_risk`, `average_risk`).
    pub id: String,
    /// Human title.
    pub title: String,
    /// Whether the release meets the threshold.
    pub passed: bool,
    /// The measured value (`f64::MAX` stands for infinity, e.g. a recursive (c,l) ratio when
    /// a group has fewer than l values).
    pub measured: f64,
    /// The threshold.
    pub threshold: f64,
    /// How measured compares to threshold to pass (`>=` or `<=`).
    pub requirement: String,
    /// Classes failing.
    pub failing_classes: u64,
    /// Records in failing classes.
    pub failing_records: u64,
    /// Plain-language explanation of the outcome.
    pub explanation: String,
}

/// A change that would reduce the risk, with its simulated effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// What to do, in plain language.
    pub action: String,
    /// Kind: `suppress`, `band` or `drop`.
    pub kind: String,
    /// Column concerned (none for suppression).
    pub column: Option<String>,
    /// Records still in classes under k afterwards.
    pub records_under_k_after: u64,
    /// Smallest class afterwards.
    pub k_after: u64,
    /// Records removed (suppression only).
    pub records_removed: u64,
}

/// The full report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskReport {
    /// Version of pets that made the report.
    pub pets_version: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// Whether every check passed.
    pub passed: bool,
    /// The configuration assessed.
    pub config: RiskConfig,
    /// Records assessed.
    pub n_records: u64,
    /// Plain-language summary, most important first.
    pub summary: Vec<String>,
    /// The checks.
    pub checks: Vec<Check>,
    /// Changes that would reduce the risk, most effective first.
    pub fixes: Vec<Fix>,
    /// k-anonymity and class sizes.
    pub k_anonymity: KAnonymity,
    /// l-diversity (when a sensitive attribute is set).
    pub l_diversity: Option<LDiversity>,
    /// t-closeness (when a sensitive attribute is set).
    pub t_closeness: Option<TCloseness>,
    /// (alpha,k)-anonymity (when alpha is set).
    pub alpha_k: Option<AlphaK>,
    /// beta-likeness (when a sensitive attribute is set).
    pub beta_likeness: Option<BetaLikeness>,
    /// delta-disclosure (when a sensitive attribute is set).
    pub delta_disclosure: Option<DeltaDisclosure>,
    /// Prosecutor, journalist, marketer risk.
    pub reidentification: ReidentificationRisk,
    /// Records by prosecutor risk band.
    pub risk_distribution: Vec<RiskBand>,
    /// Population uniqueness (when a sampling fraction is set).
    pub population_uniqueness: Option<PopulationUniqueness>,
    /// Risk for every combination of intruder facts.
    pub scenarios: Option<IntruderScenarios>,
    /// Minimal sample uniques (record scores omitted).
    pub suda: Option<Suda>,
    /// Linkage attack with an intruder's table.
    pub linkage: Option<Linkage>,
    /// Things the panel should know (inferred schema, skipped analyses).
    pub warnings: Vec<String>,
    /// Milliseconds spent per stage.
    pub timings_ms: BTreeMap<String, f64>,
}

/// An assessment with optional extra inputs.
#[derive(Debug)]
pub struct Assessment<'a> {
    table: &'a EncodedTable,
    config: &'a RiskConfig,
    population: Option<&'a EquivalenceClasses>,
    attacker: Option<(&'a EncodedTable, LinkageOptions)>,
    warnings: Vec<String>,
}

impl<'a> Assessment<'a> {
    /// Assess `table` under `config`.
    pub fn new(table: &'a EncodedTable, config: &'a RiskConfig) -> Self {
        Assessment {
            table,
            config,
            population: None,
            attacker: None,
            warnings: Vec::new(),
        }
    }

    /// Use a population table's classes (same quasi-identifiers, same schema) for journalist
    /// and marketer risk.
    pub fn population(mut self, population: &'a EquivalenceClasses) -> Self {
        self.population = Some(population);
        self
    }

    /// Run a linkage attack with an intruder's table.
    pub fn attacker(mut self, attacker: &'a EncodedTable, opts: LinkageOptions) -> Self {
        self.attacker = Some((attacker, opts));
        self
    }

    /// Add a warning to the report (e.g. the schema was inferred).
    pub fn warn(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }

    /// Run the assessment.
    pub fn run(self) -> Result<RiskReport, ReportError> {
        self.config.validate_for(self.table)?;
        let t0 = Instant::now();
        let classes = EquivalenceClasses::compute(
            self.table,
            &self.config.quasi_identifiers,
            self.config.sensitive.as_deref(),
        )?;
        let grouping = t0.elapsed().as_secs_f64() * 1e3;
        let mut report = build(&classes, self.config, self.population, self.warnings)?;
        report.timings_ms.insert("grouping".into(), grouping);
        if let Some((att, opts)) = &self.attacker {
            let t = Instant::now();
            report.linkage = Some(linkage(self.table, att, self.config.k, opts)?);
            report
                .timings_ms
                .insert("linkage".into(), t.elapsed().as_secs_f64() * 1e3);
            summarise_linkage(&mut report);
        }
        Ok(report)
    }
}

/// Assess `table` under `config` (see [`Assessment`] for population and intruder tables).
pub fn assess(table: &EncodedTable, config: &RiskConfig) -> Result<RiskReport, ReportError> {
    Assessment::new(table, config).run()
}

/// Assess classes computed elsewhere, e.g. merged from separately encoded partitions. The
/// classes must be over `config.quasi_identifiers` in order, with `config.sensitive`.
pub fn assess_classes(
    classes: &EquivalenceClasses,
    config: &RiskConfig,
    population: Option<&EquivalenceClasses>,
) -> Result<RiskReport, ReportError> {
    config.validate()?;
    let layout = classes.layout();
    let names: Vec<&str> = layout
        .quasi_identifiers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if names != config.quasi_identifiers {
        return Err(ReportError::ClassesMismatch {
            detail: format!(
                "classes are over [{}] but the configuration lists [{}]",
                names.join(", "),
                config.quasi_identifiers.join(", ")
            ),
        });
    }
    if layout.sensitive.as_ref().map(|s| s.name.as_str()) != config.sensitive.as_deref() {
        return Err(ReportError::ClassesMismatch {
            detail: "the classes' sensitive attribute differs from the configuration's".into(),
        });
    }
    if classes.n_records() == 0 {
        return Err(ConfigError::EmptyData.into());
    }
    build(classes, config, population, Vec::new())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        return "0%".into();
    }
    let p = 100.0 * a as f64 / b as f64;
    if p > 0.0 && p < 0.1 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// Thousands separators for counts in plain-language text.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn list(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

fn build(
    classes: &EquivalenceClasses,
    config: &RiskConfig,
    population: Option<&EquivalenceClasses>,
    mut warnings: Vec<String>,
) -> Result<RiskReport, ReportError> {
    let mut timings = BTreeMap::new();
    let n = classes.n_records();
    let t = Instant::now();
    let k = k_anonymity(classes, config.k)?;
    timings.insert("k_anonymity".into(), ms(t));
    let has_s = config.sensitive.is_some();
    let t = Instant::now();
    let l = if has_s {
        Some(l_diversity(classes, config.l.unwrap_or(2), config.c)?)
    } else {
        None
    };
    timings.insert("l_diversity".into(), ms(t));
    let t = Instant::now();
    let tc = if has_s {
        Some(t_closeness(
            classes,
            &config.ground_distance,
            config.t.unwrap_or(1.0),
        )?)
    } else {
        None
    };
    timings.insert("t_closeness".into(), ms(t));
    let t = Instant::now();
    let ak = match config.alpha {
        Some(a) if has_s => Some(alpha_k_anonymity(classes, a, config.k, None)?),
        _ => None,
    };
    let bl = if has_s {
        Some(beta_likeness(classes, config.beta.unwrap_or(1.0))?)
    } else {
        None
    };
    let dd = if has_s {
        Some(delta_disclosure(classes, config.delta.unwrap_or(1.0))?)
    } else {
        None
    };
    timings.insert("alpha_beta_delta".into(), ms(t));
    let t = Instant::now();
    let risk = reidentification_risk(
        classes,
        population,
        config.sampling_fraction,
        config.risk_threshold,
    )?;
    let dist = risk_distribution(classes);
    let pop = match config.sampling_fraction {
        Some(f) => Some(population_uniqueness(&k.size_frequencies, f)?),
        None => None,
    };
    timings.insert("risk_models".into(), ms(t));

    let intruder = config.intruder();
    let t = Instant::now();
    let scenarios = if config.scenarios {
        match intruder_scenarios(
            classes,
            intruder,
            ScenarioOptions {
                k: config.k,
                risk_threshold: config.risk_threshold,
                max_work: u128::from(config.max_work),
            },
        ) {
            Ok(s) => Some(s),
            Err(e) => {
                warnings.push(format!("intruder scenarios were not computed: {e}"));
                None
            }
        }
    } else {
        None
    };
    timings.insert("scenarios".into(), ms(t));
    let t = Instant::now();
    let suda_result = if config.suda {
        match suda(
            classes,
            intruder,
            SudaOptions {
                max_msu_size: config.suda_max_msu_size,
                max_work: u128::from(config.max_work),
            },
        ) {
            Ok(mut s) => {
                if !s.complete {
                    warnings.push(format!(
                        "the minimal-sample-unique search stopped at combinations of {} \
                         column(s) to stay within its work bound",
                        s.searched_up_to_size
                    ));
                }
                s.record_scores = Vec::new();
                Some(s)
            }
            Err(e) => {
                warnings.push(format!("minimal sample uniques were not computed: {e}"));
                None
            }
        }
    } else {
        None
    };
    timings.insert("suda".into(), ms(t));
    let t = Instant::now();
    let fixes = if config.what_if {
        what_if(classes, config, &k)?
    } else {
        suppression_fix(&k).into_iter().collect()
    };
    timings.insert("what_if".into(), ms(t));

    let checks = checks(
        config,
        &k,
        l.as_ref(),
        tc.as_ref(),
        ak.as_ref(),
        bl.as_ref(),
        dd.as_ref(),
        &risk,
        classes,
    );
    let passed = checks.iter().all(|c| c.passed);
    let mut report = RiskReport {
        pets_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict: if passed { "PASS" } else { "FAIL" }.to_string(),
        passed,
        config: config.clone(),
        n_records: n,
        summary: Vec::new(),
        checks,
        fixes,
        k_anonymity: k,
        l_diversity: l,
        t_closeness: tc,
        alpha_k: ak,
        beta_likeness: bl,
        delta_disclosure: dd,
        reidentification: risk,
        risk_distribution: dist,
        population_uniqueness: pop,
        scenarios,
        suda: suda_result,
        linkage: None,
        warnings,
        timings_ms: timings,
    };
    report.summary = summary(&report);
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn checks(
    config: &RiskConfig,
    k: &KAnonymity,
    l: Option<&LDiversity>,
    tc: Option<&TCloseness>,
    ak: Option<&AlphaK>,
    bl: Option<&BetaLikeness>,
    dd: Option<&DeltaDisclosure>,
    risk: &ReidentificationRisk,
    classes: &EquivalenceClasses,
) -> Vec<Check> {
    let qis = list(&config.quasi_identifiers);
    let sens = config.sensitive.clone().unwrap_or_default();
    let mut out = vec![Check {
        id: "k_anonymity".into(),
        title: format!("k-anonymity (every group has at least {} people)", config.k),
        passed: k.passes(),
        measured: k.k as f64,
        threshold: config.k as f64,
        requirement: ">=".into(),
        failing_classes: k.classes_under_k,
        failing_records: k.records_under_k,
        explanation: if k.passes() {
            format!(
                "Every combination of {qis} is shared by at least {} records.",
                config.k
            )
        } else {
            format!(
                "{} records ({}) are in {} groups of fewer than {} people sharing the same {qis}; \
                 {} of them are unique.",
                thousands(k.records_under_k),
                pct(k.records_under_k, k.n_records),
                thousands(k.classes_under_k),
                config.k,
                thousands(k.sample_uniques)
            )
        },
    }];
    if let (Some(lv), Some(want)) = (l, config.l) {
        let (measured, fc, fr, name) = match config.l_variant {
            LVariant::Distinct => (
                lv.distinct_l as f64,
                lv.distinct_failing_classes,
                lv.distinct_failing_records,
                "distinct",
            ),
            LVariant::Entropy => (
                lv.entropy_l,
                lv.entropy_failing_classes,
                lv.entropy_failing_records,
                "entropy",
            ),
            LVariant::Recursive => (
                0.0,
                lv.recursive.failing_classes,
                lv.recursive.failing_records,
                "recursive",
            ),
        };
        let passed = fc == 0;
        out.push(Check {
            id: "l_diversity".into(),
            title: format!("l-diversity ({name}, l = {want})"),
            passed,
            measured: if config.l_variant == LVariant::Recursive {
                lv.recursive.max_ratio.unwrap_or(f64::MAX)
            } else {
                measured
            },
            threshold: if config.l_variant == LVariant::Recursive {
                config.c
            } else {
                want as f64
            },
            requirement: if config.l_variant == LVariant::Recursive {
                "<".into()
            } else {
                ">=".into()
            },
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
        });
    }
    if let (Some(tv), Some(want)) = (tc, config.t) {
        let passed = tv.failing_classes == 0;
        out.push(Check {
            id: "t_closeness".into(),
            title: format!("t-closeness ({} distance, t = {want})", tv.distance),
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
        });
    }
    if let (Some(a), Some(want)) = (ak, config.alpha) {
        out.push(Check {
            id: "alpha_k".into(),
            title: format!("(alpha,k)-anonymity (alpha = {want}, k = {})", config.k),
            passed: a.failing_classes == 0,
            measured: a.alpha,
            threshold: want,
            requirement: "<=".into(),
            failing_classes: a.failing_classes,
            failing_records: a.failing_records,
            explanation: format!(
                "Largest share of one {sens} value within a group: {:.1}%.",
                100.0 * a.alpha
            ),
        });
    }
    if let (Some(b), Some(want)) = (bl, config.beta) {
        out.push(Check {
            id: "beta_likeness".into(),
            title: format!("beta-likeness (beta = {want})"),
            passed: b.failing_classes == 0,
            measured: b.beta,
            threshold: want,
            requirement: "<=".into(),
            failing_classes: b.failing_classes,
            failing_records: b.failing_records,
            explanation: format!(
                "Largest relative rise of a {sens} value's share within a group: {:.1}%.",
                100.0 * b.beta
            ),
        });
    }
    if let (Some(d), Some(want)) = (dd, config.delta) {
        out.push(Check {
            id: "delta_disclosure".into(),
            title: format!("delta-disclosure (delta = {want})"),
            passed: d.failing_classes == 0,
            measured: d.delta,
            threshold: want,
            requirement: "<".into(),
            failing_classes: d.failing_classes,
            failing_records: d.failing_records,
            explanation: format!(
                "Largest |log ratio| of a {sens} value's share in a group to the whole: {:.3}.",
                d.delta
            ),
        });
    }
    let p = &risk.prosecutor;
    let thr = config.risk_threshold;
    let risky_classes = classes
        .sizes()
        .iter()
        .filter(|&&f| 1.0 / f as f64 > thr)
        .count() as u64;
    let passed = p.records_at_risk <= config.max_records_at_risk + 1e-12;
    out.push(Check {
        id: "records_at_risk".into(),
        title: format!(
            "re-identification risk (no more than {:.1}% of records above {:.0}%)",
            100.0 * config.max_records_at_risk,
            100.0 * thr
        ),
        passed,
        measured: p.records_at_risk,
        threshold: config.max_records_at_risk,
        requirement: "<=".into(),
        failing_classes: risky_classes,
        failing_records: p.records_at_risk_count,
        explanation: format!(
            "An intruder who knows someone is in the extract and knows their {qis} picks the \
             right record with probability above {:.0}% for {} records ({}). Highest chance: \
             {:.0}%; average: {:.1}%.",
            100.0 * thr,
            thousands(p.records_at_risk_count),
            pct(p.records_at_risk_count, classes.n_records()),
            100.0 * p.highest,
            100.0 * p.average
        ),
    });
    if let Some(max_avg) = config.max_average_risk {
        out.push(Check {
            id: "average_risk".into(),
            title: format!(
                "average re-identification risk (at most {:.1}%)",
                100.0 * max_avg
            ),
            passed: p.average <= max_avg + 1e-12,
            measured: p.average,
            threshold: max_avg,
            requirement: "<=".into(),
            failing_classes: 0,
            failing_records: 0,
            explanation: format!(
                "On average an intruder picks the right record with probability {:.1}%.",
                100.0 * p.average
            ),
        });
    }
    out
}

fn suppression_fix(k: &KAnonymity) -> Option<Fix> {
    (k.records_under_k > 0).then(|| Fix {
        action: format!(
            "Suppress (remove) the {} records ({}) in groups smaller than {}",
            thousands(k.records_under_k),
            pct(k.records_under_k, k.n_records),
            k.threshold
        ),
        kind: "suppress".into(),
        column: None,
        records_under_k_after: 0,
        k_after: k
            .size_frequencies
            .iter()
            .find(|f| f.0 >= k.threshold)
            .map_or(0, |f| f.0),
        records_removed: k.records_under_k,
    })
}

/// Simulate dropping each quasi-identifier and banding each ordered one.
fn what_if(
    classes: &EquivalenceClasses,
    config: &RiskConfig,
    k: &KAnonymity,
) -> Result<Vec<Fix>, ReportError> {
    let mut fixes: Vec<Fix> = suppression_fix(k).into_iter().collect();
    if k.records_under_k == 0 {
        return Ok(fixes);
    }
    let width = classes.layout().width();
    let qis = &classes.layout().quasi_identifiers;
    enum Plan {
        Drop(usize),
        Band(usize, u32),
    }
    let mut plans = Vec::new();
    for (j, col) in qis.iter().enumerate() {
        if width > 1 {
            plans.push(Plan::Drop(j));
        }
        if col.ordered {
            let widths: &[u32] = if col.kind == "date" || col.kind == "datetime" {
                &[7, 30, 91]
            } else {
                &[2, 5, 10]
            };
            for &w in widths {
                if w < col.n_values {
                    plans.push(Plan::Band(j, w));
                }
            }
        }
    }
    let kt = config.k;
    let results: Vec<Result<Fix, ReportError>> = plans
        .par_iter()
        .map(|plan| {
            let (sizes, action, kind, j) = match *plan {
                Plan::Drop(j) => {
                    let keep: Vec<usize> = (0..width).filter(|&i| i != j).collect();
                    let cols = keep.iter().map(|&i| qis[i].clone()).collect();
                    let sizes = classes.sizes_after(cols, |src, dst| {
                        for (d, &p) in dst.iter_mut().zip(&keep) {
                            *d = src[p];
                        }
                    });
                    (
                        sizes,
                        format!("Remove {} from the extract", qis[j].name),
                        "drop",
                        j,
                    )
                }
                Plan::Band(j, w) => {
                    let col = &qis[j];
                    let nv = col.n_values;
                    let bands = nv.div_ceil(w);
                    let mut cols = qis.clone();
                    cols[j].cardinality = bands + (col.cardinality - nv);
                    cols[j].n_values = bands;
                    let sizes = classes.sizes_after(cols, |src, dst| {
                        dst.copy_from_slice(src);
                        let c = src[j];
                        dst[j] = if c < nv { c / w } else { bands + (c - nv) };
                    });
                    let unit = match (col.kind.as_str(), w) {
                        ("date" | "datetime", 7) => "weeks".to_string(),
                        ("date" | "datetime", 30) => "months (30-day periods)".to_string(),
                        ("date" | "datetime", 91) => "quarters (91-day periods)".to_string(),
                        _ => format!("bands of {w} values"),
                    };
                    (
                        sizes,
                        format!("Generalise {} into {unit}", col.name),
                        "band",
                        j,
                    )
                }
            };
            let (mut under, mut min) = (0u64, u64::MAX);
            for &f in &sizes {
                min = min.min(f);
                if f < kt {
                    under += f;
                }
            }
            Ok(Fix {
                action,
                kind: kind.into(),
                column: Some(qis[j].name.clone()),
                records_under_k_after: under,
                k_after: if min == u64::MAX { 0 } else { min },
                records_removed: 0,
            })
        })
        .collect();
    let mut sims = Vec::with_capacity(results.len());
    for r in results {
        sims.push(r?);
    }
    // most effective first; among equals prefer banding (keeps more information)
    sims.sort_by(|a, b| {
        a.records_under_k_after
            .cmp(&b.records_under_k_after)
            .then((a.kind == "drop").cmp(&(b.kind == "drop")))
    });
    fixes.extend(sims);
    Ok(fixes)
}

fn summary(r: &RiskReport) -> Vec<String> {
    let mut s = Vec::new();
    let n = r.n_records;
    let failed: Vec<&Check> = r.checks.iter().filter(|c| !c.passed).collect();
    if failed.is_empty() {
        s.push(format!(
            "PASS: all {} checks pass for {} records.",
            r.checks.len(),
            thousands(n)
        ));
    } else {
        s.push(format!(
            "FAIL: {} of {} checks fail ({}).",
            failed.len(),
            r.checks.len(),
            failed
                .iter()
                .map(|c| c.id.replace('_', "-"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for c in &failed {
        s.push(c.explanation.clone());
    }
    if let Some(sc) = &r.scenarios {
        let mut minimal: Vec<_> = sc
            .minimal_singling_out
            .iter()
            .filter_map(|&m| sc.get(m))
            .collect();
        minimal.sort_by(|a, b| {
            a.columns
                .len()
                .cmp(&b.columns.len())
                .then(b.sample_uniques.cmp(&a.sample_uniques))
        });
        for m in minimal.iter().take(3) {
            s.push(format!(
                "Knowing only {} is enough to single out {} {}.",
                list(&m.columns),
                thousands(m.sample_uniques),
                if m.sample_uniques == 1 {
                    "person"
                } else {
                    "people"
                }
            ));
        }
    }
    if let Some(j) = &r.reidentification.journalist {
        s.push(format!(
            "If the intruder does not know who is in the extract (journalist), the highest \
             chance of a correct match is {:.0}% and the expected share of records matched \
             (marketer) is {:.1}%.",
            100.0 * j.highest,
            100.0 * r.reidentification.marketer.unwrap_or(0.0)
        ));
    }
    if !r.passed {
        let useful: Vec<&Fix> = r
            .fixes
            .iter()
            .filter(|f| {
                f.kind != "suppress" && f.records_under_k_after < r.k_anonymity.records_under_k
            })
            .take(3)
            .collect();
        for f in &r.fixes {
            if f.kind == "suppress" {
                s.push(format!("What would fix k-anonymity: {}.", f.action));
            }
        }
        for f in useful {
            s.push(format!(
                "Or: {} (leaves {} records in groups under {}).",
                f.action,
                thousands(f.records_under_k_after),
                r.config.k
            ));
        }
    }
    s
}

fn summarise_linkage(r: &mut RiskReport) {
    if let Some(l) = &r.linkage {
        r.summary.push(format!(
            "Linking the intruder's table on {}: {} release records are matched uniquely and {} \
             of the intruder's rows point to exactly one record.",
            list(&l.columns),
            thousands(l.release_matched_uniquely),
            thousands(l.attacker_rows_matching_one)
        ));
    }
}

#[cfg(test)]
mod tests;
