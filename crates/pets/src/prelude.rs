//! The names a Rust service needs for the three jobs: `use pets::prelude::*;`.

pub use crate::data::{Schema, TableSource};
pub use crate::disclosure::{RiskConfig, RiskJob, RiskJobError, RiskOutcome, RiskReport};
#[cfg(feature = "dp")]
pub use crate::dp::queries::spec::{QueryKind, QueryOutput};
#[cfg(feature = "dp")]
pub use crate::dp::{Cost, DpError, DpTable, QueryJob, Session};
pub use crate::error::{Classify, ErrorKind, Warning, WarningKind};
