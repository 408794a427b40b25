//! Writing the release: the chosen levels applied to every row, suppressed records removed
//! or masked, direct identifiers dropped; the release's schema and a record of what was done.
//!
//! The file is streamed batch by batch (the quasi-identifiers are encoded again per batch
//! against the same schema, so a row's group is exactly the one the search counted) and
//! written whole or not at all ([`crate::data::io::open_sink`]).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::AnonymiseError;
use super::hierarchy::ColumnHierarchy;
use super::microaggregate::{Aggregate, MicroaggregationRecord, Released};
use crate::data::io::open_sink;
use crate::data::{
    Binning, ColumnKind, ColumnSpec, EncodeOptions, Encoder, Role, Schema, TableSource,
};

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
    /// Information loss in `[0, 1]` of the global optimum (the first iteration, over every
    /// record).
    pub loss: f64,
    /// Iterations of local recoding asked for (0: the global optimum alone).
    pub local_recoding: usize,
    /// Records the global optimum suppressed (before local recoding).
    pub records_suppressed_global: u64,
    /// Each iteration's transformation and what it released: the global optimum first,
    /// then each local recoding iteration.
    pub iterations: Vec<IterationRecord>,
    /// The microaggregated columns and their information loss.
    pub microaggregation: Vec<MicroaggregationRecord>,
}

/// One iteration of the release: the global optimum (iteration 0) or a local recoding
/// iteration over the records still suppressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    /// 0 for the global optimum.
    pub iteration: usize,
    /// The level of each searched quasi-identifier, in the order of `quasi_identifiers`.
    pub levels: Vec<usize>,
    /// The levels' names (`bands of 10`, `*`), in the same order.
    pub level_names: Vec<String>,
    /// Records the iteration searched over (every record, then those still suppressed).
    pub records_in: u64,
    /// Records it released (0 when it was dropped).
    pub records_released: u64,
    /// Information loss of the iteration's node over its own records.
    pub loss: f64,
    /// Whether the release with this iteration's records failed the models, so they stayed
    /// suppressed.
    pub dropped: bool,
}

/// One step of the release: a level per searched quasi-identifier and the group
/// combinations it suppresses among the records that reach it (every record for the first
/// step; for each later one, the records every earlier step suppressed).
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub levels: Vec<usize>,
    /// Keys ([`group_key`]) of the suppressed group combinations.
    pub suppressed: FxHashSet<u128>,
}

/// A microaggregated column of the release: its function and each released class's value.
#[derive(Debug, Clone)]
pub(crate) struct MicroColumn {
    pub column: String,
    pub function: Aggregate,
    /// Whether the column is declared an integer (a median or mode is written as one).
    pub integer: bool,
    /// Released value of each released class, by [`Transformation::release_key`].
    pub values: FxHashMap<u128, Released>,
}

/// The chosen transformation: the steps (one without local recoding), and how each
/// record's released labels are told apart.
#[derive(Debug, Clone)]
pub(crate) struct Transformation<'a> {
    pub hierarchies: &'a [ColumnHierarchy],
    pub steps: Vec<Step>,
    /// Declared columns left out of the release besides the direct identifiers.
    pub drop: Vec<String>,
    /// Microaggregated columns (filled once the release's classes are known).
    pub micro: Vec<MicroColumn>,
    /// `label_ids[j][level][group]`: the released label's id among every label of column
    /// `j` at any level (null groups share one id), so records released at different levels
    /// with the same label fall in one class, as `pets risk` sees them.
    label_ids: Vec<Vec<Vec<u32>>>,
    /// Number of label ids of each column.
    label_counts: Vec<u32>,
}

/// The key of a combination of groups at `levels`: mixed radix when the product of group
/// counts fits in 128 bits, a 128-bit hash otherwise.
pub(crate) fn group_key(hierarchies: &[ColumnHierarchy], levels: &[usize], groups: &[u32]) -> u128 {
    mixed_key(
        groups,
        hierarchies
            .iter()
            .zip(levels)
            .map(|(h, &l)| h.levels[l].n_groups()),
    )
}

fn mixed_key(tuple: &[u32], radix: impl Iterator<Item = u32>) -> u128 {
    let mut key: u128 = 0;
    for (&g, card) in tuple.iter().zip(radix) {
        match key
            .checked_mul(u128::from(card))
            .and_then(|k| k.checked_add(u128::from(g)))
        {
            Some(k) => key = k,
            None => return crate::disclosure::classes::hash_tuple(tuple),
        }
    }
    key
}

impl<'a> Transformation<'a> {
    /// No steps yet, over `hierarchies`.
    pub(crate) fn new(hierarchies: &'a [ColumnHierarchy], drop: Vec<String>) -> Self {
        let mut label_ids = Vec::with_capacity(hierarchies.len());
        let mut label_counts = Vec::with_capacity(hierarchies.len());
        for h in hierarchies {
            let mut ids: FxHashMap<Option<&str>, u32> = FxHashMap::default();
            let per_level: Vec<Vec<u32>> = (0..h.levels.len())
                .map(|l| {
                    (0..h.levels[l].n_groups())
                        .map(|g| {
                            let label = (!is_null_group(h, l, g))
                                .then(|| h.levels[l].labels[g as usize].as_str());
                            let next = ids.len() as u32;
                            *ids.entry(label).or_insert(next)
                        })
                        .collect()
                })
                .collect();
            label_counts.push(ids.len() as u32);
            label_ids.push(per_level);
        }
        Transformation {
            hierarchies,
            steps: Vec::new(),
            drop,
            micro: Vec::new(),
            label_ids,
            label_counts,
        }
    }

    /// Fill `groups` with the groups of `codes` (level-0 codes) at step `s`'s levels.
    #[inline]
    pub(crate) fn groups(&self, s: usize, codes: &[u32], groups: &mut [u32]) {
        let levels = &self.steps[s].levels;
        for (j, g) in groups.iter_mut().enumerate() {
            *g = self.hierarchies[j].levels[levels[j]].map[codes[j] as usize];
        }
    }

    /// The step that releases a record with level-0 `codes` (`groups` left at its groups),
    /// or `None` when every step suppresses it.
    pub(crate) fn place(&self, codes: &[u32], groups: &mut [u32]) -> Option<usize> {
        (0..self.steps.len()).find(|&s| {
            self.groups(s, codes, groups);
            !self.steps[s].suppressed.contains(&group_key(
                self.hierarchies,
                &self.steps[s].levels,
                groups,
            ))
        })
    }

    /// The label id of group `g` of column `j` at step `s`.
    #[inline]
    pub(crate) fn label_id(&self, j: usize, s: usize, g: u32) -> u32 {
        self.label_ids[j][self.steps[s].levels[j]][g as usize]
    }

    /// Number of label ids of column `j`.
    pub(crate) fn label_count(&self, j: usize) -> u32 {
        self.label_counts[j]
    }

    /// The key of the released class of a record released by step `s` with `groups`: the
    /// tuple of its released labels, whatever step released it.
    pub(crate) fn release_key(&self, s: usize, groups: &[u32], ids: &mut Vec<u32>) -> u128 {
        ids.clear();
        ids.extend(
            groups
                .iter()
                .enumerate()
                .map(|(j, &g)| self.label_id(j, s, g)),
        );
        mixed_key(ids, self.label_counts.iter().copied())
    }

    /// Each column's released label of group `g` at step `s` (`None`: null).
    fn label(&self, j: usize, s: usize, g: u32) -> Option<&str> {
        let h = &self.hierarchies[j];
        let level = self.steps[s].levels[j];
        (!is_null_group(h, level, g)).then(|| h.levels[level].labels[g as usize].as_str())
    }
}

/// The release's schema: direct identifiers and the columns asked for dropped; each
/// generalised quasi-identifier a categorical column over its labels at the levels used
/// (`*` added when suppressed records are masked; ordered only when one level is used); a
/// microaggregated column as its function releases it; other columns as declared. Returns
/// the schema and the dropped columns.
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
        if let Some(m) = t.micro.iter().find(|m| m.column == spec.name) {
            columns.push(micro_spec(spec, m, mode));
            continue;
        }
        match t.hierarchies.iter().position(|h| h.column == spec.name) {
            None => columns.push(spec.clone()),
            Some(j) => {
                let h = &t.hierarchies[j];
                let mut used: Vec<usize> = Vec::new();
                for s in &t.steps {
                    if !used.contains(&s.levels[j]) {
                        used.push(s.levels[j]);
                    }
                }
                let mut seen: FxHashSet<&str> = FxHashSet::default();
                let mut values: Vec<String> = Vec::new();
                for &l in &used {
                    for (label, g) in h.levels[l].labels.iter().zip(0..) {
                        if !is_null_group(h, l, g) && seen.insert(label) {
                            values.push(label.clone());
                        }
                    }
                }
                if mode == SuppressedRows::Mask && !values.iter().any(|v| v == "*") {
                    values.push("*".into());
                }
                let mut out = ColumnSpec::new(
                    spec.name.clone(),
                    ColumnKind::Categorical {
                        values,
                        ordered: h.ordered && used.len() == 1,
                    },
                );
                out.nullable = spec.nullable;
                out.role = spec.role;
                let names: Vec<&str> = used.iter().map(|&l| h.levels[l].name.as_str()).collect();
                out.description = Some(format!(
                    "{} generalised to {} ({})",
                    spec.name,
                    names.join(" or "),
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

/// A microaggregated column's released spec: a float over the declared range for `mean`,
/// the declared spec for `median` and `mode` (observed values), a categorical column of the
/// intervals for `interval`. Nullable when masked records are kept (released as null).
fn micro_spec(spec: &ColumnSpec, m: &MicroColumn, mode: SuppressedRows) -> ColumnSpec {
    let mut out = match (m.function, &spec.kind) {
        (Aggregate::Mean, ColumnKind::Integer { min, max, .. }) => ColumnSpec::new(
            spec.name.clone(),
            ColumnKind::Float {
                min: *min as f64,
                max: *max as f64,
                bins: Binning::EqualWidth(20),
            },
        ),
        (Aggregate::Interval, _) => {
            let mut intervals: Vec<(f64, f64)> = m
                .values
                .values()
                .filter_map(|v| match v {
                    Released::Interval(a, b) => Some((*a, *b)),
                    _ => None,
                })
                .collect();
            intervals.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            intervals.dedup();
            let mut values: Vec<String> = intervals
                .into_iter()
                .map(|(a, b)| Released::interval_label(a, b))
                .collect();
            if mode == SuppressedRows::Mask {
                values.push("*".into());
            }
            ColumnSpec::new(
                spec.name.clone(),
                ColumnKind::Categorical {
                    values,
                    ordered: false,
                },
            )
        }
        _ => spec.clone(),
    };
    out.role = spec.role;
    out.nullable = spec.nullable
        || m.values.values().any(|v| *v == Released::Null)
        || (mode == SuppressedRows::Mask && m.function != Aggregate::Interval);
    out.description = Some(format!(
        "{} microaggregated: the {} of each released class",
        spec.name,
        m.function.name()
    ));
    out
}

/// Whether group `g` at `level` is the null code's own group (written as a null); at `*`
/// nulls are suppressed with everything else.
fn is_null_group(h: &ColumnHierarchy, level: usize, g: u32) -> bool {
    level < h.height()
        && h.null_code
            .is_some_and(|c| h.levels[level].map[c as usize] == g)
}

/// The searched quasi-identifiers' level-0 codes of a batch, encoded against `schema`.
fn batch_codes(
    schema: &Schema,
    opts: &EncodeOptions,
    qis: &[String],
    batch: &RecordBatch,
) -> Result<Vec<Vec<u32>>, AnonymiseError> {
    let mut encoder = Encoder::new(schema, opts.clone())?;
    encoder.push(batch)?;
    let table = encoder.finish()?;
    Ok(qis
        .iter()
        .map(|q| table.column(q).map(|c| c.codes.clone()))
        .collect::<Result<_, _>>()?)
}

/// A column of a batch as numbers (text parsed; what cannot be read is null, which the
/// encoder has already refused for a declared numeric column).
fn numbers(batch: &RecordBatch, column: &str) -> Result<Float64Array, AnonymiseError> {
    let index = batch
        .schema()
        .index_of(column)
        .map_err(crate::data::DataError::from)?;
    let array = arrow_cast::cast(batch.column(index), &DataType::Float64)
        .map_err(crate::data::DataError::from)?;
    Ok(array
        .as_any()
        .downcast_ref::<Float64Array>()
        .cloned()
        .unwrap_or_else(|| Float64Array::from(vec![None::<f64>; batch.num_rows()])))
}

/// Read `source` once to aggregate each microaggregated column over the released classes
/// of `t`: fills `t.micro[..].values` and returns each column's record (loss over the
/// released records).
pub(crate) fn microaggregate(
    source: &TableSource,
    schema: &Schema,
    t: &mut Transformation<'_>,
) -> Result<Vec<MicroaggregationRecord>, AnonymiseError> {
    if t.micro.is_empty() {
        return Ok(Vec::new());
    }
    let qis: Vec<String> = t.hierarchies.iter().map(|h| h.column.clone()).collect();
    let opts = EncodeOptions {
        columns: Some(qis.clone()),
        ..Default::default()
    };
    // Per column, each released class's non-null values.
    let mut classes: Vec<FxHashMap<u128, Vec<f64>>> = vec![FxHashMap::default(); t.micro.len()];
    let mut groups = vec![0u32; qis.len()];
    let mut codes = vec![0u32; qis.len()];
    let mut ids = Vec::with_capacity(qis.len());
    for batch in source.stream()? {
        let batch = batch?;
        let columns = batch_codes(schema, &opts, &qis, &batch)?;
        let values: Vec<Float64Array> = t
            .micro
            .iter()
            .map(|m| numbers(&batch, &m.column))
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            for (c, col) in codes.iter_mut().zip(&columns) {
                *c = col[row];
            }
            let Some(s) = t.place(&codes, &mut groups) else {
                continue;
            };
            let key = t.release_key(s, &groups, &mut ids);
            for (m, v) in classes.iter_mut().zip(&values) {
                let entry = m.entry(key).or_default();
                if v.is_valid(row) && v.value(row).is_finite() {
                    entry.push(v.value(row));
                }
            }
        }
    }
    let mut records = Vec::with_capacity(t.micro.len());
    for (m, mut per_class) in t.micro.iter_mut().zip(classes) {
        m.values = per_class
            .iter_mut()
            .map(|(&k, v)| (k, super::microaggregate::aggregate(m.function, v)))
            .collect();
        let (count, loss) = super::microaggregate::loss(
            m.function,
            per_class.iter().map(|(k, v)| (v.as_slice(), m.values[k])),
        );
        records.push(MicroaggregationRecord {
            column: m.column.clone(),
            function: m.function,
            classes: m.values.len() as u64,
            values: count,
            loss_measure: match m.function {
                Aggregate::Interval => "interval width",
                _ => "sse/sst",
            }
            .into(),
            loss,
        });
    }
    Ok(records)
}

/// A microaggregated column of one batch: each row's released value.
fn micro_array(
    m: &MicroColumn,
    keys: &[Option<u128>],
    field: &Field,
) -> Result<ArrayRef, AnonymiseError> {
    let value = |k: &Option<u128>| k.and_then(|k| m.values.get(&k).copied());
    if m.function == Aggregate::Interval {
        let labels: Vec<Option<String>> = keys
            .iter()
            .map(|k| match (k, value(k)) {
                (None, _) => Some("*".to_string()),
                (_, Some(Released::Interval(a, b))) => Some(Released::interval_label(a, b)),
                _ => None,
            })
            .collect();
        return Ok(Arc::new(StringArray::from(labels)));
    }
    let numbers: Float64Array = keys
        .iter()
        .map(|k| match value(k) {
            Some(Released::Number(x)) => Some(x),
            _ => None,
        })
        .collect();
    let mut array: ArrayRef = Arc::new(numbers);
    if m.function == Aggregate::Mean {
        return Ok(array);
    }
    let err = |e: arrow_schema::ArrowError| AnonymiseError::from(crate::data::DataError::from(e));
    if m.integer {
        array = arrow_cast::cast(&array, &DataType::Int64).map_err(err)?;
    }
    arrow_cast::cast(&array, field.data_type()).map_err(err)
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
            match t.micro.iter().find(|m| m.column == *f.name()) {
                Some(m) => match m.function {
                    Aggregate::Mean => Field::new(f.name(), DataType::Float64, true),
                    Aggregate::Interval => Field::new(f.name(), DataType::Utf8, true),
                    _ => Field::new(f.name(), f.data_type().clone(), true),
                },
                None if qis.contains(f.name()) => Field::new(f.name(), DataType::Utf8, true),
                None => f.clone(),
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
    let mut codes = vec![0u32; qis.len()];
    let mut ids = Vec::with_capacity(qis.len());
    for batch in stream {
        let batch = batch?;
        let columns = batch_codes(schema, &opts, &qis, &batch)?;
        let n = batch.num_rows();
        let mut keep = Vec::with_capacity(n);
        let mut keys: Vec<Option<u128>> = Vec::with_capacity(n);
        let mut labels: Vec<Vec<Option<&str>>> = vec![Vec::with_capacity(n); qis.len()];
        for row in 0..n {
            for (c, col) in codes.iter_mut().zip(&columns) {
                *c = col[row];
            }
            let step = t.place(&codes, &mut groups);
            suppressed += u64::from(step.is_none());
            keep.push(step.is_some() || mode == SuppressedRows::Mask);
            keys.push(step.map(|s| t.release_key(s, &groups, &mut ids)));
            for (j, out) in labels.iter_mut().enumerate() {
                out.push(match step {
                    None => Some("*"),
                    Some(s) => t.label(j, s, groups[j]),
                });
            }
        }
        let arrays: Vec<ArrayRef> = kept
            .iter()
            .zip(out_schema.fields())
            .map(|(&i, field)| {
                let name = input_schema.field(i).name();
                if let Some(m) = t.micro.iter().find(|m| m.column == *name) {
                    return micro_array(m, &keys, field);
                }
                Ok(match qis.iter().position(|q| q == name) {
                    Some(j) => Arc::new(StringArray::from(labels[j].clone())) as ArrayRef,
                    None => batch.column(i).clone(),
                })
            })
            .collect::<Result<_, AnonymiseError>>()?;
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
