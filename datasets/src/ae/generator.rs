//! [`AeGenerator`]: an iterator of record batches, built several at a time in parallel.

use std::collections::VecDeque;
use std::ops::Range;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use pets::data::DataError;
use rayon::prelude::*;

use super::batch::Plan;
use super::config::AeConfig;
use super::schema::ae_arrow_schema;

/// Generates an A&E dataset as a sequence of Arrow record batches.
///
/// Batches come out in row order, each of [`AeConfig::batch_rows`] rows except perhaps the
/// last. Internally the generator builds as many batches at a time as rayon has threads,
/// in parallel, and hands them out in order. The rows do not depend on the batch size or
/// the number of threads: row `r` is a function of `(seed, r)` only.
///
/// ```
/// use pets_datasets::ae::{AeConfig, AeGenerator};
///
/// let generator = AeGenerator::new(AeConfig::new(1_000, 42).with_batch_rows(400)).unwrap();
/// let sizes: Vec<usize> = generator.map(|b| b.num_rows()).collect();
/// assert_eq!(sizes, [400, 400, 200]);
/// ```
#[derive(Debug)]
pub struct AeGenerator {
    plan: Plan,
    next_batch: u64,
    num_batches: u64,
    ready: VecDeque<RecordBatch>,
}

impl AeGenerator {
    /// A generator for `config`; fails when the configuration is invalid (see
    /// [`AeConfig::validate`]).
    pub fn new(config: AeConfig) -> Result<Self, DataError> {
        let plan = Plan::new(config)?;
        let num_batches = plan.config.rows.div_ceil(plan.config.batch_rows as u64);
        Ok(AeGenerator {
            plan,
            next_batch: 0,
            num_batches,
            ready: VecDeque::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AeConfig {
        &self.plan.config
    }

    /// The Arrow schema of the batches (same as [`super::ae_arrow_schema`]).
    pub fn arrow_schema(&self) -> SchemaRef {
        ae_arrow_schema()
    }

    /// Total number of batches this generator yields.
    pub fn num_batches(&self) -> u64 {
        self.num_batches
    }

    /// Size of the patient population the rows are drawn from (not every patient attends).
    pub fn population_size(&self) -> u64 {
        self.plan.population.patients()
    }

    /// Any range of rows of the dataset as one batch, built on the calling thread. Equal to
    /// the same rows taken from the iterator.
    ///
    /// # Panics
    /// When the range goes past [`AeConfig::rows`].
    pub fn rows(&self, range: Range<u64>) -> RecordBatch {
        assert!(
            range.end <= self.plan.config.rows,
            "rows {range:?} past the end of a {}-row dataset",
            self.plan.config.rows
        );
        self.plan.batch(range)
    }

    fn batch_range(&self, b: u64) -> Range<u64> {
        let size = self.plan.config.batch_rows as u64;
        let start = b * size;
        start..(start + size).min(self.plan.config.rows)
    }
}

impl Iterator for AeGenerator {
    type Item = RecordBatch;

    fn next(&mut self) -> Option<RecordBatch> {
        if self.ready.is_empty() && self.next_batch < self.num_batches {
            let group = rayon::current_num_threads().max(1) as u64;
            let end = (self.next_batch + group).min(self.num_batches);
            let ranges: Vec<Range<u64>> = (self.next_batch..end)
                .map(|b| self.batch_range(b))
                .collect();
            let plan = &self.plan;
            let built: Vec<RecordBatch> = ranges
                .into_par_iter()
                .map(|range| plan.batch(range))
                .collect();
            self.ready.extend(built);
            self.next_batch = end;
        }
        self.ready.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.num_batches - self.next_batch) as usize + self.ready.len();
        (left, Some(left))
    }
}

impl ExactSizeIterator for AeGenerator {}

impl std::iter::FusedIterator for AeGenerator {}
