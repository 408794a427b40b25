//! Proofs of the privacy claims pets makes itself.
//!
//! Every noise sample and most privacy maps come from OpenDP, whose constructors carry their
//! own proofs. These pages prove what pets adds on top: each states the claim, names the
//! function and the OpenDP map it relies on, gives the proof, and says **Status** (proved,
//! or the gap found and what would close it). They are Markdown files beside this module
//! (`dp/proofs/*.md`), included here so that each has a rustdoc page.
//!
//! | page | claim |
//! |---|---|
//! | [`threshold`] | thresholded counts charged at OpenDP's map for `T - 1` (opendp #2922) |
//! | [`laplace_epsilon_for`] | the epsilon target from a zCDP share, trimmed by two ulps |
//! | [`bounding`] | person-level bounding: neighbours differ by at most `m` kept rows |
//! | [`zcdp`] | pure DP to zCDP, `(epsilon, delta)` into a zCDP budget, zCDP to `(epsilon, delta)` |
//! | [`approx_dp_to_zcdp`] | an `(epsilon, delta)` charge as delta-approximate `epsilon^2 / 2`-zCDP, checked numerically |
//! | [`discrete_gaussian_accuracy`] | discrete Gaussian accuracy at large scales from the continuous tail plus `2 / (sigma sqrt(2 pi))` |
//! | [`fixed_point_sum`] | DP sums on a fixed-point grid: the integer sensitivity `m C` holds for the number computed; MST's exact scores |
//!
//! MST's `cdp_rho` and its selection score are proved in `pets_synth::proofs`.

#[doc = include_str!("proofs/threshold.md")]
pub mod threshold {}

#[doc = include_str!("proofs/laplace_epsilon_for.md")]
pub mod laplace_epsilon_for {}

#[doc = include_str!("proofs/bounding.md")]
pub mod bounding {}

#[doc = include_str!("proofs/zcdp.md")]
pub mod zcdp {}

#[doc = include_str!("proofs/approx_dp_to_zcdp.md")]
pub mod approx_dp_to_zcdp {}

#[doc = include_str!("proofs/fixed_point_sum.md")]
pub mod fixed_point_sum {}

#[doc = include_str!("proofs/discrete_gaussian_accuracy.md")]
pub mod discrete_gaussian_accuracy {}
