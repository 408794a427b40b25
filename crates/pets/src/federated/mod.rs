//! # Federated aggregation
//!
//! Trusts keep their rows; what crosses the network is a partial aggregate over the
//! declared schema's public code space (so trusts' tables line up cell for cell), with the
//! trust's share of the DP noise already added, and hidden from the aggregator:
//!
//! - [`aggregate`]: the partial aggregates (counts, histograms, contingency tables, the
//!   marginals MST measures, sums and means), their per-person contribution bounds and
//!   sensitivities;
//! - [`values`]: sums and means of a numeric column with public bounds, on a public
//!   fixed-point grid;
//! - [`condition`]: a condition on one column (`total_time_in_dept_min > 240`) whose 0/1
//!   value a sum counts and a mean makes a rate;
//! - [`compare`]: every cell of a rate table against the pooled rate (a funnel plot in
//!   numbers: the cross-provider comparison);
//! - [`noise`]: distributed discrete Gaussian noise and its privacy bound;
//! - [`ring`]: the integers in `Z_{2^64}` where masking adds, with no wrap-around;
//! - [`secagg`]: secure aggregation by pairwise masking with dropout recovery (Bonawitz
//!   et al. 2017);
//! - [`prio`]: Prio3 with two non-colluding aggregators (the IETF VDAF draft, `prio` crate),
//!   whose validity proofs stop a trust pushing an out-of-range count into the total;
//! - [`wire`]: the versioned, size-limited wire format;
//! - [`vector`]: what a round sums: a query, or a vector each trust computed itself
//!   (a synthesiser's marginals, model weights), declared by its layout and sensitivity;
//! - [`train`]: federated training of a logistic regression by federated averaging
//!   (DP-FedAvg), each round a declared vector of clipped gradient sums;
//! - [`split`]: one table split into trusts by a column (a simulation on one machine);
//! - [`proofs`]: the proofs of what pets charges;
//! - [`job`]: [`FederatedJob`], one federated DP release as every front door runs it.

pub mod aggregate;
pub mod compare;
pub mod condition;
pub mod error;
pub mod job;
pub mod noise;
pub mod prio;
pub mod proofs;
pub mod ring;
pub mod secagg;
pub mod split;
pub mod train;
pub mod values;
pub mod vector;
pub mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod view_tests;

pub use aggregate::{FederatedQuery, LocalAggregate};
pub use compare::{Funnel, Pool, RateComparison};
pub use condition::{Condition, ConditionOp};
pub use error::{FederatedError, Result};
pub use job::{
    ChargedRound, CheckedJob, DropPoint, FederatedJob, FederatedRelease, FederatedTable,
    NoiseReport, PendingRelease, Protocol, RoundNoise, RoundReport, TrustDeclaration, TrustInput,
    message_limit, noisy_input, split_tables,
};
pub use noise::DistributedNoise;
pub use split::{TrustTables, simulation_trusts, split_by_column};
pub use train::{FederatedTrainJob, LogisticModel, TrainOutcome};
pub use values::{ValueCells, ValueStatistic, ValueTable};
pub use vector::{RoundVector, VectorSpec, columns_fingerprint};
