//! # The federated network service of pets
//!
//! The core crate (`pets::federated`) holds the protocols: the partial aggregates, secure
//! aggregation by masking, the distributed noise and its accounting, the wire format. This
//! crate only carries their messages between processes, over HTTPS with mutual TLS:
//!
//! - [`aggregator`]: the axum service (`pets federated aggregator --config agg.toml`), and
//!   Prio3's leader when its configuration names a helper;
//! - [`helper`]: Prio3's second aggregator (an aggregator whose configuration has
//!   `helper_of`);
//! - [`node`]: a trust's agent (`pets federated node --data ... --schema ... --config node.toml`);
//! - [`submit`]: the collector (`pets federated submit job.toml`);
//! - [`messages`]: the job, announcement, join and envelope messages (nonces, round ids);
//! - [`tls`]: rustls (ring provider) configurations, and test certificates (rcgen);
//! - [`config`]: the three TOML files;
//! - [`state`]: what an aggregator keeps across restarts (epoch, job nonces, the helper's
//!   newest round), so that a replay from before a restart is refused.
//!
//! tokio, axum, hyper, rustls and reqwest are dependencies of this crate only: a build of the
//! core without the service compiles none of them.

pub mod aggregator;
pub mod client;
pub mod config;
pub mod error;
pub mod helper;
pub mod messages;
pub mod node;
pub mod state;
pub mod submit;
pub mod tls;

pub use error::{NetError, Result};

/// A tokio runtime for one party (the CLI's commands are synchronous).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NetError::Io {
            path: "(tokio runtime)".into(),
            source: e,
        })
}
