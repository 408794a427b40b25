use pets::data::{CodeBook, ColumnSpec, EncodedColumn, EncodedTable};
use proptest::prelude::*;

use super::*;

fn column(name: &str, n: u32, codes: Vec<u32>) -> EncodedColumn {
    EncodedColumn {
        spec: ColumnSpec::integer(name, 0, i64::from(n) - 1),
        codebook: CodeBook {
            n_values: n,
            null_code: None,
            other_code: None,
        },
        codes,
    }
}

fn table(a: Vec<u32>, b: Vec<u32>, c: Vec<u32>) -> EncodedTable {
    EncodedTable::from_columns(vec![
        column("a", 2, a),
        column("b", 3, b),
        column("c", 4, c),
    ])
    .unwrap()
}

#[test]
fn counts_a_hand_computed_two_way_table() {
    let t = table(vec![0, 0, 1, 1, 1], vec![0, 2, 2, 2, 1], vec![0; 5]);
    let m = Marginal::compute(&t, &["a", "b"]).unwrap();
    assert_eq!(m.shape, [2, 3]);
    assert_eq!(m.counts, [1, 0, 1, 0, 1, 2]);
    assert_eq!(m.index(&[1, 2]), Some(5));
    assert_eq!(m.index(&[2, 0]), None);
    let swapped = Marginal::compute(&t, &["b", "a"]).unwrap();
    assert_eq!(swapped.counts, [1, 0, 0, 1, 1, 2]);
    assert_eq!(m.project(&["b"]).unwrap().counts, [1, 1, 3]);
    assert_eq!(m.project(&["b", "a"]).unwrap(), swapped);
}

#[test]
fn errors_name_the_problem() {
    let t = table(vec![0], vec![0], vec![0]);
    assert!(matches!(
        Marginal::compute(&t, &[]),
        Err(MarginalError::NoColumns)
    ));
    assert!(matches!(
        Marginal::compute(&t, &["a", "a"]),
        Err(MarginalError::Duplicate(_))
    ));
    assert!(
        Marginal::compute(&t, &["zz"])
            .unwrap_err()
            .to_string()
            .contains("unknown column \"zz\"")
    );
    let err = Marginal::compute_with_limit(&t, &["a", "b", "c"], 10).unwrap_err();
    assert!(err.to_string().contains("24 cells"), "{err}");
    let m1 = Marginal::compute(&t, &["a"]).unwrap();
    let mut m2 = Marginal::compute(&t, &["b"]).unwrap();
    assert!(m2.merge(&m1).is_err());
}

fn rows() -> impl Strategy<Value = Vec<(u32, u32, u32)>> {
    prop::collection::vec((0u32..2, 0u32..3, 0u32..4), 1..300)
}

proptest! {
    /// Marginals of any split of the rows merge, in any order, to the marginal of the whole.
    #[test]
    fn partitions_merge_to_the_whole(rows in rows(), cut in 0usize..300, reverse in any::<bool>()) {
        let cut = cut.min(rows.len());
        let build = |r: &[(u32, u32, u32)]| table(
            r.iter().map(|x| x.0).collect(), r.iter().map(|x| x.1).collect(), r.iter().map(|x| x.2).collect());
        let cols = ["c", "a", "b"];
        let whole = Marginal::compute(&build(&rows), &cols).unwrap();
        let mut parts = vec![
            Marginal::compute(&build(&rows[..cut]), &cols),
            Marginal::compute(&build(&rows[cut..]), &cols),
        ];
        if reverse { parts.reverse(); }
        let mut parts = parts.into_iter().filter_map(Result::ok);
        let mut merged = parts.next().unwrap_or_else(|| Marginal::zeros(whole.columns.clone(), whole.shape.clone()).unwrap());
        for p in parts { merged.merge(&p).unwrap(); }
        prop_assert_eq!(&merged, &whole);
        prop_assert_eq!(whole.total(), rows.len() as u64);
        prop_assert_eq!(whole.project(&["a"]).unwrap(), Marginal::compute(&build(&rows), &["a"]).unwrap());
    }
}

/// A DP histogram at a huge epsilon (noise zero with overwhelming probability) is
/// cell-for-cell the marginal over the same columns: both count through
/// `pets::data::tabulate`, in the same cell order.
#[test]
fn dp_histogram_at_huge_epsilon_is_the_marginal() {
    use pets::dp::budget::Cost;
    use pets::dp::queries::histogram::{HistogramQuery, histogram};
    use pets::dp::queries::{Dimension, DpData};
    use pets::dp::session::Session;

    let n = 3000u32;
    let t = table(
        (0..n).map(|i| i % 2).collect(),
        (0..n).map(|i| (i * 7 + i / 5) % 3).collect(),
        (0..n).map(|i| (i * 13 + i / 11) % 4).collect(),
    );
    for cols in [vec!["a", "b", "c"], vec!["c", "a"], vec!["b"]] {
        let m = Marginal::compute(&t, &cols).unwrap();
        let data = DpData::row_level(&t);
        let mut s = Session::pure(1e7).unwrap();
        let q = HistogramQuery::new(
            cols.iter()
                .map(|c| Dimension::Column(c.to_string()))
                .collect(),
            Cost::epsilon(1e6),
        );
        let h = histogram(&mut s, &data, &q).unwrap();
        let shape: Vec<usize> = m.shape.iter().map(|&x| x as usize).collect();
        assert_eq!(h.shape, shape);
        let released: Vec<u64> = h.counts.iter().map(|&c| c as u64).collect();
        assert_eq!(released, m.counts, "{cols:?}");
    }
}
