//! A synthetic A&E (emergency department) attendance dataset at any scale.
//!
//! One row per attendance, shaped like NHS England's A&E data (HES A&E / ECDS) and
//! calibrated against the SynAE synthetic extract and published national figures. Nothing
//! in it is real: NHS numbers lie in the reserved test range, the geography and provider
//! codes are synthetic, and every value is drawn from the models in this module.
//!
//! - [`AeConfig`] says how many rows, which seed and which period;
//! - [`AeGenerator`] yields the rows as Arrow record batches, built in parallel and
//!   deterministic for a seed whatever the batch size or thread count;
//! - [`write_ae`] streams them to Parquet or CSV;
//! - [`ae_schema`] / [`ae_schema_for`] declare the public domain and disclosure role of
//!   every column (shipped as `datasets/schema/ae.schema.json`), and [`ae_arrow_schema`]
//!   the Arrow types.
//!
//! Patients attend about 1.6 times each on average, with a heavy tail of frequent
//! attenders, and keep the same identifiers and demographics on every attendance.
//!
//! ```
//! use pets_datasets::ae::{AeConfig, AeGenerator};
//!
//! let batches: Vec<_> = AeGenerator::new(AeConfig::new(2_000, 7)).unwrap().collect();
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2_000);
//! ```

mod batch;
mod calendar;
mod clinical;
pub mod codes;
mod config;
mod generator;
pub mod geography;
pub mod nhs_number;
mod patient;
mod sampling;
mod schema;
mod write;

pub use clinical::{MAX_LENGTH_OF_STAY, MAX_PROCEDURES, MAX_TIME_IN_DEPT, MAX_TIME_TO_ASSESSMENT};
pub use config::{AeConfig, MAX_DAYS};
pub use generator::AeGenerator;
pub use schema::{ae_arrow_schema, ae_schema, ae_schema_for, columns};
pub use write::{WriteSummary, write_ae};
