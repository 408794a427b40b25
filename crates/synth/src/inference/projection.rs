//! Many marginals of one fitted model: variable elimination on its junction tree, rooted
//! where it is cheapest, each clique's conditional table computed once for all queries.
//!
//! The model's joint is `p_R prod_{C != R} p(C \ S_C | S_C)` for any root `R` (`S_C` the
//! separator of `C` with its parent): the running-intersection property makes each clique
//! independent of the cliques above it given its separator. Only the smallest subtree
//! reaching a clique of every queried attribute matters (every other clique's conditional
//! sums to one). Each clique `C` of it, leaves first, multiplies its conditional
//! `p_C / p_{S_C}` by its children's messages and sums out what is neither in `S_C` nor
//! queried; the root multiplies `p_R` by its children's messages and sums to the query.
//!
//! The answer is the same for every root and every order of products; the work is not.
//! Rooting a query at a wide clique multiplies that clique by every other queried
//! attribute's domain, while rooting it elsewhere only sums the wide clique down to its
//! separator and the queried attribute; and within a step, multiplying the clique's table
//! by all its children's messages at once takes the cells of their union, while pairwise
//! products, each summed down before the next (`Contraction`), stay near the answer's
//! size. [`Projector::project`] plans every root holding a queried attribute from the
//! attribute sets alone (public: the model's structure and declared sizes), and runs the
//! cheapest plan whose every product fits the cell limit. AIM
//! scores thousands of candidate marginals a round on one model ([`crate::aim`]), which is
//! why the conditionals (`p_C / p_S` for each clique and neighbour) are kept between
//! queries.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::estimation::GraphModel;
use super::factor::Factor;

/// Marginals of one [`GraphModel`] by variable elimination (see the module docs).
pub struct Projector<'a> {
    model: &'a GraphModel,
    /// `offsets[c] + j`: the slot of clique `c`'s conditional below its `j`-th neighbour.
    offsets: Vec<usize>,
    /// `p_C / p_S` (`0 / 0 = 0`) for clique `C` below a neighbour, `S` their separator,
    /// computed when first needed.
    conditionals: Vec<OnceLock<Factor>>,
}

/// One elimination step: clique `clique`'s table (its conditional, or the root's marginal)
/// and its children's messages, contracted by `contraction` to its message.
struct Step {
    clique: usize,
    parent: Option<usize>,
    children: Vec<usize>,
    contraction: Contraction,
}

/// How to contract factors (attribute sets `inputs`, the step's table first) to `keep`:
/// sum each input over the attributes only it holds and `keep` lacks, then multiply pairs
/// (always the pair with the smallest product next), summing out after each product what
/// no remaining factor holds and `keep` lacks. Every product of all of them at once would
/// take the cells of the union of every input; pairwise, a wide clique is summed down
/// before it meets another query attribute's domain (the order numpy's `einsum` optimiser
/// finds greedily, too).
#[derive(Debug, Clone, PartialEq)]
struct Contraction {
    /// Each input's attributes after its own sums.
    reduced: Vec<Vec<usize>>,
    /// Pairs multiplied in turn: slots `i` and `j` (inputs first, then each product in
    /// order) into a new slot over `attrs`, then summed to `keep`.
    pairs: Vec<(usize, usize, Vec<usize>, Vec<usize>)>,
    keep: Vec<usize>,
    /// Cells read and written, summed (the plan's cost) and of the largest product.
    cost: u128,
    largest: u128,
}

impl Contraction {
    fn plan(inputs: &[Vec<usize>], keep: &[usize], sizes: &[usize]) -> Contraction {
        let cells = |set: &[usize]| -> u128 { set.iter().map(|&a| sizes[a] as u128).product() };
        let held_elsewhere = |slots: &[Option<Vec<usize>>], skip: &[usize], a: usize| {
            slots
                .iter()
                .enumerate()
                .any(|(k, s)| !skip.contains(&k) && s.as_ref().is_some_and(|s| s.contains(&a)))
        };
        let mut slots: Vec<Option<Vec<usize>>> = inputs.iter().cloned().map(Some).collect();
        let mut cost = 0u128;
        let mut reduced = Vec::with_capacity(inputs.len());
        for i in 0..inputs.len() {
            let attrs = slots[i].clone().expect("filled");
            let kept: Vec<usize> = attrs
                .iter()
                .copied()
                .filter(|&a| keep.contains(&a) || held_elsewhere(&slots, &[i], a))
                .collect();
            if kept.len() < attrs.len() {
                cost = cost.saturating_add(cells(&attrs));
            }
            slots[i] = Some(kept.clone());
            reduced.push(kept);
        }
        let mut pairs = Vec::new();
        let mut largest = 0u128;
        while slots.iter().flatten().count() > 1 {
            let live: Vec<usize> = (0..slots.len()).filter(|&k| slots[k].is_some()).collect();
            let union = |i: usize, j: usize| -> Vec<usize> {
                let mut u = slots[i].clone().expect("live");
                u.extend(slots[j].as_ref().expect("live").iter().copied());
                u.sort_unstable();
                u.dedup();
                u
            };
            let (i, j, attrs) = live
                .iter()
                .enumerate()
                .flat_map(|(x, &i)| live[x + 1..].iter().map(move |&j| (i, j)))
                .map(|(i, j)| (i, j, union(i, j)))
                .min_by_key(|(_, _, u)| cells(u))
                .expect("two live slots");
            let kept: Vec<usize> = attrs
                .iter()
                .copied()
                .filter(|&a| keep.contains(&a) || held_elsewhere(&slots, &[i, j], a))
                .collect();
            let n = cells(&attrs);
            cost = cost.saturating_add(n);
            largest = largest.max(n);
            slots[i] = None;
            slots[j] = None;
            slots.push(Some(kept.clone()));
            pairs.push((i, j, attrs, kept));
        }
        let last = slots.iter().flatten().next().expect("one slot left");
        if last.as_slice() != keep {
            cost = cost.saturating_add(cells(last));
        }
        Contraction {
            reduced,
            pairs,
            keep: keep.to_vec(),
            cost,
            largest,
        }
    }

    /// Carry out the contraction on `inputs` (as planned, in order).
    fn run(&self, inputs: Vec<&Factor>, sizes: &[usize]) -> Factor {
        let mut slots: Vec<Option<Cow<'_, Factor>>> = inputs
            .into_iter()
            .zip(&self.reduced)
            .map(|(f, r)| {
                Some(if f.attrs == *r {
                    Cow::Borrowed(f)
                } else {
                    Cow::Owned(f.sum_to(r))
                })
            })
            .collect();
        for (i, j, attrs, kept) in &self.pairs {
            let a = slots[*i].take().expect("planned");
            let b = slots[*j].take().expect("planned");
            debug_assert!(kept.iter().all(|x| attrs.contains(x)));
            slots.push(Some(Cow::Owned(Factor::contract(&a, &b, kept, sizes))));
        }
        let last = slots.into_iter().flatten().next().expect("one slot left");
        if last.attrs == self.keep {
            last.into_owned()
        } else {
            last.sum_to(&self.keep)
        }
    }
}

/// The steps of one root, leaves first and the root last, with their total and largest
/// scope in cells.
struct Plan {
    steps: Vec<Step>,
    cost: u128,
    largest: u128,
}

impl<'a> Projector<'a> {
    /// A projector of `model` (nothing is computed until a query needs it).
    pub fn new(model: &'a GraphModel) -> Projector<'a> {
        let mut offsets = Vec::with_capacity(model.tree.cliques.len());
        let mut n = 0;
        for nb in &model.tree.neighbors {
            offsets.push(n);
            n += nb.len();
        }
        Projector {
            model,
            offsets,
            conditionals: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The model's probability table over `attrs` (ascending, non-empty); `None` when no
    /// plan keeps every intermediate table within `max_cells` cells (or an attribute lies in
    /// no clique reachable from the others).
    pub fn project(&self, attrs: &[usize], max_cells: u64) -> Option<Factor> {
        if let Some(m) = self.model.marginal(attrs) {
            return Some(m);
        }
        let best = self.best_plan(attrs, max_cells)?;
        Some(self.run(&best, attrs))
    }

    /// Whether [`Projector::project`] answers `attrs` within `max_cells` (from the model's
    /// structure and sizes alone: nothing is computed).
    pub fn fits(&self, attrs: &[usize], max_cells: u64) -> bool {
        self.model.tree.clique_containing(attrs).is_some()
            || self.best_plan(attrs, max_cells).is_some()
    }

    /// The cheapest plan, over the roots holding a queried attribute, whose every product
    /// fits `max_cells`.
    fn best_plan(&self, attrs: &[usize], max_cells: u64) -> Option<Plan> {
        let cliques = &self.model.tree.cliques;
        (0..cliques.len())
            .filter(|&r| attrs.iter().any(|a| cliques[r].contains(a)))
            .filter_map(|r| self.plan(r, attrs))
            .filter(|p| p.largest <= u128::from(max_cells))
            .min_by_key(|p| p.cost)
    }

    /// The elimination rooted at clique `root`: `None` if an attribute is unreachable.
    fn plan(&self, root: usize, attrs: &[usize]) -> Option<Plan> {
        let tree = &self.model.tree;
        let k = tree.cliques.len();
        // Breadth-first from the root: parents come before children.
        let mut parent: Vec<Option<usize>> = vec![None; k];
        let mut seen = vec![false; k];
        let mut bfs = vec![root];
        seen[root] = true;
        let mut head = 0;
        while head < bfs.len() {
            let c = bfs[head];
            head += 1;
            for &nb in &tree.neighbors[c] {
                if !seen[nb] {
                    seen[nb] = true;
                    parent[nb] = Some(c);
                    bfs.push(nb);
                }
            }
        }
        // The subtree: for each attribute, the clique holding it nearest the root, and the
        // path up from it.
        let mut needed = vec![false; k];
        needed[root] = true;
        for &a in attrs {
            let mut c = *bfs.iter().find(|&&c| tree.cliques[c].contains(&a))?;
            while !needed[c] {
                needed[c] = true;
                c = parent[c]?;
            }
        }
        let cells =
            |set: &[usize]| -> u128 { set.iter().map(|&a| self.model.sizes[a] as u128).product() };
        let mut message: Vec<Vec<usize>> = vec![Vec::new(); k];
        let (mut cost, mut largest) = (0u128, 0u128);
        let mut steps = Vec::new();
        for &c in bfs.iter().rev().filter(|&&c| needed[c]) {
            let children: Vec<usize> = (0..k)
                .filter(|&ch| needed[ch] && parent[ch] == Some(c))
                .collect();
            let mut inputs: Vec<Vec<usize>> = vec![tree.cliques[c].clone()];
            inputs.extend(children.iter().map(|&ch| message[ch].clone()));
            let mut scope: Vec<usize> = inputs.concat();
            scope.sort_unstable();
            scope.dedup();
            let keep: Vec<usize> = match parent[c] {
                Some(p) => scope
                    .iter()
                    .copied()
                    .filter(|a| attrs.contains(a) || tree.cliques[p].contains(a))
                    .collect(),
                None => attrs.to_vec(),
            };
            let contraction = Contraction::plan(&inputs, &keep, &self.model.sizes);
            // Reading the step's table counts too (a leaf's sum, a conditional's division).
            cost = cost
                .saturating_add(contraction.cost)
                .saturating_add(cells(&tree.cliques[c]));
            largest = largest.max(contraction.largest);
            message[c] = keep;
            steps.push(Step {
                clique: c,
                parent: parent[c],
                children,
                contraction,
            });
        }
        Some(Plan {
            steps,
            cost,
            largest,
        })
    }

    /// Carry out `plan`: the table over `attrs`.
    fn run(&self, plan: &Plan, attrs: &[usize]) -> Factor {
        let sizes = &self.model.sizes;
        let mut message: Vec<Option<Factor>> = vec![None; self.model.tree.cliques.len()];
        for step in &plan.steps {
            let table = match step.parent {
                Some(p) => self.conditional(step.clique, p),
                None => &self.model.marginals[step.clique],
            };
            let incoming: Vec<Factor> = step
                .children
                .iter()
                .map(|&ch| {
                    message[ch]
                        .take()
                        .expect("children are eliminated before their parent")
                })
                .collect();
            let mut inputs = vec![table];
            inputs.extend(incoming.iter());
            let summed = step.contraction.run(inputs, sizes);
            if step.parent.is_none() {
                debug_assert_eq!(summed.attrs, attrs);
                return summed;
            }
            message[step.clique] = Some(summed);
        }
        unreachable!("a plan ends at its root")
    }

    /// `p_C / p_S` for clique `c` below its neighbour `p`.
    fn conditional(&self, c: usize, p: usize) -> &Factor {
        let tree = &self.model.tree;
        let j = tree.neighbors[c]
            .iter()
            .position(|&x| x == p)
            .expect("a plan's parent is a neighbour");
        self.conditionals[self.offsets[c] + j].get_or_init(|| {
            let mut f = self.model.marginals[c].clone();
            f.div_assign(&self.model.marginals[c].sum_to(&tree.separator(c, p)));
            f
        })
    }
}

#[cfg(test)]
mod tests;
