//! [`RiskJob`]: the release panel's disclosure-risk assessment of one extract, end to end.
//!
//! The one pipeline behind `pets risk`, `pets.risk.assess` and step 5 of `pets demo`:
//!
//! 1. the schema: declared, or inferred from the data with [`WarningKind::InferredSchema`]
//!    (an inferred schema reads its domains from the private data);
//! 2. generalisations (`arrival_datetime=day`, `age=5`) applied to the *schema*, so the
//!    extract is assessed as it would be released;
//! 3. quasi-identifiers and sensitive attribute from the options or the schema's roles;
//!    the configuration validated ([`RiskConfig::validate`]) and every column checked against
//!    the schema, all before a row is read;
//! 4. only the assessed columns encoded (one streamed pass);
//! 5. a hierarchy for hierarchical t-closeness resolved against the encoded sensitive column;
//! 6. optional population table (equivalence classes of the same quasi-identifiers, for
//!    journalist and marketer risk) and intruder's table (a linkage attack on the shared
//!    quasi-identifiers);
//! 7. the [`Assessment`] run, and a summary line naming the generalisations.
//!
//! ```
//! use pets::prelude::*;
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("ae.csv");
//! # std::fs::write(&path, "age,sex\n34,F\n34,F\n35,M\n35,M\n35,M\n").unwrap();
//! let schema = Schema::from_json(r#"{"columns": [
//!     {"name": "age", "kind": "integer", "min": 0, "max": 120, "role": "quasi_identifier"},
//!     {"name": "sex", "kind": "categorical", "values": ["F", "M"], "role": "quasi_identifier"}
//! ]}"#)?;
//! let config = RiskConfig { k: 2, risk_threshold: 0.6, ..Default::default() };
//! let outcome = RiskJob::new(TableSource::file(&path), config)
//!     .schema(schema)
//!     .generalise("age", "5")
//!     .run()?;
//! assert!(outcome.report.passed);
//! # Ok::<(), pets::disclosure::RiskJobError>(())
//! ```

use std::collections::BTreeMap;

use crate::data::{DataError, EncodeOptions, EncodedTable, Schema, TableSource};
use crate::disclosure::{
    Assessment, ClassColumn, ClassLayout, ConfigError, EquivalenceClasses, GroundDistance,
    Hierarchy, HierarchyError, LinkageOptions, ReportError, RiskConfig, RiskReport,
    assess_classes_warned,
};
use crate::error::{Classify, ErrorKind, Warning, WarningKind};
use crate::progress::Progress;

/// A failure of a [`RiskJob`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RiskJobError {
    /// Reading, encoding or the schema.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The configuration or the assessment.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Partitions' partial aggregates that are malformed or do not merge.
    #[error(transparent)]
    Partial(#[from] crate::partial::PartialError),
    /// The hierarchy of the sensitive attribute.
    #[error("hierarchy of {column}: {source}")]
    Hierarchy {
        /// The sensitive attribute.
        column: String,
        /// Why.
        source: HierarchyError,
    },
    /// An option that does not fit the others.
    #[error("{message}")]
    Invalid {
        /// The column it is about, if one.
        column: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// The intruder's table shares no quasi-identifier with the release.
    #[error(
        "the intruder's table {table} has none of the quasi-identifiers ({quasi_identifiers}) to link on"
    )]
    NothingToLink {
        /// The intruder's table.
        table: String,
        /// The quasi-identifiers.
        quasi_identifiers: String,
    },
}

impl From<ConfigError> for RiskJobError {
    fn from(e: ConfigError) -> Self {
        RiskJobError::Report(ReportError::Config(e))
    }
}

impl Classify for RiskJobError {
    fn kind(&self) -> ErrorKind {
        match self {
            RiskJobError::Data(e) => e.kind(),
            RiskJobError::Report(e) => e.kind(),
            RiskJobError::Partial(e) => e.kind(),
            RiskJobError::Hierarchy { .. } | RiskJobError::Invalid { .. } => {
                ErrorKind::InvalidParameter
            }
            RiskJobError::NothingToLink { .. } => ErrorKind::Schema,
        }
    }

    fn column(&self) -> Option<&str> {
        match self {
            RiskJobError::Data(e) => Classify::column(e),
            RiskJobError::Report(e) => e.column(),
            RiskJobError::Hierarchy { column, .. } => Some(column),
            RiskJobError::Invalid { column, .. } => column.as_deref(),
            RiskJobError::NothingToLink { .. } | RiskJobError::Partial(_) => None,
        }
    }

    fn row(&self) -> Option<u64> {
        match self {
            RiskJobError::Data(e) => e.row(),
            _ => None,
        }
    }
}

/// The assessment of one extract, configured once and run by every front door.
#[derive(Debug, Clone)]
pub struct RiskJob {
    source: TableSource,
    config: RiskConfig,
    schema: Option<Schema>,
    generalise: Vec<(String, String)>,
    hierarchy: Option<BTreeMap<String, Vec<String>>>,
    population: Option<TableSource>,
    attacker: Option<TableSource>,
    ground: Option<GroundChoice>,
    progress: Progress,
}

/// The t-closeness ground distance asked for by name (`auto`, `equal`, `ordered`,
/// `hierarchical`); the hierarchical one is built from [`RiskJob::hierarchy`] once the
/// sensitive column is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroundChoice {
    /// Ordered for ordered columns, equal otherwise; hierarchical when a hierarchy is given.
    Auto,
    /// Every pair of values at distance 1.
    Equal,
    /// Values in their declared order.
    Ordered,
    /// Over the hierarchy given (one is required).
    Hierarchical,
}

impl std::str::FromStr for GroundChoice {
    type Err = RiskJobError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "auto" => GroundChoice::Auto,
            "equal" => GroundChoice::Equal,
            "ordered" => GroundChoice::Ordered,
            "hierarchical" => GroundChoice::Hierarchical,
            other => {
                return Err(RiskJobError::Invalid {
                    column: None,
                    message: format!(
                        "ground distance must be \"auto\", \"equal\", \"ordered\" or \
                         \"hierarchical\", not {other:?}"
                    ),
                });
            }
        })
    }
}

/// What a [`RiskJob`] returns.
#[derive(Debug, Clone)]
pub struct RiskOutcome {
    /// The report (its `warnings` hold every warning's message too).
    pub report: RiskReport,
    /// The warnings, typed.
    pub warnings: Vec<Warning>,
    /// The generalisations applied, described.
    pub generalised: Vec<String>,
}

impl RiskJob {
    /// Assess `source` under `config` (quasi-identifiers and sensitive attribute default to
    /// the schema's roles).
    pub fn new(source: impl Into<TableSource>, config: RiskConfig) -> RiskJob {
        RiskJob {
            source: source.into(),
            config,
            schema: None,
            generalise: Vec::new(),
            hierarchy: None,
            population: None,
            attacker: None,
            ground: None,
            progress: Progress::none(),
        }
    }

    /// The file at `path` (CSV, TSV, Parquet) under `config`.
    pub fn from_file(path: impl Into<std::path::PathBuf>, config: RiskConfig) -> RiskJob {
        RiskJob::new(TableSource::file(path), config)
    }

    /// The declared schema (without one, it is inferred from the data, with a warning).
    pub fn schema(mut self, schema: Schema) -> RiskJob {
        self.schema = Some(schema);
        self
    }

    /// The declared schema, if any.
    pub fn schema_opt(mut self, schema: Option<Schema>) -> RiskJob {
        self.schema = schema;
        self
    }

    /// Assess `column` generalised to `level` (see [`Schema::generalise`]).
    pub fn generalise(mut self, column: impl Into<String>, level: impl Into<String>) -> RiskJob {
        self.generalise.push((column.into(), level.into()));
        self
    }

    /// Parse `COLUMN=LEVEL` entries (`arrival_datetime=day`, `age=5`), as the CLI takes them.
    pub fn generalise_entries(
        mut self,
        entries: &[String],
    ) -> std::result::Result<RiskJob, RiskJobError> {
        for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
            let (name, level) = entry.split_once('=').ok_or_else(|| RiskJobError::Invalid {
                column: None,
                message: format!(
                    "generalisation {entry:?}: expected COLUMN=LEVEL, e.g. arrival_datetime=day or age=5"
                ),
            })?;
            self = self.generalise(name.trim(), level.trim());
        }
        Ok(self)
    }

    /// A hierarchy of the sensitive attribute's values (each value to its ancestors below
    /// the root) for hierarchical t-closeness.
    pub fn hierarchy(mut self, paths: BTreeMap<String, Vec<String>>) -> RiskJob {
        self.hierarchy = Some(paths);
        self
    }

    /// The t-closeness ground distance by choice (overrides the configuration's).
    pub fn ground_distance(mut self, choice: GroundChoice) -> RiskJob {
        self.ground = Some(choice);
        self
    }

    /// A population table (same schema) for exact journalist and marketer risk.
    pub fn population(mut self, population: impl Into<TableSource>) -> RiskJob {
        self.population = Some(population.into());
        self
    }

    /// An intruder's table to run a linkage attack with.
    pub fn attacker(mut self, attacker: impl Into<TableSource>) -> RiskJob {
        self.attacker = Some(attacker.into());
        self
    }

    /// Report progress to, and take stop requests from, `progress` (rows of the extract
    /// read, then the assessment; see [`crate::progress`]).
    pub fn progress(mut self, progress: Progress) -> RiskJob {
        self.progress = progress;
        self
    }

    /// Run the assessment.
    pub fn run(&self) -> std::result::Result<RiskOutcome, RiskJobError> {
        let progress = &self.progress;
        let mut p = self.prepare()?;
        let table = self.encode_assessed(&mut p, progress, false)?;
        let Prepared {
            schema,
            config,
            generalised,
            warnings,
            ..
        } = p;

        let population = match &self.population {
            Some(p) => {
                let t = encode(p, &schema, config.quasi_identifiers.clone(), progress)?;
                Some(
                    EquivalenceClasses::compute(&t, &config.quasi_identifiers, None)
                        .map_err(ReportError::from)?,
                )
            }
            None => None,
        };
        let attacker = match &self.attacker {
            Some(a) => {
                let names = a.column_names_under(Some(&schema))?;
                let shared: Vec<String> = config
                    .quasi_identifiers
                    .iter()
                    .filter(|q| names.contains(q))
                    .cloned()
                    .collect();
                if shared.is_empty() {
                    return Err(RiskJobError::NothingToLink {
                        table: a.describe(),
                        quasi_identifiers: config.quasi_identifiers.join(", "),
                    });
                }
                Some((encode(a, &schema, shared.clone(), progress)?, shared))
            }
            None => None,
        };

        progress.check()?;
        progress.stage("assessing", None, "steps");
        let mut assessment = Assessment::new(&table, &config);
        for w in &warnings {
            assessment = assessment.warn(w.message.clone());
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
        let mut report = assessment.run()?;
        summarise_generalised(&mut report, &generalised);
        Ok(RiskOutcome {
            report,
            warnings,
            generalised,
        })
    }

    /// The equivalence classes of this job's extract (one partition of a larger table):
    /// the same preparation and checks as [`RiskJob::run`], then the assessed columns
    /// encoded and grouped. Classes of any partitioning, merged
    /// ([`EquivalenceClasses::merge`]), equal the classes of the whole table, because codes
    /// depend only on the schema; [`RiskJob::finish_classes`] turns them into the report.
    /// A population or intruder's table is refused: they need the whole extract.
    pub fn classes(&self) -> std::result::Result<EquivalenceClasses, RiskJobError> {
        self.refuse_extra_tables()?;
        let mut p = self.prepare()?;
        let table = self.encode_assessed(&mut p, &self.progress, false)?;
        Ok(EquivalenceClasses::compute(
            &table,
            &p.config.quasi_identifiers,
            p.config.sensitive.as_deref(),
        )
        .map_err(ReportError::from)?)
    }

    /// One partition's classes ([`RiskJob::classes`]) as [`crate::partial::Partial`] bytes:
    /// exact counts, for merging at the driver only ([`RiskJob::finish_partials`]).
    pub fn partial(&self) -> std::result::Result<Vec<u8>, RiskJobError> {
        Ok(crate::partial::Partial::Classes(self.classes()?).to_bytes())
    }

    /// The report from the partitions' bytes ([`RiskJob::partial`]): the source is checked
    /// first ([`RiskJob::check`]; zero rows will do), the partials merged (bytes of another
    /// kind or version refused), then [`RiskJob::finish_classes`].
    pub fn finish_partials<B: AsRef<[u8]>>(
        &self,
        partials: &[B],
    ) -> std::result::Result<RiskOutcome, RiskJobError> {
        self.check()?;
        match crate::partial::Partial::merge_bytes(partials)? {
            Some(crate::partial::Partial::Classes(classes)) => self.finish_classes(&classes),
            Some(_) => Err(RiskJobError::Invalid {
                column: None,
                message: "the partitions' partials are not equivalence classes".into(),
            }),
            // No partition had a row: the table is empty, as on one machine.
            None => Err(ConfigError::EmptyData.into()),
        }
    }

    /// The report from classes merged from partitions ([`RiskJob::classes`]): the job's
    /// source only needs the columns and types of the partitions (zero rows will do; it is
    /// checked against the schema here, before anything else), and the report is the one
    /// [`RiskJob::run`] gives on the whole table (the same `assess` code; timings aside).
    /// Classes over other columns or code books are refused.
    pub fn finish_classes(
        &self,
        classes: &EquivalenceClasses,
    ) -> std::result::Result<RiskOutcome, RiskJobError> {
        self.refuse_extra_tables()?;
        let mut p = self.prepare()?;
        let table = self.encode_assessed(&mut p, &Progress::none(), true)?;
        let Prepared {
            config,
            generalised,
            warnings,
            ..
        } = p;
        let column = |name: &str| table.column(name).map(ClassColumn::of);
        let expected = ClassLayout::new(
            config
                .quasi_identifiers
                .iter()
                .map(|q| column(q))
                .collect::<std::result::Result<_, _>>()?,
            config.sensitive.as_deref().map(column).transpose()?,
        );
        if classes.layout() != &expected {
            return Err(ReportError::ClassesMismatch {
                detail: "the partitions' classes are over other columns or code books than \
                         this job's schema gives; run every partition with the same schema, \
                         generalisations and columns"
                    .into(),
            }
            .into());
        }
        let messages = warnings.iter().map(|w| w.message.clone()).collect();
        let mut report = assess_classes_warned(classes, &config, None, messages)?;
        summarise_generalised(&mut report, &generalised);
        Ok(RiskOutcome {
            report,
            warnings,
            generalised,
        })
    }

    /// Everything [`RiskJob::finish_classes`] checks before it looks at classes: the
    /// options, and the source's columns and types against the schema (zero rows will do).
    /// Returns the columns the assessment encodes (quasi-identifiers, then the sensitive
    /// attribute), so a partitioned front end can read only those.
    pub fn check(&self) -> std::result::Result<Vec<String>, RiskJobError> {
        self.refuse_extra_tables()?;
        let mut p = self.prepare()?;
        self.encode_assessed(&mut p, &Progress::none(), true)?;
        let mut columns = p.config.quasi_identifiers;
        columns.extend(p.config.sensitive);
        Ok(columns)
    }

    fn refuse_extra_tables(&self) -> std::result::Result<(), RiskJobError> {
        if self.population.is_some() || self.attacker.is_some() {
            return Err(RiskJobError::Invalid {
                column: None,
                message: "a population or intruder's table cannot be used with partitioned \
                          data; assess it on one machine"
                    .into(),
            });
        }
        Ok(())
    }

    /// Steps 1-3 of the module docs: everything decided before a row is read.
    fn prepare(&self) -> std::result::Result<Prepared, RiskJobError> {
        let (source, mut warnings) = self.source.pinned(self.schema.as_ref())?;
        let schema = source.declared_or_exact_schema(self.schema.as_ref(), &mut warnings)?;
        let (schema, generalised) = self.generalised_schema(schema)?;
        let mut config = self.config.clone().with_roles_from(&schema);
        config.validate()?;
        for name in config
            .quasi_identifiers
            .iter()
            .chain(config.sensitive.iter())
        {
            schema.column(name)?;
        }
        source.refuse_inferred_text(
            self.schema.as_ref(),
            &schema,
            config
                .quasi_identifiers
                .iter()
                .chain(config.sensitive.iter()),
        )?;
        match (self.ground, self.hierarchy.is_some()) {
            (Some(GroundChoice::Hierarchical), false) => {
                return Err(RiskJobError::Invalid {
                    column: None,
                    message: "the hierarchical ground distance needs a hierarchy \
                              (--hierarchy FILE / hierarchy=...)"
                        .into(),
                });
            }
            (Some(GroundChoice::Equal | GroundChoice::Ordered), true) => {
                return Err(RiskJobError::Invalid {
                    column: None,
                    message: "a hierarchy implies the hierarchical ground distance (or auto)"
                        .into(),
                });
            }
            (Some(GroundChoice::Equal), false) => config.ground_distance = GroundDistance::Equal,
            (Some(GroundChoice::Ordered), false) => {
                config.ground_distance = GroundDistance::Ordered
            }
            (Some(GroundChoice::Auto | GroundChoice::Hierarchical), _) => {
                config.ground_distance = GroundDistance::Auto
            }
            (None, _) => {}
        }
        if self.schema.is_none()
            && self.hierarchy.is_none()
            && let Some(w) = config.equal_distance_for_inferred(&schema)
        {
            warnings.push(w);
        }
        if self.hierarchy.is_some() && config.sensitive.is_none() {
            return Err(RiskJobError::Invalid {
                column: None,
                message: "a hierarchy needs a sensitive attribute (--sensitive / sensitive=...)"
                    .into(),
            });
        }
        if self.hierarchy.is_some()
            && !matches!(
                config.ground_distance,
                GroundDistance::Auto | GroundDistance::Hierarchical(_)
            )
        {
            return Err(RiskJobError::Invalid {
                column: config.sensitive.clone(),
                message: "a hierarchy implies the hierarchical ground distance (or auto)".into(),
            });
        }
        if self.schema.is_some() && !schema.domain_from_data().is_empty() {
            let cols = schema.domain_from_data();
            warnings.push(Warning::new(
                WarningKind::DomainFromData,
                format!("columns with domains read from data: {}", cols.join(", ")),
            ));
        }
        Ok(Prepared {
            source,
            schema,
            config,
            generalised,
            warnings,
        })
    }

    /// Steps 4-5: the assessed columns encoded, and the hierarchy (if any) resolved against
    /// the sensitive column's code book. `allow_empty` for a driver's zero-row source.
    fn encode_assessed(
        &self,
        p: &mut Prepared,
        progress: &Progress,
        allow_empty: bool,
    ) -> std::result::Result<EncodedTable, RiskJobError> {
        let mut columns = p.config.quasi_identifiers.clone();
        columns.extend(p.config.sensitive.iter().cloned());
        let opts = EncodeOptions {
            columns: Some(columns),
            allow_empty,
            ..Default::default()
        };
        let table = p.source.encode(&p.schema, opts, &[], progress)?.table;
        if let Some(paths) = &self.hierarchy {
            let name = p.config.sensitive.clone().expect("checked in prepare");
            let column = table.column(&name)?;
            let h = Hierarchy::from_labels(column, paths).map_err(|source| {
                RiskJobError::Hierarchy {
                    column: name.clone(),
                    source,
                }
            })?;
            p.config.ground_distance = GroundDistance::Hierarchical(h);
        }
        Ok(table)
    }

    fn generalised_schema(
        &self,
        mut schema: Schema,
    ) -> std::result::Result<(Schema, Vec<String>), RiskJobError> {
        let mut done = Vec::new();
        for (name, level) in &self.generalise {
            match schema.generalise(name, level) {
                Ok(d) => done.push(d),
                Err(e @ DataError::InvalidArgument { .. }) => {
                    return Err(RiskJobError::Invalid {
                        column: Some(name.clone()),
                        message: e.to_string(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok((schema, done))
    }
}

/// What [`RiskJob::prepare`] decides before a row is read.
struct Prepared {
    source: TableSource,
    schema: Schema,
    config: RiskConfig,
    generalised: Vec<String>,
    warnings: Vec<Warning>,
}

fn summarise_generalised(report: &mut RiskReport, generalised: &[String]) {
    if !generalised.is_empty() {
        report.summary.insert(
            0,
            format!(
                "Assessed as released with these generalisations: {}.",
                generalised.join("; ")
            ),
        );
    }
}

fn encode(
    source: &TableSource,
    schema: &Schema,
    columns: Vec<String>,
    progress: &Progress,
) -> std::result::Result<EncodedTable, DataError> {
    let opts = EncodeOptions {
        columns: Some(columns),
        ..Default::default()
    };
    Ok(source.encode(schema, opts, &[], progress)?.table)
}
