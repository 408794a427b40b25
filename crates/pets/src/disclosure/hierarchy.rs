//! Value hierarchies (generalisation trees) for the hierarchical ground distance of
//! t-closeness (Li, Li, Venkatasubramanian 2007, section 4.2).
//!
//! A hierarchy is a simple tree given as, for each code of the sensitive column, the path of
//! its ancestors from just below the root down to its parent, e.g. for ICD-10 codes
//! `"J45" -> ["Respiratory", "Asthma"]`. The root is implicit. Leaves may sit at different
//! depths; a shorter path behaves as if extended by single-child nodes (which cost nothing).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::data::EncodedColumn;

/// Errors building a hierarchy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HierarchyError {
    /// A label in the hierarchy is not a value of the column.
    #[error(
        "hierarchy for column {column:?} names {label:?}, which is not one of its values; \
         use the column's declared values"
    )]
    UnknownLabel {
        /// Column name.
        column: String,
        /// The label.
        label: String,
    },
    /// A code is outside the column's codes.
    #[error("hierarchy names code {code} but the column has {cardinality} codes")]
    CodeOutOfRange {
        /// The code.
        code: u32,
        /// Number of codes.
        cardinality: u32,
    },
    /// The hierarchy does not cover every code that occurs in the data.
    #[error(
        "the hierarchy does not place {missing} code(s) of the sensitive attribute that occur \
         in the data (first: code {first}); give a path for every value"
    )]
    Incomplete {
        /// How many codes are missing.
        missing: usize,
        /// The smallest missing code.
        first: u32,
    },
}

/// A generalisation tree over the codes of one column: code -> ancestor path (root excluded,
/// parent last).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Ancestor path of each code that has one.
    pub paths: BTreeMap<u32, Vec<String>>,
}

impl Hierarchy {
    /// A hierarchy from code -> ancestor path.
    pub fn from_codes(paths: BTreeMap<u32, Vec<String>>) -> Self {
        Hierarchy { paths }
    }

    /// A hierarchy from value label -> ancestor path, resolved against the column's labels.
    pub fn from_labels(
        column: &EncodedColumn,
        paths: &BTreeMap<String, Vec<String>>,
    ) -> Result<Self, HierarchyError> {
        let by_label: FxHashMap<String, u32> = (0..column.codebook.cardinality())
            .map(|c| (column.label(c), c))
            .collect();
        let mut out = BTreeMap::new();
        for (label, path) in paths {
            let code = *by_label
                .get(label)
                .ok_or_else(|| HierarchyError::UnknownLabel {
                    column: column.spec.name.clone(),
                    label: label.clone(),
                })?;
            out.insert(code, path.clone());
        }
        Ok(Hierarchy { paths: out })
    }

    /// Build the node tree for a column of `cardinality` codes, requiring a path for every
    /// code in `needed`.
    pub(crate) fn tree(&self, cardinality: u32, needed: &[u32]) -> Result<Tree, HierarchyError> {
        if let Some((&code, _)) = self.paths.iter().find(|(c, _)| **c >= cardinality) {
            return Err(HierarchyError::CodeOutOfRange { code, cardinality });
        }
        let missing: Vec<u32> = needed
            .iter()
            .copied()
            .filter(|c| !self.paths.contains_key(c))
            .collect();
        if let Some(&first) = missing.first() {
            return Err(HierarchyError::Incomplete {
                missing: missing.len(),
                first,
            });
        }
        // node 0 = root
        let mut parent = vec![usize::MAX];
        let mut depth = vec![0usize];
        let mut ids: FxHashMap<Vec<String>, usize> = FxHashMap::default();
        let mut leaf = vec![usize::MAX; cardinality as usize];
        let mut height = 1;
        for (&code, path) in &self.paths {
            let mut cur = 0usize;
            for d in 1..=path.len() {
                let prefix = path[..d].to_vec();
                cur = match ids.get(&prefix) {
                    Some(&id) => id,
                    None => {
                        let id = parent.len();
                        parent.push(cur);
                        depth.push(d);
                        ids.insert(prefix, id);
                        id
                    }
                };
            }
            let id = parent.len();
            parent.push(cur);
            depth.push(path.len() + 1);
            leaf[code as usize] = id;
            height = height.max(path.len() + 1);
        }
        Ok(Tree {
            parent,
            depth,
            leaf,
            height,
        })
    }
}

/// A resolved tree: node 0 is the root; leaves are per code.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub parent: Vec<usize>,
    pub depth: Vec<usize>,
    pub leaf: Vec<usize>,
    pub height: usize,
}
