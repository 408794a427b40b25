//! Reading DataSynthesizer descriptions: the fixture made by DataSynthesizer itself
//! (`tests/data/datasynthesizer_description.json`, 400 generated rows), its columns, the
//! network's distribution in a sample, and the typed refusals.

use super::*;

const FIXTURE: &str = include_str!("../../tests/data/datasynthesizer_description.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

fn column<'a>(m: &'a SynthModel, name: &str) -> (usize, &'a ColumnSpec) {
    let i = m
        .schema
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap();
    (i, &m.schema.columns[i])
}

#[test]
fn the_fixture_reads_as_a_model_with_mapped_columns() {
    let m = SynthModel::from_json(FIXTURE).unwrap();
    assert_eq!(m.method, DATASYNTHESIZER_METHOD);
    let names: Vec<&str> = m.schema.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "age",
            "sex",
            "acuity",
            "arrival_mode",
            "admitted",
            "total_time_in_dept_min"
        ]
    );
    let (_, sex) = column(&m, "sex");
    assert!(matches!(&sex.kind, ColumnKind::Categorical { values, .. }
        if values == &["female", "indeterminate", "male"]));
    let (_, acuity) = column(&m, "acuity");
    assert!(matches!(
        acuity.kind,
        ColumnKind::Integer {
            min: 1,
            max: 5,
            bins: None
        }
    ));
    let (_, age) = column(&m, "age");
    assert!(
        matches!(&age.kind, ColumnKind::Integer { bins: Some(Binning::Edges(e)), .. }
        if e.len() == 7)
    );
    let (t, time) = column(&m, "total_time_in_dept_min");
    assert!(time.nullable, "a missing rate makes the column nullable");
    assert_eq!(m.codebooks[t].null_code, Some(6));
    // Five families besides the root; no budget of pets' own.
    assert_eq!(m.selected.len(), 5);
    assert_eq!((m.epsilon, m.rho), (0.0, 0.0));
    assert!(m.ledger.entries.is_empty());
    assert!(m.notes[0].contains("DataSynthesizer's"));
    assert_eq!(m.default_rows(), 400);
}

/// The sample follows the network: the root's distribution, a conditional the file pins to
/// one value, and the missing values of the nullable column.
#[test]
fn a_sample_follows_the_networks_distribution() {
    let v = fixture();
    let m = SynthModel::from_json(FIXTURE).unwrap();
    let n = 40_000;
    let t = m.sample_table(n, 7).unwrap();
    let (s, _) = column(&m, "sex");
    let (a, _) = column(&m, "arrival_mode");
    let (time, _) = column(&m, "total_time_in_dept_min");
    let codes = |i: usize| &t.columns()[i].codes;
    // Root: p(sex).
    let p_sex: Vec<f64> = v["conditional_probabilities"]["sex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    for (k, p) in p_sex.iter().enumerate() {
        let f = codes(s).iter().filter(|&&c| c as usize == k).count() as f64 / n as f64;
        assert!((f - p).abs() < 0.012, "sex {k}: {f} vs {p}");
    }
    // p(arrival_mode | sex = "indeterminate") = [0, 1] in the file.
    assert_eq!(
        v["conditional_probabilities"]["arrival_mode"]["[1]"],
        serde_json::json!([0.0, 1.0])
    );
    let mode_given_indeterminate: Vec<u32> = (0..n)
        .filter(|&r| codes(s)[r] == 1)
        .map(|r| codes(a)[r])
        .collect();
    assert!(!mode_given_indeterminate.is_empty());
    assert!(mode_given_indeterminate.iter().all(|&c| c == 1));
    // p(arrival_mode = mode1 | sex = female) from the file.
    let want = v["conditional_probabilities"]["arrival_mode"]["[0]"][0]
        .as_f64()
        .unwrap();
    let female: Vec<u32> = (0..n)
        .filter(|&r| codes(s)[r] == 0)
        .map(|r| codes(a)[r])
        .collect();
    let got = female.iter().filter(|&&c| c == 0).count() as f64 / female.len() as f64;
    assert!((got - want).abs() < 0.015, "{got} vs {want}");
    // Missing values of total_time: the null code appears, rarely.
    let nulls = codes(time).iter().filter(|&&c| c == 6).count() as f64 / n as f64;
    assert!(nulls > 0.005 && nulls < 0.2, "{nulls}");
}

#[test]
fn what_cannot_be_mapped_is_refused_naming_the_attribute() {
    let err = |v: &Value| from_description(v).unwrap_err().to_string();
    // A DateTime attribute.
    let mut v = fixture();
    v["attribute_description"]["age"]["data_type"] = "DateTime".into();
    let e = err(&v);
    assert!(e.contains("\"age\"") && e.contains("DateTime"), "{e}");
    // A candidate key.
    let mut v = fixture();
    v["attribute_description"]["sex"]["is_candidate_key"] = true.into();
    let e = err(&v);
    assert!(e.contains("\"sex\"") && e.contains("candidate key"), "{e}");
    // Free text.
    let mut v = fixture();
    v["attribute_description"]["admitted"]["is_categorical"] = false.into();
    let e = err(&v);
    assert!(e.contains("\"admitted\"") && e.contains("free text"), "{e}");
    // An attribute outside the network (DataSynthesizer leaves keys and free text out).
    let mut v = fixture();
    v["meta"]["all_attributes"]
        .as_array_mut()
        .unwrap()
        .push("nhs_number".into());
    let e = err(&v);
    assert!(
        e.contains("nhs_number") && e.contains("not in the Bayesian network"),
        "{e}"
    );
    // A distribution of the wrong length.
    let mut v = fixture();
    v["conditional_probabilities"]["arrival_mode"]["[0]"] = serde_json::json!([1.0]);
    let e = err(&v);
    assert!(e.contains("arrival_mode") && e.contains("bins"), "{e}");
    // A family too large to hold (a hostile file): refused before allocating.
    let mut v = fixture();
    v["attribute_description"]["acuity"]["distribution_bins"] =
        serde_json::json!((0..5_000_000).collect::<Vec<i64>>());
    v["attribute_description"]["acuity"]["max"] = 4_999_999.into();
    let e = err(&v);
    assert!(e.contains("acuity") && e.contains("cells"), "{e}");
    // An empty network (independent attribute mode).
    let mut v = fixture();
    v["bayesian_network"] = serde_json::json!([]);
    assert!(err(&v).contains("correlated attribute mode"));
    // Not a description at all: the model-file error.
    let e = SynthModel::from_json("{\"a\": 1}").unwrap_err().to_string();
    assert!(e.contains("not a pets synthesiser model"), "{e}");
}

#[test]
fn a_missing_parent_configuration_is_uniform_and_noted() {
    let mut v = fixture();
    v["conditional_probabilities"]["arrival_mode"]
        .as_object_mut()
        .unwrap()
        .remove("[2]");
    let m = from_description(&v).unwrap();
    assert!(
        m.notes
            .iter()
            .any(|n| n.contains("1 parent configuration(s) of \"arrival_mode\"")),
        "{:?}",
        m.notes
    );
}
