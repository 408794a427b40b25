//! Proofs of the privacy claims of federated releases (Markdown beside this module,
//! `federated/proofs/*.md`, included so that each has a rustdoc page).
//!
//! | page | claim |
//! |---|---|
//! | [`distributed_noise`] | the sensitivity `K (m T)^2`; the cost of distributed discrete Gaussian noise under secure aggregation (worst case over honest shares); the cost of per-aggregator noise under Prio3; no wrap-around; accuracy |

#[doc = include_str!("proofs/distributed_noise.md")]
pub mod distributed_noise {}
