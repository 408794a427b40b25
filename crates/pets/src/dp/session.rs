//! A privacy session: a budget, the ledger, and the one way to draw noise.
//!
//! [`Session::release`] runs a [`Mechanism`] in a fixed order: compute its cost from
//! OpenDP's privacy map, **charge the budget** (refusing, with nothing drawn, if it does not
//! fit), then draw the noise, then write the ledger entry. Queries, synthetic-data
//! measurement and federated aggregation all release through a session.
//!
//! Parallel composition: [`Session::parallel`] charges once for releases on disjoint parts
//! of the data (`min(parts, parts_per_person)` times the per-part budget, up front) and
//! hands out one child session per part with that per-part budget.

use std::collections::BTreeMap;

use crate::dp::accuracy::{Accuracy, DEFAULT_ALPHA, check_alpha};
use crate::dp::budget::{Accountant, Cost, PrivacyMeasure};
use crate::dp::error::{DpError, Result, check_delta};
use crate::dp::ledger::{ApproxDp, Contribution, Ledger, LedgerEntry, ParallelPart, QueryRecord};
use crate::dp::mechanisms::{Charged, Mechanism, MechanismInfo, Sensitivity};

/// Default delta at which zCDP spending is reported as (epsilon, delta)-DP.
pub const DEFAULT_CONVERSION_DELTA: f64 = 1e-7;

/// A released value with what it cost and how accurate it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Release<T> {
    /// The value.
    pub value: T,
    /// Cost in the mechanism's measure.
    pub cost: Cost,
    /// Charged to the session, in its measure.
    pub charged: Cost,
    /// Accuracy of each released value at the session's alpha.
    pub accuracy: Option<Accuracy>,
    /// Its ledger entry.
    pub ledger_index: usize,
}

/// A privacy session. Deliberately not `Clone`: a copy would be a second budget.
#[derive(Debug)]
pub struct Session {
    accountant: Accountant,
    entries: Vec<LedgerEntry>,
    alpha: f64,
    conversion_delta: f64,
}

impl Session {
    /// A session that may spend `total`.
    pub fn new(total: Cost) -> Result<Session> {
        Ok(Session {
            accountant: Accountant::new(total)?,
            entries: Vec::new(),
            alpha: DEFAULT_ALPHA,
            conversion_delta: DEFAULT_CONVERSION_DELTA,
        })
    }

    /// A pure epsilon-DP session.
    pub fn pure(epsilon: f64) -> Result<Session> {
        Session::new(Cost::epsilon(epsilon))
    }

    /// A rho-zCDP session.
    pub fn zcdp(rho: f64) -> Result<Session> {
        Session::new(Cost::rho(rho))
    }

    /// Report accuracy at significance `alpha` (default 0.05: 95% intervals).
    pub fn with_alpha(mut self, alpha: f64) -> Result<Session> {
        check_alpha(alpha)?;
        self.alpha = alpha;
        Ok(self)
    }

    /// Delta used to report zCDP spending as (epsilon, delta)-DP (default 1e-7).
    pub fn with_conversion_delta(mut self, delta: f64) -> Result<Session> {
        check_delta("conversion delta", delta)?;
        if delta == 0.0 {
            return Err(DpError::invalid(
                "conversion delta",
                delta,
                "zCDP converts to (epsilon, delta) only for delta > 0",
            ));
        }
        self.conversion_delta = delta;
        Ok(self)
    }

    /// Significance of reported intervals.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The budget's measure.
    pub fn measure(&self) -> PrivacyMeasure {
        self.accountant.measure()
    }

    /// Charge this session's whole total to the dataset's persistent budget file at `path`
    /// ([`crate::dp::budget_store`]), before it releases anything: an interactive session
    /// (Python's `pets.dp.Session(budget=...)`) is paid for when it opens. Refused, with
    /// nothing charged, once the session has released (the file would learn of the spending
    /// after the fact).
    pub fn charge_budget_file(
        &self,
        path: &std::path::Path,
        record: &crate::dp::budget_store::ChargeRecord,
    ) -> Result<crate::dp::budget_store::ChargeReceipt> {
        if !self.entries().is_empty() {
            return Err(DpError::query(
                "charging a budget file",
                "this session has already released; charge the file when the session opens",
            ));
        }
        Ok(crate::dp::budget_store::BudgetStore::open(path)?.charge(&self.total(), record)?)
    }

    /// Total budget.
    pub fn total(&self) -> Cost {
        self.accountant.total()
    }

    /// Spent so far (rounded up).
    pub fn spent(&self) -> Cost {
        self.accountant.spent()
    }

    /// Left (rounded down).
    pub fn remaining(&self) -> Cost {
        self.accountant.remaining()
    }

    /// The accountant.
    pub fn accountant(&self) -> &Accountant {
        &self.accountant
    }

    /// Check `share` could be spent in this session now (valid, right measure, fits).
    pub fn check_share(&self, query: &str, share: &Cost) -> Result<()> {
        share.validate()?;
        self.accountant.convert(share, query)?;
        if !self.accountant.fits(share) {
            return Err(DpError::OverBudget {
                query: query.to_string(),
                requested: self.accountant.convert(share, query)?,
                remaining: self.remaining(),
                spent: self.spent(),
                total: self.total(),
            });
        }
        Ok(())
    }

    /// Release `mechanism` on `input`: charge its cost, then draw, then log.
    pub fn release<M: Mechanism>(
        &mut self,
        mechanism: &M,
        input: &M::Input,
        record: QueryRecord,
    ) -> Result<Release<M::Output>> {
        let cost = mechanism.cost()?;
        let accuracy = mechanism.accuracy(self.alpha)?;
        let info = mechanism.info();
        let charged = self.accountant.charge(&record.query, &cost)?;
        let value = mechanism.sample(input, &Charged::new())?;
        let index = self.entries.len();
        self.entries.push(LedgerEntry {
            index,
            query: record.query,
            columns: record.columns,
            mechanism: info,
            cost,
            charged,
            contribution: record.contribution,
            accuracy: accuracy.clone(),
            warnings: record.warnings,
            parallel: None,
        });
        Ok(Release {
            value,
            cost,
            charged,
            accuracy,
            ledger_index: index,
        })
    }

    /// Charge and log a release whose noise other parties draw (federated aggregation:
    /// each trust or aggregator adds its share after this returns). The cost is the
    /// mechanism's own bound (see `crate::federated::noise`); the ledger entry is the same
    /// as for a local release. Returns the ledger index.
    #[cfg(feature = "federated")]
    pub(crate) fn charge_distributed(
        &mut self,
        mechanism: crate::dp::mechanisms::MechanismInfo,
        cost: Cost,
        accuracy: Option<crate::dp::Accuracy>,
        record: QueryRecord,
    ) -> Result<usize> {
        let charged = self.accountant.charge(&record.query, &cost)?;
        let index = self.entries.len();
        self.entries.push(LedgerEntry {
            index,
            query: record.query,
            columns: record.columns,
            mechanism,
            cost,
            charged,
            contribution: record.contribution,
            accuracy,
            warnings: record.warnings,
            parallel: None,
        });
        Ok(index)
    }

    /// Account, in this session, a federated round charged by another party of the same
    /// run: the network aggregator charges each round of a multi-round job (a federated
    /// fit) in a session of its own, and the coordinator that runs the rounds in turn
    /// composes them here, so that its ledger holds every round as a single-process run's
    /// would and a round past the run's budget is refused. The entry's cost is charged
    /// again to this session's accountant (adaptive composition: costs add); its index
    /// becomes this ledger's. Returns the new index.
    #[cfg(feature = "federated")]
    pub fn account_round(&mut self, entry: &LedgerEntry) -> Result<usize> {
        let charged = self.accountant.charge(&entry.query, &entry.cost)?;
        let index = self.entries.len();
        self.entries.push(LedgerEntry {
            index,
            charged,
            parallel: None,
            ..entry.clone()
        });
        Ok(index)
    }

    /// Open a parallel composition: `parts` disjoint parts of the data, each to be queried
    /// within `per_part`, where one person's rows fall in at most `parts_per_person` parts
    /// (1 when parts split people; the contribution bound when they split rows). Charges
    /// `min(parts, parts_per_person) * per_part` now.
    pub fn parallel(
        &mut self,
        query: &str,
        per_part: Cost,
        parts: u64,
        parts_per_person: u64,
        contribution: Contribution,
    ) -> Result<ParallelScope<'_>> {
        per_part.validate_total()?;
        let charged = self
            .accountant
            .charge_parallel(query, &per_part, parts, parts_per_person)?;
        let index = self.entries.len();
        self.entries.push(LedgerEntry {
            index,
            query: format!("parallel composition: {query}"),
            columns: Vec::new(),
            mechanism: MechanismInfo {
                name: "parallel_composition".into(),
                noise: None,
                scale: 0.0,
                sensitivity: Sensitivity::new("parts_per_person", parts_per_person as f64),
                reference: "McSherry 2009 (PINQ)".into(),
            },
            cost: per_part,
            charged,
            contribution,
            accuracy: None,
            warnings: vec![format!(
                "{parts} parts, each within {per_part}; a person is in at most \
                 {parts_per_person} of them"
            )],
            parallel: None,
        });
        Ok(ParallelScope {
            parent: self,
            charge_entry: index,
            per_part,
            max_parts: parts,
            parts: BTreeMap::new(),
        })
    }

    /// The ledger: budget figures and every release.
    pub fn ledger(&self) -> Ledger {
        let spent = self.spent();
        let spent_as_approx_dp =
            spent
                .to_approx_dp(self.conversion_delta)
                .ok()
                .map(|(epsilon, delta)| ApproxDp {
                    epsilon,
                    delta,
                    delta_for_conversion: match self.measure() {
                        PrivacyMeasure::Dp => 0.0,
                        PrivacyMeasure::Zcdp => self.conversion_delta,
                    },
                });
        Ledger {
            budget: self.total(),
            spent,
            remaining: self.remaining(),
            spent_as_approx_dp,
            entries: self.entries.clone(),
        }
    }

    /// The ledger entries.
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }
}

/// An open parallel composition (see [`Session::parallel`]). Releases made in its parts are
/// copied into the parent's ledger when it is dropped.
#[derive(Debug)]
pub struct ParallelScope<'a> {
    parent: &'a mut Session,
    charge_entry: usize,
    per_part: Cost,
    max_parts: u64,
    parts: BTreeMap<String, Session>,
}

impl ParallelScope<'_> {
    /// The session of part `name`, with the per-part budget. Refuses more parts than were
    /// declared (they were not paid for).
    pub fn part(&mut self, name: &str) -> Result<&mut Session> {
        if !self.parts.contains_key(name) {
            if self.parts.len() as u64 >= self.max_parts {
                return Err(DpError::query(
                    "parallel composition",
                    format!(
                        "part {name:?} would be part {} of a composition declared with {} parts",
                        self.parts.len() + 1,
                        self.max_parts
                    ),
                ));
            }
            let child = Session::new(self.per_part)?
                .with_alpha(self.parent.alpha)?
                .with_conversion_delta(self.parent.conversion_delta)?;
            self.parts.insert(name.to_string(), child);
        }
        Ok(self.parts.get_mut(name).expect("inserted above"))
    }
}

impl Drop for ParallelScope<'_> {
    fn drop(&mut self) {
        let zero = Cost::zero(self.parent.measure());
        for (name, child) in std::mem::take(&mut self.parts) {
            for mut e in child.entries {
                e.index = self.parent.entries.len();
                e.charged = zero;
                e.parallel = Some(ParallelPart {
                    charge_entry: self.charge_entry,
                    part: name.clone(),
                });
                self.parent.entries.push(e);
            }
        }
    }
}
