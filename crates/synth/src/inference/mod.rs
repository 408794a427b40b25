//! Graphical-model inference from noisy marginals (the private-pgm approach: McKenna,
//! Sheldon & Miklau 2019).
//!
//! - [`factor`]: dense tables over attribute sets;
//! - [`junction_tree`]: triangulation and the junction tree, with a clique-size limit;
//! - [`estimation`]: the measurement model, the noisy-total estimate, belief propagation
//!   and mirror descent;
//! - [`projection`]: marginals of a fitted model by variable elimination, for many queries.

pub mod estimation;
pub mod factor;
pub mod junction_tree;
pub mod projection;

pub use estimation::{
    EstimationOptions, EstimationReport, GraphModel, Measurement, WarmStart, estimate,
    estimate_total, estimate_warm, estimate_with,
};
pub use factor::Factor;
pub use junction_tree::JunctionTree;
pub use projection::Projector;

#[cfg(test)]
mod tests;
