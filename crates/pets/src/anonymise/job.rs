//! [`AnonymiseJob`]: from an extract and the models it must meet to the least-loss release.
//!
//! The one pipeline behind `pets anonymise` and `pets.anonymise`:
//!
//! 1. the source pinned and the schema declared (or inferred on exact values, warned);
//! 2. quasi-identifiers and sensitive attribute from the options or the schema's roles, the
//!    models validated ([`RiskConfig::validate`]), the options checked, all before a row is
//!    read;
//! 3. the quasi-identifiers and the sensitive attribute encoded (one streamed pass) and
//!    grouped into the bottom node's classes;
//! 4. each quasi-identifier's hierarchy resolved (given here, else the schema's, else a
//!    default announced as a warning);
//! 5. the search ([`super::search`]), each candidate verified on the records it keeps by the
//!    assessment `pets risk` runs when the models need it;
//! 6. the risk before and after (the same assessment), and, when an output is asked for,
//!    the release written ([`super::apply`]) with its schema and record.
//!
//! ```
//! use pets::prelude::*;
//! use pets::anonymise::AnonymiseJob;
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("ae.csv");
//! # let mut text = String::from("age,sex\n");
//! # for i in 0..60 { text.push_str(&format!("{},{}\n", 20 + i % 30, if i % 2 == 0 { "F" } else { "M" })); }
//! # std::fs::write(&path, text).unwrap();
//! let schema = Schema::from_json(r#"{"columns": [
//!     {"name": "age", "kind": "integer", "min": 0, "max": 99, "role": "quasi_identifier",
//!      "hierarchy": {"bands": {"widths": [5, 10, 20]}}},
//!     {"name": "sex", "kind": "categorical", "values": ["F", "M"], "role": "quasi_identifier"}
//! ]}"#)?;
//! let outcome = AnonymiseJob::new(TableSource::file(&path), RiskConfig { k: 5, ..Default::default() })
//!     .schema(schema)
//!     .suppression_limit(0.0)
//!     .run()?;
//! assert!(outcome.after.passed);
//! assert_eq!(outcome.record.quasi_identifiers[0].level_name, "bands of 10");
//! # Ok::<(), pets::anonymise::AnonymiseError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::AnonymiseError;
use super::apply::{
    ColumnRecord, IterationRecord, MicroColumn, ReleaseRecord, SuppressedRows, Transformation,
};
use super::hierarchy::ColumnHierarchy;
use super::local::{LocalSearch, recoded_layout, release_classes, step_of};
use super::loss::{LossMeasure, LossModel};
use super::microaggregate::Aggregate;
use super::search::{BaseClasses, ClassRule, Lattice, SearchLimits, SearchResult};
use crate::data::{
    ColumnKind, DataError, EncodeOptions, EncodedTable, HierarchySpec, Schema, TableSource,
};
use crate::disclosure::{
    EquivalenceClasses, GroundChoice, GroundDistance, RiskConfig, RiskReport, assess_classes,
};
use crate::error::{Warning, WarningKind};
use crate::progress::Progress;

/// The anonymisation of one extract, configured once and run by every front door.
#[derive(Debug, Clone)]
pub struct AnonymiseJob {
    source: TableSource,
    config: RiskConfig,
    schema: Option<Schema>,
    hierarchies: BTreeMap<String, HierarchySpec>,
    hierarchy_dir: Option<PathBuf>,
    suppression_limit: f64,
    measure: LossMeasure,
    front_slack: f64,
    output: Option<PathBuf>,
    suppressed_rows: SuppressedRows,
    ground: Option<GroundChoice>,
    drop: Vec<String>,
    microaggregate: BTreeMap<String, Aggregate>,
    local_recoding: usize,
    progress: Progress,
}

/// What an [`AnonymiseJob`] returns.
#[derive(Debug, Clone, Serialize)]
pub struct AnonymiseOutcome {
    /// The optimum, the trade-off front and the search's counts.
    pub search: SearchResult,
    /// Each quasi-identifier's hierarchy (level names; labels omitted from JSON).
    pub hierarchies: Vec<HierarchySummary>,
    /// The risk of the extract as it is.
    pub before: RiskReport,
    /// The risk of the release (the optimum's kept records).
    pub after: RiskReport,
    /// What was done (and written, when an output was given).
    pub record: ReleaseRecord,
    /// The release's schema (categorical quasi-identifiers over their released labels).
    pub release_schema: Schema,
    /// Warnings (default hierarchies, an inferred schema, ...).
    pub warnings: Vec<Warning>,
}

/// A hierarchy as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HierarchySummary {
    /// The column.
    pub column: String,
    /// Level names, finest first.
    pub levels: Vec<String>,
    /// Number of groups at each level.
    pub groups: Vec<u32>,
    /// Whether pets chose it (none was declared).
    pub defaulted: bool,
}

impl AnonymiseJob {
    /// Anonymise `source` to meet the models of `config` (quasi-identifiers and sensitive
    /// attribute default to the schema's roles). Defaults: at most 5% of records suppressed
    /// and removed, the `loss` measure, a front of nodes within 1.5 times the optimum's loss.
    pub fn new(source: impl Into<TableSource>, config: RiskConfig) -> AnonymiseJob {
        AnonymiseJob {
            source: source.into(),
            config,
            schema: None,
            hierarchies: BTreeMap::new(),
            hierarchy_dir: None,
            suppression_limit: 0.05,
            measure: LossMeasure::Loss,
            front_slack: 0.5,
            output: None,
            suppressed_rows: SuppressedRows::Remove,
            ground: None,
            drop: Vec::new(),
            microaggregate: BTreeMap::new(),
            local_recoding: 0,
            progress: Progress::none(),
        }
    }

    /// Report progress to, and take stop requests from, `progress`: rows read, then the
    /// lattice nodes settled by the search (see [`crate::progress`]). A stop request ends the
    /// job before the release is written.
    pub fn progress(mut self, progress: Progress) -> AnonymiseJob {
        self.progress = progress;
        self
    }

    /// Leave these declared columns out of the release (direct identifiers always are), e.g.
    /// quasi-identifiers not searched over.
    pub fn drop_columns(
        mut self,
        columns: impl IntoIterator<Item = impl Into<String>>,
    ) -> AnonymiseJob {
        self.drop.extend(columns.into_iter().map(Into::into));
        self
    }

    /// The t-closeness ground distance by choice (overrides the configuration's): `auto`,
    /// `equal` or `ordered` (the search has no hierarchical distance).
    pub fn ground_distance(mut self, choice: GroundChoice) -> AnonymiseJob {
        self.ground = Some(choice);
        self
    }

    /// The declared schema (without one, it is inferred from the data, with a warning).
    pub fn schema(mut self, schema: Schema) -> AnonymiseJob {
        self.schema = Some(schema);
        self
    }

    /// The declared schema, if any.
    pub fn schema_opt(mut self, schema: Option<Schema>) -> AnonymiseJob {
        self.schema = schema;
        self
    }

    /// The hierarchy of `column` (over the schema's, if it declares one).
    pub fn hierarchy(mut self, column: impl Into<String>, spec: HierarchySpec) -> AnonymiseJob {
        self.hierarchies.insert(column.into(), spec);
        self
    }

    /// Parse `COLUMN=SPEC` entries (`age=5,10,20;top=90`, `arrival_datetime=day,month`,
    /// `postcode_district=postcode`, `ethnicity=@eth.csv`), as the CLI takes them.
    pub fn hierarchy_entries(mut self, entries: &[String]) -> Result<AnonymiseJob, AnonymiseError> {
        for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
            let (name, spec) = entry
                .split_once('=')
                .ok_or_else(|| AnonymiseError::Invalid {
                    column: None,
                    message: format!(
                        "hierarchy {entry:?}: expected COLUMN=SPEC, e.g. age=5,10,20 or \
                     arrival_datetime=day,month,year"
                    ),
                })?;
            let spec = HierarchySpec::parse(spec).map_err(|e| AnonymiseError::Hierarchy {
                column: name.trim().to_string(),
                message: e.to_string(),
            })?;
            self = self.hierarchy(name.trim(), spec);
        }
        Ok(self)
    }

    /// Where relative hierarchy CSV paths are read from (default: the working directory;
    /// the CLI passes the schema file's directory for hierarchies the schema declares).
    pub fn hierarchy_dir(mut self, dir: impl Into<PathBuf>) -> AnonymiseJob {
        self.hierarchy_dir = Some(dir.into());
        self
    }

    /// Largest share of records that may be suppressed, in `[0, 1]`.
    pub fn suppression_limit(mut self, share: f64) -> AnonymiseJob {
        self.suppression_limit = share;
        self
    }

    /// The information-loss measure minimised.
    pub fn measure(mut self, measure: LossMeasure) -> AnonymiseJob {
        self.measure = measure;
        self
    }

    /// How far above the optimum's loss the trade-off front reaches (0.5: 1.5 times).
    pub fn front_slack(mut self, slack: f64) -> AnonymiseJob {
        self.front_slack = slack;
        self
    }

    /// Write the release to `path` (.csv, .tsv, .parquet).
    pub fn output(mut self, path: impl Into<PathBuf>) -> AnonymiseJob {
        self.output = Some(path.into());
        self
    }

    /// Remove or mask the records of suppressed classes.
    pub fn suppressed_rows(mut self, mode: SuppressedRows) -> AnonymiseJob {
        self.suppressed_rows = mode;
        self
    }

    /// Microaggregate `column`, a numeric quasi-identifier: it is not generalised and does
    /// not split classes; in each released class its values are replaced by `function`'s
    /// aggregate (see [`super::microaggregate`]).
    pub fn microaggregate(
        mut self,
        column: impl Into<String>,
        function: Aggregate,
    ) -> AnonymiseJob {
        self.microaggregate.insert(column.into(), function);
        self
    }

    /// Parse `COLUMN=FUNCTION` entries (`los_days=mean`), as the CLI takes them.
    pub fn microaggregate_entries(
        mut self,
        entries: &[String],
    ) -> Result<AnonymiseJob, AnonymiseError> {
        for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
            let (name, function) =
                entry
                    .split_once('=')
                    .ok_or_else(|| AnonymiseError::Invalid {
                        column: None,
                        message: format!(
                            "microaggregation {entry:?}: expected COLUMN=FUNCTION, e.g. \
                             los_days=mean (mean, median, mode or interval)"
                        ),
                    })?;
            let function: Aggregate =
                function
                    .parse()
                    .map_err(|e: AnonymiseError| AnonymiseError::Invalid {
                        column: Some(name.trim().to_string()),
                        message: format!("{}: {e}", name.trim()),
                    })?;
            self = self.microaggregate(name.trim(), function);
        }
        Ok(self)
    }

    /// After the global optimum, anonymise the records it suppresses again, up to
    /// `iterations` times (local recoding, see [`super::local`]; 0: off).
    pub fn local_recoding(mut self, iterations: usize) -> AnonymiseJob {
        self.local_recoding = iterations;
        self
    }

    fn check_options(&self) -> Result<(), AnonymiseError> {
        let bad = |message: String| AnonymiseError::Invalid {
            column: None,
            message,
        };
        // A hierarchy file that cannot be read is a file error (exit 4), found before any
        // data is read.
        for spec in self.hierarchies.values() {
            if let HierarchySpec::Csv(path) = spec
                && let Err(e) = std::fs::File::open(path)
            {
                return Err(DataError::io(path, e).into());
            }
        }
        if !(0.0..=1.0).contains(&self.suppression_limit) {
            return Err(bad(format!(
                "the suppression limit is a share of records between 0 and 1 (0.05 = 5%), not {}",
                self.suppression_limit
            )));
        }
        if !(self.front_slack.is_finite() && self.front_slack >= 0.0) {
            return Err(bad(format!(
                "the front slack must be a non-negative number, not {}",
                self.front_slack
            )));
        }
        Ok(())
    }

    /// Run the search (and write the release when an output was given).
    pub fn run(&self) -> Result<AnonymiseOutcome, AnonymiseError> {
        self.check_options()?;
        let (source, mut warnings) = self.source.pinned(self.schema.as_ref())?;
        let schema = source.declared_or_exact_schema(self.schema.as_ref(), &mut warnings)?;
        let mut config = self.config.clone().with_roles_from(&schema);
        match self.ground {
            None => {}
            Some(GroundChoice::Auto) => config.ground_distance = GroundDistance::Auto,
            Some(GroundChoice::Equal) => config.ground_distance = GroundDistance::Equal,
            Some(GroundChoice::Ordered) => config.ground_distance = GroundDistance::Ordered,
            Some(GroundChoice::Hierarchical) => {
                return Err(AnonymiseError::Invalid {
                    column: config.sensitive.clone(),
                    message: "the search supports the equal and ordered ground distances for \
                              t-closeness, not the hierarchical one"
                        .into(),
                });
            }
        }
        if self.schema.is_none()
            && let Some(w) = config.equal_distance_for_inferred(&schema)
        {
            warnings.push(w);
        }
        // The search and its verification need the one-pass measures only; the full report
        // (scenarios, SUDA, what-if) is `pets risk`'s.
        config.scenarios = false;
        config.suda = false;
        config.what_if = false;
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
        if let Some(name) = self
            .hierarchies
            .keys()
            .find(|n| !config.quasi_identifiers.contains(n))
        {
            return Err(AnonymiseError::Invalid {
                column: Some(name.clone()),
                message: format!(
                    "a hierarchy is given for {name:?}, which is not a quasi-identifier ({}); \
                     add it with --qi or drop the hierarchy",
                    config.quasi_identifiers.join(", ")
                ),
            });
        }
        // Microaggregated columns: numeric quasi-identifiers, not generalised.
        for (name, function) in &self.microaggregate {
            let bad = |message: String| AnonymiseError::Invalid {
                column: Some(name.clone()),
                message,
            };
            let spec = schema.column(name)?;
            if !config.quasi_identifiers.contains(name) {
                return Err(bad(format!(
                    "{name:?} is microaggregated but is not a quasi-identifier ({}); add it \
                     with --qi or drop --microaggregate {name}",
                    config.quasi_identifiers.join(", ")
                )));
            }
            if self.hierarchies.contains_key(name) {
                return Err(bad(format!(
                    "{name:?} is given both a hierarchy and microaggregation; a \
                     microaggregated column is not generalised, so drop one of the two"
                )));
            }
            if !matches!(
                spec.kind,
                ColumnKind::Integer { .. } | ColumnKind::Float { .. }
            ) {
                return Err(bad(format!(
                    "{name:?} is {} but microaggregation ({}) needs a numeric column \
                     (integer or float); generalise it with a hierarchy instead",
                    spec.kind.name(),
                    function.name()
                )));
            }
        }
        let search_qis: Vec<String> = config
            .quasi_identifiers
            .iter()
            .filter(|q| !self.microaggregate.contains_key(*q))
            .cloned()
            .collect();
        if search_qis.is_empty() {
            return Err(AnonymiseError::Invalid {
                column: self.microaggregate.keys().next().cloned(),
                message: "every quasi-identifier is microaggregated; the classes are formed by \
                          the others, so generalise at least one"
                    .into(),
            });
        }
        let mut search_config = config.clone();
        search_config.quasi_identifiers = search_qis.clone();
        if let Some(path) = &self.output
            && let TableSource::File { path: input, .. } = &source
            && same_file(path, input)
        {
            return Err(AnonymiseError::Invalid {
                column: None,
                message: format!("the release {} would overwrite the input", path.display()),
            });
        }

        for name in &self.drop {
            schema.column(name)?;
            if config.quasi_identifiers.contains(name) || config.sensitive.as_ref() == Some(name) {
                return Err(AnonymiseError::Invalid {
                    column: Some(name.clone()),
                    message: format!(
                        "{name:?} is searched over (a quasi-identifier or the sensitive \
                         attribute); it cannot also be dropped"
                    ),
                });
            }
        }
        let undeclared: Vec<String> = source
            .column_names_under(Some(&schema))?
            .into_iter()
            .filter(|c| schema.column(c).is_err())
            .collect();
        if !undeclared.is_empty() && self.output.is_some() {
            warnings.push(Warning::new(
                WarningKind::Note,
                format!(
                    "columns not in the schema are left out of the release: {}",
                    undeclared.join(", ")
                ),
            ));
        }
        let unprotected: Vec<&str> = schema
            .with_role(crate::data::Role::QuasiIdentifier)
            .map(|c| c.name.as_str())
            .filter(|n| !config.quasi_identifiers.iter().any(|q| q == n))
            .filter(|n| !self.drop.iter().any(|d| d == n))
            .collect();
        if !unprotected.is_empty() {
            warnings.push(Warning::new(
                WarningKind::Note,
                format!(
                    "the schema marks {} as quasi-identifier(s) but they are not searched over, \
                     so a release carries them unchanged; list them with the others (--qi) or \
                     leave them out (--drop)",
                    unprotected.join(", ")
                ),
            ));
        }
        let mut columns = config.quasi_identifiers.clone();
        columns.extend(config.sensitive.iter().cloned());
        let table: EncodedTable = source
            .encode(
                &schema,
                EncodeOptions {
                    columns: Some(columns),
                    ..Default::default()
                },
                &[],
                &self.progress,
            )?
            .table;
        if table.n_rows() == 0 {
            return Err(crate::disclosure::ConfigError::EmptyData.into());
        }

        let mut hierarchies = Vec::with_capacity(search_qis.len());
        for qi in &search_qis {
            let column = table.column(qi)?;
            let spec = self
                .hierarchies
                .get(qi)
                .or(schema.column(qi)?.hierarchy.as_ref());
            let from_schema = !self.hierarchies.contains_key(qi);
            let dir = if from_schema {
                self.hierarchy_dir.as_deref()
            } else {
                None
            };
            let h = ColumnHierarchy::resolve(column, spec, dir)?;
            if h.defaulted {
                warnings.push(
                    Warning::new(
                        WarningKind::Note,
                        format!(
                            "{qi}: no hierarchy declared; using {} (declare \"hierarchy\" in \
                             the schema or pass --hierarchy {qi}=...)",
                            h.describe()
                        ),
                    )
                    .on(qi.clone()),
                );
            }
            hierarchies.push(h);
        }

        let counts: Vec<Vec<u64>> = search_qis
            .iter()
            .map(|qi| table.column(qi).map(|c| c.counts()))
            .collect::<Result<_, _>>()?;
        // The search's classes are over the generalised quasi-identifiers; the extract's
        // risk before is over all of them, the microaggregated ones as they are.
        let all = if self.microaggregate.is_empty() {
            None
        } else {
            Some(EquivalenceClasses::compute(
                &table,
                &config.quasi_identifiers,
                config.sensitive.as_deref(),
            )?)
        };
        // The codes are not read again (the release re-reads the source): they are freed
        // column by column as the rows are packed for grouping.
        let classes =
            EquivalenceClasses::compute_owned(table, &search_qis, config.sensitive.as_deref())?;
        let before = assess_classes(all.as_ref().unwrap_or(&classes), &config, None)?;
        drop(all);
        let full_config = config;
        let config = search_config;
        let n = classes.n_records();
        let q: Vec<f64> = classes
            .sensitive_totals()
            .iter()
            .map(|&c| c as f64 / n as f64)
            .collect();
        let sensitive_ordered = classes
            .layout()
            .sensitive
            .as_ref()
            .is_some_and(|s| s.ordered);
        let rule = ClassRule::new(&config, q, sensitive_ordered)?;
        let loss = LossModel::new(self.measure, &hierarchies, &counts, n);
        let layout = classes.layout().clone();
        // Local recoding searches the bottom classes again; otherwise they are taken apart
        // into the search's narrow copy rather than kept twice.
        let (base, bottom) = if self.local_recoding > 0 {
            (BaseClasses::new(&classes)?, Some(classes))
        } else {
            (BaseClasses::from_classes(classes)?, None)
        };
        let lattice = Lattice::new(&hierarchies, &base, &rule, &loss)?;
        let limits = SearchLimits {
            suppression_limit: self.suppression_limit,
            max_average_risk: config.max_average_risk,
            front_slack: self.front_slack,
        };
        // A node's kept classes come from the search's own classes (rolled up from the
        // closest cached node), not from the bottom: the same classes `recode` + `retain` of
        // the bottom classes would give (tested), at a fraction of the cost.
        let kept = |levels: &[usize]| -> EquivalenceClasses {
            lattice
                .node_classes(levels)
                .kept(recoded_layout(&layout, &hierarchies, levels))
        };
        let verify = |levels: &[usize]| -> Result<bool, AnonymiseError> {
            let k = kept(levels);
            if k.n_records() == 0 {
                return Ok(false);
            }
            Ok(assess_classes(&k, &config, None)?.passed)
        };
        let search = lattice.search(&limits, &verify, &self.progress)?;
        self.progress.check()?;

        let levels = search.optimum.levels.clone();
        let optimum = lattice.node_classes(&levels);
        let mut transformation = Transformation::new(&hierarchies, self.drop.clone());
        transformation
            .steps
            .push(step_of(&optimum, &hierarchies, &levels));
        let describe = |levels: &[usize]| -> Vec<String> {
            hierarchies
                .iter()
                .zip(levels)
                .map(|(h, &l)| h.levels[l].name.clone())
                .collect()
        };
        let mut iterations = vec![IterationRecord {
            iteration: 0,
            levels: levels.clone(),
            level_names: describe(&levels),
            records_in: n,
            records_released: n - search.optimum.suppressed_records,
            loss: search.optimum.loss,
            dropped: false,
        }];
        if let Some(classes) = &bottom
            && search.optimum.suppressed_records > 0
        {
            let local = LocalSearch {
                base: classes,
                hierarchies: &hierarchies,
                rule: &rule,
                config: &config,
                measure: self.measure,
            };
            for (i, it) in local
                .run(&mut transformation, self.local_recoding)?
                .into_iter()
                .enumerate()
            {
                iterations.push(IterationRecord {
                    iteration: i + 1,
                    level_names: describe(&it.levels),
                    levels: it.levels,
                    records_in: it.records_in,
                    records_released: it.records_released,
                    loss: it.loss,
                    dropped: it.dropped,
                });
            }
        }
        let (mut after, suppressed_final) = match &bottom {
            Some(classes) if transformation.steps.len() > 1 => {
                let release = release_classes(classes, &transformation)?;
                let s = n - release.n_records();
                (assess_classes(&release, &config, None)?, s)
            }
            _ => (
                assess_classes(
                    &optimum.kept(recoded_layout(&layout, &hierarchies, &levels)),
                    &config,
                    None,
                )?,
                search.optimum.suppressed_records,
            ),
        };
        // The search's classes are not needed again: the release re-reads the source, so
        // they are freed before it is written (at 10M rows, 210 MB of narrow classes).
        drop(optimum);
        drop(lattice);
        drop(base);
        drop(bottom);
        let described: Vec<String> = hierarchies
            .iter()
            .zip(&levels)
            .map(|(h, &l)| format!("{} to {}", h.column, h.levels[l].name))
            .collect();
        let mut summary = vec![format!(
            "Assessed as released: {}; {} record(s) in failing groups suppressed.",
            described.join(", "),
            search.optimum.suppressed_records
        )];
        if self.local_recoding > 0 {
            summary.push(format!(
                "Local recoding: {} more iteration(s) released {} of the {} suppressed \
                 record(s); {} record(s) suppressed after.",
                transformation.steps.len() - 1,
                search.optimum.suppressed_records - suppressed_final,
                search.optimum.suppressed_records,
                suppressed_final
            ));
        }
        if !self.microaggregate.is_empty() {
            summary.push(format!(
                "Microaggregated: {}; each is constant within every released class, so the \
                 classes over all quasi-identifiers are these.",
                self.microaggregate
                    .iter()
                    .map(|(c, f)| format!("{c} ({})", f.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (i, line) in summary.into_iter().enumerate() {
            after.summary.insert(i, line);
        }

        for (name, &function) in &self.microaggregate {
            transformation.micro.push(MicroColumn {
                column: name.clone(),
                function,
                integer: matches!(schema.column(name)?.kind, ColumnKind::Integer { .. }),
                values: Default::default(),
            });
        }
        let microaggregation = super::apply::microaggregate(&source, &schema, &mut transformation)?;
        let (release_schema, dropped) =
            super::apply::release_schema(&schema, &transformation, self.suppressed_rows)?;
        let (records_out, records_suppressed) = match &self.output {
            Some(path) => {
                let (w, s) = super::apply::write_release(
                    &source,
                    &schema,
                    &transformation,
                    self.suppressed_rows,
                    path,
                )?;
                if s != suppressed_final {
                    return Err(AnonymiseError::Invalid {
                        column: None,
                        message: format!(
                            "the file changed while it was read: {s} records were suppressed \
                             on writing but {suppressed_final} when searching; run again"
                        ),
                    });
                }
                (w, s)
            }
            None => (
                match self.suppressed_rows {
                    SuppressedRows::Remove => n - suppressed_final,
                    SuppressedRows::Mask => n,
                },
                suppressed_final,
            ),
        };
        let record = ReleaseRecord {
            pets_version: env!("CARGO_PKG_VERSION").to_string(),
            input: source.describe(),
            output: self.output.as_ref().map(|p| p.display().to_string()),
            quasi_identifiers: hierarchies
                .iter()
                .zip(&levels)
                .map(|(h, &l)| ColumnRecord {
                    column: h.column.clone(),
                    level: l,
                    level_name: h.levels[l].name.clone(),
                    hierarchy: h.describe(),
                    defaulted: h.defaulted,
                })
                .collect(),
            sensitive: config.sensitive.clone(),
            models: full_config,
            suppression_limit: self.suppression_limit,
            suppressed_rows: self.suppressed_rows,
            records_in: n,
            records_suppressed,
            records_out,
            dropped_columns: dropped,
            measure: self.measure.name().to_string(),
            loss: search.optimum.loss,
            local_recoding: self.local_recoding,
            records_suppressed_global: search.optimum.suppressed_records,
            iterations,
            microaggregation,
        };
        Ok(AnonymiseOutcome {
            hierarchies: hierarchies
                .iter()
                .map(|h| HierarchySummary {
                    column: h.column.clone(),
                    levels: h.levels.iter().map(|l| l.name.clone()).collect(),
                    groups: h.levels.iter().map(|l| l.n_groups()).collect(),
                    defaulted: h.defaulted,
                })
                .collect(),
            search,
            before,
            after,
            record,
            release_schema,
            warnings,
        })
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
