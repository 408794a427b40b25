//! Proofs of the privacy claims of federated releases (Markdown beside this module,
//! `federated/proofs/*.md`, included so that each has a rustdoc page).
//!
//! | page | claim |
//! |---|---|
//! | [`distributed_noise`] | the sensitivity `K (m T)^2`; the cost of distributed discrete Gaussian noise under secure aggregation (worst case over honest shares); the cost of per-aggregator noise under Prio3; no wrap-around; accuracy |
//! | [`federated_training`] | DP-FedAvg of a logistic regression: the clipped, fixed-point per-row gradient (norm at most `2^16` grid units, enforced in integers), the round's sensitivity `m T sqrt(2^32 + 2^29)`, no wrap-around, adaptive zCDP composition over rounds, the weights as post-processing |
//! | [`federated_sums`] | sums and means with public bounds: the fixed-point grid, the sensitivity `(m T)^2 (W^2 (K + M) + sum_j C_j^2)`, no wrap-around, the mean's interval |

#[doc = include_str!("proofs/distributed_noise.md")]
pub mod distributed_noise {}

#[doc = include_str!("proofs/federated_sums.md")]
pub mod federated_sums {}

#[doc = include_str!("proofs/federated_training.md")]
pub mod federated_training {}
