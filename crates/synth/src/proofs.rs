//! Proofs of the privacy claims MST, PrivBayes and AIM make beyond OpenDP's own.
//!
//! Markdown files beside this module (`proofs/*.md`), each with a rustdoc page: the claim,
//! the function and the OpenDP map it relies on, the proof, and a **Status** line (proved,
//! or the gap found). The claims of the `pets` crate (thresholds, bounding, the zCDP
//! conversions) are proved in [`pets::dp::proofs`].
//!
//! | page | claim |
//! |---|---|
//! | [`cdp_rho`] | `rho = cdp_rho(epsilon, delta)`: `rho`-zCDP implies `(epsilon, delta)`-DP |
//! | [`mst_selection`] | the soft-thresholded selection score has sensitivity `m`; the exponential mechanism's cost |
//! | [`mst_sparse_pairs`] | MST with thresholded sparse pairs: the delta set aside, the public choice of pairs, the (epsilon, delta) total |
//! | [`privbayes_selection`] | PrivBayes' family score has sensitivity `2m` as computed, the mutual-information option `42m` bits; the network's cost |
//! | [`federated_mst`] | federated MST: each round's sensitivity `(m T)^2 sum_k w_k^2`, its cost; the selection from noisy tables is post-processing; the fit's total is the rounds' sum, at most `cdp_rho(epsilon, delta)` |
//! | [`aim_selection`] | AIM's weighted quality score has sensitivity `m w_max` as computed; each round's cost; the ledger never exceeds rho |

#[doc = include_str!("proofs/cdp_rho.md")]
pub mod cdp_rho {}

#[doc = include_str!("proofs/mst_selection.md")]
pub mod mst_selection {}

#[doc = include_str!("proofs/mst_sparse_pairs.md")]
pub mod mst_sparse_pairs {}

#[doc = include_str!("proofs/privbayes_selection.md")]
pub mod privbayes_selection {}

#[doc = include_str!("proofs/aim_selection.md")]
pub mod aim_selection {}

#[doc = include_str!("proofs/federated_mst.md")]
pub mod federated_mst {}
