//! # Differential privacy
//!
//! Aggregate answers over encoded tables with a formal guarantee and a budget that cannot be
//! overspent. Every noise sample comes from OpenDP's samplers and every privacy cost from
//! OpenDP's (conservatively rounded) privacy maps; pets adds the budget, the ledger,
//! contribution bounding and the queries.
//!
//! - [`budget`]: [`Cost`] in (epsilon, delta)-DP or rho-zCDP, the exact [`Accountant`];
//! - [`budget_store`]: [`BudgetStore`], a budget kept in a locked, hash-chained file and
//!   spent over many runs;
//! - [`session`]: [`Session`], which charges before drawing, and parallel composition;
//! - [`ledger`]: the JSON record of every release;
//! - [`mechanisms`]: Laplace, Gaussian, discrete Laplace/Gaussian, selection (exponential
//!   mechanism, report-noisy-max), randomized response, thresholded counts;
//! - [`accuracy`]: interval half-widths for every mechanism;
//! - [`bounding`]: per-person contribution bounds (the unit of privacy is the person);
//! - [`job`]: [`QueryJob`], one query with its share, as every front door runs it;
//! - [`table`]: [`DpTable`], reading a file or Arrow batches for queries (encoded axes, raw
//!   numeric values, person ids and bounding) in one pass;
//! - [`queries`]: counts, sums, means, variances, quantiles, histograms, contingency tables,
//!   group-by with unknown keys, post-processing, and query specs.

pub mod accuracy;
pub mod bounding;
pub mod budget;
pub mod budget_store;
pub mod error;
pub mod job;
pub mod ledger;
pub mod mechanisms;
pub mod proofs;
pub mod queries;
pub mod session;
pub mod spec_job;
pub mod table;

pub use accuracy::{Accuracy, Interval, NoiseKind};
pub use bounding::{Bounded, PersonIds};
pub use budget::{Accountant, Cost, PrivacyMeasure};
pub use budget_store::{BudgetStore, BudgetStoreError, ChargeReceipt, ChargeRecord};
pub use error::{DpError, Result};
pub use job::QueryJob;
pub use ledger::{Contribution, Ledger, LedgerEntry, PrivacyUnit, QueryRecord};
pub use mechanisms::{Mechanism, NoiseFamily};
pub use queries::spec::{QueryKind, QueryOutput, QuerySpec};
pub use session::{ParallelScope, Release, Session};
pub use spec_job::{CustodianFigures, SpecJob, SpecRun};
pub use table::{DpInput, DpTable};
