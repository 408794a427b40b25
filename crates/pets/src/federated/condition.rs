//! Conditions on one column, the 0/1 value whose mean is a **rate**: `mean(COL > 240) by
//! provider_code` is each provider's share of attendances over four hours, with the same
//! noise, charge and intervals as any mean ([`crate::federated::values`]), and a funnel
//! comparison of every cell with the pooled rate ([`crate::federated::compare`]).
//!
//! Syntax (inside `mean(...)` or `sum(...)`, every front door):
//!
//! | condition | column kinds | true when |
//! |---|---|---|
//! | `COL > X`, `>=`, `<`, `<=` | integer, float | the value compares so with the number `X` |
//! | `COL = X`, `!=` (`==` too) | integer, float | the value equals (differs from) `X` |
//! | `COL = LABEL`, `!=` | categorical (booleans are categories) | the value is (is not) the label |
//! | `COL in (A, B, ..)` | categorical | the value is one of the labels |
//! | `COL > LABEL`, `>=`, `<`, `<=` | ordered categorical | the value's position in the declared order compares so |
//!
//! A null has no value: it is left out of the rate's count as a mean leaves it out (an
//! out-of-domain value mapped to `other` is "not the label" for `=` and `in`, true for
//! `!=`, and left out of order comparisons). Which values are true follows from the
//! condition and the declared schema alone: every trust computes the same public function of
//! its own rows, so the per-person sensitivity is that of a mean with bounds `[0, 1]`.

use serde::{Deserialize, Serialize};

use crate::data::{ColumnKind, ColumnSpec, EncodedColumn};
use crate::federated::error::{FederatedError, Result};

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=` (or `==`)
    Eq,
    /// `!=`
    Ne,
    /// `in (A, B, ..)`
    In,
}

impl ConditionOp {
    fn symbol(self) -> &'static str {
        match self {
            ConditionOp::Lt => "<",
            ConditionOp::Le => "<=",
            ConditionOp::Gt => ">",
            ConditionOp::Ge => ">=",
            ConditionOp::Eq => "=",
            ConditionOp::Ne => "!=",
            ConditionOp::In => "in",
        }
    }

    fn ordered(self) -> bool {
        matches!(
            self,
            ConditionOp::Lt | ConditionOp::Le | ConditionOp::Gt | ConditionOp::Ge
        )
    }

    /// `a OP b` for the order comparisons and (in)equality.
    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            ConditionOp::Lt => a < b,
            ConditionOp::Le => a <= b,
            ConditionOp::Gt => a > b,
            ConditionOp::Ge => a >= b,
            ConditionOp::Eq | ConditionOp::In => a == b,
            ConditionOp::Ne => a != b,
        }
    }
}

/// A public condition on one column (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The comparison.
    pub op: ConditionOp,
    /// The right-hand side as written: one number or label, or the labels of `in`.
    pub values: Vec<String>,
}

impl Condition {
    /// Parse `COL > 240`, `admitted = true`, `disposal in (admitted, transferred)`.
    pub fn parse(text: &str) -> Result<Condition> {
        let bad = |why: &str| {
            FederatedError::invalid(
                "condition",
                format!("{text:?}"),
                format!(
                    "{why}; write COLUMN > NUMBER (or >=, <, <=, =, !=), COLUMN = LABEL or \
                     COLUMN in (LABEL, LABEL)"
                ),
            )
        };
        let s = text.trim();
        // `in` only when no comparison comes before it (a label may hold the word: `disposal
        // = "left in care"`).
        let in_list = split_word(s, " in ").filter(|(c, _)| !c.contains(['<', '>', '=', '!']));
        let (column, op, rhs) = if let Some((c, r)) = in_list {
            (c, ConditionOp::In, r)
        } else {
            // Two-character operators first, so `>=` is not read as `>`.
            let ops = [
                (">=", ConditionOp::Ge),
                ("<=", ConditionOp::Le),
                ("!=", ConditionOp::Ne),
                ("==", ConditionOp::Eq),
                (">", ConditionOp::Gt),
                ("<", ConditionOp::Lt),
                ("=", ConditionOp::Eq),
            ];
            let (at, sym, op) = ops
                .iter()
                .filter_map(|&(sym, op)| s.find(sym).map(|at| (at, sym, op)))
                .min_by_key(|&(at, sym, _)| (at, std::cmp::Reverse(sym.len())))
                .ok_or_else(|| bad("no comparison in it"))?;
            (&s[..at], op, &s[at + sym.len()..])
        };
        let column = column.trim();
        if column.is_empty() || column.contains(['(', ')', ',', '<', '>', '=', '!']) {
            return Err(bad("the left side is not a column name"));
        }
        let rhs = rhs.trim();
        let values: Vec<String> = if op == ConditionOp::In {
            let inner = rhs
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| bad("`in` takes a list in parentheses"))?;
            split_outside_quotes(inner)
                .into_iter()
                .map(unquote)
                .collect()
        } else {
            vec![unquote(rhs)]
        };
        if values.iter().any(|v| v.is_empty()) {
            return Err(bad("a value on the right is empty"));
        }
        if values.iter().any(|v| v.contains(['<', '>', '=', '!'])) {
            return Err(bad("more than one comparison"));
        }
        Ok(Condition {
            column: column.to_string(),
            op,
            values,
        })
    }

    /// The syntax [`Condition::parse`] reads: `COL > 240`, `COL in (a, b)`.
    pub fn label(&self) -> String {
        let value = |v: &String| {
            if v.contains([',', '(', ')']) || v.trim() != v {
                format!("{v:?}")
            } else {
                v.clone()
            }
        };
        let rhs = if self.op == ConditionOp::In {
            format!(
                "({})",
                self.values.iter().map(value).collect::<Vec<_>>().join(", ")
            )
        } else {
            value(&self.values[0])
        };
        format!("{} {} {rhs}", self.column, self.op.symbol())
    }

    /// Whether the condition reads the column's codes (categorical columns) rather than its
    /// numbers (integer and float columns), by the declared kind; dates are refused.
    pub fn reads_codes(&self, spec: &ColumnSpec) -> Result<bool> {
        match &spec.kind {
            ColumnKind::Integer { .. } | ColumnKind::Float { .. } => Ok(false),
            ColumnKind::Categorical { ordered, .. } => {
                if self.op.ordered() && !ordered {
                    return Err(self.refuse(
                        "is an unordered categorical column: compare it with =, != or in \
                         (or declare it \"ordered\": true in the schema)",
                    ));
                }
                Ok(true)
            }
            _ => Err(self.refuse(
                "is a date or datetime column: a rate's condition reads numbers or \
                 categories (count a table by the column instead)",
            )),
        }
    }

    fn refuse(&self, why: &str) -> FederatedError {
        FederatedError::invalid(
            "condition",
            format!("{:?}", self.label()),
            format!("{:?} {why}", self.column),
        )
    }

    /// The test of a number (integer and float columns): `x OP X`, or `x` among the
    /// numbers of `in`.
    pub fn on_numbers(&self) -> Result<impl Fn(f64) -> bool + use<>> {
        let numbers: Vec<f64> = self
            .values
            .iter()
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| {
                        self.refuse(&format!(
                            "is numeric: compare it with a finite number, not {v:?}"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        let op = self.op;
        Ok(move |x: f64| match op {
            ConditionOp::In => numbers.contains(&x),
            _ => op.holds(x, numbers[0]),
        })
    }

    /// The value of every code of a categorical `col`: `Some(true/false)`, or `None` for a
    /// code that has no value (null; `other` in order comparisons). Refuses a label the
    /// schema does not declare (naming the declared ones).
    pub fn on_codes(&self, col: &EncodedColumn) -> Result<Vec<Option<bool>>> {
        let ColumnKind::Categorical { values: labels, .. } = &col.spec.kind else {
            return Err(self.refuse("is not categorical"));
        };
        let position = |v: &String| -> Result<usize> {
            labels.iter().position(|l| l == v).ok_or_else(|| {
                self.refuse(&format!(
                    "has no value {v:?}; the schema declares: {}",
                    labels.join(", ")
                ))
            })
        };
        let wanted: Vec<usize> = self.values.iter().map(position).collect::<Result<_>>()?;
        let book = col.codebook;
        Ok((0..book.cardinality())
            .map(|code| {
                if Some(code) == book.null_code {
                    None
                } else if code >= book.n_values {
                    // `other`: not any declared label, at no position in the order.
                    match self.op {
                        ConditionOp::Eq | ConditionOp::In => Some(false),
                        ConditionOp::Ne => Some(true),
                        _ => None,
                    }
                } else {
                    let c = code as usize;
                    Some(match self.op {
                        ConditionOp::In => wanted.contains(&c),
                        op => op.holds(c, wanted[0]),
                    })
                }
            })
            .collect())
    }
}

/// `s` split at the first ` in ` (a word, not part of a column name), when there is one.
fn split_word<'a>(s: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    let at = s.find(word)?;
    Some((&s[..at], &s[at + word.len()..]))
}

/// `s` split at the commas outside single or double quotes.
fn split_outside_quotes(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quote) = (0, None);
    for (i, ch) in s.char_indices() {
        match (ch, quote) {
            ('"' | '\'', None) => quote = Some(ch),
            (c, Some(q)) if c == q => quote = None,
            (',', None) => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .unwrap_or(v)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Schema;

    #[test]
    fn conditions_parse_and_label_round_trip() {
        for (text, op, values, label) in [
            (
                "total_time_in_dept_min > 240",
                ConditionOp::Gt,
                vec!["240"],
                "total_time_in_dept_min > 240",
            ),
            ("age>=65", ConditionOp::Ge, vec!["65"], "age >= 65"),
            ("age <= 17", ConditionOp::Le, vec!["17"], "age <= 17"),
            ("age < 1", ConditionOp::Lt, vec!["1"], "age < 1"),
            (
                "admitted == true",
                ConditionOp::Eq,
                vec!["true"],
                "admitted = true",
            ),
            ("sex != 'F'", ConditionOp::Ne, vec!["F"], "sex != F"),
            (
                "disposal = \"left in care\"",
                ConditionOp::Eq,
                vec!["left in care"],
                "disposal = left in care",
            ),
            (
                "disposal in (admitted, \"home, no follow-up\")",
                ConditionOp::In,
                vec!["admitted", "home, no follow-up"],
                "disposal in (admitted, \"home, no follow-up\")",
            ),
        ] {
            let c = Condition::parse(text).unwrap();
            assert_eq!(c.op, op, "{text}");
            assert_eq!(c.values, values, "{text}");
            assert_eq!(c.label(), label, "{text}");
            assert_eq!(Condition::parse(&c.label()).unwrap(), c, "{text}");
        }
    }

    #[test]
    fn bad_conditions_say_what_to_write() {
        for (text, says) in [
            ("age", "no comparison"),
            ("> 3", "not a column name"),
            ("age > ", "empty"),
            ("age > 3 > 4", "more than one comparison"),
            ("sex in F, M", "parentheses"),
            ("f(age) > 3", "not a column name"),
        ] {
            let e = Condition::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
            assert!(e.contains("COLUMN > NUMBER"), "{text}: {e}");
        }
    }

    fn schema() -> Schema {
        Schema::from_json(
            r#"{"columns": [
                {"name": "wait", "kind": "integer", "min": 0, "max": 1440},
                {"name": "sex", "kind": "categorical", "values": ["F", "M"], "nullable": true},
                {"name": "band", "kind": "categorical", "values": ["0-17", "18-64", "65+"],
                 "ordered": true},
                {"name": "day", "kind": "date", "min": "2024-01-01", "max": "2024-12-31"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn numbers_compare_with_the_threshold() {
        let gt = Condition::parse("wait > 240")
            .unwrap()
            .on_numbers()
            .unwrap();
        assert!(gt(240.5) && !gt(240.0) && !gt(0.0));
        let ge = Condition::parse("wait >= 240")
            .unwrap()
            .on_numbers()
            .unwrap();
        assert!(ge(240.0) && !ge(239.0));
        let within = Condition::parse("wait in (1, 2)")
            .unwrap()
            .on_numbers()
            .unwrap();
        assert!(within(2.0) && !within(3.0));
        let e = Condition::parse("wait > soon")
            .unwrap()
            .on_numbers()
            .err()
            .unwrap();
        assert!(e.to_string().contains("finite number"), "{e}");
    }

    #[test]
    fn kinds_decide_how_the_column_is_read() {
        let s = schema();
        let col = |n: &str| s.column(n).unwrap().clone();
        assert!(
            !Condition::parse("wait > 240")
                .unwrap()
                .reads_codes(&col("wait"))
                .unwrap()
        );
        assert!(
            Condition::parse("sex = F")
                .unwrap()
                .reads_codes(&col("sex"))
                .unwrap()
        );
        assert!(
            Condition::parse("band >= 65+")
                .unwrap()
                .reads_codes(&col("band"))
                .unwrap()
        );
        let e = Condition::parse("sex > F")
            .unwrap()
            .reads_codes(&col("sex"))
            .unwrap_err();
        assert!(e.to_string().contains("unordered"), "{e}");
        let e = Condition::parse("day > 3")
            .unwrap()
            .reads_codes(&col("day"))
            .unwrap_err();
        assert!(e.to_string().contains("date"), "{e}");
    }

    #[test]
    fn codes_get_their_value_and_nulls_none() {
        let s = schema();
        let column = |name: &str, n_values: u32, null: bool, codes: Vec<u32>| EncodedColumn {
            spec: s.column(name).unwrap().clone(),
            codebook: crate::data::CodeBook {
                n_values,
                null_code: null.then_some(n_values),
                other_code: None,
            },
            codes,
        };
        // Rows: (F, 65+), (M, 0-17), (null, 18-64).
        let sex = &column("sex", 2, true, vec![0, 1, 2]);
        let band = &column("band", 3, false, vec![2, 0, 1]);
        let f = Condition::parse("sex = F").unwrap().on_codes(sex).unwrap();
        // F, M, then the null code.
        assert_eq!(f, vec![Some(true), Some(false), None]);
        let ne = Condition::parse("sex != F").unwrap().on_codes(sex).unwrap();
        assert_eq!(ne, vec![Some(false), Some(true), None]);
        let old = Condition::parse("band >= 18-64")
            .unwrap()
            .on_codes(band)
            .unwrap();
        assert_eq!(old, vec![Some(false), Some(true), Some(true)]);
        let e = Condition::parse("sex = X")
            .unwrap()
            .on_codes(sex)
            .unwrap_err();
        assert!(e.to_string().contains("F, M"), "{e}");
    }
}
