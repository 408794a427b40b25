//! # pets-synth: differentially private synthetic data
//!
//! Marginal-based synthesis (MST: McKenna, Miklau & Sheldon 2021; AIM: McKenna et al. 2022)
//! measures low-order marginals of the encoded table with calibrated noise, fits a graphical
//! model to them, and samples records that belong to no real patient.
//!
//! - [`marginals`]: exact k-way marginals over the codes of a [`pets::data::EncodedTable`],
//!   computed in one parallel pass and mergeable across partitions and trusts;
//! - [`measure`]: noisy marginals from the Gaussian mechanism under rho-zCDP, through a
//!   [`pets::dp::Session`] (charged before drawing, ledgered);
//! - [`domain`]: the synthesis domain from the declared schema (columns, bands, granularity),
//!   with notes for the release panel;
//! - [`mod@derive`]: wide dates and datetimes as derived calendar columns (period, weekday, hour
//!   of day), re-assembled into the declared column after sampling;
//! - [`compress`]: MST's DP-safe merging of rare values, from noisy counts only;
//! - [`inference`]: junction trees, belief propagation and mirror-descent estimation of a
//!   graphical model from noisy marginals (private-pgm; McKenna, Sheldon & Miklau 2019);
//! - [`mst`]: the MST mechanism, its budget split and (epsilon, delta) to rho conversion;
//! - [`aim`]: AIM (McKenna et al. 2022): workload-adaptive selection of the marginals the
//!   model estimates worst, by the exponential mechanism, with budget annealing;
//! - [`privbayes`]: PrivBayes (Zhang et al. 2014/2017) as a private degree-`k` Bayesian
//!   network whose families are measured and fitted like MST's ("PrivBayes + PGM");
//! - [`sample`]: forward sampling on the junction tree, seeded, chunked;
//! - [`model`]: the fitted synthesiser as a versioned file, sampled without the data;
//! - [`eval`]: the evaluation report ([`eval::EvalJob`]): marginal TVD (1-, 2-way, a
//!   3-way workload), Cramér's V, numeric distances, train-on-synthetic utility, and
//!   privacy tests (distance to the closest record, exact matches, membership inference);
//!
//! - [`federated`]: [`federated::FederatedFitJob`], MST fitted across trusts without
//!   pooling rows (three federated rounds of marginals; the same model file);
//! - [`job`]: [`FitJob`], the fit every front door runs (options validated once, the
//!   synthesis domain always applied, domains read from data announced or refused).
//!
//! The front page's example: a person-level MST fit on a file, then sampling without the data.
//!
//! ```
//! use pets::data::{Schema, TableSource};
//! use pets_synth::FitJob;
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("ae.csv");
//! # let rows: String = (0..400).map(|i| format!("{},{},p{}\n", 20 + i % 50, ["F", "M"][i % 2], i / 2)).collect();
//! # std::fs::write(&path, format!("age,sex,nhs_number\n{rows}")).unwrap();
//! let schema = Schema::from_json(r#"{"columns": [
//!     {"name": "age", "kind": "integer", "min": 0, "max": 110},
//!     {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
//!     {"name": "nhs_number", "kind": "text", "role": "direct_identifier"}
//! ]}"#)?;
//! let fitted = FitJob::new(TableSource::file(&path), 1.0, 1e-9)
//!     .schema(schema)
//!     .person_id("nhs_number", 2)
//!     .run()?;
//! let out = dir.path().join("synth.csv");
//! fitted.model.save(dir.path().join("model.json"))?;
//! fitted.model.write_sample(&out, 1_000, 42)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod aim;
pub mod compress;
mod counts;
pub mod datasynth;
pub mod derive;
pub mod domain;
pub mod error;
pub mod eval;
pub mod federated;
pub mod inference;
pub mod job;
pub mod marginals;
pub mod measure;
pub mod model;
pub mod mst;
pub mod privbayes;
pub mod proofs;
pub mod sample;
pub mod settings;

pub use aim::{AimOptions, fit_aim, fit_aim_bounded_with};
pub use domain::{DomainOptions, SynthesisDomain, prepare_domain};
pub use error::{Result, SynthError};
pub use federated::{FederatedFitJob, FederatedFitOutcome};
pub use job::{FitJob, FitOutcome, Method};
pub use marginals::{Marginal, MarginalError, compute_marginals};
pub use model::SynthModel;
pub use mst::{
    MstOptions, cdp_delta, cdp_rho, fit_mst, fit_mst_bounded, fit_mst_bounded_with,
    fit_mst_merged_with,
};
pub use privbayes::{
    FamilyScore, MI_SCORE_SENSITIVITY, PrivBayesOptions, fit_privbayes, fit_privbayes_bounded_with,
    mutual_information_score,
};
pub use settings::FitSettings;
