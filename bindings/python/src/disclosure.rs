//! Disclosure risk (`pets::disclosure`): the release panel's assessment, as `pets risk` runs it.
//!
//! [`assess_risk`] takes the data (Arrow, zero-copy), an optional declared schema (JSON) and a
//! [`RiskConfig`] (JSON, serde's field names), and does what `pets risk` does: fill the
//! quasi-identifiers and sensitive attribute from the schema's roles when not given, validate,
//! encode only the columns assessed, build equivalence classes of an optional population table
//! and run a linkage attack with an optional intruder's table. With no schema it infers one
//! from the same batches and puts [`INFERRED_SCHEMA_WARNING`] in the report, as the CLI does.
//! The result is a [`RiskReport`] holding the Rust report: JSON and HTML are rendered on
//! demand. Errors become the Python exceptions of [`crate::errors`].

use std::collections::BTreeMap;

use pyo3::prelude::*;

use pets::data::io::BatchStream;
use pets::data::{EncodeOptions, EncodedTable, InferOptions, Schema};
use pets::disclosure::{
    Assessment, ClassesError, ConfigError, EquivalenceClasses, GroundDistance, Hierarchy,
    INFERRED_SCHEMA_WARNING, LinkageError, LinkageOptions, ReportError, RiskConfig, render_html,
};

use crate::arrow::import_table;
use crate::errors::{DualError, IntoPyResult, Kind, error_of};

/// The Python exception for an assessment error: unknown columns are `SchemaError`, empty
/// data `EmptyInputError`, settings out of range `InvalidParameterError`.
pub fn report_error(py: Python<'_>, err: ReportError) -> PyErr {
    let invalid = Kind::Dual(DualError::InvalidParameter);
    let (kind, column) = match &err {
        ReportError::Config(ConfigError::UnknownColumn { column, .. })
        | ReportError::Classes(ClassesError::UnknownColumn { column, .. })
        | ReportError::Linkage(LinkageError::MissingColumn { column, .. }) => {
            (Kind::Schema, Some(column.as_str()))
        }
        ReportError::Config(ConfigError::EmptyData) => (Kind::Empty, None),
        ReportError::Config(ConfigError::QuasiIdentifierIsSensitive { column })
        | ReportError::Config(ConfigError::DuplicateQuasiIdentifier { column })
        | ReportError::Config(ConfigError::IntruderColumnNotQuasiIdentifier { column, .. }) => {
            (invalid, Some(column.as_str()))
        }
        ReportError::ClassesMismatch { .. } => (Kind::Base, None),
        _ => (invalid, None),
    };
    error_of(py, kind, &err.to_string(), column)
}

fn config_error(py: Python<'_>, err: ConfigError) -> PyErr {
    report_error(py, ReportError::Config(err))
}

fn encode(
    py: Python<'_>,
    schema: &Schema,
    batches: &[arrow_array::RecordBatch],
    columns: Vec<String>,
) -> PyResult<EncodedTable> {
    let opts = EncodeOptions {
        columns: Some(columns),
        ..EncodeOptions::default()
    };
    py.detach(|| pets::data::encode_batches(schema, batches, opts))
        .py_err(py)
}

/// Generalise columns of `schema` as `pets risk --generalise COLUMN=LEVEL` does (one
/// implementation: [`Schema::generalise`]). Returns the schema and a description of each
/// change.
fn generalise(
    py: Python<'_>,
    mut schema: Schema,
    entries: &[(String, String)],
) -> PyResult<(Schema, Vec<String>)> {
    let mut done = Vec::new();
    for (name, level) in entries {
        match schema.generalise(name, level) {
            Ok(d) => done.push(d),
            // A level the column does not have: say which column.
            Err(e @ pets::data::DataError::InvalidArgument { .. }) => {
                return Err(error_of(
                    py,
                    Kind::Dual(DualError::InvalidParameter),
                    &e.to_string(),
                    Some(name.trim()),
                ));
            }
            Err(e) => return Err(e).py_err(py),
        }
    }
    Ok((schema, done))
}

/// The warning printed and reported when the schema is inferred from the assessed data.
#[pyfunction]
pub fn inferred_schema_warning() -> &'static str {
    INFERRED_SCHEMA_WARNING
}

/// Assess the disclosure risk of a table, as `pets risk` does; returns a [`RiskReport`].
///
/// `schema_json` is the declared schema (`None`: inferred from `data`, with the CLI's
/// warning in the report). `config_json` is a `RiskConfig` in JSON; empty quasi-identifiers
/// and sensitive attribute are taken from the schema's roles. `population` (same schema) gives
/// exact journalist and marketer risk; `attacker` is an intruder's table linked to the release
/// on the quasi-identifiers it holds. `generalise` lists `(column, level)` pairs applied to
/// the schema first, as `pets risk --generalise` does.
#[pyfunction]
#[pyo3(signature = (data, schema_json, config_json, population = None, attacker = None,
                    generalise = Vec::new(), hierarchy = None))]
#[allow(clippy::too_many_arguments)] // the Python signature, one keyword each
pub fn assess_risk(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    schema_json: Option<&str>,
    config_json: &str,
    population: Option<&Bound<'_, PyAny>>,
    attacker: Option<&Bound<'_, PyAny>>,
    generalise: Vec<(String, String)>,
    hierarchy: Option<BTreeMap<String, Vec<String>>>,
) -> PyResult<RiskReport> {
    let config: RiskConfig = serde_json::from_str(config_json).map_err(|e| {
        error_of(
            py,
            Kind::Dual(DualError::InvalidParameter),
            &format!("invalid risk configuration: {e}"),
            None,
        )
    })?;
    let (batches, arrow_schema) = import_table("data", data)?;
    let population = population
        .map(|p| import_table("population", p))
        .transpose()?;
    let attacker = attacker.map(|a| import_table("attacker", a)).transpose()?;

    let mut warnings = Vec::new();
    let schema = match schema_json {
        Some(text) => Schema::from_json(text).py_err(py)?,
        None => {
            let stream = BatchStream::from_batches(arrow_schema, batches.clone());
            let inferred = py
                .detach(|| pets::data::infer_schema(stream, InferOptions::default()))
                .py_err(py)?;
            warnings.push(INFERRED_SCHEMA_WARNING.to_string());
            inferred
        }
    };
    let (schema, generalised) = self::generalise(py, schema, &generalise)?;
    let mut config = config.with_roles_from(&schema);
    config.validate().map_err(|e| config_error(py, e))?;
    for name in config
        .quasi_identifiers
        .iter()
        .chain(config.sensitive.iter())
    {
        schema.column(name).py_err(py)?;
    }
    let mut columns = config.quasi_identifiers.clone();
    columns.extend(config.sensitive.iter().cloned());
    let table = encode(py, &schema, &batches, columns)?;
    if let Some(paths) = &hierarchy {
        // As `pets risk --hierarchy`: each sensitive label's ancestors, resolved to codes.
        let sensitive = config.sensitive.clone();
        let invalid = |msg: String| {
            error_of(
                py,
                Kind::Dual(DualError::InvalidParameter),
                &msg,
                sensitive.as_deref(),
            )
        };
        let Some(name) = sensitive.as_deref() else {
            return Err(invalid(
                "a hierarchy needs a sensitive attribute (sensitive=...)".into(),
            ));
        };
        if !matches!(
            config.ground_distance,
            GroundDistance::Auto | GroundDistance::Hierarchical(_)
        ) {
            return Err(invalid(
                "a hierarchy implies ground_distance=\"hierarchical\" (or \"auto\")".into(),
            ));
        }
        let column = table.column(name).py_err(py)?;
        let h = Hierarchy::from_labels(column, paths)
            .map_err(|e| invalid(format!("hierarchy of {name}: {e}")))?;
        config.ground_distance = GroundDistance::Hierarchical(h);
    }
    if !schema.domain_from_data().is_empty() && schema_json.is_some() {
        warnings.push(format!(
            "columns with domains read from data: {}",
            schema.domain_from_data().join(", ")
        ));
    }

    let population = match population {
        Some((batches, _)) => {
            let t = encode(py, &schema, &batches, config.quasi_identifiers.clone())?;
            let classes = py
                .detach(|| EquivalenceClasses::compute(&t, &config.quasi_identifiers, None))
                .map_err(|e| report_error(py, e.into()))?;
            Some(classes)
        }
        None => None,
    };
    let attacker = match attacker {
        Some((batches, arrow_schema)) => {
            let names: Vec<&String> = arrow_schema.fields().iter().map(|f| f.name()).collect();
            let shared: Vec<String> = config
                .quasi_identifiers
                .iter()
                .filter(|q| names.contains(q))
                .cloned()
                .collect();
            if shared.is_empty() {
                return Err(error_of(
                    py,
                    Kind::Schema,
                    &format!(
                        "the intruder's table has none of the quasi-identifiers ({}) to link on",
                        config.quasi_identifiers.join(", ")
                    ),
                    None,
                ));
            }
            Some((encode(py, &schema, &batches, shared.clone())?, shared))
        }
        None => None,
    };

    let report = py
        .detach(|| {
            let mut assessment = Assessment::new(&table, &config);
            for w in warnings {
                assessment = assessment.warn(w);
            }
            if let Some(p) = &population {
                assessment = assessment.population(p);
            }
            if let Some((t, shared)) = &attacker {
                assessment = assessment.attacker(
                    t,
                    LinkageOptions {
                        columns: Some(shared.clone()),
                        ..Default::default()
                    },
                );
            }
            assessment.run()
        })
        .map_err(|e| report_error(py, e))?;
    let mut report = report;
    if !generalised.is_empty() {
        report.summary.insert(
            0,
            format!(
                "Assessed as released with these generalisations: {}.",
                generalised.join("; ")
            ),
        );
    }
    Ok(RiskReport { report })
}

/// A disclosure-risk report (`pets::disclosure::RiskReport`), rendered on demand.
#[pyclass(module = "pets._native", name = "RiskReport", frozen)]
pub struct RiskReport {
    report: pets::disclosure::RiskReport,
}

#[pymethods]
impl RiskReport {
    /// Whether every check passed.
    #[getter]
    fn passed(&self) -> bool {
        self.report.passed
    }

    /// `PASS` or `FAIL`.
    #[getter]
    fn verdict(&self) -> &str {
        &self.report.verdict
    }

    /// The report as JSON, exactly as `pets risk --json` writes it (pretty by default).
    #[pyo3(signature = (pretty = true))]
    fn to_json(&self, pretty: bool) -> PyResult<String> {
        let text = if pretty {
            serde_json::to_string_pretty(&self.report)
        } else {
            serde_json::to_string(&self.report)
        };
        text.map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// The self-contained HTML report, exactly as `pets risk --report` writes it.
    fn to_html(&self, py: Python<'_>) -> String {
        py.detach(|| render_html(&self.report))
    }

    fn __repr__(&self) -> String {
        format!(
            "<pets._native.RiskReport {} over {} records>",
            self.report.verdict, self.report.n_records
        )
    }
}

/// Add the disclosure functions and classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RiskReport>()?;
    m.add_function(wrap_pyfunction!(assess_risk, m)?)?;
    m.add_function(wrap_pyfunction!(inferred_schema_warning, m)?)?;
    Ok(())
}
