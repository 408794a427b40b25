//! # pets-synth: differentially private synthetic data
//!
//! Marginal-based synthesis (MST: McKenna, Miklau & Sheldon 2021; AIM: McKenna et al. 2022)
//! measures low-order marginals of the encoded table with calibrated noise, fits a graphical
//! model to them, and samples records that belong to no real patient.
//!
//! Today this crate holds the first stage, [`marginals`]: exact k-way marginals over the
//! codes of a [`pets::data::EncodedTable`], computed in one parallel pass and mergeable
//! across partitions and trusts. Measurement, inference and sampling build on it.

pub mod marginals;

pub use marginals::{Marginal, MarginalError, compute_marginals};
