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
//! - [`domain`]: the synthesis domain from the declared schema (columns, bins, granularity),
//!   with notes for the release panel;
//! - [`compress`]: MST's DP-safe merging of rare values, from noisy counts only;
//! - [`inference`]: junction trees, belief propagation and mirror-descent estimation of a
//!   graphical model from noisy marginals (private-pgm; McKenna, Sheldon & Miklau 2019);
//! - [`mst`]: the MST mechanism, its budget split and (epsilon, delta) to rho conversion;
//! - [`sample`]: forward sampling on the junction tree, seeded, chunked;
//! - [`model`]: the fitted synthesiser as a versioned file, sampled without the data;
//! - [`eval`]: marginal total-variation distances.
//!
//! ```no_run
//! use pets::data::{EncodeOptions, encode_file, Schema};
//! use pets_synth::{MstOptions, fit_mst};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let schema = Schema::load("ae.schema.json")?;
//! let table = encode_file("attendances.parquet", &schema, EncodeOptions::default())?;
//! let model = fit_mst(&table, &["age_band", "sex", "admitted"], &MstOptions::new(1.0, 1e-9))?;
//! model.save("model.json")?;
//! model.write_sample("synth.parquet", 1_000_000, 42)?;
//! # Ok(()) }
//! ```

pub mod compress;
pub mod domain;
pub mod error;
pub mod eval;
pub mod inference;
pub mod marginals;
pub mod measure;
pub mod model;
pub mod mst;
pub mod proofs;
pub mod sample;

pub use domain::{DomainOptions, SynthesisDomain, prepare_domain};
pub use error::{Result, SynthError};
pub use marginals::{Marginal, MarginalError, compute_marginals};
pub use model::SynthModel;
pub use mst::{MstOptions, cdp_delta, cdp_rho, fit_mst, fit_mst_bounded};
