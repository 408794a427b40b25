//! A corpus of bad inputs across the commands: each case asserts the documented exit code,
//! that the message names the thing at fault, that no file is left behind in the output
//! folder, and that it answers within a few seconds (no hang).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{ae, p, pets, text};

/// One case: arguments (`{d}` = data, `{s}` = schema, `{q}` = spec, `{o}` = output folder,
/// `{m}` = a model file, `{x}` = a scratch file the case wrote), the exit code, words the
/// message must contain, and files (name, content) written into the output folder first.
struct Case {
    args: &'static str,
    code: i32,
    says: &'static [&'static str],
    files: &'static [(&'static str, &'static str)],
}

const fn case(args: &'static str, code: i32, says: &'static [&'static str]) -> Case {
    Case {
        args,
        code,
        says,
        files: &[],
    }
}

/// A case that first writes `files` into the output folder.
const fn with(
    files: &'static [(&'static str, &'static str)],
    args: &'static str,
    code: i32,
    says: &'static [&'static str],
) -> Case {
    Case {
        args,
        code,
        says,
        files,
    }
}

/// `pets risk` on the data with two quasi-identifiers, then `$rest`.
macro_rules! risk_qi {
    ($rest:literal) => {
        concat!("risk {d} --schema {s} --qi age,sex", $rest)
    };
}

/// A federation over the data's sex column at rho 0.5, then `$rest`.
macro_rules! fed {
    ($rest:literal) => {
        concat!(
            "federated simulate {d} --schema {s} --table sex --rho 0.5",
            $rest
        )
    };
}

/// A one-column schema `{"columns": [COLUMN]}` as a file `bad.json`.
macro_rules! schema_file {
    ($column:literal) => {
        &[("bad.json", concat!("{\"columns\": [", $column, "]}"))]
    };
}

const SPEC: &str = "[[query]]\nkind = \"count\"\n[[query]]\nkind = \"mean\"\ncolumn = \"age\"\nlower = 0\nupper = 110\n";

fn corpus() -> Vec<Case> {
    let mut cases = vec![
        // Files that are not there, not tables, or not what they claim.
        case("summary {o}/missing.csv", 4, &["missing.csv"]),
        case("summary {o}/data.xlsx --schema {s}", 4, &["xlsx"]),
        case("summary {o} --schema {s}", 4, &[]),
        case("risk {x} --qi age", 3, &["bad.csv"]),
        case("schema check {d} --schema {o}/nope.json", 4, &["nope.json"]),
        case(
            "dp query {d} --schema {s} --spec {o}/nope.toml --epsilon 1",
            4,
            &["nope.toml"],
        ),
        case(
            "synth sample {o}/nope.json --rows 5 --out {o}/s.csv",
            4,
            &["nope.json"],
        ),
        case(
            "synth sample {s} --rows 5 --out {o}/s.csv",
            3,
            &["not a pets synthesiser model"],
        ),
        // Options out of range exit 2, before anything is read.
        case("risk {d} --schema {s} --qi age --k 0", 2, &["k"]),
        case(
            "anonymise {d} --schema {s} --qi age,sex --max-suppression 1.5",
            2,
            &["between 0 and 1"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --hierarchy age=3,5",
            2,
            &["age", "nest"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --hierarchy sex=@{o}/nope.csv",
            4,
            &["nope.csv"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age --hierarchy ethnic_category=none",
            2,
            &["not a quasi-identifier"],
        ),
        case(
            "anonymise {d} --schema {s} --qi sex --k 100000 --max-suppression 0",
            3,
            &["no transformation"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age --output {d}",
            2,
            &["--output"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon=-1",
            2,
            &["epsilon"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 0",
            2,
            &["epsilon"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon nan",
            2,
            &["epsilon"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --rho inf",
            2,
            &["rho"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --rho 1",
            2,
            &["--rho"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --delta 2",
            2,
            &["delta"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --alpha 1.5",
            2,
            &["alpha"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon=-1 --delta 1e-9 --out {o}/m.json",
            2,
            &["epsilon"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --delta 1 --out {o}/m.json",
            2,
            &["delta"],
        ),
        case(
            "synth sample {m} --rows 10000000000000 --out {o}/s.csv",
            2,
            &["rows"],
        ),
        case(
            "risk {d} --schema {s} --qi age --delimiter ab",
            2,
            &["--delimiter"],
        ),
        case(
            "risk {d} --schema {s} --qi age --header --no-header",
            2,
            &["--no-header"],
        ),
        // Outputs that would destroy inputs.
        case("schema infer {d} --out {d}", 2, &["destroy"]),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --out {d}",
            2,
            &["destroy"],
        ),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --out {q}",
            2,
            &["destroy"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --delta 1e-9 --out {s}",
            2,
            &["destroy"],
        ),
        case(
            "datasets generate --rows 10 --out {o}/g.csv --schema-out {o}/g.csv",
            2,
            &["destroy"],
        ),
        case(
            "risk {d} --schema {s} --qi age --report {d}",
            2,
            &["destroy"],
        ),
        case(
            "risk {d} --schema {s} --qi age --report {o}/r.html --json {o}/r.html",
            2,
            &["destroy"],
        ),
        case("schema explain", 0, &["null_values", "column_names"]),
        // Columns the data or schema lack.
        case("risk {d} --schema {s} --qi nope", 3, &["nope"]),
        case(
            "dp query {d} --schema {s} --spec {x} --epsilon 1",
            3,
            &["wibble"],
        ),
        // Budgets the accountant refuses, and a budget file that is not one.
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --budget {s}",
            3,
            &["budget"],
        ),
    ];
    cases.extend(data_files());
    cases.extend(schemas());
    cases.extend(specs_and_budgets());
    cases.extend(options());
    cases.extend(federated());
    cases
}

/// Data files that are empty, not tables, or hold values their schema refuses.
fn data_files() -> Vec<Case> {
    const AGE: (&str, &str) = (
        "age.json",
        r#"{"columns": [{"name": "age", "kind": "integer", "min": 0, "max": 120}]}"#,
    );
    vec![
        with(
            &[("empty.csv", "")],
            "summary {o}/empty.csv",
            3,
            &["empty.csv"],
        ),
        with(
            &[("head.csv", "age,sex\n")],
            "risk {o}/head.csv --qi age",
            3,
            &["head.csv"],
        ),
        with(
            &[("bin.parquet", "PAR1 this is not a parquet file at all PAR1")],
            "risk {o}/bin.parquet --qi age",
            4,
            &["bin.parquet"],
        ),
        with(
            &[("dup.csv", "age,age\n1,2\n3,4\n")],
            "risk {o}/dup.csv --qi age",
            3,
            &["age", "--no-header"],
        ),
        with(
            &[("ragged.csv", "age,sex\n1,2\n3,4,5\n")],
            "summary {o}/ragged.csv",
            3,
            &["ragged.csv"],
        ),
        with(
            &[("a.txt", "age\n1\n")],
            "risk {o}/a.txt --qi age",
            4,
            &["txt"],
        ),
        with(
            &[("old.csv", "age\n200\n"), AGE],
            "summary {o}/old.csv --schema {o}/age.json",
            3,
            &["age", "200"],
        ),
        with(
            &[("word.csv", "age\nabc\n"), AGE],
            "summary {o}/word.csv --schema {o}/age.json",
            3,
            &["age", "abc"],
        ),
        with(
            &[("nan.csv", "age\nNaN\n"), AGE],
            "summary {o}/nan.csv --schema {o}/age.json",
            3,
            &["age", "NaN"],
        ),
        with(
            &[("huge.csv", "age\n99999999999999999999\n"), AGE],
            "summary {o}/huge.csv --schema {o}/age.json",
            3,
            &["age", "99999999999999999999"],
        ),
        with(
            &[("null.csv", "age,x\n4,1\n,2\n"), AGE],
            "risk {o}/null.csv --schema {o}/age.json --qi age",
            3,
            &["age", "null"],
        ),
        with(
            &[("n.csv", "age\n4\nN\n"), AGE],
            "summary {o}/n.csv --schema {o}/age.json",
            3,
            &["age", "--null N"],
        ),
        with(
            &[("pad.csv", "age,sex\n4, F\n5, M\n")],
            "summary {o}/pad.csv --schema {s} --no-trim",
            3,
            &["sex"],
        ),
        with(
            &[("nocol.csv", "age\n4\n")],
            "schema check {o}/nocol.csv --schema {s}",
            3,
            &["missing from the data"],
        ),
        case("risk {o}/missing.parquet --qi age", 4, &["missing.parquet"]),
        case("summary {o}/missing.tsv", 4, &["missing.tsv"]),
        case("dp query {o} --schema {s} --spec {q} --epsilon 1", 4, &[]),
    ]
}

/// Schema files that are not schemas, or declare what cannot be.
fn schemas() -> Vec<Case> {
    vec![
        with(
            &[("bad.json", "{\"columns\": [")],
            "summary {d} --schema {o}/bad.json",
            3,
            &["bad.json"],
        ),
        with(
            &[("bad.toml", "columns = [[[")],
            "summary {d} --schema {o}/bad.toml",
            3,
            &["bad.toml"],
        ),
        with(
            &[("bad.yaml", "columns: []")],
            "summary {d} --schema {o}/bad.yaml",
            4,
            &["yaml"],
        ),
        with(
            schema_file!(r#"{"name": "age", "kind": "integer", "min": 0, "max": 9, "wibble": 1}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["wibble", "age"],
        ),
        with(
            schema_file!(r#"{"name": "age", "kind": "number"}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["number"],
        ),
        with(
            schema_file!(r#"{"name": "age", "kind": "integer", "min": 9, "max": 0}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["age"],
        ),
        with(
            schema_file!(r#"{"name": "age", "kind": "integer", "min": 0}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["max"],
        ),
        with(
            schema_file!(
                r#"{"name": "age", "kind": "integer", "min": 0, "max": 9}, {"name": "age", "kind": "integer", "min": 0, "max": 9}"#
            ),
            "summary {d} --schema {o}/bad.json",
            3,
            &["age"],
        ),
        with(
            schema_file!(r#"{"name": "sex", "kind": "categorical", "values": []}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["sex"],
        ),
        with(
            schema_file!(r#"{"name": "sex", "kind": "categorical", "values": ["1", "1"]}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["sex", "1"],
        ),
        with(
            schema_file!(r#"{"name": "sex", "kind": "categorical", "values": [1.5]}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["1.5"],
        ),
        with(
            schema_file!(
                r#"{"name": "date_of_birth", "kind": "date", "min": "2024-13-01", "max": "2024-12-31"}"#
            ),
            "summary {d} --schema {o}/bad.json",
            3,
            &["bad.json", "out of range"],
        ),
        with(
            schema_file!(
                r#"{"name": "arrival_datetime", "kind": "datetime", "min": "1900-01-01T00:00:00", "max": "2024-12-31T23:59:59", "granularity": "second"}"#
            ),
            "summary {d} --schema {o}/bad.json",
            3,
            &["arrival_datetime", "granularity"],
        ),
        with(
            schema_file!(r#"{"name": "age", "kind": "float", "min": 0, "max": 1, "bins": 0}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["age", "bins"],
        ),
        with(
            schema_file!(r#"{"name": "age", "kind": "float", "min": 0, "max": 1e999}"#),
            "summary {d} --schema {o}/bad.json",
            3,
            &["bad.json"],
        ),
        with(
            schema_file!(
                r#"{"name": "age", "kind": "integer", "min": 0, "max": 9, "role": "boss"}"#
            ),
            "summary {d} --schema {o}/bad.json",
            3,
            &["boss"],
        ),
        with(
            &[("bad.json", "{\"columns\": []}")],
            "summary {d} --schema {o}/bad.json",
            3,
            &["column"],
        ),
        with(
            &[("bad.json", "[1, 2, 3]")],
            "risk {d} --schema {o}/bad.json --qi age",
            3,
            &["bad.json"],
        ),
        with(
            &[(
                "bad.json",
                "{\"columns\": [], \"csv\": {\"delimiter\": \"ab\"}}",
            )],
            "summary {d} --schema {o}/bad.json",
            3,
            &["bad.json", "\"ab\""],
        ),
    ]
}

/// DP query specs, budget files and model files that are not what they claim.
fn specs_and_budgets() -> Vec<Case> {
    const Q: &str = "dp query {d} --schema {s} --spec {o}/q.toml --epsilon 1";
    vec![
        with(&[("q.toml", "[[query]\nkind = ")], Q, 2, &["q.toml"]),
        with(
            &[("q.toml", "[[query]]\nkind = \"median2\"\n")],
            Q,
            2,
            &["median2"],
        ),
        with(
            &[(
                "q.toml",
                "[[query]]\nkind = \"mean\"\ncolumn = \"age\"\nlower = 110\nupper = 0\n",
            )],
            Q,
            2,
            &["lower"],
        ),
        with(&[("q.toml", "")], Q, 2, &["query"]),
        with(
            &[(
                "q.toml",
                "[[query]]\nkind = \"mean\"\ncolumn = \"sex\"\nlower = 0\nupper = 1\n",
            )],
            Q,
            3,
            &["sex"],
        ),
        with(
            &[(
                "q.toml",
                "[[query]]\nkind = \"histogram\"\ndimensions = [\"nhs_number\"]\n",
            )],
            Q,
            2,
            &["nhs_number"],
        ),
        with(
            &[("q.toml", "[[query]]\nkind = \"count\"\nwibble = 1\n")],
            Q,
            2,
            &["wibble"],
        ),
        case(
            "budget init {o}/b.json --dataset ae --epsilon=-1",
            2,
            &["epsilon"],
        ),
        case(
            "budget init {o}/b.json --dataset ae --epsilon 1 --rho 1",
            2,
            &["--rho"],
        ),
        case("budget init {o}/b.json --dataset ae", 2, &["--epsilon"]),
        case(
            "budget init {s} --dataset ae --epsilon 1",
            4,
            &["already exists"],
        ),
        case("budget show {o}/nope.json", 4, &["nope.json"]),
        with(
            &[("b.json", "{\"not\": \"a budget\"}")],
            "budget show {o}/b.json",
            3,
            &["b.json"],
        ),
        case(
            "budget charge {o}/nope.json --what x --epsilon 1",
            4,
            &["nope.json"],
        ),
        with(
            &[("b.json", "")],
            "budget charge {o}/b.json --what x --epsilon 1",
            3,
            &["b.json"],
        ),
        with(
            &[("m.json", "")],
            "synth sample {o}/m.json --rows 5 --out {o}/s.csv",
            3,
            &["m.json"],
        ),
        with(
            &[("m.json", "{\"format\": \"pets-synth-model\", ")],
            "synth sample {o}/m.json --rows 5 --out {o}/s.csv",
            3,
            &["m.json"],
        ),
        with(
            &[("m.json", "[]")],
            "synth sample {o}/m.json --rows 5 --out {o}/s.csv",
            3,
            &["m.json"],
        ),
    ]
}

/// Option values out of range or not values at all: exit 2, before anything is read.
fn options() -> Vec<Case> {
    vec![
        case("risk {d} --schema {s} --qi age --k abc", 2, &["--k"]),
        case(
            "risk {d} --schema {s} --qi age --sensitive sex --l 0",
            2,
            &["l"],
        ),
        case(
            "risk {d} --schema {s} --qi age --sensitive sex --t 1.5",
            2,
            &["t"],
        ),
        case(
            "risk {d} --schema {s} --qi age --sensitive nope",
            3,
            &["nope"],
        ),
        case("risk {d} --schema {s} --qi age,age", 2, &["age"]),
        case(
            "risk {d} --schema {s} --qi age --sensitive sex --ground-distance wat",
            2,
            &["wat"],
        ),
        case(
            "risk {d} --schema {s} --qi age --sensitive sex --t 0.2 --ground-distance hierarchical",
            2,
            &["hierarchy"],
        ),
        case(
            "risk {d} --schema {s} --qi age --sampling-fraction 0",
            2,
            &["sampling"],
        ),
        case(
            "risk {d} --schema {s} --qi age --sampling-fraction 2",
            2,
            &["sampling"],
        ),
        case(
            "risk {d} --schema {s} --qi age --population {o}/nope.csv",
            4,
            &["nope.csv"],
        ),
        case(
            "risk {d} --schema {s} --qi age --sensitive sex --hierarchy {o}/nope.json",
            4,
            &["nope.json"],
        ),
        case(
            "risk {d} --schema {s} --qi age --generalise age=decade9",
            2,
            &["decade9"],
        ),
        case("risk {d} --schema {s} --qi nhs_number", 2, &["nhs_number"]),
        case("risk {d}", 2, &["--qi"]),
        case(
            "risk {d} --schema {s} --qi age --l-variant wat --sensitive sex",
            2,
            &["wat"],
        ),
        case(
            concat!("anonymise {d} --schema {s} --qi age,sex", " --k 0"),
            2,
            &["k"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --measure wat",
            2,
            &["wat"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --front-slack=-1",
            2,
            &["slack"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --drop nope",
            3,
            &["nope"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --output {o}/r.csv --release-schema {s}",
            2,
            &["destroy"],
        ),
        case("anonymise {d} --schema {s} --qi nope", 3, &["nope"]),
        case(
            "anonymise {d} --schema {s} --qi age,sex --microaggregate sex=mean",
            2,
            &["sex", "numeric"],
        ),
        case(
            "anonymise {d} --schema {s} --qi sex --microaggregate age=median",
            2,
            &["age", "not a quasi-identifier"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --microaggregate age=average",
            2,
            &["age", "average"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age,sex --hierarchy age=5,10 --microaggregate age=mean",
            2,
            &["age", "both a hierarchy"],
        ),
        case(
            "anonymise {d} --schema {s} --qi age --microaggregate age=mean",
            2,
            &["generalise at least one"],
        ),
        case("table {d} --schema {s}", 2, &["--by"]),
        case("table {d} --schema {s} --by nope", 3, &["nope"]),
        case("table {d} --schema {s} --by sex --rule wat", 2, &["wat"]),
        case(
            "table {d} --schema {s} --by sex --rule threshold --threshold 0",
            2,
            &["threshold"],
        ),
        case("table {d} --schema {s} --by sex --out {d}", 2, &["destroy"]),
        case("table {d} --schema {s} --by nhs_number", 2, &["nhs_number"]),
        case(
            "dp query {d} --schema {s} --spec {q} --epsilon 1 --delta=-1",
            2,
            &["delta"],
        ),
        case("dp query {d} --schema {s} --spec {q}", 2, &["--epsilon"]),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --method wat --out {o}/m.json",
            2,
            &["wat"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --columns nope --out {o}/m.json",
            3,
            &["nope"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --max-values 0 --out {o}/m.json",
            2,
            &["max_values"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --person-id nope --max-rows-per-person 2 --out {o}/m.json",
            3,
            &["nope"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --person-id nhs_number --max-rows-per-person 0 --out {o}/m.json",
            2,
            &["max_rows_per_person"],
        ),
        case(
            "synth fit {d} --schema {s} --epsilon 1 --out {o}/no/m.json",
            4,
            &["no"],
        ),
        // Zero rows is allowed (a header-only file), and said.
        with(
            &[("s.csv", "")],
            "synth sample {m} --rows 0 --out {o}/s.csv",
            0,
            &["0 synthetic rows"],
        ),
        case("synth sample {m} --rows=-5 --out {o}/s.csv", 2, &["rows"]),
        case("synth sample {m} --rows 5 --out {o}/s.xlsx", 4, &["xlsx"]),
        with(
            &[("g.csv", "")],
            "datasets generate --rows 0 --out {o}/g.csv",
            0,
            &["wrote 0 rows"],
        ),
        case("datasets generate --rows 10 --out {o}/g.xlsx", 4, &["xlsx"]),
        case(
            "datasets generate --rows 10 --out {o}/g.csv --start-date 2024-13-01",
            2,
            &["2024-13-01"],
        ),
        case(
            "datasets generate --rows 10 --out {o}/g.csv --days 0",
            2,
            &["days"],
        ),
        case("datasets generate --rows 10 --out {o}/no/g.csv", 4, &["no"]),
        case(
            "schema infer {d} --max-categories 0",
            2,
            &["max-categories"],
        ),
        case("schema infer {d} --float-bins 0", 2, &["float-bins"]),
        case(risk_qi!(" --quote ab"), 2, &["--quote"]),
        case(risk_qi!(" --column-names a,a"), 3, &["column names"]),
        case(risk_qi!(" --delimiter ''"), 2, &["--delimiter"]),
        case(risk_qi!(" --null"), 2, &["--null"]),
        case("demo --rows 0 --out {o}/demo", 2, &["rows"]),
    ]
}

/// Federations that cannot run as asked.
fn federated() -> Vec<Case> {
    vec![
        case(fed!(" --split-by nope"), 3, &["nope"]),
        case(
            fed!(" --split-by provider_code --trusts 3 --protocol wat"),
            2,
            &["wat"],
        ),
        case(
            "federated simulate {d} --schema {s} --table sex --rho 0 --split-by provider_code --trusts 3",
            2,
            &["rho"],
        ),
        case(
            fed!(" --split-by provider_code --trusts 3 --threshold 1"),
            2,
            &["threshold"],
        ),
        case(fed!(" --split-by provider_code --trusts 1"), 2, &["trusts"]),
        case(
            fed!(" --split-by provider_code --trusts 3 --drop nope=before-shares"),
            2,
            &["nope"],
        ),
        case(
            fed!(" --split-by provider_code --trusts 3 --drop trust_1=later"),
            2,
            &["later"],
        ),
        case(
            "federated simulate --schema {s} --table sex --rho 0.5",
            2,
            &["--trust"],
        ),
        case(
            "federated simulate --schema {s} --table sex --rho 0.5 --trust A={o}/a.csv --trust B={o}/b.csv --trust C={o}/c.csv",
            4,
            &["a.csv"],
        ),
        case(
            "federated simulate {d} --schema {s} --table nope --rho 0.5 --split-by provider_code --trusts 3",
            3,
            &["nope"],
        ),
        case(
            fed!(" --split-by provider_code --trusts 3 --colluders 5"),
            2,
            &["colluders"],
        ),
        case(
            fed!(" --split-by provider_code --trusts 3 --max-count 0"),
            2,
            &["max_count"],
        ),
        case(
            fed!(" --split-by provider_code --trusts 3 --json {d}"),
            2,
            &["destroy"],
        ),
    ]
}

fn expand(args: &str, dir: &Path, data: &Path, schema: &Path, model: &Path) -> Vec<String> {
    let o = dir.join("out");
    args.split_whitespace()
        .map(|a| {
            a.replace("{d}", p(data))
                .replace("{s}", p(schema))
                .replace("{q}", p(&dir.join("q.toml")))
                .replace("{m}", p(model))
                .replace("{x}", p(&o.join("bad.csv")))
                .replace("{o}", p(&o))
        })
        .collect()
}

#[test]
fn every_bad_input_is_a_clear_error_with_nothing_left_behind() {
    let (dir, _parquet, schema) = ae(2_000, 5);
    // A CSV copy, so the text-file paths are exercised too.
    let data = dir.path().join("ae.csv");
    let generated = pets(&[
        "datasets",
        "generate",
        "--rows",
        "2000",
        "--seed",
        "5",
        "--out",
        p(&data),
    ]);
    assert!(generated.status.success(), "{}", text(&generated));
    std::fs::write(dir.path().join("q.toml"), SPEC).unwrap();
    let model = dir.path().join("model.json");
    fit(&data, &schema, "1", "age_band,sex", &model);
    let out = dir.path().join("out");
    let mut failures = Vec::new();
    for c in corpus() {
        std::fs::create_dir_all(&out).unwrap();
        // The scratch file: a CSV with a ragged row, or a spec naming an unknown column.
        let scratch = if c.args.contains("--spec {x}") {
            "[[query]]\nkind = \"mean\"\ncolumn = \"wibble\"\nlower = 0\nupper = 1\n"
        } else {
            "age,sex\n1,2\n3\n"
        };
        std::fs::write(out.join("bad.csv"), scratch).unwrap();
        for (name, content) in c.files {
            std::fs::write(out.join(name), content).unwrap();
        }
        let before: Vec<_> = listing(&out);
        let args = expand(c.args, dir.path(), &data, &schema, &model);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let o = pets(&args);
        let took = started.elapsed();
        let said = text(&o);
        let code = o.status.code().unwrap_or(-1);
        let after = listing(&out);
        if code != c.code {
            failures.push(format!(
                "{}: exit {code}, wanted {}: {said}",
                c.args, c.code
            ));
        } else if let Some(w) = c.says.iter().find(|w| !said.contains(*w)) {
            failures.push(format!("{}: message lacks {w:?}: {said}", c.args));
        } else if after != before {
            failures.push(format!("{}: left files behind: {after:?}", c.args));
        } else if took > Duration::from_secs(10) {
            failures.push(format!("{}: took {took:?}", c.args));
        } else if said.contains("panicked") {
            failures.push(format!("{}: panicked: {said}", c.args));
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
    // The inputs are untouched by every case.
    assert!(
        pets(&["schema", "check", p(&data), "--schema", p(&schema)])
            .status
            .success()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        corpus().len(),
        failures.join("\n")
    );
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn tampered_model_files_are_refused_not_sampled() {
    let (dir, data, schema) = ae(1_000, 6);
    let model = dir.path().join("model.json");
    fit(&data, &schema, "2", "age_band,sex,arrival_mode", &model);
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    type Tamper = Box<dyn Fn(&mut serde_json::Value)>;
    let tamperings: Vec<(&str, Tamper)> = vec![
        (
            "negative",
            Box::new(|m| m["fitted"]["tables"][0][0] = serde_json::json!(-0.5)),
        ),
        (
            "no mass",
            Box::new(|m| {
                let n = m["fitted"]["tables"][0].as_array().unwrap().len();
                m["fitted"]["tables"][0] = serde_json::json!(vec![0.0; n]);
            }),
        ),
        ("total", Box::new(|m| m["total"] = serde_json::json!(-5.0))),
        (
            // Refused by the loader's check that codes kept and merged add up.
            "kept",
            Box::new(|m| {
                let kept = m["compression"][0]["kept"].as_array().unwrap().clone();
                let mut twice = kept.clone();
                twice.push(kept[0].clone());
                m["compression"][0]["kept"] = serde_json::json!(twice);
            }),
        ),
    ];
    for (says, tamper) in tamperings {
        let mut m = good.clone();
        tamper(&mut m);
        let bad = dir.path().join("tampered.json");
        std::fs::write(&bad, m.to_string()).unwrap();
        let out = dir.path().join("s.csv");
        let o = pets(&["synth", "sample", p(&bad), "--rows", "10", "--out", p(&out)]);
        assert_eq!(o.status.code(), Some(3), "{says}: {}", text(&o));
        assert!(text(&o).contains(says), "{says}: {}", text(&o));
        assert!(!out.exists(), "{says}: a sample was written");
    }
}

/// Fit an MST model of `columns` at (`epsilon`, 1e-9) to `out`.
fn fit(data: &Path, schema: &Path, epsilon: &str, columns: &str, out: &Path) {
    let o = pets(&[
        "synth",
        "fit",
        p(data),
        "--schema",
        p(schema),
        "--epsilon",
        epsilon,
        "--delta",
        "1e-9",
        "--columns",
        columns,
        "--out",
        p(out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}
