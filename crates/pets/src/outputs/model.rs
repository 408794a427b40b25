//! Statistical models leaving a secure data environment: a fitted regression (linear,
//! logistic, probit) checked by the residual degrees-of-freedom rule and recorded beside
//! the tables.
//!
//! pets does not fit the models itself: the analyst fits them with a maintained statistics
//! library (statsmodels, in `pets.outputs.Session`), which is their natural home; what leaves
//! is the coefficient table, and that is what is checked and recorded here, one code path for
//! every front door.
//!
//! **Rule** (ACRO's `dof` check, SDC handbook 2nd ed., section on regressions): a model with
//! `n` observations and `p` estimated parameters has `n - p` residual degrees of freedom;
//! below the rules' `dof_threshold` (10 by default) the estimates are close to a function of
//! a handful of records, so the whole model fails and every coefficient carries the failure.
//! More parameters than observations is refused outright (the model is not identified).

use serde::{Deserialize, Serialize};

use super::OutputError;
use super::job::{CheckedCell, CheckedTable, format_value};
use super::rules::{Agg, Check, OutputRules, check_dof};

/// One estimated parameter, as the statistics library reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    /// The term (`Intercept`, `age`, `C(sex)[T.2]`).
    pub term: String,
    /// The estimate.
    #[serde(deserialize_with = "null_as_nan")]
    pub estimate: f64,
    /// Its standard error.
    #[serde(deserialize_with = "null_as_nan")]
    pub std_err: f64,
    /// The t or z statistic.
    #[serde(deserialize_with = "null_as_nan")]
    pub statistic: f64,
    /// The two-sided p-value.
    #[serde(deserialize_with = "null_as_nan")]
    pub p_value: f64,
    /// Lower end of the 95% confidence interval.
    #[serde(deserialize_with = "null_as_nan")]
    pub ci_low: f64,
    /// Upper end of the 95% confidence interval.
    #[serde(deserialize_with = "null_as_nan")]
    pub ci_high: f64,
}

/// JSON has no NaN: serde_json writes a non-finite number as `null`, read back as NaN (a
/// perfectly separated logit's standard errors, say), published as `nan`.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A fitted model's summary: what would be released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFit {
    /// `ols`, `logit` or `probit`.
    pub method: String,
    /// The dependent variable.
    pub dependent: String,
    /// Observations used in the fit (after the library dropped missing values).
    pub observations: u64,
    /// The estimated coefficients, one per parameter.
    pub coefficients: Vec<Coefficient>,
}

/// Methods recorded as models.
pub const MODEL_METHODS: [&str; 3] = ["ols", "logit", "probit"];

/// Check a fitted model against the residual degrees-of-freedom rule; the result is a
/// [`CheckedTable`] of kind `method` with one cell per coefficient (its estimate published,
/// the full summary kept in [`CheckedTable::model`]), so models are recorded, reviewed and
/// decided like tables.
///
/// Errors: an unknown method, no coefficients, a term named twice or empty, more
/// parameters than observations.
pub fn check_model(fit: ModelFit, rules: &OutputRules) -> Result<CheckedTable, OutputError> {
    rules.validate()?;
    let invalid = |message: String| OutputError::Invalid {
        column: None,
        message,
    };
    if !MODEL_METHODS.contains(&fit.method.as_str()) {
        return Err(invalid(format!(
            "unknown model {:?}: use one of {}",
            fit.method,
            MODEL_METHODS.join(", ")
        )));
    }
    if fit.coefficients.is_empty() {
        return Err(invalid(
            "the model has no coefficients: nothing to check".into(),
        ));
    }
    for (i, c) in fit.coefficients.iter().enumerate() {
        if c.term.trim().is_empty() {
            return Err(invalid(format!("coefficient {} has no term name", i + 1)));
        }
        if fit.coefficients[..i].iter().any(|o| o.term == c.term) {
            return Err(invalid(format!("the term {:?} is listed twice", c.term)));
        }
    }
    let parameters = fit.coefficients.len() as u64;
    let failure = check_dof(fit.observations, parameters, rules)?;
    let cells = fit
        .coefficients
        .iter()
        .map(|c| CheckedCell {
            labels: vec![c.term.clone()],
            published: if c.estimate.is_finite() {
                format_value(Agg::Estimate, c.estimate)
            } else {
                "nan".into()
            },
            failures: failure.iter().cloned().collect(),
            mitigated: None,
        })
        .collect();
    Ok(CheckedTable {
        kind: fit.method.clone(),
        by: vec!["term".into()],
        agg: Agg::Estimate,
        values: Some(fit.dependent.clone()),
        rules: rules.clone(),
        checks: vec![Check::Dof],
        cells,
        records: fit.observations,
        status: if failure.is_some() { "fail" } else { "pass" }.into(),
        mitigation: None,
        model: Some(fit),
        survival: None,
        warnings: Vec::new(),
    })
}

impl ModelFit {
    /// Residual degrees of freedom (`observations - parameters`, saturating).
    pub fn dof(&self) -> u64 {
        self.observations
            .saturating_sub(self.coefficients.len() as u64)
    }

    /// The coefficient table as CSV rows (header first).
    pub(crate) fn csv_rows(&self, failed: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let header = [
            "term",
            "estimate",
            "std_err",
            "statistic",
            "p_value",
            "ci_low",
            "ci_high",
            "failed_checks",
        ]
        .map(String::from)
        .to_vec();
        let num = |v: f64| {
            if v.is_finite() {
                format!("{v}")
            } else {
                "nan".into()
            }
        };
        let rows = self
            .coefficients
            .iter()
            .map(|c| {
                vec![
                    c.term.clone(),
                    num(c.estimate),
                    num(c.std_err),
                    num(c.statistic),
                    num(c.p_value),
                    num(c.ci_low),
                    num(c.ci_high),
                    failed.to_string(),
                ]
            })
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(observations: u64, terms: &[&str]) -> ModelFit {
        ModelFit {
            method: "ols".into(),
            dependent: "los".into(),
            observations,
            coefficients: terms
                .iter()
                .map(|t| Coefficient {
                    term: (*t).into(),
                    estimate: 1.5,
                    std_err: 0.5,
                    statistic: 3.0,
                    p_value: 0.003,
                    ci_low: 0.5,
                    ci_high: 2.5,
                })
                .collect(),
        }
    }

    #[test]
    fn enough_residual_dof_passes() {
        let t = check_model(fit(12, &["Intercept", "age"]), &OutputRules::default()).unwrap();
        assert_eq!(t.status, "pass");
        assert_eq!(t.kind, "ols");
        assert_eq!(t.cells.len(), 2);
        assert!(t.cells.iter().all(|c| c.failures.is_empty()));
        assert_eq!(t.cells[1].labels, vec!["age".to_string()]);
        assert_eq!(t.cells[1].published, "1.5");
        assert_eq!(t.model.as_ref().unwrap().dof(), 10);
    }

    #[test]
    fn small_dof_fails_every_coefficient() {
        // 11 observations, 2 parameters: 9 residual dof, under 10.
        let t = check_model(fit(11, &["Intercept", "age"]), &OutputRules::default()).unwrap();
        assert_eq!(t.status, "fail");
        assert_eq!(t.failing(), 2);
        assert!(t.cells[0].failures[0].reason.contains("9 residual"));
        let (header, rows) = t.csv_rows();
        assert_eq!(header[1], "estimate");
        assert_eq!(rows[0][7], "dof");
    }

    #[test]
    fn non_finite_statistics_round_trip_through_json() {
        let mut f = fit(50, &["a"]);
        f.coefficients[0].std_err = f64::NAN;
        let t = check_model(f, &OutputRules::default()).unwrap();
        let text = serde_json::to_string(&t).unwrap();
        let back: CheckedTable = serde_json::from_str(&text).unwrap();
        assert!(back.model.unwrap().coefficients[0].std_err.is_nan());
    }

    #[test]
    fn more_parameters_than_rows_is_an_error() {
        let e = check_model(fit(1, &["a", "b"]), &OutputRules::default()).unwrap_err();
        assert!(e.to_string().contains("2 parameters but only 1"), "{e}");
    }

    #[test]
    fn malformed_fits_are_refused() {
        let rules = OutputRules::default();
        let mut f = fit(50, &["a"]);
        f.method = "svm".into();
        assert!(
            check_model(f, &rules)
                .unwrap_err()
                .to_string()
                .contains("svm")
        );
        assert!(check_model(fit(50, &[]), &rules).is_err());
        assert!(
            check_model(fit(50, &["a", "a"]), &rules)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(check_model(fit(50, &[" "]), &rules).is_err());
    }
}
