//! Writing the release: the chosen levels applied to every row, suppressed records removed
//! or masked, direct identifiers dropped; the release's schema and a record of what was done.
//!
//! The file is streamed batch by batch (the quasi-identifiers are encoded again per batch
//! against the same schema, so a row's group is exactly the one the search counted) and
//! written whole or not at all ([`crate::data::io::open_sink`]).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use super::AnonymiseError;
use super::hierarchy::ColumnHierarchy;
use crate::data::io::open_sink;
use crate::data::{ColumnKind, ColumnSpec, EncodeOptions, Encoder, Role, Schema, TableSource};

/// What happens to the records of suppressed classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressedRows {
    /// Left out of the release (the record count drops).
    #[default]
    Remove,
    /// Kept, with every quasi-identifier replaced by `*` (the record count is kept). The
    /// masked records are one group to `pets risk`: when fewer than k are masked, that
    /// group fails k-anonymity, so remove them or publish the count of masked records as
    /// known.
    Mask,
}

impl std::str::FromStr for SuppressedRows {
    type Err = AnonymiseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "remove" => Ok(SuppressedRows::Remove),
            "mask" => Ok(SuppressedRows::Mask),
            other => Err(AnonymiseError::Invalid {
                column: None,
                message: format!("suppressed rows are \"remove\"d or \"mask\"ed, not {other:?}"),
            }),
        }
    }
}

/// One quasi-identifier in the record: the level chosen and its hierarchy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnRecord {
    /// The column.
    pub column: String,
    /// The level chosen (0 = as encoded).
    pub level: usize,
    /// The level's name (`bands of 10`, `month`, `*`).
    pub level_name: String,
    /// The whole hierarchy (`value > bands of 5 > bands of 10 > *`).
    pub hierarchy: String,
    /// Whether pets chose the hierarchy because none was declared.
    pub defaulted: bool,
}

/// Exactly what was done to make the release: for the panel and for audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// Version of pets.
    pub pets_version: String,
    /// The input, as named in messages.
    pub input: String,
    /// The release file, when one was written.
    pub output: Option<String>,
    /// Each quasi-identifier's level.
    pub quasi_identifiers: Vec<ColumnRecord>,
    /// The sensitive attribute, if any.
    pub sensitive: Option<String>,
    /// The models met (the risk configuration).
    pub models: crate::disclosure::RiskConfig,
    /// Largest share of records that could be suppressed.
    pub suppression_limit: f64,
    /// What was done with suppressed records.
    pub suppressed_rows: SuppressedRows,
    /// Records read.
    pub records_in: u64,
    /// Records in suppressed classes.
    pub records_suppressed: u64,
    /// Records written.
    pub records_out: u64,
    /// Columns left out of the release (direct identifiers).
    pub dropped_columns: Vec<String>,
    /// The loss measure and the release's loss under it.
    pub measure: String,
    /// Information loss in `[0, 1]`.
    pub loss: f64,
}

/// The chosen transformation: a level per quasi-identifier and the suppressed groups.
#[derive(Debug, Clone)]
pub(crate) struct Transformation<'a> {
    pub hierarchies: &'a [ColumnHierarchy],
    pub levels: Vec<usize>,
    /// Keys ([`Transformation::key`]) of the suppressed group combinations.
    pub suppressed: FxHashSet<u128>,
    /// Declared columns left out of the release besides the direct identifiers.
    pub drop: Vec<String>,
}

impl Transformation<'_> {
    /// The key of a combination of groups at the chosen levels: mixed radix when the
    /// product of group counts fits in 128 bits, a 128-bit hash otherwise.
    pub(crate) fn key(&self, groups: &[u32]) -> u128 {
        let mut key: u128 = 0;
        for (j, &g) in groups.iter().enumerate() {
            let card = u128::from(self.hierarchies[j].levels[self.levels[j]].n_groups());
            match key
                .checked_mul(card)
                .and_then(|k| k.checked_add(u128::from(g)))
            {
                Some(k) => key = k,
                None => return crate::disclosure::classes::hash_tuple(groups),
            }
        }
        key
    }
}

/// The release's schema: direct identifiers and the columns asked for dropped; each quasi-identifier a categorical
/// column over its labels at the chosen level (`*` added when suppressed records are
/// masked); other columns as declared. Returns the schema and the dropped columns.
pub(crate) fn release_schema(
    schema: &Schema,
    t: &Transformation<'_>,
    mode: SuppressedRows,
) -> Result<(Schema, Vec<String>), AnonymiseError> {
    let mut columns = Vec::new();
    let mut dropped = Vec::new();
    for spec in &schema.columns {
        if spec.role == Role::DirectIdentifier || t.drop.contains(&spec.name) {
            dropped.push(spec.name.clone());
            continue;
        }
        match t.hierarchies.iter().position(|h| h.column == spec.name) {
            None => columns.push(spec.clone()),
            Some(j) => {
                let h = &t.hierarchies[j];
                let level = &h.levels[t.levels[j]];
                let mut values: Vec<String> = level
                    .labels
                    .iter()
                    .zip(0..)
                    .filter(|(_, g)| !is_null_group(h, t.levels[j], *g))
                    .map(|(l, _)| l.clone())
                    .collect();
                if mode == SuppressedRows::Mask && !values.iter().any(|v| v == "*") {
                    values.push("*".into());
                }
                let mut out = ColumnSpec::new(
                    spec.name.clone(),
                    ColumnKind::Categorical {
                        values,
                        ordered: h.ordered,
                    },
                );
                out.nullable = spec.nullable;
                out.role = spec.role;
                out.description = Some(format!(
                    "{} generalised to {} ({})",
                    spec.name,
                    level.name,
                    h.describe()
                ));
                columns.push(out);
            }
        }
    }
    let mut out = Schema::new(columns)?;
    out.name = schema.name.clone();
    Ok((out, dropped))
}

/// Whether group `g` at `level` is the null code's own group (written as a null); at `*`
/// nulls are suppressed with everything else.
fn is_null_group(h: &ColumnHierarchy, level: usize, g: u32) -> bool {
    level < h.height()
        && h.null_code
            .is_some_and(|c| h.levels[level].map[c as usize] == g)
}

/// Stream `source` into `path` under the transformation. Returns (records written,
/// records suppressed).
pub(crate) fn write_release(
    source: &TableSource,
    schema: &Schema,
    t: &Transformation<'_>,
    mode: SuppressedRows,
    path: &Path,
) -> Result<(u64, u64), AnonymiseError> {
    let qis: Vec<String> = t.hierarchies.iter().map(|h| h.column.clone()).collect();
    let stream = source.stream()?;
    let input_schema = stream.arrow_schema();
    // Only declared columns reach the release (an undeclared column has no public domain
    // and was never assessed); direct identifiers and the columns asked for are left out.
    let kept: Vec<usize> = input_schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            schema
                .column(f.name())
                .is_ok_and(|c| c.role != Role::DirectIdentifier && !t.drop.contains(&c.name))
        })
        .map(|(i, _)| i)
        .collect();
    let fields: Vec<Field> = kept
        .iter()
        .map(|&i| {
            let f = input_schema.field(i);
            if qis.contains(f.name()) {
                Field::new(f.name(), DataType::Utf8, true)
            } else {
                f.clone()
            }
        })
        .collect();
    let out_schema = Arc::new(ArrowSchema::new(fields));
    let mut sink = open_sink(path, out_schema.clone())?;
    let opts = EncodeOptions {
        columns: Some(qis.clone()),
        ..Default::default()
    };
    let (mut written, mut suppressed) = (0u64, 0u64);
    let mut groups = vec![0u32; qis.len()];
    for batch in stream {
        let batch = batch?;
        let mut encoder = Encoder::new(schema, opts.clone())?;
        encoder.push(&batch)?;
        let table = encoder.finish()?;
        let columns: Vec<&[u32]> = qis
            .iter()
            .map(|q| table.column(q).map(|c| c.codes.as_slice()))
            .collect::<Result<_, _>>()?;
        let n = batch.num_rows();
        let mut keep = Vec::with_capacity(n);
        let mut labels: Vec<Vec<Option<&str>>> = vec![Vec::with_capacity(n); qis.len()];
        for row in 0..n {
            for (j, codes) in columns.iter().enumerate() {
                groups[j] = t.hierarchies[j].levels[t.levels[j]].map[codes[row] as usize];
            }
            let is_suppressed = t.suppressed.contains(&t.key(&groups));
            suppressed += u64::from(is_suppressed);
            keep.push(!is_suppressed || mode == SuppressedRows::Mask);
            for (j, out) in labels.iter_mut().enumerate() {
                let h = &t.hierarchies[j];
                let level = t.levels[j];
                out.push(if is_suppressed {
                    Some("*")
                } else if is_null_group(h, level, groups[j]) {
                    None
                } else {
                    Some(h.levels[level].labels[groups[j] as usize].as_str())
                });
            }
        }
        let arrays: Vec<ArrayRef> = kept
            .iter()
            .map(|&i| {
                let name = input_schema.field(i).name();
                match qis.iter().position(|q| q == name) {
                    Some(j) => Arc::new(StringArray::from(labels[j].clone())) as ArrayRef,
                    None => batch.column(i).clone(),
                }
            })
            .collect();
        let out = RecordBatch::try_new(out_schema.clone(), arrays)
            .map_err(crate::data::DataError::from)?;
        let out = if mode == SuppressedRows::Remove {
            arrow_select::filter::filter_record_batch(&out, &BooleanArray::from(keep))
                .map_err(crate::data::DataError::from)?
        } else {
            out
        };
        written += out.num_rows() as u64;
        sink.write(&out)?;
    }
    sink.finish()?;
    Ok((written, suppressed))
}
