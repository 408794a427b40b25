//! Split one table into trusts by a column's value: a simulation of a federation on one
//! machine (the demo, the benchmark, `pets federated simulate`). Real trusts each hold their
//! own file and never meet in one process.

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_cast::display::ArrayFormatter;
use arrow_select::take::take_record_batch;

use crate::data::{Schema, TableSource};
use crate::federated::error::{FederatedError, Result};
use crate::federated::job::TrustInput;
use crate::federated::ring::MAX_PARTIES;

/// The rows of `source`, split by the value of `column`: one trust per distinct value,
/// named by it, or, with `groups`, the sorted distinct values dealt round-robin into that
/// many trusts (`trust_1`, ...). Loads the table into memory (a simulation).
pub fn split_by_column(
    source: &TableSource,
    schema: Option<&Schema>,
    column: &str,
    groups: Option<usize>,
) -> Result<Vec<TrustInput>> {
    let bad = |reason: String| FederatedError::invalid("split_by", column, reason);
    // A file that cannot be read keeps its own kind (a missing file is a file error).
    let unreadable = |e: crate::data::DataError| FederatedError::Data {
        trust: format!("(the data split by {column})"),
        source: Box::new(e.into()),
    };
    let (source, _) = source.pinned(schema).map_err(unreadable)?;
    let stream = source.stream().map_err(unreadable)?;
    let arrow_schema = stream.arrow_schema();
    let Ok(index) = arrow_schema.index_of(column) else {
        // A column the data lack is a data error (exit 3), as for every other job.
        return Err(unreadable(crate::data::DataError::UnknownColumn {
            column: column.to_string(),
            available: arrow_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        }));
    };
    let batches = stream.collect_batches().map_err(unreadable)?;
    let text = |b: &RecordBatch| -> Result<Vec<String>> {
        let col = b.column(index);
        let f = ArrayFormatter::try_new(col.as_ref(), &Default::default())
            .map_err(|e| bad(e.to_string()))?;
        Ok((0..col.len())
            .map(|i| {
                if col.is_null(i) {
                    String::new()
                } else {
                    f.value(i).to_string()
                }
            })
            .collect())
    };
    let values: Vec<Vec<String>> = batches.iter().map(text).collect::<Result<_>>()?;
    let distinct: BTreeSet<&String> = values.iter().flatten().collect();
    let n = groups.unwrap_or(distinct.len());
    if !(2..=MAX_PARTIES).contains(&n) || n > distinct.len() {
        return Err(bad(format!(
            "{} distinct values; a federation needs 2 to {MAX_PARTIES} trusts (give --trusts)",
            distinct.len()
        )));
    }
    let group_of: BTreeMap<&String, usize> = distinct
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, i % n))
        .collect();
    let names: Vec<String> = match groups {
        Some(_) => (1..=n).map(|i| format!("trust_{i}")).collect(),
        None => distinct
            .iter()
            .map(|v| {
                if v.is_empty() {
                    "(null)".to_string()
                } else {
                    v.to_string()
                }
            })
            .collect(),
    };
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
    for (b, vals) in batches.iter().zip(&values) {
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, v) in vals.iter().enumerate() {
            rows[group_of[v]].push(i as u32);
        }
        for (g, r) in rows.into_iter().enumerate() {
            if !r.is_empty() {
                let taken =
                    take_record_batch(b, &UInt32Array::from(r)).map_err(|e| bad(e.to_string()))?;
                parts[g].push(taken);
            }
        }
    }
    Ok(names
        .into_iter()
        .zip(parts)
        .map(|(name, batches)| {
            let src = TableSource::batches(name.clone(), arrow_schema.clone(), batches);
            TrustInput::new(name, src)
        })
        .collect())
}

/// Where a simulated federation's trusts come from.
#[derive(Debug, Clone)]
pub enum TrustTables {
    /// One table dealt into trusts by a column ([`split_by_column`]).
    Split {
        /// The table.
        source: TableSource,
        /// The column whose values become trusts.
        column: String,
        /// Deal the values round-robin into this many trusts.
        groups: Option<usize>,
    },
    /// Each trust's own table, by name.
    Own(Vec<(String, TableSource)>),
}

/// The trusts of a simulated round, as every front door builds them: their tables, the
/// person-id column, and the injected dropouts (`(trust, stage)`, stages as
/// [`crate::federated::job::DropPoint`] parses them). An unknown trust is an error listing
/// the trusts.
pub fn simulation_trusts(
    tables: TrustTables,
    schema: &Schema,
    person_id: Option<&str>,
    drops: &[(String, String)],
) -> Result<Vec<TrustInput>> {
    let mut trusts = match tables {
        TrustTables::Split {
            source,
            column,
            groups,
        } => split_by_column(&source, Some(schema), &column, groups)?,
        TrustTables::Own(list) => list
            .into_iter()
            .map(|(name, source)| TrustInput::new(name, source))
            .collect(),
    };
    if let Some(id) = person_id {
        trusts = trusts.into_iter().map(|t| t.person_id(id)).collect();
    }
    for (name, stage) in drops {
        let point = stage.parse()?;
        let names: Vec<&str> = trusts.iter().map(|t| t.name.as_str()).collect();
        let listed = names.join(", ");
        let Some(t) = trusts.iter_mut().find(|t| t.name == *name) else {
            return Err(FederatedError::invalid(
                "drop",
                name,
                format!("no such trust in the round; the trusts are {listed}"),
            ));
        };
        t.drop_at = Some(point);
    }
    Ok(trusts)
}
