use proptest::prelude::*;

use super::*;
use crate::data::ColumnSpec;

fn col(name: &str, card: u32, codes: &[u32]) -> EncodedColumn {
    let values: Vec<String> = (0..card).map(|i| format!("v{i}")).collect();
    EncodedColumn {
        spec: ColumnSpec::categorical(name, values),
        codebook: CodeBook {
            n_values: card,
            null_code: None,
            other_code: None,
        },
        codes: codes.to_vec(),
    }
}

fn table(a: &[u32], b: &[u32]) -> EncodedTable {
    EncodedTable::from_columns(vec![col("a", 3, a), col("b", 4, b)]).unwrap()
}

#[test]
fn shape_strides_and_index() {
    let names = vec!["a".to_string(), "b".into(), "c".into()];
    let s = Shape::new(&names, vec![2, 3, 4], 1000).unwrap();
    assert_eq!(s.strides(), &[12, 4, 1]);
    assert_eq!(s.cells(), 24);
    assert_eq!(s.index(&[1, 2, 3]), Some(23));
    assert_eq!(s.index(&[0, 0, 0]), Some(0));
    assert_eq!(s.index(&[2, 0, 0]), None);
    assert_eq!(s.index(&[0, 0]), None);
    assert!(matches!(
        Shape::new(&names, vec![2, 3, 4], 23),
        Err(TabulateError::TooLarge { cells: 24, .. })
    ));
    // the product is checked, never wraps
    let huge = vec![u32::MAX; 5];
    assert!(matches!(
        Shape::new(&names, huge, u64::MAX),
        Err(TabulateError::TooLarge { .. })
    ));
}

#[test]
fn radix_strides_and_decode() {
    let (strides, cells) = radix_strides(&[2, 0, 5]).unwrap();
    assert_eq!(strides, vec![5, 5, 1]);
    assert_eq!(cells, 10);
    assert!(radix_strides(&[u32::MAX; 5]).is_none());
    let strides = [12u64, 4, 1];
    let mut out = [0u32; 3];
    decode_index(23, &strides, &mut out);
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn counts_all_rows_and_subsets() {
    let t = table(&[0, 1, 2, 2, 0], &[3, 0, 1, 1, 3]);
    let all = Tabulation::count(&t, &["a", "b"], Rows::All(5), 100).unwrap();
    assert_eq!(all.total(), 5);
    assert_eq!(all.counts()[3], 2); // (0, 3)
    assert_eq!(all.counts()[2 * 4 + 1], 2); // (2, 1)
    let sub = Tabulation::count(&t, &["a", "b"], Rows::Subset(&[0, 2]), 100).unwrap();
    assert_eq!(sub.total(), 2);
    assert_eq!(sub.counts()[3], 1);
    assert_eq!(sub.counts()[9], 1);
    // the generic row-at-a-time counter agrees
    let shape = all.shape().clone();
    let a = &t.column("a").unwrap().codes;
    let b = &t.column("b").unwrap().codes;
    let by_row = count_cells(shape.cells(), Rows::All(5), |r| {
        shape.index(&[a[r], b[r]]).unwrap()
    });
    assert_eq!(by_row, all.counts());
}

#[test]
fn typed_errors() {
    let t = table(&[0], &[0]);
    assert_eq!(
        Tabulation::count(&t, &[], Rows::All(1), 100),
        Err(TabulateError::NoColumns)
    );
    assert_eq!(
        Tabulation::count(&t, &["a", "a"], Rows::All(1), 100),
        Err(TabulateError::Duplicate("a".into()))
    );
    assert_eq!(
        Tabulation::count(&t, &["zz"], Rows::All(1), 100),
        Err(TabulateError::UnknownColumn("zz".into()))
    );
    let mut x = Tabulation::count(&t, &["a", "b"], Rows::All(1), 100).unwrap();
    let y = Tabulation::count(&t, &["b", "a"], Rows::All(1), 100).unwrap();
    assert!(matches!(x.merge(&y), Err(TabulateError::Mismatch(_))));
    // same names and shape, different code book (a null code in place of a value)
    let mut other = col("a", 2, &[0]);
    other.codebook.null_code = Some(2);
    let t2 = EncodedTable::from_columns(vec![other, col("b", 4, &[0])]).unwrap();
    let z = Tabulation::count(&t2, &["a", "b"], Rows::All(1), 100).unwrap();
    assert_eq!(z.shape().cardinalities(), x.shape().cardinalities());
    assert!(matches!(x.merge(&z), Err(TabulateError::Mismatch(_))));
}

proptest! {
    /// Tabulating the parts of any partition of the rows and merging them, in any order,
    /// equals tabulating the whole.
    #[test]
    fn merging_partitions_in_any_order_equals_the_whole(
        rows in proptest::collection::vec((0u32..3, 0u32..4, 0usize..4), 0..300),
        order in Just((0..4usize).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let a: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let b: Vec<u32> = rows.iter().map(|r| r.1).collect();
        let whole = Tabulation::count(&table(&a, &b), &["a", "b"], Rows::All(a.len()), 100)
            .unwrap();
        // separately encoded partitions
        let mut parts: Vec<Tabulation> = (0..4)
            .map(|p| {
                let pick = |v: &[u32]| -> Vec<u32> {
                    rows.iter().zip(v).filter(|(r, _)| r.2 == p).map(|(_, &x)| x).collect()
                };
                let (pa, pb) = (pick(&a), pick(&b));
                Tabulation::count(&table(&pa, &pb), &["a", "b"], Rows::All(pa.len()), 100)
                    .unwrap()
            })
            .collect();
        let mut merged = parts[order[0]].clone();
        for &i in &order[1..] {
            merged.merge(&parts[i]).unwrap();
        }
        prop_assert_eq!(&merged, &whole);
        // and row subsets of one table partition it the same way
        let t = table(&a, &b);
        let mut acc = Tabulation::zeros(
            vec!["a".into(), "b".into()],
            whole.codebooks().to_vec(),
            100,
        ).unwrap();
        for &p in &order {
            let idx: Vec<u32> = (0..rows.len() as u32).filter(|&i| rows[i as usize].2 == p)
                .collect();
            acc.merge(&Tabulation::count(&t, &["a", "b"], Rows::Subset(&idx), 100).unwrap())
                .unwrap();
        }
        prop_assert_eq!(&acc, &whole);
        parts.clear();
    }
}
