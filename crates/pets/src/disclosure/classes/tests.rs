use proptest::prelude::*;

use super::*;
use crate::data::{CodeBook, ColumnSpec};
use crate::disclosure::testutil::{cat, int, table};

#[test]
fn groups_and_histograms() {
    let t = table(vec![
        int("age", 3, &[0, 1, 1, 2, 1]),
        cat("sex", 2, &[0, 1, 1, 0, 0]),
        cat("dx", 3, &[2, 0, 1, 1, 1]),
    ]);
    let c = EquivalenceClasses::compute(&t, &["age", "sex"], Some("dx")).unwrap();
    assert_eq!(c.n_classes(), 4);
    assert_eq!(c.n_records(), 5);
    assert_eq!(c.sensitive_totals(), &[1, 3, 1]);
    // keys are mixed radix age*2 + sex, ascending
    assert_eq!(c.keys().collect::<Vec<_>>(), [0, 2, 3, 4]);
    assert_eq!(c.sizes(), &[1, 1, 2, 1]);
    let cl = c.class(2);
    assert_eq!(cl.codes(), &[1, 1]);
    assert_eq!(c.class_codes(3), &[2, 0]);
    assert_eq!(cl.sensitive_codes, &[0, 1]);
    assert_eq!(cl.sensitive_counts, &[1, 1]);
    assert_eq!(c.size_of(&[1, 1]), 2);
    assert_eq!(c.size_of(&[2, 1]), 0);
    assert_eq!(c.size_frequencies(), vec![(1, 3), (2, 1)]);
}

#[test]
fn errors_name_the_problem() {
    let t = table(vec![int("age", 3, &[0]), cat("dx", 2, &[1])]);
    let e = EquivalenceClasses::compute(&t, &["agee"], None).unwrap_err();
    assert!(e.to_string().contains("\"agee\"") && e.to_string().contains("age, dx"));
    assert_eq!(
        EquivalenceClasses::compute(&t, &["age"], Some("age")).unwrap_err(),
        ClassesError::SensitiveIsQuasiIdentifier {
            column: "age".into()
        }
    );
    assert_eq!(
        EquivalenceClasses::compute(&t, &["age", "age"], None).unwrap_err(),
        ClassesError::DuplicateColumn {
            column: "age".into()
        }
    );
    let none: [&str; 0] = [];
    assert_eq!(
        EquivalenceClasses::compute(&t, &none, None).unwrap_err(),
        ClassesError::NoQuasiIdentifiers
    );
    let a = EquivalenceClasses::compute(&t, &["age"], None).unwrap();
    let mut b = EquivalenceClasses::compute(&t, &["dx"], None).unwrap();
    assert!(matches!(
        b.merge(a),
        Err(ClassesError::LayoutMismatch { .. })
    ));
}

#[test]
fn hashed_keys_when_radix_overflows() {
    // 5 columns of 2^30 codes overflow 128 bits
    let big = |name: &str, codes: &[u32]| EncodedColumn {
        spec: ColumnSpec::integer(name, 0, (1 << 30) - 1),
        codebook: CodeBook {
            n_values: 1 << 30,
            null_code: None,
            other_code: None,
        },
        codes: codes.to_vec(),
    };
    let t = table(vec![
        big("a", &[1, 1, 7, 7]),
        big("b", &[2, 2, 3, 3]),
        big("c", &[5, 5, 9, 8]),
        big("d", &[0, 0, 0, 0]),
        big("e", &[4, 4, 4, 4]),
    ]);
    let c = EquivalenceClasses::compute(&t, &["a", "b", "c", "d", "e"], None).unwrap();
    assert_eq!(c.layout().keying, Keying::Hashed);
    let mut sizes = c.sizes().to_vec();
    sizes.sort();
    assert_eq!(sizes, vec![1, 1, 2]);
    assert_eq!(c.size_of(&[1, 2, 5, 0, 4]), 2);
    let p = c.project(&[0, 1], false).unwrap();
    assert_eq!(
        p.layout().keying.clone(),
        ClassLayout::new(p.layout().quasi_identifiers.clone(), None).keying
    );
    assert_eq!(p.n_classes(), 2);
}

#[test]
fn projection_and_generalisation() {
    let t = table(vec![
        int("age", 4, &[0, 1, 2, 3, 3]),
        cat("sex", 2, &[0, 0, 1, 1, 1]),
        cat("dx", 2, &[0, 1, 0, 1, 1]),
    ]);
    let c = EquivalenceClasses::compute(&t, &["age", "sex"], Some("dx")).unwrap();
    let by_sex = c.project(&[1], true).unwrap();
    let direct = EquivalenceClasses::compute(&t, &["sex"], Some("dx")).unwrap();
    assert_eq!(by_sex, direct);
    let banded = c.generalise(0, &[0, 0, 1, 1], 2).unwrap();
    let t2 = table(vec![
        int("age", 2, &[0, 0, 1, 1, 1]),
        cat("sex", 2, &[0, 0, 1, 1, 1]),
        cat("dx", 2, &[0, 1, 0, 1, 1]),
    ]);
    let direct = EquivalenceClasses::compute(&t2, &["age", "sex"], Some("dx")).unwrap();
    assert_eq!(banded.sizes(), direct.sizes());
    assert!(banded.keys().eq(direct.keys()));
    assert!(c.project(&[2], false).is_err());
    assert!(c.generalise(0, &[0, 1], 2).is_err());
    assert!(c.generalise(0, &[0, 0, 5, 1], 2).is_err());
}

fn arb_table() -> impl Strategy<Value = (Vec<u32>, Vec<u32>, Vec<u32>)> {
    (1usize..300).prop_flat_map(|n| {
        (
            prop::collection::vec(0u32..7, n),
            prop::collection::vec(0u32..3, n),
            prop::collection::vec(0u32..5, n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any partitioning of the rows, merged in any order, equals the classes of the whole.
    #[test]
    fn merge_is_partition_and_order_invariant(
        (a, b, s) in arb_table(),
        cuts in prop::collection::vec(0usize..300, 0..5),
        order_seed in any::<u64>(),
        chunk in 1usize..50,
    ) {
        let n = a.len();
        let whole = table(vec![int("a", 7, &a), cat("b", 3, &b), cat("s", 5, &s)]);
        let expect = EquivalenceClasses::compute(&whole, &["a", "b"], Some("s")).unwrap();
        // small chunks exercise the parallel reduction too
        let chunked = EquivalenceClasses::compute_with(
            &whole, &["a", "b"], Some("s"), ClassOptions { chunk_rows: chunk },
        ).unwrap();
        prop_assert_eq!(&chunked, &expect);
        // Grouping a table given up (codes freed as they are packed), in another column
        // order than the table's, gives the same classes.
        let reordered = table(vec![cat("s", 5, &s), cat("b", 3, &b), int("a", 7, &a)]);
        let owned = EquivalenceClasses::compute_owned(reordered, &["a", "b"], Some("s")).unwrap();
        prop_assert_eq!(&owned, &expect);
        let no_s = EquivalenceClasses::compute(&whole, &["b", "a"], None).unwrap();
        prop_assert_eq!(EquivalenceClasses::compute_owned(whole.clone(), &["b", "a"], None).unwrap(), no_s);
        let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (n + 1)).collect();
        bounds.push(0);
        bounds.push(n);
        bounds.sort();
        let mut parts: Vec<EquivalenceClasses> = bounds
            .windows(2)
            .map(|w| {
                let t = table(vec![
                    int("a", 7, &a[w[0]..w[1]]),
                    cat("b", 3, &b[w[0]..w[1]]),
                    cat("s", 5, &s[w[0]..w[1]]),
                ]);
                EquivalenceClasses::compute(&t, &["a", "b"], Some("s")).unwrap()
            })
            .collect();
        // shuffle deterministically
        let mut x = order_seed | 1;
        for i in (1..parts.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            parts.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let mut acc = EquivalenceClasses::empty(expect.layout().clone());
        for p in parts {
            acc.merge(p).unwrap();
        }
        prop_assert_eq!(acc, expect);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The packed fast paths (u64, u128) and the general path group identically.
    #[test]
    fn packed_and_general_paths_agree((a, b, s) in arb_table()) {
        let t = table(vec![int("a", 7, &a), cat("b", 3, &b), cat("s", 5, &s)]);
        let cols: Vec<&[u32]> = vec![&t.columns()[0].codes, &t.columns()[1].codes];
        let sens = Some(t.columns()[2].codes.as_slice());
        let layout = ClassLayout::new(
            vec![ClassColumn::of(&t.columns()[0]), ClassColumn::of(&t.columns()[1])],
            Some(ClassColumn::of(&t.columns()[2])),
        );
        let n = a.len();
        let general = build_chunk(&layout, &cols, sens, 0, n);
        let p64 = build_chunk_packed::<u64>(&layout, &cols, sens, 0, n, 3);
        let p128 = build_chunk_packed::<u128>(&layout, &cols, sens, 0, n, 3);
        prop_assert_eq!(&p64, &general);
        prop_assert_eq!(&p128, &general);
        let no_s = ClassLayout::new(layout.quasi_identifiers.clone(), None);
        prop_assert_eq!(
            build_chunk_packed::<u64>(&no_s, &cols, None, 0, n, 0),
            build_chunk(&no_s, &cols, None, 0, n)
        );
        // the sort-based pass over all rows, with any chunking of the key computation
        for chunk in [1, 3, n.max(1)] {
            prop_assert_eq!(&group_sorted(layout.clone(), pack_rows(&layout, &cols, sens, 3, chunk), 3), &general);
            prop_assert_eq!(
                group_sorted(no_s.clone(), pack_rows(&no_s, &cols, None, 0, chunk), 0),
                build_chunk(&no_s, &cols, None, 0, n)
            );
        }
        // decoded tuples are the rows' codes
        for i in 0..general.n_classes() {
            let codes = general.class_codes(i);
            prop_assert_eq!(general.layout().key(codes), general.key(i));
            prop_assert_eq!(general.class(i).codes(), codes);
        }
        // the decoded-tuple cache does not take part in equality
        let fresh = general.clone();
        let _ = general.class_codes(0);
        prop_assert_eq!(&fresh, &general);
    }
}

#[test]
fn hashed_keys_with_sensitive_merge_exactly() {
    let big = |name: &str, codes: &[u32]| EncodedColumn {
        spec: ColumnSpec::integer(name, 0, (1 << 30) - 1),
        codebook: CodeBook {
            n_values: 1 << 30,
            null_code: None,
            other_code: None,
        },
        codes: codes.to_vec(),
    };
    let a: Vec<u32> = (0..200).map(|i| (i * 7919) % 13).collect();
    let b: Vec<u32> = (0..200).map(|i| (i * 104_729) % 5).collect();
    let s: Vec<u32> = (0..200).map(|i| (i * 31) % 4).collect();
    let zeros = vec![0u32; 200];
    let t = table(vec![
        big("a", &a),
        big("b", &b),
        big("c", &zeros),
        big("d", &zeros),
        big("e", &zeros),
        cat("s", 4, &s),
    ]);
    let qi = ["a", "b", "c", "d", "e"];
    let whole = EquivalenceClasses::compute(&t, &qi, Some("s")).unwrap();
    assert_eq!(whole.layout().keying, Keying::Hashed);
    let chunked =
        EquivalenceClasses::compute_with(&t, &qi, Some("s"), ClassOptions { chunk_rows: 7 })
            .unwrap();
    assert_eq!(chunked, whole);
    let direct = EquivalenceClasses::compute(&t, &["a", "b"], Some("s")).unwrap();
    let mut sizes = whole.sizes().to_vec();
    let mut want = direct.sizes().to_vec();
    sizes.sort();
    want.sort();
    assert_eq!(sizes, want);
    assert_eq!(whole.sensitive_totals(), direct.sensitive_totals());
}

/// Sizes, counts and offsets are `u32`: classes holding more than `MAX_RECORDS` records are
/// refused with a typed error, whether rebuilt from parts or merged, never truncated.
#[test]
fn more_records_than_u32_are_refused() {
    let t = table(vec![cat("a", 2, &[0, 1, 1]), cat("s", 2, &[0, 1, 0])]);
    let c = EquivalenceClasses::compute(&t, &["a"], Some("s")).unwrap();
    let mut parts = c.to_parts();
    // One class of MAX_RECORDS records and one more beside it.
    parts.sizes = vec![MAX_RECORDS, 1];
    parts.hist_counts = vec![MAX_RECORDS, 1, 0];
    parts.hist_start = vec![0, 1, 3];
    parts.hist_codes = vec![0, 0, 1];
    let err = EquivalenceClasses::from_parts(parts).unwrap_err();
    assert!(
        matches!(err, ClassesError::TooManyRecords { records, max } if records == MAX_RECORDS + 1 && max == MAX_RECORDS),
        "{err}"
    );
    assert!(err.to_string().contains("assess a sample"), "{err}");
    // A class whose histogram sum overflows u64 is refused as inconsistent, not wrapped.
    let mut parts = c.to_parts();
    parts.sizes = vec![1, 2];
    parts.hist_counts = vec![u64::MAX, 2, 0];
    parts.hist_start = vec![0, 1, 3];
    parts.hist_codes = vec![0, 0, 1];
    assert!(EquivalenceClasses::from_parts(parts).is_err());
}
