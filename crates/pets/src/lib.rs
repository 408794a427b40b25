//! # pets: privacy-enhancing technologies for health data
//!
//! The core crate. Today it holds the data layer ([`data`]): declared schemas, streaming
//! CSV/Parquet I/O, and the encoding of tables to dense `u32` codes that disclosure-risk
//! measurement, differential privacy, synthesis and federated aggregation all compute on.
//! See `ARCHITECTURE.md` at the repository root for the map.

pub mod data;
pub mod disclosure;
pub mod dp;
