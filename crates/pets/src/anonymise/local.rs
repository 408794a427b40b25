//! Local recoding: ARX's iterative local transformation.
//!
//! The global optimum ([`super::search`]) applies one level per quasi-identifier to every
//! record and suppresses the classes that fail. With `local_recoding = N`, the records it
//! suppresses are anonymised again: a new search over just those records (their bottom
//! classes; the same models, hierarchies and loss measure, each column's loss tables
//! recounted over them), whose optimum releases the classes that pass among them; the
//! records it still suppresses go to the next iteration, up to `N` iterations or until an
//! iteration finds nothing to release. Each record is released under the transformation of
//! the iteration that kept it, so one column mixes levels (age `20-24` for some rows,
//! `20-39` for others).
//!
//! **Budget.** Every record an iteration searches over was already suppressed, and counted
//! within the suppression limit, by the global optimum; whatever an iteration suppresses
//! again is a subset of them. So each iteration may suppress all of its records (its limit is
//! the whole of what remains of the budget) and the release never suppresses more records
//! than the global optimum: it releases at least as many.
//!
//! **Why the release is verified as a whole.** `pets risk` forms classes by the released
//! labels, so a class released by one iteration merges with a class of another iteration
//! that has the same labels (the label tuples are compared as text, as `pets risk` reads
//! them). k-anonymity, the re-identification risk threshold and distinct l-diversity are
//! monotone under unions of passing classes (a union of classes of at least k records, each
//! with at least l distinct sensitive values, has both), so merged classes still pass them.
//! Entropy and recursive l-diversity, t-closeness, (alpha,k)-anonymity's shares,
//! beta-likeness and delta-disclosure are not guaranteed under unions, and t-closeness, beta
//! and delta compare each class with the distribution of the whole release, which every
//! iteration changes; the average-risk threshold is over the whole release too. So after
//! each iteration the whole release (the classes of every kept iteration, merged by label) is
//! assessed by the assessment `pets risk` runs ([`assess_classes`]); an iteration whose
//! records would make it fail is dropped (its records stay suppressed) and the iterations
//! stop. When the models need it, each iteration's candidates are also verified this way
//! inside its search, so the search itself steers to a node the whole release accepts.

use rustc_hash::FxHashSet;

use super::AnonymiseError;
use super::apply::{Step, Transformation, group_key};
use super::hierarchy::ColumnHierarchy;
use super::loss::{LossMeasure, LossModel};
use super::search::{BaseClasses, ClassRule, Lattice, NodeClasses, SearchLimits};
use crate::disclosure::{
    ClassColumn, ClassLayout, ClassView, EquivalenceClasses, RiskConfig, assess_classes,
};

/// Whether a class meets every per-class model of `rule`.
pub(crate) fn class_passes(rule: &ClassRule, c: &ClassView<'_>) -> bool {
    rule.size_passes(c.size)
        && (!rule.needs_sensitive()
            || rule.sensitive_passes(c.sensitive_codes, c.sensitive_counts, c.size))
}

/// The layout of classes recoded to the groups of `levels`: each quasi-identifier of `layout`
/// becomes a categorical column over its level's groups; the sensitive attribute is kept.
pub(crate) fn recoded_layout(
    layout: &ClassLayout,
    hierarchies: &[ColumnHierarchy],
    levels: &[usize],
) -> ClassLayout {
    let columns: Vec<ClassColumn> = layout
        .quasi_identifiers
        .iter()
        .zip(hierarchies)
        .zip(levels)
        .map(|((c, h), &l)| {
            let groups = h.levels[l].n_groups();
            ClassColumn {
                name: c.name.clone(),
                cardinality: groups,
                n_values: groups,
                ordered: c.ordered,
                kind: "categorical".into(),
            }
        })
        .collect();
    ClassLayout::new(columns, layout.sensitive.clone())
}

/// The classes recoded to the groups of `levels`.
pub(crate) fn recode(
    classes: &EquivalenceClasses,
    hierarchies: &[ColumnHierarchy],
    levels: &[usize],
) -> Result<EquivalenceClasses, AnonymiseError> {
    let columns = recoded_layout(classes.layout(), hierarchies, levels).quasi_identifiers;
    let maps: Vec<Vec<u32>> = hierarchies
        .iter()
        .zip(levels)
        .map(|(h, &l)| h.levels[l].map.clone())
        .collect();
    Ok(classes.recode(columns, &maps)?)
}

/// The step of the node at `levels` from its classes (every record reaches it): the keys of
/// its failing group combinations, as [`step_at`] over the bottom classes gives them.
pub(crate) fn step_of(
    node: &NodeClasses,
    hierarchies: &[ColumnHierarchy],
    levels: &[usize],
) -> Step {
    Step {
        levels: levels.to_vec(),
        suppressed: node
            .failing()
            .map(|t| group_key(hierarchies, levels, t))
            .collect(),
    }
}

/// The step of `levels` over `reaching` (the bottom classes of the records that reach it):
/// the keys of its failing group combinations.
pub(crate) fn step_at(
    reaching: &EquivalenceClasses,
    hierarchies: &[ColumnHierarchy],
    rule: &ClassRule,
    levels: &[usize],
) -> Result<Step, AnonymiseError> {
    let recoded = recode(reaching, hierarchies, levels)?;
    let suppressed: FxHashSet<u128> = recoded
        .iter()
        .filter(|c| !class_passes(rule, c))
        .map(|c| group_key(hierarchies, levels, c.codes()))
        .collect();
    Ok(Step {
        levels: levels.to_vec(),
        suppressed,
    })
}

/// The bottom classes of the records every step of `t` suppresses.
pub(crate) fn still_suppressed(
    base: &EquivalenceClasses,
    t: &Transformation<'_>,
) -> EquivalenceClasses {
    base.retain(|c| {
        let mut g = vec![0u32; t.hierarchies.len()];
        t.place(c.codes(), &mut g).is_none()
    })
}

/// The released classes of `t` over `base` (the bottom classes of every record), keyed by
/// released labels as `pets risk` reads them: classes of different steps with the same
/// labels are one class.
pub(crate) fn release_classes(
    base: &EquivalenceClasses,
    t: &Transformation<'_>,
) -> Result<EquivalenceClasses, AnonymiseError> {
    let columns: Vec<ClassColumn> = base
        .layout()
        .quasi_identifiers
        .iter()
        .enumerate()
        .map(|(j, c)| ClassColumn {
            name: c.name.clone(),
            cardinality: t.label_count(j),
            n_values: t.label_count(j),
            ordered: false,
            kind: "categorical".into(),
        })
        .collect();
    let layout =
        crate::disclosure::ClassLayout::new(columns.clone(), base.layout().sensitive.clone());
    let mut out = EquivalenceClasses::empty(layout);
    let width = t.hierarchies.len();
    for s in 0..t.steps.len() {
        let part = base.retain(|c| {
            let mut g = vec![0u32; width];
            t.place(c.codes(), &mut g) == Some(s)
        });
        let maps: Vec<Vec<u32>> = (0..width)
            .map(|j| {
                let level = &t.hierarchies[j].levels[t.steps[s].levels[j]];
                level.map.iter().map(|&g| t.label_id(j, s, g)).collect()
            })
            .collect();
        out.merge(part.recode(columns.clone(), &maps)?)?;
    }
    Ok(out)
}

/// One local recoding iteration's outcome.
#[derive(Debug, Clone)]
pub(crate) struct Iteration {
    pub levels: Vec<usize>,
    pub records_in: u64,
    pub records_released: u64,
    pub loss: f64,
    pub dropped: bool,
}

/// What the iterations search with.
pub(crate) struct LocalSearch<'a> {
    /// The bottom classes of every record, over the searched quasi-identifiers.
    pub base: &'a EquivalenceClasses,
    pub hierarchies: &'a [ColumnHierarchy],
    pub rule: &'a ClassRule,
    /// The configuration over the searched quasi-identifiers.
    pub config: &'a RiskConfig,
    pub measure: LossMeasure,
}

impl LocalSearch<'_> {
    /// `t` with a step at `levels` over `rest` (the records `t` suppresses), and how many of
    /// them it releases.
    fn extend<'h>(
        &self,
        t: &Transformation<'h>,
        rest: &EquivalenceClasses,
        levels: &[usize],
    ) -> Result<(Transformation<'h>, u64), AnonymiseError> {
        let mut candidate = t.clone();
        candidate
            .steps
            .push(step_at(rest, self.hierarchies, self.rule, levels)?);
        let released = rest.n_records() - still_suppressed(rest, &candidate).n_records();
        Ok((candidate, released))
    }

    /// Whether the release of `t` passes the models as `pets risk` assesses it.
    fn passes(&self, t: &Transformation<'_>) -> Result<bool, AnonymiseError> {
        let release = release_classes(self.base, t)?;
        Ok(release.n_records() > 0 && assess_classes(&release, self.config, None)?.passed)
    }

    /// Run up to `iterations` local recoding iterations after the steps already in `t` (the
    /// global optimum), adding each kept iteration's step to `t`.
    pub(crate) fn run(
        &self,
        t: &mut Transformation<'_>,
        iterations: usize,
    ) -> Result<Vec<Iteration>, AnonymiseError> {
        let mut out = Vec::new();
        for _ in 0..iterations {
            let rest = still_suppressed(self.base, t);
            let m = rest.n_records();
            if m == 0 {
                break;
            }
            let width = self.hierarchies.len();
            let mut counts: Vec<Vec<u64>> = self
                .hierarchies
                .iter()
                .map(|h| vec![0u64; h.levels[0].map.len()])
                .collect();
            for c in rest.iter() {
                for (j, &code) in c.codes().iter().enumerate().take(width) {
                    counts[j][code as usize] += c.size;
                }
            }
            let loss = LossModel::new(self.measure, self.hierarchies, &counts, m);
            let base = BaseClasses::new(&rest)?;
            let lattice = Lattice::new(self.hierarchies, &base, self.rule, &loss)?;
            // Everything these records could lose is already within the budget.
            let limits = SearchLimits {
                suppression_limit: 1.0,
                max_average_risk: None,
                front_slack: 0.0,
            };
            let verify = |levels: &[usize]| -> Result<bool, AnonymiseError> {
                let (candidate, released) = self.extend(t, &rest, levels)?;
                Ok(released > 0 && self.passes(&candidate)?)
            };
            let result = match lattice.search(&limits, &verify, &crate::progress::Progress::none())
            {
                Ok(r) => r,
                Err(AnonymiseError::NoSolution { .. }) => break,
                Err(e) => return Err(e),
            };
            let levels = result.optimum.levels.clone();
            let (candidate, released) = self.extend(t, &rest, &levels)?;
            if released == 0 {
                break;
            }
            let ok = self.passes(&candidate)?;
            out.push(Iteration {
                levels,
                records_in: m,
                records_released: if ok { released } else { 0 },
                loss: result.optimum.loss,
                dropped: !ok,
            });
            if !ok {
                break;
            }
            *t = candidate;
        }
        Ok(out)
    }
}
