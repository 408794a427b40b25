use super::*;

fn ae_like() -> Schema {
    Schema::new(vec![
        ColumnSpec::categorical("sex", ["1", "2", "9", "X"]).with_role(Role::QuasiIdentifier),
        ColumnSpec::integer("age", 0, 120).with_role(Role::QuasiIdentifier),
        ColumnSpec::new(
            "total_time",
            ColumnKind::Integer {
                min: 0,
                max: 4320,
                bins: Some(Binning::Edges(vec![0.0, 60.0, 240.0, 4321.0])),
            },
        ),
        ColumnSpec::new(
            "distance",
            ColumnKind::Float {
                min: 0.0,
                max: 50.0,
                bins: Binning::EqualWidth(10),
            },
        )
        .nullable(true),
        ColumnSpec::new(
            "arrival_date",
            ColumnKind::Date {
                min: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
                max: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
                granularity: DateGranularity::Week,
                format: None,
            },
        ),
        ColumnSpec::new(
            "arrival",
            ColumnKind::Datetime {
                min: NaiveDate::from_ymd_opt(2024, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
                max: NaiveDate::from_ymd_opt(2024, 12, 31)
                    .unwrap()
                    .and_hms_opt(23, 59, 0)
                    .unwrap(),
                granularity: TimeGranularity::Minute,
                format: None,
            },
        ),
        ColumnSpec::new("nhs_number", ColumnKind::Text).with_role(Role::DirectIdentifier),
    ])
    .unwrap()
}

#[test]
fn json_and_toml_round_trip() {
    let s = ae_like();
    assert_eq!(Schema::from_json(&s.to_json()).unwrap(), s);
    let toml = s.to_toml().unwrap();
    assert_eq!(Schema::from_toml(&toml).unwrap(), s, "{toml}");
}

#[test]
fn hand_written_json_uses_defaults() {
    let s = Schema::from_json(
        r#"{"columns": [
            {"name": "sex", "kind": "categorical", "values": ["1", "2"]},
            {"name": "score", "kind": "float", "min": 0, "max": 1}
        ]}"#,
    )
    .unwrap();
    assert_eq!(s.version, SCHEMA_FORMAT_VERSION);
    assert_eq!(s.columns[0].role, Role::Other);
    assert!(!s.columns[0].nullable);
    assert!(matches!(
        s.columns[1].kind,
        ColumnKind::Float {
            bins: Binning::EqualWidth(20),
            ..
        }
    ));
}

#[test]
fn categorical_values_may_be_whole_numbers() {
    let s = Schema::from_json(
        r#"{"columns": [{"name": "race", "kind": "categorical", "values": [1, 2, "9"]}]}"#,
    )
    .unwrap();
    match &s.columns[0].kind {
        ColumnKind::Categorical { values, .. } => assert_eq!(values, &["1", "2", "9"]),
        k => panic!("{k:?}"),
    }
    let toml = Schema::from_toml(
        "[[columns]]\nname = \"race\"\nkind = \"categorical\"\nvalues = [1, 2]\n",
    )
    .unwrap();
    match &toml.columns[0].kind {
        ColumnKind::Categorical { values, .. } => assert_eq!(values, &["1", "2"]),
        k => panic!("{k:?}"),
    }
    let e = invalid(r#"{"columns": [{"name": "a", "kind": "categorical", "values": [1.5]}]}"#);
    assert!(
        e.contains("values[0] = 1.5") && e.contains("whole number"),
        "{e}"
    );
}

#[test]
fn bins_may_be_a_bare_count() {
    let bins = |b: &str| -> Result<Binning, DataError> {
        let s = Schema::from_json(&format!(
            r#"{{"columns": [{{"name": "x", "kind": "float", "min": 0, "max": 1, "bins": {b}}}]}}"#
        ))?;
        match &s.columns[0].kind {
            ColumnKind::Float { bins, .. } => Ok(bins.clone()),
            k => panic!("{k:?}"),
        }
    };
    assert_eq!(bins("12").unwrap(), Binning::EqualWidth(12));
    assert_eq!(
        bins(r#"{"equal_width": 12}"#).unwrap(),
        Binning::EqualWidth(12)
    );
    assert_eq!(
        bins(r#"{"edges": [0, 1]}"#).unwrap(),
        Binning::Edges(vec![0.0, 1.0])
    );
    for bad in ["-3", r#""twelve""#, r#"{"width": 3}"#] {
        let e = bins(bad).unwrap_err().to_string();
        assert!(
            e.contains("bin count") || e.contains("equal_width"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn save_and_load_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let s = ae_like();
    for name in ["s.json", "s.toml"] {
        let p = dir.path().join(name);
        s.save(&p).unwrap();
        assert_eq!(Schema::load(&p).unwrap(), s);
    }
}

fn invalid(json: &str) -> String {
    Schema::from_json(json).unwrap_err().to_string()
}

#[test]
fn invalid_schemas_are_refused_with_reasons() {
    assert!(invalid(r#"{"columns": []}"#).contains("no columns"));
    assert!(
        invalid(r#"{"columns": [{"name": "a", "kind": "text"}, {"name": "a", "kind": "text"}]}"#)
            .contains("declared twice")
    );
    assert!(
        invalid(r#"{"columns": [{"name": "a", "kind": "integer", "min": 5, "max": 1}]}"#)
            .contains("min 5 is greater than max 1")
    );
    assert!(
        invalid(r#"{"columns": [{"name": "a", "kind": "categorical", "values": []}]}"#)
            .contains("no values")
    );
    assert!(
        invalid(r#"{"columns": [{"name": "a", "kind": "categorical", "values": ["x", "x"]}]}"#)
            .contains("\"x\" is declared twice")
    );
    assert!(
        invalid(
            r#"{"columns": [{"name": "a", "kind": "integer", "min": 0, "max": 10,
                "bins": {"edges": [0, 5, 9]}}]}"#
        )
        .contains("do not cover")
    );
    assert!(
        invalid(
            r#"{"columns": [{"name": "a", "kind": "float", "min": 0, "max": 10,
                "bins": {"edges": [0, 5, 5, 10]}}]}"#
        )
        .contains("strictly increasing")
    );
    assert!(
        invalid(r#"{"columns": [{"name": "a", "kind": "integer", "min": 0, "max": 9999999999}]}"#)
            .contains("declare bins")
    );
    assert!(
        invalid(r#"{"version": 9, "columns": [{"name": "a", "kind": "text"}]}"#)
            .contains("version 9")
    );
    assert!(invalid(r#"{"columns": [{"name": "a", "kind": "wibble"}]}"#).contains("JSON"));
    // Misspelt keys are refused, not dropped.
    let e = invalid(r#"{"columns": [{"name": "age", "kind": "integer", "min": 0, "maxx": 9}]}"#);
    assert!(
        e.contains("\"maxx\"") && e.contains("age") && e.contains("max"),
        "{e}"
    );
    let e = invalid(r#"{"column": [{"name": "a", "kind": "text"}]}"#);
    assert!(e.contains("column"), "{e}");
    let e = Schema::from_toml(
        "[[columns]]\nname = \"a\"\nkind = \"text\"\nrole = \"other\"\nvalues = [\"x\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"values\" for a text column"), "{e}");
}

#[test]
fn lookups_by_name_and_role() {
    let s = ae_like();
    assert_eq!(s.index_of("age").unwrap(), 1);
    let err = s.column("agee").unwrap_err().to_string();
    assert!(err.contains("unknown column \"agee\""), "{err}");
    assert!(err.contains("age"), "{err}");
    let qis: Vec<_> = s
        .with_role(Role::QuasiIdentifier)
        .map(|c| &c.name)
        .collect();
    assert_eq!(qis, ["sex", "age"]);
    let sub = s.select(&["age", "sex"]).unwrap();
    assert_eq!(sub.names().collect::<Vec<_>>(), ["age", "sex"]);
    assert!(s.domain_from_data().is_empty());
}

#[test]
fn generalise_coarsens_dates_datetimes_and_integers() {
    let mut s = Schema::from_json(
        r#"{"columns": [
            {"name": "age", "kind": "integer", "min": 0, "max": 110},
            {"name": "arrival", "kind": "datetime", "min": "2024-04-01T00:00:00",
             "max": "2025-03-31T23:59:00", "granularity": "minute"},
            {"name": "dob", "kind": "date", "min": "1912-01-01", "max": "2025-03-31"},
            {"name": "sex", "kind": "categorical", "values": ["1", "2"]}
        ]}"#,
    )
    .unwrap();
    assert_eq!(s.generalise("age", "5").unwrap(), "age in bands of 5");
    match &s.column("age").unwrap().kind {
        ColumnKind::Integer {
            bins: Some(Binning::Edges(e)),
            ..
        } => {
            assert_eq!(e.first(), Some(&0.0));
            assert_eq!(e[1], 5.0);
            // 110 sits in the last band [110, 115).
            assert_eq!(e.last(), Some(&115.0));
            assert_eq!(e.len(), 24);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.generalise("arrival", "day").unwrap(),
        "arrival to the day"
    );
    assert!(matches!(
        s.column("arrival").unwrap().kind,
        ColumnKind::Datetime {
            granularity: TimeGranularity::Day,
            ..
        }
    ));
    s.generalise("dob", "year").unwrap();
    assert!(matches!(
        s.column("dob").unwrap().kind,
        ColumnKind::Date {
            granularity: DateGranularity::Year,
            ..
        }
    ));
    for (column, level, needle) in [
        ("age", "0", "whole width"),
        ("age", "five", "whole width"),
        ("arrival", "week", "second, minute, hour or day"),
        ("dob", "hour", "day, week, month or year"),
        ("sex", "day", "only dates, datetimes and integers"),
    ] {
        let e = s.generalise(column, level).unwrap_err();
        assert!(
            matches!(e, DataError::InvalidArgument { .. }) && e.to_string().contains(needle),
            "{column}={level}: {e}"
        );
    }
    assert!(matches!(
        s.generalise("nope", "day"),
        Err(DataError::UnknownColumn { .. })
    ));
}

/// Issue 14: `pets summary` on a datetime by the second from 1900 aborted with "memory
/// allocation of 31619634728 bytes failed". Validation now refuses the schema, naming the
/// column, its size and what fits.
#[test]
fn dense_code_spaces_are_capped_with_what_to_do() {
    let e = invalid(
        r#"{"columns": [{"name": "arrival", "kind": "datetime", "granularity": "second",
            "min": "1900-01-01T00:00:00", "max": "2024-12-31T23:59:59"}]}"#,
    );
    assert!(
        e.contains("\"arrival\"")
            && e.contains("3,944,678,400")
            && e.contains("16,777,216")
            && e.contains("\"hour\" gives 1,095,744")
            && e.contains("\"day\" gives 45,656"),
        "{e}"
    );
    // A granularity that does not fit either (65.7 million minutes) is not offered.
    assert!(!e.contains("minute"), "{e}");
    // A year by the second is 31.6 million codes: refused, the minute offered.
    let e = invalid(
        r#"{"columns": [{"name": "t", "kind": "datetime", "granularity": "second",
            "min": "2024-01-01T00:00:00", "max": "2024-12-31T23:59:59"}]}"#,
    );
    assert!(
        e.contains("31,622,400") && e.contains("\"minute\" gives 527,040"),
        "{e}"
    );
    // Dates over chrono's whole range, bins by the billion, wide integers.
    let d = ColumnSpec::new(
        "d",
        ColumnKind::Date {
            min: NaiveDate::MIN,
            max: NaiveDate::MAX,
            granularity: DateGranularity::Day,
            format: None,
        },
    );
    let e = d.validate().unwrap_err().to_string();
    assert!(
        e.contains("\"d\"") && e.contains("\"year\" gives 524,286"),
        "{e}"
    );
    let e = invalid(
        r#"{"columns": [{"name": "x", "kind": "float", "min": 0, "max": 1, "bins": 4000000000}]}"#,
    );
    assert!(
        e.contains("4,000,000,000") && e.contains("fewer bins"),
        "{e}"
    );
    let e = invalid(
        r#"{"columns": [{"name": "n", "kind": "integer", "min": -9223372036854775808,
            "max": 9223372036854775807}]}"#,
    );
    assert!(
        e.contains("18,446,744,073,709,551,616") && e.contains("declare bins"),
        "{e}"
    );
    // At the cap, fine.
    let ok = ColumnSpec::integer("n", 1, MAX_CODES as i64);
    assert_eq!(ok.code_space(), Some(u128::from(MAX_CODES)));
    ok.validate().unwrap();
    assert!(
        ColumnSpec::integer("n", 0, MAX_CODES as i64)
            .validate()
            .is_err()
    );
    // The code space agrees with the encoder's count for every kind.
    for c in &ae_like().columns {
        assert_eq!(c.code_space(), c.n_values().map(u128::from), "{}", c.name);
    }
}

#[test]
fn a_missing_key_a_kind_needs_is_named_with_its_column() {
    for (column, key) in [
        (r#"{"name": "s", "kind": "categorical"}"#, "values"),
        (r#"{"name": "age", "kind": "integer", "min": 0}"#, "max"),
        (
            r#"{"name": "d", "kind": "date", "max": "2024-01-01"}"#,
            "min",
        ),
    ] {
        let e = Schema::from_json(&format!(r#"{{"columns": [{column}]}}"#)).unwrap_err();
        let said = e.to_string();
        assert!(matches!(e, DataError::InvalidSchema { .. }), "{said}");
        assert!(said.contains(&format!("{key:?}")), "{said}");
        let name = column.split('"').nth(3).unwrap();
        assert!(said.contains(&format!("(column {name:?})")), "{said}");
    }
}
