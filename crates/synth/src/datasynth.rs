//! Reading a DataSynthesizer description file (correlated attribute mode) as a model pets
//! samples from: the bonus of issue 13 for users migrating from DataSynthesizer (PyPI
//! `DataSynthesizer`, Ping, Stoyanovich & Howe 2017, whose correlated mode is PrivBayes).
//!
//! A description (`DataDescriber.save_dataset_description_to_file`) holds `meta`
//! (`all_attributes`, `attributes_in_BN`, `num_tuples`, ...), `attribute_description` (per
//! attribute: `data_type`, `is_categorical`, `is_candidate_key`, `min`, `max`,
//! `missing_rate`, `distribution_bins`), `bayesian_network` (a list of `[child, [parents]]`;
//! the first entry's single parent is the root) and `conditional_probabilities` (the root's
//! distribution as a list; for every other attribute a map from the parents' bin indices,
//! written `"[i, j]"` in the parents' order, to the child's distribution over its bins).
//! A distribution one entry longer than the bins gives the missing values' probability
//! (DataSynthesizer's bin index `len(bins)`).
//!
//! **Columns.** Categorical attributes become categorical columns (their bins are the
//! values; integer values `min..=max` without gaps become an integer column); numeric,
//! non-categorical `Integer` and `Float` attributes become integer or float columns binned
//! at DataSynthesizer's edges (`distribution_bins`, then `max`), whose values pets places
//! uniformly within a bin, as DataSynthesizer does. A positive `missing_rate` makes the
//! column nullable, its null code taking the extra bin. `DateTime` and
//! `SocialSecurityNumber` attributes, candidate keys, non-categorical strings and
//! attributes outside the network cannot be mapped: a [`SynthError::ModelFile`] names the
//! attribute and what to do (describe the data again without it, or with it categorical).
//!
//! **Model.** The network's joint, `p(root) prod p(child | parents)`, is put on a junction
//! tree of the families ([`crate::inference::JunctionTree`], triangulated as needed) and
//! calibrated by belief propagation (the inference engine with no measurement: the start is
//! the network's log-potentials, already the distribution). A parent configuration the file
//! does not list gives the child a uniform distribution (noted). The model's method is
//! `datasynthesizer`; it holds no measurement and an empty ledger: the file records neither
//! epsilon nor the split, so its privacy is DataSynthesizer's claim, stated in a note, and
//! `epsilon`, `delta` and `rho` are 0. Its `total` is the file's `num_tuples` (the rows
//! sampled by default), a figure the description already publishes.

use std::collections::BTreeSet;

use pets::data::{Binning, CodeBook, ColumnKind, ColumnSpec, Schema};
use pets::dp::{Cost, Ledger};
use pets::progress::Progress;
use serde_json::Value;

use crate::compress::Compression;
use crate::error::{Result, SynthError};
use crate::inference::{EstimationOptions, Factor, WarmStart, estimate_warm};
use crate::model::{FittedTables, MODEL_FORMAT, MODEL_VERSION, SynthModel};

/// The largest family table (a child's and its parents' bins multiplied) read: `2^24`
/// cells, the inference engine's clique limit.
pub const MAX_FAMILY_CELLS: usize = 1 << 24;

/// The method name of models read from a DataSynthesizer description.
pub const DATASYNTHESIZER_METHOD: &str = "datasynthesizer";

/// Whether a JSON document looks like a DataSynthesizer description (its three sections).
pub fn is_description(v: &Value) -> bool {
    v.get("attribute_description").is_some()
        && v.get("bayesian_network").is_some()
        && v.get("conditional_probabilities").is_some()
}

fn bad(reason: impl Into<String>) -> SynthError {
    SynthError::ModelFile {
        path: "<DataSynthesizer description>".into(),
        reason: reason.into(),
    }
}

/// One attribute as pets models it.
struct Attr {
    spec: ColumnSpec,
    /// DataSynthesizer's bins (pets' codes `0..bins`), plus one for nulls when nullable.
    bins: usize,
    nullable: bool,
}

/// The number a JSON value holds, as `f64`.
fn num(v: &Value, what: &str, name: &str) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| bad(format!("attribute {name:?}: {what} is not a number ({v})")))
}

/// A bin value as a categorical label: text as is, integral numbers without a fraction.
fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// The pets column of one described attribute.
fn attribute(name: &str, d: &Value) -> Result<Attr> {
    let cannot = |what: &str| {
        bad(format!(
            "attribute {name:?} cannot be read into a pets model: {what}; describe the data \
             again without it (or, for text, with it categorical)"
        ))
    };
    let data_type = d.get("data_type").and_then(Value::as_str).unwrap_or("");
    let categorical = d
        .get("is_categorical")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if d.get("is_candidate_key").and_then(Value::as_bool) == Some(true) {
        return Err(cannot("it is a candidate key (unique per row)"));
    }
    let bins: Vec<Value> = d
        .get("distribution_bins")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| bad(format!("attribute {name:?} has no distribution_bins")))?;
    if bins.is_empty() {
        return Err(bad(format!("attribute {name:?} has no bins")));
    }
    let missing = d.get("missing_rate").and_then(Value::as_f64).unwrap_or(0.0);
    let nullable = missing > 0.0;
    let kind = match (data_type, categorical) {
        ("DateTime", _) => return Err(cannot("DateTime attributes are not supported")),
        ("SocialSecurityNumber", _) => {
            return Err(cannot("SocialSecurityNumber attributes are identifiers"));
        }
        ("String", false) => return Err(cannot("it is free text (a non-categorical string)")),
        (_, true) => {
            let ints: Option<Vec<i64>> = bins.iter().map(Value::as_i64).collect();
            match ints {
                Some(v) if v.windows(2).all(|w| w[1] == w[0] + 1) && data_type == "Integer" => {
                    ColumnKind::Integer {
                        min: v[0],
                        max: v[v.len() - 1],
                        bins: None,
                    }
                }
                _ => ColumnKind::Categorical {
                    values: bins.iter().map(label).collect(),
                    ordered: false,
                },
            }
        }
        ("Integer" | "Float", false) => {
            let min = num(d.get("min").unwrap_or(&Value::Null), "min", name)?;
            let max = num(d.get("max").unwrap_or(&Value::Null), "max", name)?;
            let mut edges: Vec<f64> = bins
                .iter()
                .map(|b| num(b, "a bin edge", name))
                .collect::<Result<_>>()?;
            if edges.last().is_some_and(|&e| e < max) {
                edges.push(max);
            } else {
                // A single value (min = max): one bin of width one.
                edges.push(edges[edges.len() - 1] + 1.0);
            }
            if data_type == "Integer" {
                ColumnKind::Integer {
                    min: min.floor() as i64,
                    max: max.ceil() as i64,
                    bins: Some(Binning::Edges(edges)),
                }
            } else {
                ColumnKind::Float {
                    min,
                    max,
                    bins: Binning::Edges(edges),
                }
            }
        }
        (other, _) => return Err(cannot(&format!("data type {other:?} is unknown"))),
    };
    let spec = ColumnSpec::new(name, kind).nullable(nullable);
    spec.validate()
        .map_err(|e| bad(format!("attribute {name:?}: {e}")))?;
    let n = spec.n_values().ok_or_else(|| cannot("it has no codes"))? as usize;
    if n != bins.len() {
        return Err(bad(format!(
            "attribute {name:?}: {} bins in the file, but its pets column has {n} values",
            bins.len()
        )));
    }
    Ok(Attr {
        spec,
        bins: n + usize::from(nullable),
        nullable,
    })
}

/// A distribution over `size` codes from a JSON list, normalised; `None` when it is not one.
fn distribution(v: &Value, size: usize, bins: usize) -> Option<Vec<f64>> {
    let mut p: Vec<f64> = v
        .as_array()?
        .iter()
        .map(Value::as_f64)
        .collect::<Option<_>>()?;
    // Without missing values the extra (null) code gets nothing.
    if p.len() == bins && size == bins + 1 {
        p.push(0.0);
    }
    if p.len() != size || p.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return None;
    }
    let s: f64 = p.iter().sum();
    if s <= 0.0 {
        return None;
    }
    Some(p.into_iter().map(|x| x / s).collect())
}

/// Read a DataSynthesizer description (parsed JSON) as a model (see the module docs).
pub fn from_description(v: &Value) -> Result<SynthModel> {
    let attrs_desc = v
        .get("attribute_description")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("attribute_description is not an object"))?;
    let network = v
        .get("bayesian_network")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("bayesian_network is not a list"))?;
    let conditionals = v
        .get("conditional_probabilities")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("conditional_probabilities is not an object"))?;
    if network.is_empty() {
        return Err(bad(
            "the Bayesian network is empty: describe the data in correlated attribute mode \
             (describe_dataset_in_correlated_attribute_mode) with at least two attributes",
        ));
    }
    // The network: (child, parents), the root first as a family with no parents.
    let mut families: Vec<(String, Vec<String>)> = Vec::new();
    for (i, entry) in network.iter().enumerate() {
        let pair = entry.as_array().filter(|a| a.len() == 2);
        let child = pair.and_then(|a| a[0].as_str());
        let parents: Option<Vec<String>> = pair.and_then(|a| {
            a[1].as_array()?
                .iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect()
        });
        let (Some(child), Some(parents)) = (child, parents) else {
            return Err(bad(format!(
                "bayesian_network entry {} is not [child, [parents]]",
                i + 1
            )));
        };
        if i == 0 {
            let [root] = parents.as_slice() else {
                return Err(bad(
                    "the first network entry must have exactly one parent, the root",
                ));
            };
            families.push((root.clone(), Vec::new()));
        }
        families.push((child.to_string(), parents));
    }
    // Every attribute of the description must be in the network.
    let in_network: BTreeSet<&str> = families.iter().map(|f| f.0.as_str()).collect();
    let all: Vec<String> = v
        .pointer("/meta/all_attributes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| attrs_desc.keys().cloned().collect());
    if let Some(out) = all.iter().find(|a| !in_network.contains(a.as_str())) {
        let why = attrs_desc
            .get(out)
            .map(|d| attribute(out, d).err())
            .and_then(|e| e.map(|e| e.to_string()))
            .unwrap_or_else(|| "it is not in the Bayesian network".into());
        return Err(bad(format!(
            "attribute {out:?} is not in the Bayesian network, so pets cannot sample it ({why})"
        )));
    }
    // Columns in the description's order.
    let order: Vec<String> = all
        .iter()
        .filter(|a| in_network.contains(a.as_str()))
        .cloned()
        .collect();
    if order.len() != in_network.len() {
        return Err(bad(
            "the network names attributes that meta.all_attributes does not list",
        ));
    }
    let index = |name: &str| order.iter().position(|a| a == name);
    let attrs: Vec<Attr> = order
        .iter()
        .map(|name| {
            let d = attrs_desc
                .get(name)
                .ok_or_else(|| bad(format!("attribute {name:?} has no description")))?;
            attribute(name, d)
        })
        .collect::<Result<_>>()?;
    let sizes: Vec<usize> = attrs.iter().map(|a| a.bins).collect();
    let names: Vec<String> = order.clone();

    // Log-potentials: ln p(child | parents) over each family's attributes.
    let floor = 1e-300f64.ln();
    let mut potentials: Vec<Factor> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut cliques: Vec<Vec<usize>> = Vec::new();
    for (child, parents) in &families {
        let c = index(child).ok_or_else(|| bad(format!("unknown attribute {child:?}")))?;
        let pa: Vec<usize> = parents
            .iter()
            .map(|p| index(p).ok_or_else(|| bad(format!("unknown parent {p:?}"))))
            .collect::<Result<_>>()?;
        let cond = conditionals.get(child).ok_or_else(|| {
            bad(format!(
                "conditional_probabilities has no entry for {child:?}"
            ))
        })?;
        let bins_of = |a: usize| attrs[a].bins - usize::from(attrs[a].nullable);
        let wrong = || {
            bad(format!(
                "the distribution of {child:?} is not one over its {} bins",
                bins_of(c)
            ))
        };
        // Family attributes, ascending (the factor's order).
        let mut fam: Vec<usize> = pa.clone();
        fam.push(c);
        fam.sort_unstable();
        fam.dedup();
        if fam.len() != pa.len() + 1 {
            return Err(bad(format!("{child:?} is listed among its own parents")));
        }
        let cells = fam
            .iter()
            .try_fold(1usize, |acc, &a| acc.checked_mul(sizes[a]))
            .filter(|&c| c <= MAX_FAMILY_CELLS)
            .ok_or_else(|| {
                bad(format!(
                    "the family of {child:?} has more than {MAX_FAMILY_CELLS} cells (bins of \
                     it and its parents multiplied): describe the data with fewer bins"
                ))
            })?;
        let mut values = vec![floor; cells];
        let strides: Vec<usize> = fam
            .iter()
            .map(|&a| fam.iter().filter(|&&b| b > a).map(|&b| sizes[b]).product())
            .collect();
        let stride = |a: usize| strides[fam.iter().position(|&b| b == a).expect("in family")];
        let configs: usize = pa.iter().map(|&p| sizes[p]).product();
        let mut uniform = 0usize;
        for k in 0..configs.max(1) {
            // The parents' codes of configuration k (the first parent slowest).
            let mut rest = k;
            let mut codes = vec![0usize; pa.len()];
            for (j, &p) in pa.iter().enumerate().rev() {
                codes[j] = rest % sizes[p];
                rest /= sizes[p];
            }
            let p = if pa.is_empty() {
                distribution(cond, sizes[c], bins_of(c)).ok_or_else(wrong)?
            } else {
                let key = format!(
                    "[{}]",
                    codes
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                match cond.get(&key) {
                    Some(d) => distribution(d, sizes[c], bins_of(c)).ok_or_else(wrong)?,
                    None => {
                        uniform += 1;
                        vec![1.0 / sizes[c] as f64; sizes[c]]
                    }
                }
            };
            let base: usize = pa.iter().zip(&codes).map(|(&a, &x)| x * stride(a)).sum();
            for (x, &px) in p.iter().enumerate() {
                if px > 0.0 {
                    values[base + x * stride(c)] = px.ln();
                }
            }
        }
        if uniform > 0 {
            notes.push(format!(
                "datasynthesizer: {uniform} parent configuration(s) of {child:?} not in the \
                 file; {child:?} is uniform given them"
            ));
        }
        potentials.push(Factor::from_vec(&fam, &sizes, values));
        cliques.push(fam);
    }

    // The joint on a junction tree of the families, calibrated by belief propagation.
    let warm = WarmStart {
        potentials,
        step: 1.0,
    };
    let opts = EstimationOptions {
        max_iters: 1,
        ..EstimationOptions::default()
    };
    let (model, report, _) = estimate_warm(
        &sizes,
        &names,
        &[],
        &cliques,
        Some(&warm),
        &opts,
        &Progress::none(),
    )?;
    let schema = Schema::new(attrs.iter().map(|a| a.spec.clone()).collect())
        .map_err(|e| bad(format!("its columns: {e}")))?;
    let codebooks: Vec<CodeBook> = attrs
        .iter()
        .map(|a| {
            let n = (a.bins - usize::from(a.nullable)) as u32;
            CodeBook {
                n_values: n,
                null_code: a.nullable.then_some(n),
                other_code: None,
            }
        })
        .collect();
    let total = v
        .pointer("/meta/num_tuples")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite() && *t >= 0.0)
        .unwrap_or(0.0);
    notes.insert(
        0,
        "datasynthesizer: read from a DataSynthesizer description (correlated attribute \
         mode); the file records no epsilon, so this model's privacy is DataSynthesizer's \
         claim, not pets' (epsilon, delta and rho are 0 here)"
            .into(),
    );
    let zero = Cost::rho(0.0);
    let m = SynthModel {
        format: MODEL_FORMAT.into(),
        version: MODEL_VERSION,
        method: DATASYNTHESIZER_METHOD.into(),
        schema,
        codebooks,
        epsilon: 0.0,
        delta: 0.0,
        rho: 0.0,
        compression: attrs
            .iter()
            .map(|a| Compression::identity(&a.spec.name, a.bins as u32))
            .collect(),
        measurements: Vec::new(),
        selected: families
            .iter()
            .filter(|f| !f.1.is_empty())
            .map(|(c, p)| {
                std::iter::once(c.clone())
                    .chain(p.iter().cloned())
                    .collect()
            })
            .collect(),
        total,
        fitted: FittedTables {
            cliques: model.tree.cliques.clone(),
            neighbors: model.tree.neighbors.clone(),
            order: model.tree.order.clone(),
            tables: model.marginals.iter().map(|f| f.to_vec()).collect(),
        },
        estimation: report,
        ledger: Ledger {
            budget: zero,
            spent: zero,
            remaining: zero,
            spent_as_approx_dp: None,
            entries: Vec::new(),
        },
        notes,
        budget_receipt: None,
        output: Vec::new(),
    };
    Ok(m)
}

#[cfg(test)]
mod tests;
