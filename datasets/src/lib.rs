//! # pets-datasets: data to exercise pets on
//!
//! - [`ae`]: a synthetic A&E attendance generator, from ten thousand to tens of millions of
//!   rows, seeded and deterministic, with its declared schema;
//! - [`synae`] and [`adult`]: loaders for the public reference data in the shared data
//!   folder (see [`shared_data_dir`]): NHS England's SynAE A&E extract and UCI Adult.
//!
//! No real patient data is generated or bundled.

pub mod adult;
pub mod ae;
mod shared;
pub mod synae;

pub use shared::{SHARED_DATA_ENV, shared_data_dir};
