//! Federated MST: a synthesiser fitted across trusts without pooling rows
//! ([`FederatedFitJob`]). The fitted model is the same kind of model file as
//! [`crate::FitJob`]'s, sampled by `pets synth sample`.
//!
//! In a federation nobody may see an exact count, so MST's selection, which scores pairs on
//! the exact 2-way tables with the exponential mechanism, cannot run at the aggregator.
//! Everything MST reads is a count table, so each trust computes its tables locally and
//! the tables are summed by a federated round ([`pets::federated::FederatedJob::run_vectors`]:
//! secure aggregation with distributed discrete Gaussian noise, or Prio3, charged before
//! any noise is drawn); the selection is then **post-processing** of released noisy tables:
//!
//! ```text
//! every trust: encode its table on the synthesis domain of the declared schema (the same
//!   derivation as a pooled fit: NAME.period, ...; layout from schema and options only),
//!   cut each person's rows to m, keep its synthesis columns
//! round A (rho1): every column's 1-way counts, one table per column, each weighted so that
//!   its noise is MST's size-weighted share -> compression from the noisy 1-ways
//! round B (rho_sel): every candidate pair's 2-way counts on the compressed codes (candidate:
//!   both columns at most max_pair_values declared codes, compressed table at most
//!   max_pair_cells: public) -> maximum spanning tree on the noisy tables' distance from
//!   independence, the expected noise floor subtracted (post-processing)
//! round C (rho2): the tree's pairs, weighted by MST's size-weighted shares
//! inference on every noisy measurement (A, and B and C of the tree's pairs: the loss
//!   weighs each by its inverse variance) -> the model file, its ledger one entry per round
//! ```
//!
//! **Why compressed codes in round B** (the issue suggested the full declared code
//! spaces): the compression is public once round A is released, the trusts can apply it,
//! and it is what MST measures anyway. On the generated A&E schema the full code spaces of
//! the candidate pairs hold millions of cells (postcode district, 2,800 codes, pairs with
//! 23 columns), more than a round carries (4M) and each cell noised at round B's scale;
//! compressed, they are the tables MST would score.
//!
//! **Privacy** (`proofs/federated_mst.md`): each round is `rho_r`-zCDP for one person (at
//! most `m` rows at each of at most `T` trusts) by the distributed noise's bound on the
//! round's sensitivity `(m T)^2 sum_k w_k^2`; what a round sums (the compression, the
//! candidates, the tree, the weights) is a function of public figures and earlier releases
//! only, so the rounds compose adaptively and the fit is `(rho1 + rho_sel + rho2)`-zCDP,
//! at most `cdp_rho(epsilon, delta)`. The session refuses to charge beyond it.
//!
//! Over the network (`pets-federated-net`) this would take a submitter that runs the three
//! rounds in turn, sending the compression maps with round B's job and the tree with round
//! C's, and nodes that compute the declared vectors; not built yet (this job runs every
//! party in one process, as `pets federated simulate` does).

use std::borrow::Cow;
use std::time::Instant;

use pets::data::{EncodedColumn, EncodedTable, Schema, TableSource};
use pets::dp::bounding::Bounded;
use pets::dp::{Cost, PrivacyUnit, Session};
use pets::federated::aggregate::{LocalAggregate, MAX_FEDERATED_CELLS, TableLayout};
use pets::federated::{
    FederatedJob, FederatedRelease, Protocol, RoundReport, TrustInput, VectorSpec,
    columns_fingerprint,
};
use pets::{Warning, WarningKind};
use serde::{Deserialize, Serialize};

use crate::compress::Compression;
use crate::counts::{CountSource, Rows};
use crate::error::{Result, SynthError};
use crate::inference::{Measurement, estimate_total};
use crate::job::{FitJob, FitOutcome};
use crate::model::NoisyMarginal;
use crate::mst::{
    MstBudget, ONE_WAY_SHARE_CAP, assemble_mst, independent_probs, one_way_from_noisy, pair_shares,
    shares,
};
use crate::settings::FitSettings;

/// The method name a federated fit writes in its model file.
pub const FEDERATED_MST: &str = "mst (federated)";

/// Largest weight of a table in a round: a table's weight is `round(16 sqrt(share /
/// largest share))`, at least 1, so its noise is its size-weighted share's to a few percent
/// (the weights are public; the charge is exact whatever they are).
const WEIGHT_SCALE: f64 = 16.0;

/// An MST fit over several trusts' tables, each keeping its rows (module docs).
///
/// ```
/// use pets::data::{Schema, TableSource};
/// use pets::federated::TrustInput;
/// use pets_synth::federated::FederatedFitJob;
/// # let dir = tempfile::tempdir().unwrap();
/// let schema = Schema::from_json(r#"{"columns": [
///     {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
///     {"name": "band", "kind": "categorical", "values": ["a", "b", "c"]}
/// ]}"#)?;
/// let trusts: Vec<TrustInput> = (0..3)
///     .map(|t| {
///         let path = dir.path().join(format!("trust_{t}.csv"));
///         let rows: String = (0..300)
///             .map(|i| format!("{},{}\n", ["F", "M"][(i + t) % 2], ["a", "b", "c"][i % 3]))
///             .collect();
///         std::fs::write(&path, format!("sex,band\n{rows}")).unwrap();
///         TrustInput::new(format!("trust_{t}"), TableSource::file(path))
///     })
///     .collect();
/// let fitted = FederatedFitJob::new(schema, 1.0, 1e-9)
///     .max_trusts_per_person(Some(1))
///     .run(&trusts)?;
/// assert_eq!(fitted.fit.model.method, "mst (federated)");
/// assert_eq!(fitted.rounds.len(), 3);
/// let rows = fitted.fit.model.sample_table(100, 7)?;
/// assert_eq!(rows.n_rows(), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FederatedFitJob {
    fit: FitJob,
    schema: Schema,
    protocol: Protocol,
    threshold: Option<usize>,
    colluders: usize,
    max_rows_per_person: u32,
    max_trusts_per_person: Option<u32>,
    max_count: Option<u64>,
    seed: u64,
    alpha: f64,
}

/// One round of a federated fit, as the release panel reads it (no exact figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRound {
    /// `A` (1-ways), `B` (candidate pairs) or `C` (the tree's pairs).
    pub round: String,
    /// The release's label (as in the ledger).
    pub label: String,
    /// Tables summed.
    pub tables: usize,
    /// rho charged (zCDP).
    pub rho: f64,
    /// Each protocol round (one, or several when the tables pass one round's cells).
    pub reports: Vec<RoundReport>,
}

/// What a [`FederatedFitJob`] returns: the fit (model file and warnings), and its rounds.
#[derive(Debug, Clone)]
pub struct FederatedFitOutcome {
    /// The model and warnings, as [`FitJob::run`] returns them.
    pub fit: FitOutcome,
    /// The rounds, in order.
    pub rounds: Vec<FitRound>,
}

/// One trust's synthesis columns of its kept rows: exact, never leaving the trust.
struct TrustColumns {
    table: EncodedTable,
    bounded: Bounded,
    unit: PrivacyUnit,
    warnings: Vec<Warning>,
}

impl FederatedFitJob {
    /// MST at (epsilon, delta) over trusts whose tables follow the declared `schema`
    /// (required: an inferred schema would differ from trust to trust), by secure
    /// aggregation, one row a person at each trust.
    pub fn new(schema: Schema, epsilon: f64, delta: f64) -> FederatedFitJob {
        let empty = std::sync::Arc::new(arrow_schema::Schema::empty());
        let source = TableSource::batches("(the federation)", empty, Vec::new());
        FederatedFitJob {
            fit: FitJob::new(source, epsilon, delta).schema(schema.clone()),
            schema,
            protocol: Protocol::SecAgg,
            threshold: None,
            colluders: 0,
            max_rows_per_person: 1,
            max_trusts_per_person: None,
            max_count: None,
            seed: 0,
            alpha: 0.05,
        }
    }

    /// The front doors' fit settings ([`FitJob::settings`]: the one mapping onto MST).
    pub fn settings(mut self, s: &FitSettings) -> FederatedFitJob {
        self.fit = self.fit.settings(s);
        self
    }

    /// MST's options, to change in place (epsilon and delta included).
    pub fn options_mut(&mut self) -> &mut crate::MstOptions {
        self.fit.options_mut()
    }

    /// Integer, date and datetime columns with more codes than this are binned or coarsened.
    pub fn max_values(mut self, max_values: u32) -> FederatedFitJob {
        self.fit = self.fit.max_values(max_values);
        self
    }

    /// Charge the fit's (epsilon, delta) to the persistent budget file before any round.
    pub fn budget(mut self, path: Option<std::path::PathBuf>) -> FederatedFitJob {
        self.fit = self.fit.budget(path);
        self
    }

    /// Progress and stop requests (rows read per trust, then each round).
    pub fn progress(mut self, progress: pets::progress::Progress) -> FederatedFitJob {
        self.fit = self.fit.progress(progress);
        self
    }

    /// The protocol of every round.
    pub fn protocol(mut self, protocol: Protocol) -> FederatedFitJob {
        self.protocol = protocol;
        self
    }

    /// Secure aggregation: trusts that must survive every stage (`None`: a strict majority).
    pub fn threshold(mut self, threshold: Option<usize>) -> FederatedFitJob {
        self.threshold = threshold;
        self
    }

    /// Secure aggregation: trusts that may collude with the aggregator.
    pub fn colluders(mut self, colluders: usize) -> FederatedFitJob {
        self.colluders = colluders;
        self
    }

    /// Rows kept per person at each trust that gives a person id (`TrustInput::person_id`).
    pub fn max_rows_per_person(mut self, m: u32) -> FederatedFitJob {
        self.max_rows_per_person = m;
        self
    }

    /// Trusts one person may attend (public; `None`: 1, announced).
    pub fn max_trusts_per_person(mut self, t: Option<u32>) -> FederatedFitJob {
        self.max_trusts_per_person = t;
        self
    }

    /// Prio3's bound on one trust's (weighted) cell.
    pub fn max_count(mut self, max_count: Option<u64>) -> FederatedFitJob {
        self.max_count = max_count;
        self
    }

    /// Seed of each trust's choice of kept rows (data processing, not noise).
    pub fn seed(mut self, seed: u64) -> FederatedFitJob {
        self.seed = seed;
        self
    }

    /// Significance of the rounds' accuracy statements.
    pub fn alpha(mut self, alpha: f64) -> FederatedFitJob {
        self.alpha = alpha;
        self
    }

    /// A round's job over `spec` at `rho`, with the fit's federation options.
    fn round_job(&self, spec: VectorSpec, rho: f64) -> FederatedJob {
        FederatedJob::for_vector(spec)
            .protocol(self.protocol)
            .share(Cost::rho(rho))
            .threshold_opt(self.threshold)
            .colluders(self.colluders)
            .max_rows_per_person(self.max_rows_per_person)
            .max_trusts_per_person_opt(self.max_trusts_per_person)
            .max_count_opt(self.max_count)
            .alpha(self.alpha)
            .seed(self.seed)
    }

    /// Fit over `trusts` (module docs). Options, trusts and schemas are checked before any
    /// row is read; every trust's table is read and bounded before anything is charged.
    pub fn run(&self, trusts: &[TrustInput]) -> Result<FederatedFitOutcome> {
        let opts = self.fit.mst_options().clone();
        let rho = crate::mst::cdp_rho(opts.epsilon, opts.delta)?;
        // The round options and the trusts (2 to 255, distinct names, threshold) first.
        let probe = VectorSpec::counts("mst (federated)", Vec::new(), vec![count_table("", 1, 1)])?;
        let names: Vec<&str> = trusts.iter().map(|t| t.name.as_str()).collect();
        let session = Session::zcdp(rho)?.with_conversion_delta(opts.delta)?;
        self.round_job(probe.clone(), rho)
            .check_trusts(&session, &names)?;
        if self.max_rows_per_person == 0 {
            return Err(SynthError::invalid(
                "max_rows_per_person",
                0,
                "it must be at least 1",
            ));
        }
        // The job's plan, on the first trust's table (its Arrow types type the sample; the
        // synthesis domain depends on the schema only).
        let mut plan = self
            .fit
            .clone()
            .with_source(trusts[0].source.clone())
            .plan()
            .map_err(|e| trust_error(&trusts[0].name, e))?;
        if let Some(w) = plan
            .warnings
            .iter()
            .find(|w| w.kind == WarningKind::DomainFromData)
        {
            return Err(SynthError::invalid(
                "schema",
                w.column.clone().unwrap_or_default(),
                "a domain read from the data would differ from trust to trust: declare its \
                 values and ranges",
            ));
        }
        let read: Vec<String> = plan
            .domain
            .encode
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let fingerprint = columns_fingerprint(&self.schema, &read)?;
        for t in trusts {
            if let Some(s) = &t.schema {
                let theirs = columns_fingerprint(s, &read).unwrap_or_else(|_| "missing".into());
                self.round_job(probe.clone(), rho).check_trust_schema(
                    &fingerprint,
                    &t.name,
                    &theirs,
                )?;
            }
        }

        // Each trust reads and bounds its own rows (on its own machine in a deployment).
        let started = Instant::now();
        let locals: Vec<TrustColumns> = trusts
            .iter()
            .map(|t| self.read_trust(t).map_err(|e| trust_error(&t.name, e)))
            .collect::<Result<_>>()?;
        let local_seconds = started.elapsed().as_secs_f64();
        let owned: Vec<Vec<Cow<'_, EncodedColumn>>> = locals
            .iter()
            .zip(trusts)
            .map(|(l, t)| {
                crate::mst::synthesis_columns(&l.table, &[], &l.bounded)
                    .map_err(|e| trust_error(&t.name, e))
            })
            .collect::<Result<_>>()?;
        let cols: Vec<Vec<&EncodedColumn>> = owned
            .iter()
            .map(|c| c.iter().map(|c| c.as_ref()).collect())
            .collect();
        for w in locals.iter().flat_map(|l| &l.warnings) {
            if !plan.warnings.contains(w) {
                plan.warnings.push(w.clone());
            }
        }

        // Round A holds one table per column: refuse, before anything is charged, a column
        // whose 1-way alone passes one round (the schema's figure; pairs are capped below).
        if let Some(c) = cols[0]
            .iter()
            .find(|c| c.codebook.cardinality() as usize > MAX_FEDERATED_CELLS)
        {
            return Err(SynthError::invalid(
                "columns",
                c.name(),
                format!(
                    "{} codes, more than the {MAX_FEDERATED_CELLS} cells one federated round \
                     carries; bin or coarsen it in the schema (or lower max_values)",
                    c.codebook.cardinality()
                ),
            ));
        }
        // Every data-dependent check is done: the persistent budget, then the rounds.
        let receipt = self.fit.charge_as(
            "pets federated fit (MST)",
            trusts
                .iter()
                .map(|t| format!("{}: {}", t.name, t.source.describe()))
                .collect::<Vec<_>>()
                .join("; "),
        )?;
        let mut fitted = self.fit_rounds(session, trusts, &locals, &cols, &opts)?;
        for r in &mut fitted.1 {
            for rep in &mut r.reports {
                rep.local_seconds = local_seconds;
            }
        }
        let (model, rounds) = fitted;
        let fit = self.fit.finish(plan, model, receipt)?;
        Ok(FederatedFitOutcome { fit, rounds })
    }

    /// One trust's table, encoded on the synthesis domain, bounded and derived.
    fn read_trust(&self, t: &TrustInput) -> Result<TrustColumns> {
        let fit = self.fit.clone().with_source(t.source.clone());
        let fit = match &t.person_id {
            Some(id) => fit.person_id(id.clone(), self.max_rows_per_person),
            None => fit.person_id_opt(None, 1),
        };
        let mut plan = fit.plan()?;
        let before = plan.warnings.len();
        let (table, bounded) = fit.read_bounded(&mut plan)?;
        Ok(TrustColumns {
            table,
            bounded,
            unit: if t.person_id.is_some() {
                PrivacyUnit::Person
            } else {
                PrivacyUnit::Row
            },
            warnings: plan.warnings.split_off(before),
        })
    }

    /// Rounds A, B and C and inference (module docs).
    fn fit_rounds(
        &self,
        mut session: Session,
        trusts: &[TrustInput],
        locals: &[TrustColumns],
        cols: &[Vec<&EncodedColumn>],
        opts: &crate::MstOptions,
    ) -> Result<(crate::SynthModel, Vec<FitRound>)> {
        let progress = self.fit.observer();
        progress.check()?;
        progress.stage("measuring", None, "rounds");
        let first = &cols[0];
        let names: Vec<String> = first.iter().map(|c| c.name().to_string()).collect();
        let cards: Vec<u32> = first.iter().map(|c| c.codebook.cardinality()).collect();
        let budget = MstBudget::new(&cards, opts)?;
        let d = names.len();
        let mut rounds = Vec::new();
        let round_trusts = |values: Vec<Vec<i64>>, layout: &[TableLayout]| -> Vec<LocalAggregate> {
            values
                .into_iter()
                .zip(locals)
                .map(|(values, l)| LocalAggregate {
                    layout: layout.to_vec(),
                    values,
                    unit: l.unit,
                    warnings: l.warnings.clone(),
                })
                .collect()
        };

        // Round A: every 1-way, weighted by MST's shares of rho1.
        let one_weights = weights(&shares(
            &cards.iter().map(|&k| u64::from(k)).collect::<Vec<_>>(),
            opts.size_weighted_shares,
            ONE_WAY_SHARE_CAP,
        ));
        let layout: Vec<TableLayout> = names
            .iter()
            .zip(&cards)
            .zip(&one_weights)
            .map(|((n, &k), &w)| count_table(n, k as usize, w))
            .collect();
        let vectors: Vec<Vec<i64>> = cols
            .iter()
            .map(|c| one_way_vector(c, &one_weights))
            .collect();
        let label = format!("{FEDERATED_MST}: round A, 1-way marginals of {d} columns");
        let a = self.run_round(
            &mut session,
            trusts,
            &label,
            &names,
            &layout,
            round_trusts(vectors, &layout),
            budget.rho1,
        )?;
        let mut measurements: Vec<NoisyMarginal> = Vec::with_capacity(d);
        let mut compression: Vec<Compression> = Vec::with_capacity(d);
        for (i, (cells, var)) in a.tables.iter().enumerate() {
            let w = one_weights[i] as f64;
            let noisy: Vec<f64> = cells.iter().map(|&v| v as f64 / w).collect();
            let (m, c) = one_way_from_noisy(
                &names[i],
                i,
                cards[i],
                &noisy,
                var.sqrt() / w,
                opts.compress,
            );
            measurements.push(m);
            compression.push(c);
        }
        rounds.push(a.summary("A", &label, d));
        let sizes: Vec<usize> = compression.iter().map(Compression::size).collect();
        let maps: Vec<Vec<u32>> = compression.iter().map(Compression::forward_map).collect();

        // Round B: every candidate pair on compressed codes; the tree from the noisy tables.
        // A pair table must fit one round (pets caps MST's pairs at 2^22 cells, a little
        // above a round's 4e6).
        let max_pair_cells = opts.max_pair_cells.min(MAX_FEDERATED_CELLS as u64);
        let candidates = budget.candidates(&sizes, max_pair_cells);
        let mut selected: Vec<(usize, usize)> = Vec::new();
        let mut tree_b: Vec<NoisyMarginal> = Vec::new();
        if budget.rounds > 0 && !candidates.is_empty() {
            let ones = vec![1u64; candidates.len()];
            let layout = pair_layout(&names, &candidates, &sizes, &ones);
            let vectors = cols
                .iter()
                .map(|c| pair_vector(c, &candidates, &maps, &sizes, &ones))
                .collect::<Result<Vec<_>>>()?;
            let label = format!(
                "{FEDERATED_MST}: round B, 2-way marginals of {} candidate pairs (compressed), \
                 to choose the tree",
                candidates.len()
            );
            let b = self.run_round(
                &mut session,
                trusts,
                &label,
                &names,
                &layout,
                round_trusts(vectors, &layout),
                budget.rho_sel,
            )?;
            let one_way: Vec<Measurement> =
                measurements.iter().map(|m| m.measurement.clone()).collect();
            let total = estimate_total(&one_way);
            let probs: Vec<Vec<f64>> = one_way.iter().map(independent_probs).collect();
            let scores: Vec<f64> = candidates
                .iter()
                .zip(&b.tables)
                .map(|(&(x, y), (cells, var))| {
                    let noisy: Vec<f64> = cells.iter().map(|&v| v as f64).collect();
                    noisy_pair_score(
                        &noisy,
                        &probs[x],
                        &probs[y],
                        total,
                        var.sqrt(),
                        opts.score_threshold,
                    )
                })
                .collect();
            let tree = max_spanning_tree(d, &candidates, &scores, budget.rounds);
            for &k in &tree {
                let (x, y) = candidates[k];
                let (cells, var) = &b.tables[k];
                tree_b.push(pair_measurement(
                    &names,
                    x,
                    y,
                    cells.iter().map(|&v| v as f64).collect(),
                    var.sqrt(),
                ));
                selected.push((x, y));
            }
            rounds.push(b.summary("B", &label, candidates.len()));
        }

        // Round C: the tree's pairs, weighted by MST's shares of rho2.
        if !selected.is_empty() {
            let pw = weights(&pair_shares(&selected, &sizes, opts.size_weighted_shares));
            let layout = pair_layout(&names, &selected, &sizes, &pw);
            let vectors = cols
                .iter()
                .map(|c| pair_vector(c, &selected, &maps, &sizes, &pw))
                .collect::<Result<Vec<_>>>()?;
            let label = format!(
                "{FEDERATED_MST}: round C, 2-way marginals of the tree's {} pairs",
                selected.len()
            );
            let c = self.run_round(
                &mut session,
                trusts,
                &label,
                &names,
                &layout,
                round_trusts(vectors, &layout),
                budget.rho2,
            )?;
            for (k, &(x, y)) in selected.iter().enumerate() {
                let (cells, var) = &c.tables[k];
                let w = pw[k] as f64;
                measurements.push(pair_measurement(
                    &names,
                    x,
                    y,
                    cells.iter().map(|&v| v as f64 / w).collect(),
                    var.sqrt() / w,
                ));
            }
            rounds.push(c.summary("C", &label, selected.len()));
        }
        measurements.extend(tree_b);

        let mut model = assemble_mst(
            FEDERATED_MST,
            &locals[0].table,
            first,
            opts,
            budget.rho,
            compression,
            measurements,
            &selected,
            session.ledger(),
            progress,
        )?;
        model.notes.push(format!(
            "{FEDERATED_MST}: fitted over {} trusts without pooling rows, by {:?}; rounds {}",
            trusts.len(),
            self.protocol,
            rounds
                .iter()
                .map(|r| format!(
                    "{} ({} tables, rho {:.6}, counted {})",
                    r.round,
                    r.tables,
                    r.rho,
                    r.reports.first().map_or(0, |rep| rep.counted.len())
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
        Ok((model, rounds))
    }

    /// One round of the fit over `layout` at `rho`, in as many protocol rounds as its cells
    /// need ([`MAX_FEDERATED_CELLS`] each; each part's share of `rho` in proportion to its
    /// tables' squared weights, so every part has the same noise scale).
    #[allow(clippy::too_many_arguments)]
    fn run_round(
        &self,
        session: &mut Session,
        trusts: &[TrustInput],
        label: &str,
        columns: &[String],
        layout: &[TableLayout],
        locals: Vec<LocalAggregate>,
        rho: f64,
    ) -> Result<RoundTables> {
        self.fit.observer().check()?;
        let parts = chunks(layout);
        let total_w: f64 = layout.iter().map(|t| (t.weight as f64).powi(2)).sum();
        let mut out = RoundTables {
            tables: Vec::with_capacity(layout.len()),
            reports: Vec::new(),
            rho: 0.0,
        };
        for (p, range) in parts.iter().enumerate() {
            let part_layout = layout[range.clone()].to_vec();
            let (lo, hi) = cell_range(layout, range);
            let w: f64 = part_layout.iter().map(|t| (t.weight as f64).powi(2)).sum();
            let share = if parts.len() == 1 {
                rho.next_down()
            } else {
                (rho * (w / total_w)).next_down().next_down()
            };
            let part_label = if parts.len() == 1 {
                label.to_string()
            } else {
                format!("{label} (part {} of {})", p + 1, parts.len())
            };
            let spec = VectorSpec::counts(part_label, columns.to_vec(), part_layout.clone())?;
            let part_locals: Vec<LocalAggregate> = locals
                .iter()
                .map(|l| LocalAggregate {
                    layout: part_layout.clone(),
                    values: l.values[lo..hi].to_vec(),
                    unit: l.unit,
                    warnings: l.warnings.clone(),
                })
                .collect();
            let release = self
                .round_job(spec, share)
                .run_vectors(session, trusts, &part_locals)?;
            out.absorb(&part_layout, &release);
        }
        Ok(out)
    }
}

/// A round's released tables: each table's noisy (weighted) cells and the noise variance
/// of each cell, in the weighted units.
struct RoundTables {
    tables: Vec<(Vec<i64>, f64)>,
    reports: Vec<RoundReport>,
    rho: f64,
}

impl RoundTables {
    fn absorb(&mut self, layout: &[TableLayout], release: &FederatedRelease) {
        let var = release.noise_variance();
        let mut at = 0;
        for t in layout {
            let n = t.cells();
            self.tables.push((release.sums[at..at + n].to_vec(), var));
            at += n;
        }
        self.reports.push(release.round.clone());
        self.rho += release.cost.main();
    }

    fn summary(&self, round: &str, label: &str, tables: usize) -> FitRound {
        FitRound {
            round: round.into(),
            label: label.into(),
            tables,
            rho: self.rho,
            reports: self.reports.clone(),
        }
    }
}

/// Consecutive runs of tables of at most [`MAX_FEDERATED_CELLS`] cells (a table larger
/// than that is a run of its own, refused by the round with a typed error).
fn chunks(layout: &[TableLayout]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut cells) = (0, 0usize);
    for (i, t) in layout.iter().enumerate() {
        let n = t.cells();
        if i > start && cells + n > MAX_FEDERATED_CELLS {
            out.push(start..i);
            start = i;
            cells = 0;
        }
        cells += n;
    }
    out.push(start..layout.len());
    out
}

fn cell_range(layout: &[TableLayout], range: &std::ops::Range<usize>) -> (usize, usize) {
    let lo: usize = layout[..range.start].iter().map(TableLayout::cells).sum();
    let n: usize = layout[range.clone()].iter().map(TableLayout::cells).sum();
    (lo, lo + n)
}

fn trust_error(trust: &str, e: SynthError) -> SynthError {
    match e {
        // Errors of the federation itself (budget, options) keep their own form.
        SynthError::Invalid { .. } | SynthError::Federated(_) | SynthError::Budget(_) => e,
        other => SynthError::Trust {
            trust: trust.to_string(),
            source: Box::new(other),
        },
    }
}

/// A count table over `name` of `cells` codes, weighted `weight`, without labels.
fn count_table(name: &str, cells: usize, weight: u64) -> TableLayout {
    TableLayout {
        dimensions: if name.is_empty() {
            Vec::new()
        } else {
            vec![name.to_string()]
        },
        labels: Vec::new(),
        shape: vec![cells],
        weight,
        value: None,
    }
}

fn pair_layout(
    names: &[String],
    pairs: &[(usize, usize)],
    sizes: &[usize],
    weights: &[u64],
) -> Vec<TableLayout> {
    pairs
        .iter()
        .zip(weights)
        .map(|(&(a, b), &w)| TableLayout {
            dimensions: vec![names[a].clone(), names[b].clone()],
            labels: Vec::new(),
            shape: vec![sizes[a], sizes[b]],
            weight: w,
            value: None,
        })
        .collect()
}

fn pair_measurement(
    names: &[String],
    a: usize,
    b: usize,
    values: Vec<f64>,
    sigma: f64,
) -> NoisyMarginal {
    NoisyMarginal {
        columns: vec![names[a].clone(), names[b].clone()],
        measurement: Measurement {
            attrs: vec![a, b],
            values,
            sigma,
            scale: None,
        },
    }
}

/// Integer weights of tables whose noise should follow `shares` of a budget: a table's
/// effective variance is the round's over its weight squared, so `w ~ sqrt(share)` gives
/// each its share; `round(16 sqrt(share / max))`, at least 1; all 1 when the shares are
/// equal.
pub(crate) fn weights(shares: &[f64]) -> Vec<u64> {
    let max = shares.iter().copied().fold(0.0f64, f64::max);
    if shares.iter().all(|&s| s == max) || max <= 0.0 {
        return vec![1; shares.len()];
    }
    shares
        .iter()
        .map(|&s| ((WEIGHT_SCALE * (s / max).sqrt()).round() as u64).max(1))
        .collect()
}

/// One trust's round-A vector: each column's 1-way counts by declared code, times its
/// weight, concatenated.
pub(crate) fn one_way_vector(cols: &[&EncodedColumn], weights: &[u64]) -> Vec<i64> {
    let rows = Rows(cols);
    let mut out = Vec::new();
    for (i, &w) in weights.iter().enumerate() {
        out.extend(rows.one_way(i).iter().map(|&c| weighted(c, w)));
    }
    out
}

/// One trust's round-B or round-C vector: each pair's counts on compressed codes
/// (`maps`, `sizes`), times its weight, concatenated.
pub(crate) fn pair_vector(
    cols: &[&EncodedColumn],
    pairs: &[(usize, usize)],
    maps: &[Vec<u32>],
    sizes: &[usize],
    weights: &[u64],
) -> Result<Vec<i64>> {
    let rows = Rows(cols);
    let mut out = Vec::new();
    for (&(a, b), &w) in pairs.iter().zip(weights) {
        out.extend(
            rows.pair(a, b, maps, sizes)?
                .iter()
                .map(|&c| weighted(c, w)),
        );
    }
    Ok(out)
}

/// `c w`, saturated (the round refuses a cell past the ring's safe range, naming the trust).
fn weighted(c: u64, w: u64) -> i64 {
    i64::try_from(u128::from(c) * u128::from(w)).unwrap_or(i64::MAX)
}

/// `E[max(|Z| - t, 0)^p]` for `Z ~ N(0, 1)`: `2 integral_t^inf (z - t)^p phi(z) dz`, by
/// Simpson's rule over `[t, t + 12]` (the tail beyond is below `1e-30`). A public number.
fn excess_moment(t: f64, p: i32) -> f64 {
    let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let n = 2_000;
    let h = 12.0 / n as f64;
    let f = |k: usize| {
        let z = t + k as f64 * h;
        (z - t).powi(p) * phi(z)
    };
    let mut s = f(0) + f(n);
    for k in 1..n {
        s += if k % 2 == 1 { 4.0 } else { 2.0 } * f(k);
    }
    2.0 * s * h / 3.0
}

/// `E[max(|Z| - t, 0)]` for `Z ~ N(0, 1)` (the noise floor of one cell's score, in sigmas).
pub(crate) fn excess_over_threshold(t: f64) -> f64 {
    excess_moment(t, 1)
}

/// The standard deviation of `max(|Z| - t, 0)` for `Z ~ N(0, 1)`.
pub(crate) fn excess_sd(t: f64) -> f64 {
    (excess_moment(t, 2) - excess_moment(t, 1).powi(2))
        .max(0.0)
        .sqrt()
}

/// Standard deviations of the pure-noise score subtracted from every pair's score.
pub const NOISE_SD_MARGIN: f64 = 2.0;

/// The selection score of a pair from its **noisy** table `y` (noise of standard deviation
/// `sigma` a cell): MST's soft-thresholded distance from the independent estimate,
/// `sum_i max(|y_i - N p_a q_b| - t sigma, 0)`, minus what pure noise scores on average,
/// `c sigma E[max(|Z| - t, 0)]` over its `c` cells, minus [`NOISE_SD_MARGIN`] standard
/// deviations of that pure-noise score, `2 sigma sqrt(c Var[max(|Z| - t, 0)])`: a lower
/// confidence bound on the signal. Without the floor a large table of pure noise would
/// outscore a small, strongly dependent one; without the margin a large table's noisier
/// score would still win the maximum by its spread (on 100k A&E rows the tree took six
/// postcode-district pairs). Post-processing of released tables (no budget).
pub fn noisy_pair_score(y: &[f64], pa: &[f64], pb: &[f64], total: f64, sigma: f64, t: f64) -> f64 {
    let tau = t * sigma;
    let mut s = 0.0;
    for (i, &p) in pa.iter().enumerate() {
        for (j, &q) in pb.iter().enumerate() {
            s += ((y[i * pb.len() + j] - total * p * q).abs() - tau).max(0.0);
        }
    }
    let c = y.len() as f64;
    s - c * sigma * excess_over_threshold(t) - NOISE_SD_MARGIN * sigma * (c.sqrt() * excess_sd(t))
}

/// A maximum spanning tree (forest) of `d` columns over `pairs` by `scores` (Kruskal: best
/// first, ties by index; at most `rounds` edges): the indices of the chosen pairs.
pub(crate) fn max_spanning_tree(
    d: usize,
    pairs: &[(usize, usize)],
    scores: &[f64],
    rounds: usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]).then(i.cmp(&j)));
    let mut parent: Vec<usize> = (0..d).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut out = Vec::new();
    for k in order {
        if out.len() == rounds {
            break;
        }
        let (a, b) = pairs[k];
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra] = rb;
            out.push(k);
        }
    }
    out
}

#[cfg(test)]
mod tests;
