//! How a column may be coarsened for release: the declaration of a generalisation
//! hierarchy, written in a schema column (`"hierarchy": ...`) or on the command line.
//!
//! The declaration is public (it depends on the declared domain only) and is resolved into
//! one code map per level by [`crate::anonymise::ColumnHierarchy`], which checks that every
//! value maps at every level and that the levels nest.
//!
//! | form (schema JSON) | short form (`--hierarchy COL=...`) | levels |
//! | --- | --- | --- |
//! | `{"bands": {"widths": [5, 10, 20], "top": 90}}` | `5,10,20` or `5,10,20;top=90` | numeric bands counted from the declared minimum (or `bottom`), values at or above `top` in one band |
//! | `{"levels": ["month", "quarter", "year"]}` | `month,quarter,year` | calendar periods of a date or datetime (`minute`, `hour`, `4hour`, `day`, `week`, `month`, `quarter`, `year`) |
//! | `{"postcode": ["sector", "district", "area"]}` | `postcode` or `postcode:district,area` | UK postcode units cut from the labels |
//! | `{"groups": {"value": ["level 1", "level 2"]}}` | (schema or file only) | a categorical grouping table |
//! | `{"csv": "ethnicity.csv"}` | `@ethnicity.csv` | an ARX-style table: value, then one column per level (`,` or `;`) |
//! | `"none"` | `none` | the value, then suppressed |
//!
//! Every hierarchy ends with the level `*` (the attribute suppressed) unless its last level
//! already has a single group.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::DataError;

/// A declared generalisation hierarchy (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HierarchySpec {
    /// Numeric bands of growing width.
    Bands {
        /// Band widths, one level each, finest first (`[5, 10, 20]`).
        widths: Vec<f64>,
        /// Values at or above `top` share one band (`"90+"`) at every band level.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top: Option<f64>,
        /// Where bands are counted from (default: the declared minimum).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bottom: Option<f64>,
    },
    /// Calendar levels of a date or datetime, finest first.
    Levels(Vec<String>),
    /// UK postcode units, finest first: `sector`, `district`, `area`.
    Postcode(Vec<String>),
    /// Each categorical value's coarser labels, level 1 first.
    Groups(BTreeMap<String, Vec<String>>),
    /// An ARX-style CSV file: value, then one column per level.
    Csv(PathBuf),
    /// No intermediate level: the value, then `*`.
    None,
}

impl HierarchySpec {
    /// Parse the short form taken on the command line and from Python (see the module
    /// documentation), or JSON when it starts with `{`.
    pub fn parse(text: &str) -> Result<HierarchySpec, DataError> {
        let text = text.trim();
        let bad = |reason: String| DataError::InvalidArgument {
            name: "hierarchy",
            reason,
        };
        if text.starts_with('{') || text.starts_with('"') {
            return serde_json::from_str(text)
                .map_err(|e| bad(format!("{text:?} is not a hierarchy: {e}")));
        }
        if text == "none" {
            return Ok(HierarchySpec::None);
        }
        if let Some(path) = text.strip_prefix('@') {
            return Ok(HierarchySpec::Csv(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("postcode") {
            let levels = match rest.strip_prefix(':') {
                Some(list) => split_list(list),
                None if rest.is_empty() => vec!["sector".into(), "district".into(), "area".into()],
                None => {
                    return Err(bad(format!(
                        "{text:?}: write postcode or postcode:district,area"
                    )));
                }
            };
            return Ok(HierarchySpec::Postcode(levels));
        }
        let (list, options) = match text.split_once(';') {
            Some((l, o)) => (l, Some(o)),
            None => (text, None),
        };
        let items = split_list(list);
        if items.is_empty() {
            return Err(bad(
                "an empty hierarchy; give band widths (5,10,20), calendar levels \
                            (month,year), postcode, @file.csv or none"
                    .into(),
            ));
        }
        if items.iter().all(|i| i.parse::<f64>().is_ok()) {
            let widths = items.iter().map(|i| i.parse().expect("checked")).collect();
            let (mut top, mut bottom) = (None, None);
            for opt in options.map(split_options).unwrap_or_default() {
                let (key, value) = opt
                    .split_once('=')
                    .ok_or_else(|| bad(format!("{opt:?}: expected top=N or bottom=N")))?;
                let value: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("{opt:?}: {value:?} is not a number")))?;
                match key.trim() {
                    "top" => top = Some(value),
                    "bottom" => bottom = Some(value),
                    other => return Err(bad(format!("{other:?}: bands take top=N and bottom=N"))),
                }
            }
            return Ok(HierarchySpec::Bands {
                widths,
                top,
                bottom,
            });
        }
        if options.is_some() {
            return Err(bad(format!(
                "{text:?}: only numeric bands take options (top=, bottom=)"
            )));
        }
        Ok(HierarchySpec::Levels(items))
    }
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn split_options(options: &str) -> Vec<String> {
    options
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_parse() {
        assert_eq!(
            HierarchySpec::parse("5,10,20;top=90").unwrap(),
            HierarchySpec::Bands {
                widths: vec![5.0, 10.0, 20.0],
                top: Some(90.0),
                bottom: None
            }
        );
        assert_eq!(
            HierarchySpec::parse("month, year").unwrap(),
            HierarchySpec::Levels(vec!["month".into(), "year".into()])
        );
        assert_eq!(
            HierarchySpec::parse("postcode:district,area").unwrap(),
            HierarchySpec::Postcode(vec!["district".into(), "area".into()])
        );
        assert_eq!(
            HierarchySpec::parse("@eth.csv").unwrap(),
            HierarchySpec::Csv("eth.csv".into())
        );
        assert_eq!(HierarchySpec::parse("none").unwrap(), HierarchySpec::None);
        assert_eq!(
            HierarchySpec::parse(r#"{"levels": ["week"]}"#).unwrap(),
            HierarchySpec::Levels(vec!["week".into()])
        );
        assert!(HierarchySpec::parse("5,10;width=3").is_err());
        assert!(HierarchySpec::parse("").is_err());
        assert!(HierarchySpec::parse(r#"{"bandz": [5]}"#).is_err());
    }

    #[test]
    fn schema_files_declare_hierarchies() {
        let s = crate::data::Schema::from_json(
            r#"{"columns": [{"name": "age", "kind": "integer", "min": 0, "max": 99,
                "hierarchy": {"bands": {"widths": [5, 10], "top": 90}}}]}"#,
        )
        .unwrap();
        assert!(matches!(
            s.columns[0].hierarchy,
            Some(HierarchySpec::Bands { .. })
        ));
    }
}
