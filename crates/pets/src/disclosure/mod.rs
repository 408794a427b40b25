//! Disclosure risk: who could single out a patient in a record-level extract from facts an
//! intruder already knows ("jigsaw" identification from hospital, arrival date, rough age,
//! postcode district).
//!
//! Everything is computed from [`EquivalenceClasses`] (module [`classes`]): one parallel,
//! sparse, mergeable pass over the encoded quasi-identifier codes, with per-class histograms
//! of a sensitive attribute. On top of it:
//!
//! | module | measure | reference |
//! | --- | --- | --- |
//! | [`k_anonymity`](mod@k_anonymity) | smallest class, class sizes, records under k, sample uniques | Sweeney 2002 |
//! | [`l_diversity`](mod@l_diversity) | distinct, entropy, recursive (c,l) | Machanavajjhala et al. 2007 |
//! | [`t_closeness`](mod@t_closeness) | EMD: equal, ordered, hierarchical ([`hierarchy`]) | Li, Li, Venkatasubramanian 2007 |
//! | [`alpha_k`] | (alpha,k)-anonymity | Wong et al. 2006 |
//! | [`beta_likeness`](mod@beta_likeness) | basic beta-likeness | Cao & Karras 2012 |
//! | [`delta_disclosure`](mod@delta_disclosure) | delta-disclosure privacy | Brickell & Shmatikov 2008 |
//! | [`reidentification`] | prosecutor, journalist, marketer risk | El Emam & Dankar 2008 |
//! | [`population`] | Pitman, Zayatz, SNB, Dankar's rule | Dankar et al. 2012 (as in ARX) |
//! | [`scenarios`] | risk for every subset of the intruder's facts | |
//! | [`suda`](mod@suda) | minimal sample uniques, SUDA scores | Elliot et al. 2002 |
//! | [`linkage`](mod@linkage) | linking an intruder's table to the release | |
//! | [`config`], [`report`], [`html`] | thresholds, the panel's report, HTML rendering | |
//!
//! Nothing here prints the values of a class smaller than k: reports carry class sizes,
//! counts, column names and class indices only.

pub mod alpha_k;
pub mod beta_likeness;
pub mod classes;
pub mod config;
pub mod delta_disclosure;
pub mod hierarchy;
pub mod html;
pub mod job;
pub mod k_anonymity;
pub mod l_diversity;
pub mod linkage;
mod math;
pub mod population;
pub mod reidentification;
pub mod report;
pub mod scenarios;
pub mod suda;
pub mod t_closeness;

pub use alpha_k::{AlphaK, AlphaKError, alpha_k_anonymity};
pub use beta_likeness::{BetaLikeness, BetaLikenessError, beta_likeness};
pub use classes::{
    ClassColumn, ClassLayout, ClassOptions, ClassParts, ClassView, ClassesError,
    EquivalenceClasses, Keying,
};
pub use config::{ConfigError, LVariant, RiskConfig};
pub use delta_disclosure::{DeltaDisclosure, DeltaDisclosureError, delta_disclosure};
pub use hierarchy::{Hierarchy, HierarchyError};
pub use html::render_html;
pub use job::{GroundChoice, RiskJob, RiskJobError, RiskOutcome};
pub use k_anonymity::{KAnonymity, KAnonymityError, k_anonymity};
pub use l_diversity::{LDiversity, LDiversityError, RecursiveCl, l_diversity};
pub use linkage::{Generalisation, Linkage, LinkageError, LinkageOptions, linkage};
pub use population::{
    PopulationError, PopulationUniqueness, UniquenessModel, population_uniqueness,
};
pub use reidentification::{
    PopulationSource, ReidentificationError, ReidentificationRisk, RiskBand, RiskSummary,
    prosecutor_risk, reidentification_risk, risk_distribution,
};
pub use report::{
    Assessment, Check, CheckContext, Criterion, Fix, INFERRED_SCHEMA_WARNING, ReportError,
    RiskReport, assess, assess_classes, assess_classes_warned, criteria,
};
pub use scenarios::{
    IntruderScenarios, MAX_SCENARIO_COLUMNS, Scenario, ScenarioError, ScenarioOptions,
    intruder_scenarios,
};
pub use suda::{AttributeContribution, MsuCount, Suda, SudaOptions, suda};
pub use t_closeness::{GroundDistance, TCloseness, TClosenessError, t_closeness};

#[cfg(test)]
mod reference;
#[cfg(test)]
mod testutil;
