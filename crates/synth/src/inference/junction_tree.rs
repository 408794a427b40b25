//! Junction trees of discrete graphical models (Lauritzen & Spiegelhalter 1988; Koller &
//! Friedman 2009, ch. 10).
//!
//! Given the attribute sets ("measurement cliques") a model must represent, the Markov
//! network connects every pair of attributes that appear together. It is triangulated by
//! greedy variable elimination (each step eliminates the attribute adding the fewest fill
//! edges, ties broken by the smaller clique table, as private-pgm does), the elimination
//! cliques that are not contained in another become the maximal cliques, and a maximum
//! spanning tree on separator sizes joins them (this satisfies the running-intersection
//! property). Disconnected parts are joined by empty separators, so there is always one
//! tree and one root.
//!
//! For MST the measured cliques already form a tree over the attributes, so no fill is
//! added and the maximal cliques are the selected pairs; the same code serves AIM's
//! higher-order, loopy selections, under a configurable limit on clique size.

use crate::error::{Result, SynthError};

/// A junction tree: maximal cliques and a spanning tree over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JunctionTree {
    /// Maximal cliques, each an ascending list of attribute indices.
    pub cliques: Vec<Vec<usize>>,
    /// Tree neighbours of each clique.
    pub neighbors: Vec<Vec<usize>>,
    /// Pre-order from the root (clique 0): `(clique, parent)`; parents come first.
    pub order: Vec<(usize, Option<usize>)>,
}

impl JunctionTree {
    /// Build a junction tree over attributes of `sizes` that covers every set in `cliques`
    /// (and every attribute), refusing any maximal clique of more than `max_cells` cells.
    /// `names` name the attributes in errors.
    pub fn build(
        sizes: &[usize],
        names: &[String],
        cliques: &[Vec<usize>],
        max_cells: u64,
    ) -> Result<JunctionTree> {
        let n = sizes.len();
        if n == 0 {
            return Err(SynthError::invalid(
                "attributes",
                0,
                "a model needs at least one column",
            ));
        }
        let mut adj = vec![vec![false; n]; n];
        for c in cliques {
            for &a in c {
                if a >= n {
                    return Err(SynthError::invalid(
                        "clique attribute",
                        a,
                        format!("the model has {n} attributes"),
                    ));
                }
                for &b in c {
                    if a != b {
                        adj[a][b] = true;
                    }
                }
            }
        }
        // Greedy elimination (min-fill, then min-weight).
        let mut alive = vec![true; n];
        let mut elim: Vec<Vec<usize>> = Vec::with_capacity(n);
        for _ in 0..n {
            let mut best: Option<(usize, u128, usize)> = None;
            for v in (0..n).filter(|&v| alive[v]) {
                let nb: Vec<usize> = (0..n).filter(|&u| alive[u] && adj[v][u]).collect();
                let mut fill = 0usize;
                for (i, &a) in nb.iter().enumerate() {
                    for &b in &nb[i + 1..] {
                        if !adj[a][b] {
                            fill += 1;
                        }
                    }
                }
                let weight: u128 = nb
                    .iter()
                    .chain(std::iter::once(&v))
                    .map(|&u| sizes[u] as u128)
                    .product();
                if best.is_none_or(|(f, w, _)| (fill, weight) < (f, w)) {
                    best = Some((fill, weight, v));
                }
            }
            let (_, _, v) = best.expect("an attribute is alive");
            let nb: Vec<usize> = (0..n).filter(|&u| alive[u] && adj[v][u]).collect();
            for &a in &nb {
                for &b in &nb {
                    if a != b {
                        adj[a][b] = true;
                    }
                }
            }
            let mut c = nb;
            c.push(v);
            c.sort_unstable();
            elim.push(c);
            alive[v] = false;
        }
        // Keep maximal cliques only (first occurrence of duplicates).
        let mut maximal: Vec<Vec<usize>> = Vec::new();
        for (i, c) in elim.iter().enumerate() {
            let contained = elim
                .iter()
                .enumerate()
                .any(|(j, d)| j != i && is_subset(c, d) && (c.len() < d.len() || j < i));
            if !contained {
                maximal.push(c.clone());
            }
        }
        for c in &maximal {
            let cells: u128 = c.iter().map(|&a| sizes[a] as u128).product();
            if cells > u128::from(max_cells) {
                return Err(SynthError::CliqueTooLarge {
                    columns: c.iter().map(|&a| names[a].clone()).collect(),
                    cells,
                    limit: max_cells,
                });
            }
        }
        // Maximum spanning tree on separator sizes (Kruskal), zero-weight edges included.
        let k = maximal.len();
        let mut edges: Vec<(usize, usize, usize)> = Vec::new();
        for i in 0..k {
            for j in i + 1..k {
                let w = maximal[i].iter().filter(|a| maximal[j].contains(a)).count();
                edges.push((w, i, j));
            }
        }
        edges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut parent: Vec<usize> = (0..k).collect();
        let mut neighbors = vec![Vec::new(); k];
        for (_, i, j) in edges {
            let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
            if ri != rj {
                parent[ri] = rj;
                neighbors[i].push(j);
                neighbors[j].push(i);
            }
        }
        // Pre-order from the largest clique (the root is sampled first, jointly).
        let root = (0..k)
            .max_by_key(|&i| {
                (
                    maximal[i]
                        .iter()
                        .map(|&a| sizes[a] as u128)
                        .product::<u128>(),
                    std::cmp::Reverse(i),
                )
            })
            .unwrap_or(0);
        let mut order = vec![(root, None)];
        let mut seen = vec![false; k];
        seen[root] = true;
        let mut head = 0;
        while head < order.len() {
            let (c, _) = order[head];
            head += 1;
            for &nb in &neighbors[c] {
                if !seen[nb] {
                    seen[nb] = true;
                    order.push((nb, Some(c)));
                }
            }
        }
        Ok(JunctionTree {
            cliques: maximal,
            neighbors,
            order,
        })
    }

    /// Attributes shared by cliques `a` and `b` (ascending).
    pub fn separator(&self, a: usize, b: usize) -> Vec<usize> {
        self.cliques[a]
            .iter()
            .copied()
            .filter(|x| self.cliques[b].contains(x))
            .collect()
    }

    /// The first clique containing every attribute of `attrs`.
    pub fn clique_containing(&self, attrs: &[usize]) -> Option<usize> {
        self.cliques.iter().position(|c| is_subset(attrs, c))
    }
}

fn is_subset(a: &[usize], b: &[usize]) -> bool {
    a.iter().all(|x| b.contains(x))
}

fn find(p: &mut [usize], mut i: usize) -> usize {
    while p[i] != i {
        p[i] = p[p[i]];
        i = p[i];
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn a_tree_of_pairs_is_its_own_junction_tree() {
        let sizes = [2, 3, 4, 5];
        let jt = JunctionTree::build(
            &sizes,
            &names(4),
            &[vec![0, 1], vec![1, 2], vec![1, 3]],
            1000,
        )
        .unwrap();
        let mut cl = jt.cliques.clone();
        cl.sort();
        assert_eq!(cl, vec![vec![0, 1], vec![1, 2], vec![1, 3]]);
        assert_eq!(jt.order.len(), 3);
        assert!(jt.order.iter().skip(1).all(|(_, p)| p.is_some()));
    }

    #[test]
    fn a_cycle_is_triangulated_and_isolated_attributes_kept() {
        let sizes = [2, 2, 2, 2, 3];
        let jt = JunctionTree::build(
            &sizes,
            &names(5),
            &[vec![0, 1], vec![1, 2], vec![2, 3], vec![0, 3]],
            1000,
        )
        .unwrap();
        assert!(jt.cliques.iter().all(|c| c.len() <= 3));
        assert!(jt.cliques.iter().any(|c| c == &vec![4]));
        for pair in [[0, 1], [1, 2], [2, 3], [0, 3]] {
            assert!(jt.clique_containing(&pair).is_some());
        }
        assert_eq!(jt.order.len(), jt.cliques.len());
    }

    #[test]
    fn clique_limit_is_a_clear_error() {
        let sizes = [100, 100, 100];
        let e = JunctionTree::build(&sizes, &names(3), &[vec![0, 1, 2]], 10_000).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("1000000 cells") && msg.contains("c0"), "{msg}");
    }
}
