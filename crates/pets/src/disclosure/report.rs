//! The release panel's report: every figure, which checks pass or fail against the
//! configured thresholds, and what would fix the failures.
//!
//! [`assess`] (or [`Assessment`] for a population table or an intruder's table) validates the
//! [`RiskConfig`], groups the records once ([`EquivalenceClasses`]) and derives every measure
//! from the classes. The module is split by job: [`checks`] holds one small [`Criterion`] per
//! privacy model (k-anonymity, l-diversity, t-closeness, (alpha,k), beta-likeness,
//! delta-disclosure, records at risk, average risk), built from the configuration by
//! [`criteria`]; `fixes` simulates what would reduce the risk; `prose` writes the summary.
//! A [`RiskReport`] serialises to JSON (serde) and renders to HTML with
//! [`crate::disclosure::html::render_html`]. Reports never contain the values of a class:
//! only sizes, counts, shares, column names and class indices.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::alpha_k::{AlphaK, AlphaKError, alpha_k_anonymity};
use super::beta_likeness::{BetaLikeness, BetaLikenessError, beta_likeness};
use super::classes::{ClassesError, EquivalenceClasses};
use super::config::{ConfigError, RiskConfig};
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

pub mod checks;
mod fixes;
mod prose;

pub use checks::{
    AlphaKCriterion, AverageRiskCriterion, BetaLikenessCriterion, CheckContext, Criterion,
    DeltaDisclosureCriterion, KAnonymityCriterion, LDiversityCriterion, RecordsAtRiskCriterion,
    TClosenessCriterion, criteria,
};
use fixes::{suppression_fix, what_if};
pub use prose::thousands;
use prose::{summarise_linkage, summary};

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
    assess_classes_warned(classes, config, population, Vec::new())
}

/// [`assess_classes`] with warnings for the report, as [`Assessment::warn`] adds them: the
/// same report [`Assessment::run`] gives for the records the classes were grouped from
/// (timings aside; `grouping` is not timed here).
pub fn assess_classes_warned(
    classes: &EquivalenceClasses,
    config: &RiskConfig,
    population: Option<&EquivalenceClasses>,
    warnings: Vec<String>,
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
    build(classes, config, population, warnings)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
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
                record_scores: false,
            },
        ) {
            Ok(s) => {
                if !s.complete {
                    warnings.push(format!(
                        "the minimal-sample-unique search stopped at combinations of {} \
                         column(s) to stay within its work bound",
                        s.searched_up_to_size
                    ));
                }
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

    let checks = checks::checks(&CheckContext {
        config,
        classes,
        k_anonymity: &k,
        l_diversity: l.as_ref(),
        t_closeness: tc.as_ref(),
        alpha_k: ak.as_ref(),
        beta_likeness: bl.as_ref(),
        delta_disclosure: dd.as_ref(),
        reidentification: &risk,
    });
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

#[cfg(test)]
mod tests;
