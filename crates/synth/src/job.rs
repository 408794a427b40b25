//! [`FitJob`]: fit a synthesiser to a table, the one pipeline behind `pets synth fit`,
//! `pets.synth.MST(...).fit(...)` and step 7 of `pets demo`.
//!
//! 1. Every option is validated ([`FitJob::validate`]) before a row is read.
//! 2. The synthesis domain comes from the declared schema alone ([`prepare_domain`]): direct
//!    identifiers and text are never synthesised unless named, wide domains are binned or
//!    coarsened. There is no public route that skips this step.
//! 3. Columns whose domain was read from the data (an inferred schema, or a declared one
//!    with `domain_from_data`) are announced: a typed [`Warning`] and a warning in every
//!    entry of the model's ledger; [`FitJob::strict`] refuses them instead.
//! 4. One streamed pass encodes the synthesis columns and reads the person id alongside;
//!    each person's rows are cut to `m` ([`Bounded::by_person`]), or privacy is per row and
//!    the ledger says so.
//! 5. The method fits on the kept rows: MST ([`fit_mst_bounded`](crate::mst::fit_mst_bounded)),
//!    PrivBayes ([`fit_privbayes_bounded_with`]) or AIM ([`fit_aim_bounded_with`]).
//!
//! ```
//! use pets::data::{Schema, TableSource};
//! use pets_synth::FitJob;
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("ae.csv");
//! # let rows: String = (0..500).map(|i| format!("{},{},p{}\n", ["F", "M"][i % 2], i % 3 == 0, i / 2)).collect();
//! # std::fs::write(&path, format!("sex,admitted,nhs_number\n{rows}")).unwrap();
//! let schema = Schema::from_json(r#"{"columns": [
//!     {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
//!     {"name": "admitted", "kind": "categorical", "values": ["false", "true"]},
//!     {"name": "nhs_number", "kind": "text", "role": "direct_identifier"}
//! ]}"#)?;
//! let fitted = FitJob::new(TableSource::file(&path), 1.0, 1e-9)
//!     .schema(schema)
//!     .person_id("nhs_number", 2)
//!     .run()?;
//! let rows = fitted.model.sample_table(100, 7)?;   // no data needed from here on
//! assert_eq!(rows.n_rows(), 100);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use pets::data::{EncodeOptions, Schema, TableSource};
use pets::dp::bounding::{Bounded, RowKeys};
use pets::partial::MarginalCounts;
use pets::{Warning, WarningKind};

use crate::aim::{AimOptions, fit_aim_bounded_with};
use crate::domain::{DomainOptions, prepare_domain};
use crate::error::{Result, SynthError};
use crate::model::{OutputColumn, SynthModel};
use crate::mst::{MstOptions, fit_mst_bounded_with};
use crate::privbayes::{PrivBayesOptions, fit_privbayes_bounded_with};
use pets::progress::Progress;

/// Synthesis methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Method {
    /// MST (McKenna, Miklau & Sheldon 2021).
    #[default]
    Mst,
    /// PrivBayes (Zhang et al. 2014/2017) with graphical-model inference: a private
    /// degree-`k` Bayesian network ([`crate::privbayes`]).
    PrivBayes,
    /// AIM (McKenna, Mullins, Sheldon & Miklau 2022): the workload's marginals the model
    /// estimates worst, chosen and measured one at a time ([`crate::aim`]).
    Aim,
}

impl Method {
    /// The name used by the front doors and in model files (`mst`, `privbayes`, `aim`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Mst => "mst",
            Method::PrivBayes => "privbayes",
            Method::Aim => "aim",
        }
    }

    /// The name in prose (ledgers, budget records).
    pub fn title(self) -> &'static str {
        match self {
            Method::Mst => "MST",
            Method::PrivBayes => "PrivBayes",
            Method::Aim => "AIM",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = SynthError;

    fn from_str(s: &str) -> Result<Method> {
        match s.to_ascii_lowercase().as_str() {
            "mst" => Ok(Method::Mst),
            "privbayes" => Ok(Method::PrivBayes),
            "aim" => Ok(Method::Aim),
            _ => Err(SynthError::invalid(
                "method",
                s,
                "the methods are mst, privbayes and aim",
            )),
        }
    }
}

/// A synthesiser fit, configured once and run by every front door.
#[derive(Debug, Clone)]
pub struct FitJob {
    source: TableSource,
    schema: Option<Schema>,
    columns: Vec<String>,
    method: Method,
    options: MstOptions,
    privbayes: PrivBayesOptions,
    aim: AimOptions,
    max_values: u32,
    person_id: Option<(String, u32)>,
    bounding_seed: u64,
    strict: bool,
    budget: Option<std::path::PathBuf>,
    progress: Progress,
}

/// What a [`FitJob`] returns.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// The fitted model (everything released, nothing else).
    pub model: SynthModel,
    /// Warnings: domains read from data, row-level privacy.
    pub warnings: Vec<Warning>,
}

impl FitJob {
    /// Fit `source` under (epsilon, delta)-DP with MST's defaults (and PrivBayes' defaults,
    /// should [`FitJob::method`] choose it).
    pub fn new(source: impl Into<TableSource>, epsilon: f64, delta: f64) -> FitJob {
        FitJob {
            source: source.into(),
            schema: None,
            columns: Vec::new(),
            method: Method::Mst,
            options: MstOptions::new(epsilon, delta),
            privbayes: PrivBayesOptions::new(epsilon, delta),
            aim: AimOptions::new(epsilon, delta),
            max_values: DomainOptions::default().max_values,
            person_id: None,
            bounding_seed: 0,
            strict: false,
            budget: None,
            progress: Progress::none(),
        }
    }

    /// Report progress to, and take stop requests from, `progress`: rows read, then
    /// measuring and fitting (see [`pets::progress`]). A stop request ends the fit before
    /// any model is returned; a persistent budget already charged stays charged (the charge
    /// is made before anything is measured, so stopping cannot be used to retry for free).
    pub fn progress(mut self, progress: Progress) -> FitJob {
        self.progress = progress;
        self
    }

    /// The declared schema (without one, a schema is inferred from the data: every domain
    /// is then read from the data, which is announced, or refused with [`FitJob::strict`]).
    pub fn schema(mut self, schema: Schema) -> FitJob {
        self.schema = Some(schema);
        self
    }

    /// The declared schema, if any.
    pub fn schema_opt(mut self, schema: Option<Schema>) -> FitJob {
        self.schema = schema;
        self
    }

    /// Columns to synthesise (default: every encodable column that is not a direct
    /// identifier).
    pub fn columns(mut self, columns: Vec<String>) -> FitJob {
        self.columns = columns;
        self
    }

    /// The method.
    pub fn method(mut self, method: Method) -> FitJob {
        self.method = method;
        self
    }

    /// MST's options (epsilon and delta included).
    pub fn options(mut self, options: MstOptions) -> FitJob {
        self.options = options;
        self
    }

    /// MST's options, to change in place.
    pub fn options_mut(&mut self) -> &mut MstOptions {
        &mut self.options
    }

    /// PrivBayes' options (epsilon and delta included), used with [`Method::PrivBayes`].
    pub fn privbayes_options(mut self, options: PrivBayesOptions) -> FitJob {
        self.privbayes = options;
        self
    }

    /// PrivBayes' options, to change in place.
    pub fn privbayes_options_mut(&mut self) -> &mut PrivBayesOptions {
        &mut self.privbayes
    }

    /// AIM's options (epsilon and delta included), used with [`Method::Aim`].
    pub fn aim_options(mut self, options: AimOptions) -> FitJob {
        self.aim = options;
        self
    }

    /// AIM's options, to change in place.
    pub fn aim_options_mut(&mut self) -> &mut AimOptions {
        &mut self.aim
    }

    /// The (epsilon, delta) the chosen method will spend.
    fn privacy(&self) -> (f64, f64) {
        match self.method {
            Method::Mst => (self.options.epsilon, self.options.delta),
            Method::PrivBayes => (self.privbayes.epsilon, self.privbayes.delta),
            Method::Aim => (self.aim.epsilon, self.aim.delta),
        }
    }

    /// Integer, date and datetime columns with more codes than this are binned or coarsened.
    pub fn max_values(mut self, max_values: u32) -> FitJob {
        self.max_values = max_values;
        self
    }

    /// Person-level privacy: `column` identifies a person; each person's rows are cut to
    /// `max_rows_per_person`, chosen at random, before fitting.
    pub fn person_id(mut self, column: impl Into<String>, max_rows_per_person: u32) -> FitJob {
        self.person_id = Some((column.into(), max_rows_per_person));
        self
    }

    /// As [`FitJob::person_id`] when the id is optional (`max_rows_per_person` must then be 1).
    pub fn person_id_opt(mut self, column: Option<String>, max_rows_per_person: u32) -> FitJob {
        self.person_id = column.map(|c| (c, max_rows_per_person));
        if self.person_id.is_none() && max_rows_per_person != 1 {
            // Kept so validate() can say that the bound needs an id.
            self.person_id = Some((String::new(), max_rows_per_person));
        }
        self
    }

    /// Seed of the choice of each person's rows (data processing, not privacy noise).
    pub fn bounding_seed(mut self, seed: u64) -> FitJob {
        self.bounding_seed = seed;
        self
    }

    /// Refuse columns whose domain was read from the data instead of warning.
    pub fn strict(mut self, strict: bool) -> FitJob {
        self.strict = strict;
        self
    }

    /// Charge the fit's (epsilon, delta) to the dataset's persistent budget file
    /// ([`pets::dp::budget_store`]) before anything is measured; refused, with nothing
    /// released, if it does not fit. The receipt goes into the model file.
    pub fn budget(mut self, path: Option<std::path::PathBuf>) -> FitJob {
        self.budget = path;
        self
    }

    /// Check every option, before any data are read.
    pub fn validate(&self) -> Result<()> {
        let e = match self.method {
            Method::Mst => {
                self.validate_mst()?;
                &self.options.estimation
            }
            Method::PrivBayes => {
                self.privbayes.validate()?;
                &self.privbayes.estimation
            }
            Method::Aim => {
                self.aim.validate()?;
                &self.aim.estimation
            }
        };
        if e.max_iters == 0 {
            return Err(SynthError::invalid(
                "max_iters",
                0,
                "at least one iteration is needed",
            ));
        }
        if !(e.tolerance >= 0.0 && e.tolerance.is_finite()) {
            return Err(SynthError::invalid(
                "tolerance",
                e.tolerance,
                "it must be a finite number >= 0",
            ));
        }
        if e.max_clique_cells == 0 {
            return Err(SynthError::invalid(
                "max_clique_cells",
                0,
                "it must be at least 1",
            ));
        }
        if self.max_values < 2 {
            return Err(SynthError::invalid(
                "max_values",
                self.max_values,
                "it must be at least 2",
            ));
        }
        match &self.person_id {
            Some((id, m)) if id.is_empty() => {
                return Err(SynthError::invalid(
                    "max_rows_per_person",
                    m,
                    "a bound on rows per person needs the person-id column (--person-id / \
                     person_id=)",
                ));
            }
            Some((_, 0)) => {
                return Err(SynthError::invalid(
                    "max_rows_per_person",
                    0,
                    "it must be at least 1",
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn validate_mst(&self) -> Result<()> {
        let o = &self.options;
        crate::mst::cdp_rho(o.epsilon, o.delta)?;
        if o.max_pair_cells == 0 {
            return Err(SynthError::invalid(
                "max_pair_cells",
                0,
                "it must be at least 1",
            ));
        }
        if !(o.score_threshold >= 0.0 && o.score_threshold.is_finite()) {
            return Err(SynthError::invalid(
                "score_threshold",
                o.score_threshold,
                "it must be a finite number >= 0 (0 is MST's published score)",
            ));
        }
        if !(o.selection_share > 0.0 && o.selection_share < 1.0) {
            return Err(SynthError::invalid(
                "selection_share",
                o.selection_share,
                "it must be strictly between 0 and 1, e.g. 0.1 (1/3 is the paper's split)",
            ));
        }
        Ok(())
    }

    /// Fit: validate, prepare the domain, encode, bound, fit (see the module docs).
    pub fn run(&self) -> Result<FitOutcome> {
        let mut plan = self.plan()?;
        let (table, bounded) = self.read_bounded(&mut plan)?;
        // The persistent budget is charged after every data-dependent check that can fail
        // (schema, encoding, bounding) and before anything is measured.
        let receipt = self.charge()?;
        let model = match self.method {
            Method::Mst => {
                fit_mst_bounded_with(&table, &[], &self.options, &bounded, &self.progress)?
            }
            Method::PrivBayes => {
                fit_privbayes_bounded_with(&table, &[], &self.privbayes, &bounded, &self.progress)?
            }
            Method::Aim => fit_aim_bounded_with(&table, &[], &self.aim, &bounded, &self.progress)?,
        };
        self.finish(plan, model, receipt)
    }

    /// Step 4: one streamed pass encodes the synthesis columns (and the person id), each
    /// person's rows cut to `m` (or row-level, warned in `plan`), then the calendar parts
    /// derived. The table has every row; `Bounded` says which are kept.
    pub(crate) fn read_bounded(
        &self,
        plan: &mut Plan,
    ) -> Result<(pets::data::EncodedTable, Bounded)> {
        let extra: Vec<String> = self.person_id.iter().map(|(c, _)| c.clone()).collect();
        let read = plan.source.encode(
            &plan.domain.encode,
            EncodeOptions::default(),
            &extra,
            &self.progress,
        )?;
        let bounded = match &self.person_id {
            Some((id, m)) => {
                let keys = RowKeys::from_arrays(id, read.extra(id).expect("read above"), false)?;
                Bounded::by_person(&keys, *m, self.bounding_seed)?
            }
            None => {
                plan.warnings.push(row_level_warning());
                Bounded::row_level(read.table.n_rows())
            }
        };
        Ok((plan.domain.derive(read.table)?, bounded))
    }

    /// This job on another table (a trust's, in a federated fit).
    pub(crate) fn with_source(mut self, source: TableSource) -> FitJob {
        self.source = source;
        self
    }

    /// The job's progress observer.
    pub(crate) fn observer(&self) -> &Progress {
        &self.progress
    }

    /// The domain option: columns with more codes are binned or coarsened.
    pub(crate) fn domain_max_values(&self) -> u32 {
        self.max_values
    }

    /// MST's options.
    pub(crate) fn mst_options(&self) -> &MstOptions {
        &self.options
    }

    /// Steps 1-3: the options, the schema (declared, or inferred and announced), the
    /// synthesis domain, the workload's columns, domains read from data.
    pub(crate) fn plan(&self) -> Result<Plan> {
        self.validate()?;
        let (source, mut warnings) = self.source.pinned(self.schema.as_ref())?;
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => {
                if self.strict {
                    return Err(SynthError::invalid(
                        "schema",
                        "none",
                        "strict mode refuses a schema inferred from the data: declare the \
                         domains from public knowledge",
                    ));
                }
                warnings.push(Warning::inferred_schema());
                source.infer_schema_of(&self.columns)?
            }
        };
        let domain = prepare_domain(
            &schema,
            &self.columns,
            &DomainOptions {
                max_values: self.max_values,
            },
        )?;
        if self.method == Method::Aim {
            // A workload naming a column that is not synthesised is refused before any row
            // is read (derived calendar columns are named `NAME.period`, `NAME.hour`, ...).
            let synthesised: Vec<&str> = domain
                .schema
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            if let Some(c) = self
                .aim
                .workload
                .iter()
                .flatten()
                .find(|c| !synthesised.contains(&c.as_str()))
            {
                return Err(SynthError::invalid(
                    "workload",
                    c,
                    format!(
                        "the workload may only name synthesised columns: {}",
                        synthesised.join(", ")
                    ),
                ));
            }
        }
        let from_data: Vec<String> = domain
            .schema
            .columns
            .iter()
            .filter(|c| c.domain_from_data)
            .map(|c| c.name.clone())
            .collect();
        if !from_data.is_empty() {
            if self.strict {
                return Err(SynthError::invalid(
                    "schema",
                    from_data.join(", "),
                    "strict mode refuses columns whose domain was read from the data; declare \
                     their values and ranges from public knowledge",
                ));
            }
            for c in &from_data {
                warnings.push(
                    Warning::new(
                        WarningKind::DomainFromData,
                        pets::dp::queries::domain_warning(c),
                    )
                    .on(c.clone()),
                );
            }
        }
        Ok(Plan {
            input_types: input_types(&source)?,
            source,
            domain,
            warnings,
        })
    }

    /// Charge the persistent budget file, if any, with the fit's whole (epsilon, delta).
    fn charge(&self) -> Result<Option<pets::dp::budget_store::ChargeReceipt>> {
        self.charge_as(
            &format!("pets synth fit ({})", self.method.title()),
            self.source.describe(),
        )
    }

    /// [`FitJob::charge`], recorded as `what` on `data`.
    pub(crate) fn charge_as(
        &self,
        what: &str,
        data: String,
    ) -> Result<Option<pets::dp::budget_store::ChargeReceipt>> {
        let Some(path) = &self.budget else {
            return Ok(None);
        };
        let (epsilon, delta) = self.privacy();
        let cost = pets::dp::Cost::epsilon(epsilon).with_delta(delta);
        let record = pets::dp::budget_store::ChargeRecord::new(what).data(data);
        pets::dp::budget_store::BudgetStore::open(path)
            .and_then(|store| store.charge(&cost, &record))
            .map(Some)
            .map_err(|e| SynthError::Budget(Box::new(e)))
    }

    /// Step 5's model made a release: output columns with the input's Arrow types (refused
    /// before anything is written if the values cannot take them), the domain's notes, the
    /// receipt, and the warnings in the ledger.
    pub(crate) fn finish(
        &self,
        plan: Plan,
        mut model: SynthModel,
        receipt: Option<pets::dp::budget_store::ChargeReceipt>,
    ) -> Result<FitOutcome> {
        let Plan {
            domain,
            mut warnings,
            input_types,
            ..
        } = plan;
        model.output = domain
            .output
            .iter()
            .map(|o| OutputColumn {
                arrow_type: input_types
                    .iter()
                    .find(|(n, _)| *n == o.name)
                    .map(|(_, t)| t.clone()),
                ..o.clone()
            })
            .collect();
        // Refuse, before anything is written, an input type the values cannot be cast to.
        model.sample_arrow_schema()?;
        // The domain's notes first, then the method's own (AIM: rounds and annealing).
        model.notes.splice(0..0, domain.notes);
        model.budget_receipt = receipt;
        let (epsilon, delta) = self.privacy();
        warnings.extend(
            pets::dp::Cost::epsilon(epsilon)
                .with_delta(delta)
                .weak_budget_warning(),
        );
        for w in warnings
            .iter()
            .filter(|w| w.kind == WarningKind::DomainFromData)
        {
            for entry in &mut model.ledger.entries {
                entry.warnings.push(w.message.clone());
            }
        }
        Ok(FitOutcome { model, warnings })
    }
}

/// What [`FitJob::plan`] decides before any row is read.
pub(crate) struct Plan {
    /// The source, its reading decided once.
    pub(crate) source: TableSource,
    /// The synthesis domain.
    pub(crate) domain: crate::domain::SynthesisDomain,
    /// Warnings so far (inferred schema, domains read from data, CSV dialect).
    pub(crate) warnings: Vec<Warning>,
    /// The input's Arrow types, for the sample's.
    pub(crate) input_types: Vec<(String, arrow_schema::DataType)>,
}

impl Plan {
    /// Refuse the plan when a column's domain would be read from the data: with the rows
    /// split between `parts` (trusts, partitions), each part would read another domain and
    /// their codes would not line up.
    pub(crate) fn refuse_domain_from_data(&self, parts: &str) -> Result<()> {
        match self
            .warnings
            .iter()
            .find(|w| w.kind == WarningKind::DomainFromData)
        {
            Some(w) => Err(SynthError::invalid(
                "schema",
                w.column.clone().unwrap_or_default(),
                format!(
                    "a domain read from the data would differ from {parts} to {parts}: \
                     declare its values and ranges"
                ),
            )),
            None => Ok(()),
        }
    }

    /// The input columns the plan reads (the encoded synthesis domain's).
    pub(crate) fn read_columns(&self) -> Vec<String> {
        self.domain
            .encode
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }
}

pub(crate) fn row_level_warning() -> Warning {
    Warning::new(
        WarningKind::RowLevelPrivacy,
        "row-level privacy: each row is treated as a different person; give the person-id \
         column for person-level privacy",
    )
}

/// Partitioned fits (Spark's `mapInArrow`; [`pets::partial`]): MST reads the data only
/// through exact 1-way and 2-way counts, so each partition sends its counts
/// ([`FitJob::partial`]: [`MarginalCounts`] over the synthesis domain, every candidate pair
/// on full codes) and the driver fits once from their sum ([`FitJob::run_partials`]), with
/// the same measurements, budget charge and model file as [`FitJob::run`] on the whole
/// table. The driver's steps take the partitions' table with zero rows, so the options,
/// schema, columns and types are checked before any partition is read.
///
/// MST only (PrivBayes and AIM measure marginals chosen from the data as they go), and rows
/// are the privacy unit (a person's rows may sit in several partitions): a person id is
/// refused.
impl FitJob {
    /// The driver's check before any partition is read (`self`'s source: the partitions'
    /// table with zero rows): options, schema, domain, columns and types. Returns the input
    /// columns the partitions must send.
    pub fn check_partitioned(&self) -> Result<Vec<String>> {
        let plan = self.plan_partitioned()?;
        self.encode_derived(&plan, true)?;
        Ok(plan.read_columns())
    }

    /// One partition's exact counts (`self`'s source: the partition), as
    /// [`Partial::Marginals`](pets::partial::Partial::Marginals) bytes: not private, for
    /// merging and fitting once at the driver.
    pub fn partial(&self) -> Result<Vec<u8>> {
        let plan = self.plan_partitioned()?;
        let table = self.encode_derived(&plan, false)?;
        let bounded = Bounded::row_level(table.n_rows());
        let owned = crate::mst::synthesis_columns(&table, &[], &bounded)?;
        let cols: Vec<&pets::data::EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
        let counts = MarginalCounts::compute(&cols, self.options.max_pair_values);
        Ok(pets::partial::Partial::Marginals(counts).to_bytes())
    }

    /// The driver's fit from the partitions' bytes ([`FitJob::partial`]; `self`'s source:
    /// the partitions' table with zero rows): the checks of [`FitJob::check_partitioned`],
    /// the partials merged (any other kind refused), the budget file charged, then MST on
    /// the merged counts ([`fit_mst_merged_with`](crate::mst::fit_mst_merged_with)).
    pub fn run_partials<B: AsRef<[u8]>>(&self, partials: &[B]) -> Result<FitOutcome> {
        let mut plan = self.plan_partitioned()?;
        let empty = self.encode_derived(&plan, true)?;
        let counts = match pets::partial::Partial::merge_bytes(partials).map_err(partial_error)? {
            Some(pets::partial::Partial::Marginals(m)) => m,
            Some(_) => {
                return Err(SynthError::invalid(
                    "partials",
                    "another kind",
                    "the partitions' partials are not a fit's marginal counts",
                ));
            }
            None => {
                return Err(SynthError::invalid(
                    "partials",
                    0,
                    "no partition sent any counts: the table has no rows",
                ));
            }
        };
        plan.warnings.push(row_level_warning());
        let receipt = self.charge()?;
        let model =
            crate::mst::fit_mst_merged_with(&empty, &[], &self.options, &counts, &self.progress)?;
        self.finish(plan, model, receipt)
    }

    /// [`FitJob::plan`] for a partitioned fit: MST, a declared schema with no domain read
    /// from data (each partition would read its own), no person id.
    fn plan_partitioned(&self) -> Result<Plan> {
        if self.schema.is_none() {
            return Err(SynthError::invalid(
                "schema",
                "none",
                "partitions only line up on a declared schema (an inferred one would differ \
                 from partition to partition): declare it",
            ));
        }
        if self.method != Method::Mst {
            return Err(SynthError::invalid(
                "method",
                self.method.name(),
                "only MST fits from partitions (PrivBayes and AIM choose marginals from the \
                 data as they go); fit them on one machine",
            ));
        }
        if let Some((id, _)) = &self.person_id {
            return Err(SynthError::invalid(
                "person_id",
                id,
                "a person's rows may sit in several partitions, so per-person bounding is not \
                 available on partitions: omit the person id (row-level privacy) or fit on one \
                 machine",
            ));
        }
        let plan = self.plan()?;
        plan.refuse_domain_from_data("partition")?;
        Ok(plan)
    }

    /// The plan's source encoded on the synthesis domain and derived (no person id; zero
    /// rows allowed when `allow_empty`: the driver's table).
    pub(crate) fn encode_derived(
        &self,
        plan: &Plan,
        allow_empty: bool,
    ) -> Result<pets::data::EncodedTable> {
        let read = plan.source.encode(
            &plan.domain.encode,
            EncodeOptions {
                allow_empty,
                ..EncodeOptions::default()
            },
            &[],
            &self.progress,
        )?;
        plan.domain.derive(read.table)
    }
}

fn partial_error(e: pets::partial::PartialError) -> SynthError {
    SynthError::invalid("partials", "bytes", e.to_string())
}

/// The Arrow type of every column of a Parquet file or of in-memory batches (metadata: the
/// footer, the batches' schema; no value is read). Text files carry no types: their
/// samples take the types the declared kinds decode to.
fn input_types(source: &TableSource) -> Result<Vec<(String, arrow_schema::DataType)>> {
    let typed = match source {
        TableSource::File { path, .. } => matches!(
            pets::data::io::FileFormat::from_path(path),
            Ok(pets::data::io::FileFormat::Parquet)
        ),
        TableSource::Batches { .. } => true,
    };
    if !typed {
        return Ok(Vec::new());
    }
    let schema = source.stream()?.arrow_schema();
    Ok(schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets::data::{EncodeOptions, encode_file};

    fn write(dir: &std::path::Path) -> std::path::PathBuf {
        let rows: String = (0..600)
            .map(|i| {
                format!(
                    "{},{},19{}-01-0{},p{}\n",
                    ["F", "M"][i % 2],
                    i % 3 == 0,
                    50 + i % 40,
                    1 + i % 9,
                    i / 2
                )
            })
            .collect();
        let path = dir.join("t.csv");
        std::fs::write(
            &path,
            format!("sex,admitted,date_of_birth,nhs_number\n{rows}"),
        )
        .unwrap();
        path
    }

    fn schema(from_data: bool) -> Schema {
        let mut s = Schema::from_json(
            r#"{"columns": [
            {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
            {"name": "admitted", "kind": "categorical", "values": ["false", "true"]},
            {"name": "date_of_birth", "kind": "date", "min": "1900-01-01", "max": "2000-12-31",
             "role": "direct_identifier"},
            {"name": "nhs_number", "kind": "text", "role": "direct_identifier"}
        ]}"#,
        )
        .unwrap();
        s.columns[0].domain_from_data = from_data;
        s
    }

    #[test]
    fn no_route_synthesises_a_direct_identifier_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path());
        let fitted = FitJob::new(path.as_path(), 1.0, 1e-9)
            .schema(schema(false))
            .person_id("nhs_number", 2)
            .run()
            .unwrap();
        let names: Vec<&str> = fitted
            .model
            .schema
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["sex", "admitted"]);
        // The lower-level route on a table encoded against the declared schema, too.
        let table = encode_file(&path, &schema(false), EncodeOptions::default()).unwrap();
        let model = crate::fit_mst(&table, &[], &MstOptions::new(1.0, 1e-9)).unwrap();
        assert!(
            model
                .schema
                .columns
                .iter()
                .all(|c| c.name != "date_of_birth")
        );
    }

    #[test]
    fn domains_from_data_are_announced_in_the_ledger_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path());
        let fitted = FitJob::new(path.as_path(), 1.0, 1e-9)
            .schema(schema(true))
            .run()
            .unwrap();
        assert!(
            fitted.warnings.iter().any(
                |w| w.kind == WarningKind::DomainFromData && w.column.as_deref() == Some("sex")
            )
        );
        assert!(
            fitted
                .warnings
                .iter()
                .any(|w| w.kind == WarningKind::RowLevelPrivacy)
        );
        assert!(
            fitted
                .model
                .ledger
                .entries
                .iter()
                .all(|e| e.warnings.iter().any(|w| w.contains("DOMAIN_FROM_DATA")))
        );
        let err = FitJob::new(path.as_path(), 1.0, 1e-9)
            .schema(schema(true))
            .strict(true)
            .run()
            .unwrap_err();
        assert!(err.to_string().contains("strict"), "{err}");
        let err = FitJob::new(path.as_path(), 1.0, 1e-9)
            .columns(vec!["sex".into()])
            .strict(true)
            .run()
            .unwrap_err();
        assert!(err.to_string().contains("inferred"), "{err}");
    }

    #[test]
    fn privbayes_runs_through_the_same_job_and_names_itself_in_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path());
        let budget = dir.path().join("budget.json");
        pets::dp::budget_store::BudgetStore::init(
            &budget,
            pets::dp::Cost::epsilon(3.0).with_delta(1e-6),
            "t.csv",
            None,
        )
        .unwrap();
        let fitted = FitJob::new(path.as_path(), 1.0, 1e-9)
            .schema(schema(false))
            .person_id("nhs_number", 2)
            .method("privbayes".parse().unwrap())
            .budget(Some(budget.clone()))
            .run()
            .unwrap();
        let model = &fitted.model;
        assert_eq!(model.method, "privbayes");
        assert_eq!(model.selected.len(), 1);
        assert!(
            model
                .ledger
                .entries
                .iter()
                .all(|e| e.query.starts_with("privbayes: "))
        );
        assert!(model.budget_receipt.is_some());
        let file = std::fs::read_to_string(&budget).unwrap();
        assert!(file.contains("pets synth fit (PrivBayes)"), "{file}");
        assert_eq!(model.sample_table(50, 1).unwrap().n_rows(), 50);
        // PrivBayes' own options are checked before any data are read.
        let mut job = FitJob::new(std::path::Path::new("/nonexistent/data.csv"), 1.0, 1e-9)
            .method(Method::PrivBayes);
        job.privbayes_options_mut().structure_share = 1.0;
        assert!(
            job.run()
                .unwrap_err()
                .to_string()
                .contains("structure_share")
        );
        assert!("PrivBayes".parse::<Method>().is_ok());
        assert_eq!("aim".parse::<Method>().unwrap(), Method::Aim);
        assert!(
            "dpgan"
                .parse::<Method>()
                .unwrap_err()
                .to_string()
                .contains("mst, privbayes and aim")
        );
    }

    #[test]
    fn aim_runs_through_the_same_job_and_names_itself_in_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path());
        let budget = dir.path().join("budget.json");
        pets::dp::budget_store::BudgetStore::init(
            &budget,
            pets::dp::Cost::epsilon(3.0).with_delta(1e-6),
            "t.csv",
            None,
        )
        .unwrap();
        let fitted = FitJob::new(path.as_path(), 1.0, 1e-9)
            .schema(schema(false))
            .person_id("nhs_number", 2)
            .method("aim".parse().unwrap())
            .budget(Some(budget.clone()))
            .run()
            .unwrap();
        let model = &fitted.model;
        assert_eq!(model.method, "aim");
        assert!(!model.selected.is_empty());
        assert!(
            model
                .ledger
                .entries
                .iter()
                .all(|e| e.query.starts_with("aim: "))
        );
        assert!(
            model.notes.iter().any(|n| n.starts_with("aim: ")),
            "{:?}",
            model.notes
        );
        let spent = model.ledger.spent.main();
        assert!(spent <= model.rho && spent >= model.rho * (1.0 - 1e-9));
        let file = std::fs::read_to_string(&budget).unwrap();
        assert!(file.contains("pets synth fit (AIM)"), "{file}");
        assert_eq!(model.sample_table(50, 1).unwrap().n_rows(), 50);
        // AIM's options are checked before any data are read.
        let missing = std::path::Path::new("/nonexistent/data.csv");
        let mut job = FitJob::new(missing, 1.0, 1e-9).method(Method::Aim);
        job.aim_options_mut().max_model_cells = 0;
        assert!(
            job.run()
                .unwrap_err()
                .to_string()
                .contains("max_model_cells")
        );
        let mut job = FitJob::new(missing, 1.0, 1e-9).method(Method::Aim);
        job.aim_options_mut().workload = vec![vec![]];
        assert!(job.run().unwrap_err().to_string().contains("workload"));
        // A workload naming a column that is not synthesised: refused before encoding.
        let mut job = FitJob::new(path.as_path(), 1.0, 1e-9)
            .schema(schema(false))
            .method(Method::Aim);
        job.aim_options_mut().workload = vec![vec!["sex".into(), "date_of_birth".into()]];
        let err = job.run().unwrap_err().to_string();
        assert!(
            err.contains("date_of_birth") && err.contains("sex, admitted"),
            "{err}"
        );
    }

    #[test]
    fn options_are_checked_before_any_data_are_read() {
        let missing = std::path::Path::new("/nonexistent/data.csv");
        let bad = |job: FitJob| job.run().unwrap_err().to_string();
        assert!(bad(FitJob::new(missing, -1.0, 1e-9)).contains("epsilon"));
        assert!(bad(FitJob::new(missing, 1.0, 1e-9).max_values(1)).contains("max_values"));
        assert!(
            bad(FitJob::new(missing, 1.0, 1e-9).person_id_opt(None, 3))
                .contains("needs the person-id column")
        );
        let mut job = FitJob::new(missing, 1.0, 1e-9);
        job.options_mut().score_threshold = f64::NAN;
        assert!(bad(job).contains("score_threshold"));
    }

    /// A partitioned fit (`partial` per partition, `run_partials` at the driver) reads the
    /// same exact counts as a fit on the whole table: every 1-way count and every candidate
    /// pair's counts under any compression are equal, whatever the split (MST is the same
    /// function of them, so its measurements have the same distribution). The fit from
    /// them runs end to end; options it cannot honour are refused before any partition is
    /// read.
    #[test]
    fn partitioned_fit_reads_the_counts_the_whole_table_fit_reads() {
        use crate::counts::{CountSource, Rows};
        use arrow_array::RecordBatch;
        use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};
        let cfg = AeConfig::new(3_000, 11).with_batch_rows(500);
        let schema = Schema::from_json(&ae_schema_for(&cfg).to_json()).unwrap();
        let batches: Vec<RecordBatch> = AeGenerator::new(cfg).unwrap().collect();
        let arrow = batches[0].schema();
        let job = |b: Vec<RecordBatch>| {
            FitJob::new(TableSource::batches("t", arrow.clone(), b), 1.0, 1e-9)
                .schema(schema.clone())
        };
        let whole_job = job(batches.clone());
        let plan = whole_job.plan_partitioned().unwrap();
        let table = whole_job.encode_derived(&plan, false).unwrap();
        let owned = crate::mst::synthesis_columns(&table, &[], &Bounded::row_level(table.n_rows()))
            .unwrap();
        let cols: Vec<&pets::data::EncodedColumn> = owned.iter().map(|c| c.as_ref()).collect();
        let rows = Rows(&cols);
        // A compression of every column (codes folded onto at most 7) and the identity.
        let folded: Vec<usize> = cols
            .iter()
            .map(|c| (c.codebook.cardinality() as usize).min(7))
            .collect();
        let fold: Vec<Vec<u32>> = cols
            .iter()
            .zip(&folded)
            .map(|(c, &k)| {
                (0..c.codebook.cardinality())
                    .map(|i| i % k as u32)
                    .collect()
            })
            .collect();
        let full: Vec<usize> = cols
            .iter()
            .map(|c| c.codebook.cardinality() as usize)
            .collect();
        let identity: Vec<Vec<u32>> = full.iter().map(|&k| (0..k as u32).collect()).collect();

        let whole = whole_job.run().unwrap().model;
        let driver = job(Vec::new());
        let columns = driver.check_partitioned().unwrap();
        assert!(
            columns.contains(&"arrival_datetime".to_string()),
            "{columns:?}"
        );
        assert!(!columns.contains(&"nhs_number".to_string()));
        // Cuts between batches of 500 rows.
        for cuts in [vec![0, 6], vec![0, 1, 4, 6]] {
            let bytes: Vec<Vec<u8>> = cuts
                .windows(2)
                .map(|w| job(batches[w[0]..w[1]].to_vec()).partial().unwrap())
                .collect();
            let Some(pets::partial::Partial::Marginals(merged)) =
                pets::partial::Partial::merge_bytes(&bytes).unwrap()
            else {
                panic!("marginal counts expected")
            };
            assert_eq!(merged.rows, 3_000);
            for (i, c) in cols.iter().enumerate() {
                assert_eq!(
                    CountSource::one_way(&merged, i),
                    rows.one_way(i),
                    "{}",
                    c.name()
                );
            }
            assert!(!merged.pairs.is_empty());
            for p in &merged.pairs {
                let (a, b) = (p.a as usize, p.b as usize);
                for (maps, sizes) in [(&fold, &folded), (&identity, &full)] {
                    assert_eq!(
                        CountSource::pair(&merged, a, b, maps, sizes).unwrap(),
                        rows.pair(a, b, maps, sizes).unwrap(),
                        "{} x {}",
                        cols[a].name(),
                        cols[b].name()
                    );
                }
            }
            let got = driver.run_partials(&bytes).unwrap();
            let model = got.model;
            assert_eq!(model.codebooks.len(), cols.len());
            assert_eq!(model.selected.len(), whole.selected.len());
            assert_eq!(model.output, whole.output);
            assert!(
                got.warnings
                    .iter()
                    .any(|w| w.kind == WarningKind::RowLevelPrivacy)
            );
            let sample = model.sample_table(50, 1).unwrap();
            assert_eq!(sample.n_rows(), 50);
        }
        // Refused before any partition is read.
        let no_schema = FitJob::new(
            TableSource::batches("t", arrow.clone(), Vec::new()),
            1.0,
            1e-9,
        );
        assert!(
            no_schema
                .check_partitioned()
                .unwrap_err()
                .to_string()
                .contains("declared")
        );
        let person = job(Vec::new()).person_id("nhs_number", 2);
        assert!(
            person
                .check_partitioned()
                .unwrap_err()
                .to_string()
                .contains("person")
        );
        let pb = job(Vec::new()).method(Method::PrivBayes);
        assert!(
            pb.check_partitioned()
                .unwrap_err()
                .to_string()
                .contains("only MST")
        );
        // Another kind of partial, or none, is refused at the driver.
        let counts = pets::partial::Partial::Counts {
            query: "count".into(),
            counts: vec![3],
        };
        assert!(driver.run_partials(&[counts.to_bytes()]).is_err());
        let none: [Vec<u8>; 0] = [];
        assert!(driver.run_partials(&none).is_err());
    }
}
