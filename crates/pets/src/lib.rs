//! # pets: privacy-enhancing technologies for health data
//!
//! The core crate: the data layer ([`data`]: declared schemas, streaming CSV/Parquet I/O,
//! encoding to dense `u32` codes), disclosure-risk measurement ([`disclosure`]) and
//! differential privacy ([`dp`]). Synthetic data live in the `pets-synth` crate. Each
//! capability is one **job** that every front door (this crate, the `pets` command line,
//! the Python package) runs the same way: [`disclosure::RiskJob`] and [`dp::QueryJob`] here,
//! `pets_synth::FitJob` in `pets-synth`. Every job takes a [`data::TableSource`] (a file
//! or Arrow batches), validates its options once, and returns a typed result with typed
//! [`Warning`]s; every error implements [`Classify`], which gives its [`ErrorKind`] (the CLI's
//! exit code, the Python exception).
//!
//! ```
//! use pets::prelude::*;
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("ae.csv");
//! # let rows: String = (0..400).map(|i| format!("{},p{}\n", ["F", "M"][i % 2], i)).collect();
//! # std::fs::write(&path, format!("sex,nhs_number\n{rows}")).unwrap();
//! let schema = Schema::from_json(r#"{"columns": [
//!     {"name": "sex", "kind": "categorical", "values": ["F", "M"]}
//! ]}"#)?;
//! // Differential privacy: a person-level DP count by sex at epsilon 0.5.
//! let mut session = Session::pure(1.0)?;
//! let by_sex = QueryJob::new(QueryKind::histogram(&["sex"])?).share(Cost::epsilon(0.5));
//! let input = DpTable::load(TableSource::file(&path), &schema)
//!     .person_id("nhs_number", 1)
//!     .read_for([by_sex.kind()])?;
//! let counts = by_sex.run(&mut session, &input.data)?;
//! assert_eq!(session.remaining(), Cost::epsilon(0.5));
//! # let _ = counts;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Cargo features: `dp` (differential privacy on OpenDP, budget files), `parquet` (Parquet
//! files) and `federated` ([`federated`]: secure aggregation, Prio3, distributed noise; needs
//! `dp`), all on by default; without them the crate measures disclosure risk on
//! CSV files and Arrow batches and compiles neither OpenDP, OpenSSL nor Parquet.
//!
//! See `ARCHITECTURE.md` at the repository root for the map.

pub mod anonymise;
pub mod data;
pub mod disclosure;
#[cfg(feature = "dp")]
pub mod dp;
pub mod error;
#[cfg(feature = "federated")]
pub mod federated;
pub mod outputs;
pub mod partial;
pub mod prelude;
pub mod progress;
pub mod tables;

pub use error::{Classify, ErrorKind, Warning, WarningKind};
