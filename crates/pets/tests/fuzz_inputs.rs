//! Fuzzing of everything pets reads from a file (proptest-based: stable Rust has no
//! libFuzzer): CSV/TSV text through the dialect sniffer, the reader and the encoder;
//! corrupted Parquet files; schema files (JSON and TOML); `pets dp query` specs (TOML and
//! JSON, run end to end on a small table). Inputs are arbitrary bytes and, mostly,
//! structure-aware edits of valid inputs (flipped, inserted, deleted and swapped bytes,
//! extreme numbers, BOMs, NULs, CRLF, unbalanced quotes, deep nesting).
//!
//! The property: Ok or a typed error, never a panic, never an allocation over 1 GiB, never
//! more than 10 s. `PETS_FUZZ_CASES=100000 cargo test --release -p pets --test fuzz_inputs`
//! runs longer (benches/README.md, "Fuzzing"). Reproducers of what it found are the named
//! tests at the end.

mod fuzz_common;

use fuzz_common::{check, config, input, input_path};
use pets::data::io::open_table_with;
use pets::data::{CsvDialect, EncodeOptions, OutOfDomain, Schema, TableSource, TableSummary};
use proptest::prelude::*;

#[global_allocator]
static ALLOC: cap::Cap<std::alloc::System> = fuzz_common::capped();

const SCHEMA: &str = r#"{"columns": [
  {"name": "age", "kind": "integer", "min": 0, "max": 120, "nullable": true},
  {"name": "sex", "kind": "categorical", "values": ["F", "M", "X"], "nullable": true},
  {"name": "arrival", "kind": "date", "min": "2024-01-01", "max": "2024-12-31", "nullable": true},
  {"name": "when", "kind": "datetime", "min": "2024-01-01T00:00:00",
   "max": "2024-12-31T23:59:00", "granularity": "minute", "nullable": true},
  {"name": "score", "kind": "float", "min": 0, "max": 1, "bins": 10, "nullable": true},
  {"name": "ward", "kind": "categorical", "values": ["Pédiatrie", "Gériatrie", "A&E"], "nullable": true},
  {"name": "name", "kind": "text", "nullable": true}
]}"#;

const CSV_SEEDS: &[&str] = &[
    "age,sex,arrival,when,score,ward,name\n\
     34,F,2024-03-01,2024-03-01T10:15:00,0.5,Pédiatrie,José\n\
     80,M,2024-12-31,2024-12-31 23:59:00,1,Gériatrie,\"Smith, J\"\n\
     ,X,,,,A&E,\n",
    "34;F;2024-03-01;2024-03-01T10:15:00;0.25;A&E;Zoë\n7;M;2024-01-01;2024-01-01T00:00:00;0;A&E;x\n",
    "age, sex, arrival, when, score, ward, name\r\n 1, F, 2024-02-29, 2024-02-29T12:00:00, 0.9, A&E, \"a \"\"quoted\"\" name\"\r\n",
    "\u{feff}age\tsex\tarrival\twhen\tscore\tward\tname\n5\tF\t2024-05-05\t2024-05-05T05:05:05\t0.1\tA&E\tn\n",
];

const CSV_TOKENS: &[&[u8]] = &[
    b"\"unbalanced",
    b"\n1,2,3,4,5,6,7,8,9\n",
    b"\n1\n",
    b",,,,,,,,,,,,",
    b"N",
    b"?",
    b"NA",
    b"age",
    b"\"\n\"",
    b"#",
];

fn dialects() -> Vec<CsvDialect> {
    let with = |f: fn(&mut CsvDialect)| {
        let mut d = CsvDialect::default();
        f(&mut d);
        d
    };
    vec![
        CsvDialect::default(),
        with(|d| d.encoding = Some("latin-1".into())),
        with(|d| d.encoding = Some("utf-16".into())),
        with(|d| d.encoding = Some("utf-8".into())),
        with(|d| {
            d.header = Some(false);
            d.trim = Some(true);
            d.null_values = Some(vec!["".into(), "?".into(), "N".into()]);
        }),
        with(|d| {
            d.delimiter = Some(';');
            d.quote = Some('\'');
        }),
        with(|d| d.column_names = Some(vec!["a".into(), "a".into()])),
    ]
}

/// Read `bytes` as a text file every way a job does; `Ok`/typed errors only.
fn read_text(bytes: &[u8], ext: &str, dialect: &CsvDialect, map_other: bool) {
    let path = input_path("csv", ext);
    std::fs::write(&path, bytes).unwrap();
    let schema = Schema::from_json(SCHEMA).unwrap();
    let names: Vec<String> = schema.names().map(String::from).collect();
    if let Ok(stream) = open_table_with(&path, 3, None, dialect, Some(&names)) {
        let _ = stream.collect_batches();
    }
    let source = TableSource::file(&path).with_csv(dialect.clone());
    if let Ok((pinned, _warnings)) = source.pinned(Some(&schema)) {
        let opts = EncodeOptions {
            out_of_domain: if map_other {
                OutOfDomain::MapToOther
            } else {
                OutOfDomain::Error
            },
            allow_empty: map_other,
            ..EncodeOptions::default()
        };
        if let Ok(encoded) = pinned.encode(
            &schema,
            opts,
            &["name".to_string()],
            &pets::progress::Progress::none(),
        ) {
            let _ = TableSummary::of(&encoded.table, 5);
        }
    }
}

fn csv_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = CSV_SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    // The first seed in latin-1 and in UTF-16 with a BOM.
    let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(CSV_SEEDS[0]);
    seeds.push(latin1.into_owned());
    seeds.push(
        [0xFF, 0xFE]
            .into_iter()
            .chain(CSV_SEEDS[0].encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
    );
    seeds
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn csv_files_read_or_fail_cleanly(
        bytes in input(csv_seeds(), CSV_TOKENS),
        d in 0usize..7,
        tsv in any::<bool>(),
        map_other in any::<bool>(),
    ) {
        let dialect = &dialects()[d];
        let ext = if tsv { "tsv" } else { "csv" };
        check("reading a text file", || read_text(&bytes, ext, dialect, map_other))?;
    }
}

// ---------------------------------------------------------------- Parquet

#[cfg(feature = "parquet")]
mod parquet_files {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMillisecondArray,
    };
    use arrow_schema::{DataType, Field, Schema as ArrowSchema, TimeUnit};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A small valid Parquet file (two row groups) in `compression`.
    pub fn valid(compression: Compression, dictionary: bool) -> Vec<u8> {
        let schema = Arc::new(ArrowSchema::new(vec![
            Field::new("age", DataType::Int64, true),
            Field::new("sex", DataType::Utf8, true),
            Field::new("arrival", DataType::Date32, true),
            Field::new(
                "when",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("score", DataType::Float64, true),
            Field::new("ward", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, true),
        ]));
        let n = 40;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (i % 7 != 0).then_some(i)),
            )),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| Some(["F", "M", "X"][i as usize % 3])),
            )),
            Arc::new(Date32Array::from_iter(
                (0..n).map(|i| Some(19_723 + i as i32)),
            )),
            Arc::new(TimestampMillisecondArray::from_iter(
                (0..n).map(|i| Some(1_704_067_200_000 + i * 60_000)),
            )),
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| Some(i as f64 / n as f64)),
            )),
            Arc::new(StringArray::from_iter((0..n).map(|i| {
                Some(["Pédiatrie", "Gériatrie", "A&E"][i as usize % 3])
            }))),
            Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(dictionary)
            .set_max_row_group_row_count(Some(25))
            .build();
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        out
    }

    fn seeds() -> Vec<Vec<u8>> {
        vec![
            valid(Compression::UNCOMPRESSED, false),
            valid(Compression::SNAPPY, true),
            valid(Compression::ZSTD(ZstdLevel::default()), true),
            valid(Compression::LZ4_RAW, false),
        ]
    }

    /// Read `bytes` as a Parquet file every way a job does.
    pub fn read(bytes: &[u8]) {
        let path = input_path("parquet", "parquet");
        std::fs::write(&path, bytes).unwrap();
        if let Ok(stream) = pets::data::io::read_parquet(&path, 7) {
            let _ = stream.collect_batches();
        }
        let schema = Schema::from_json(SCHEMA)
            .unwrap()
            .select(&["age", "sex", "arrival", "when", "score", "ward"])
            .unwrap();
        let source = TableSource::file(&path);
        if let Ok((pinned, _)) = source.pinned(Some(&schema)) {
            let opts = EncodeOptions {
                out_of_domain: OutOfDomain::MapToOther,
                ..EncodeOptions::default()
            };
            if let Ok(e) = pinned.encode(&schema, opts, &[], &pets::progress::Progress::none()) {
                let _ = TableSummary::of(&e.table, 3);
            }
        }
    }

    /// Edits biased to the footer (the metadata) and page headers.
    fn corrupt() -> impl Strategy<Value = Vec<u8>> {
        let seeds = seeds();
        let n = seeds.len();
        (
            0..n,
            proptest::collection::vec((any::<bool>(), any::<usize>(), any::<u8>()), 1..6),
            fuzz_common::edits(),
            any::<bool>(),
        )
            .prop_map(move |(i, flips, edits, structural)| {
                let mut v = seeds[i].clone();
                let len = v.len();
                for (footer, p, b) in flips {
                    // Footer: the last 8 bytes hold its length and the magic; before them
                    // the thrift metadata.
                    let at = if footer {
                        len - 1 - p % 400.min(len - 1)
                    } else {
                        p % len
                    };
                    v[at] = b;
                }
                if structural {
                    v = fuzz_common::mutate(
                        &v,
                        &edits,
                        &[b"PAR1", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00"],
                    );
                }
                v
            })
    }

    proptest! {
        #![proptest_config(config(300))]

        #[test]
        fn corrupted_parquet_files_read_or_fail_cleanly(bytes in corrupt()) {
            check("reading a Parquet file", || read(&bytes))?;
        }
    }

    #[test]
    fn the_seed_files_are_valid() {
        for s in seeds() {
            let path = input_path("parquet-seed", "parquet");
            std::fs::write(&path, &s).unwrap();
            let rows: usize = pets::data::io::read_parquet(&path, 7)
                .unwrap()
                .collect_batches()
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum();
            assert_eq!(rows, 40);
        }
    }
}

// ---------------------------------------------------------------- schema files

const SCHEMA_TOKENS: &[&[u8]] = &[
    b"\"kind\": \"datetime\"",
    b"\"kind\": \"integer\"",
    b"\"kind\": \"float\"",
    b"\"kind\": \"date\"",
    b"\"granularity\": \"second\"",
    b"\"bins\": 4294967295",
    b"\"bins\": {\"edges\": []}",
    b"\"values\": []",
    b"\"hierarchy\": {\"bands\": {\"widths\": [0]}}",
    b"\"hierarchy\": {\"levels\": [\"year\", \"day\"]}",
    b"null",
    b"true",
    b"{}",
    b"[]",
    b"\\u0000",
    b"\\ud800",
    b"\"csv\": {\"encoding\": \"utf-16\", \"delimiter\": \"\\n\"}",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
    b"[[columns]]\nname = \"x\"\nkind = \"text\"\n",
    b"a.b.c.d.e = 1\n",
    b"min = 1979-05-27T07:32:00Z\n",
    b"= [",
];

/// Deep nesting is its own seed: the parsers' recursion limits, not the stack, stop it.
fn deep(open: &str, close: &str, n: usize) -> Vec<u8> {
    format!("{}{}", open.repeat(n), close.repeat(n)).into_bytes()
}

fn schema_seeds(lang: &str) -> Vec<Vec<u8>> {
    let text = include_str!("../../../docs/schema.md");
    let fence = format!("```{lang}\n");
    let mut seeds: Vec<Vec<u8>> = text
        .split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().as_bytes().to_vec())
        .collect();
    seeds.push(SCHEMA.as_bytes().to_vec());
    if lang == "json" {
        seeds.push(deep("[", "]", 100_000));
        seeds.push(format!("{{\"columns\": {}}}", "[".repeat(50_000)).into_bytes());
    } else {
        seeds.push(deep("a = [", "]", 20_000));
        seeds.push(format!("a = {}", "{b = ".repeat(20_000)).into_bytes());
    }
    seeds
}

/// Load a schema as `pets` does, and build what every job builds from one.
fn load_schema(bytes: &[u8], toml: bool) {
    let path = input_path("schema", if toml { "toml" } else { "json" });
    std::fs::write(&path, bytes).unwrap();
    if let Ok(schema) = Schema::load(&path) {
        for c in &schema.columns {
            let _ = c.n_values();
        }
        let _ = pets::data::Encoder::new(&schema, EncodeOptions::default());
        let _ = schema.to_toml();
        let back = Schema::from_json(&schema.to_json());
        assert!(back.is_ok(), "a loaded schema saves and loads: {back:?}");
    }
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn schema_json_loads_or_fails_cleanly(bytes in input(schema_seeds("json"), SCHEMA_TOKENS)) {
        check("loading a JSON schema", || load_schema(&bytes, false))?;
    }

    #[test]
    fn schema_toml_loads_or_fails_cleanly(bytes in input(schema_seeds("toml"), SCHEMA_TOKENS)) {
        check("loading a TOML schema", || load_schema(&bytes, true))?;
    }
}

// ---------------------------------------------------------------- DP query specs

#[cfg(feature = "dp")]
mod dp_specs {
    use pets::dp::Cost;
    use pets::dp::queries::spec::QuerySpec;
    use pets::dp::spec_job::SpecJob;

    use super::*;

    const SPEC_TOML: &str = r#"
max_rows_per_person = 3
seed = 1
alpha = 0.05

[[query]]
kind = "count"

[[query]]
kind = "histogram"
dimensions = ["sex", "hour(when)", "age"]
weight = 2
non_negative = true

[[query]]
kind = "mean"
column = "age"
lower = 0
upper = 120

[[query]]
kind = "quantile"
column = "age"
quantiles = [0.25, 0.5, 0.75]
lower = 0
upper = 110

[[query]]
kind = "sum"
column = "score"
lower = 0
upper = 1

[[query]]
kind = "group_by"
dimensions = ["ward"]
"#;

    const SPEC_TOKENS: &[&[u8]] = &[
        b"[[query]]\nkind = \"count\"\n",
        b"[[query]]\nkind = \"histogram\"\ndimensions = [\"when\", \"age\", \"arrival\", \"score\"]\n",
        b"[[query]]\nkind = \"quantile\"\ncolumn = \"age\"\nlower = -1e308\nupper = 1e308\n",
        b"[[query]]\nkind = \"median\"\ncolumn = \"score\"\nlower = 0\nupper = 1\n",
        b"[[query]]\nkind = \"variance\"\ncolumn = \"age\"\nlower = 0\nupper = 1e300\n",
        b"weight = 1e-320\n",
        b"max_rows_per_person = 4294967295\n",
        b"id_column = \"name\"\n",
        b"noise = \"gaussian\"\n",
        b"hour(when)",
        b"year(arrival)",
        b"\"kind\"",
        b"nan",
        b"inf",
        b"-inf",
        b"[",
        b"]",
        b"quantiles = [0, 1, 0.5, 2, -1]",
    ];

    fn seeds() -> Vec<Vec<u8>> {
        let spec = QuerySpec::from_toml(SPEC_TOML).unwrap();
        vec![
            SPEC_TOML.as_bytes().to_vec(),
            serde_json::to_vec(&spec).unwrap(),
            SPEC_TOML
                .replace(
                    "max_rows_per_person = 3",
                    "id_column = \"name\"\nmax_rows_per_person = 3",
                )
                .into_bytes(),
        ]
    }

    fn table() -> std::path::PathBuf {
        let path = input_path("dp-data", "csv");
        if !path.exists() {
            let mut text = String::from("age,sex,arrival,when,score,ward,name\n");
            for i in 0..60 {
                text.push_str(&format!(
                    "{},{},2024-{:02}-01,2024-01-01T{:02}:00:00,{},{},p{}\n",
                    i * 2 % 121,
                    ["F", "M", "X"][i % 3],
                    i % 12 + 1,
                    i % 24,
                    (i % 10) as f64 / 10.0,
                    ["Pédiatrie", "Gériatrie", "A&E"][i % 3],
                    i % 20
                ));
            }
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
        path
    }

    /// Parse a spec as `pets dp query` does and run it on a small table.
    pub fn run(bytes: &[u8], json: bool) {
        let path = input_path("spec", if json { "json" } else { "toml" });
        std::fs::write(&path, bytes).unwrap();
        let Ok(spec) = QuerySpec::load(&path) else {
            return;
        };
        let schema = Schema::from_json(SCHEMA).unwrap();
        for total in [Cost::epsilon(1.0).with_delta(1e-6), Cost::rho(0.5)] {
            let _ = SpecJob::new(spec.clone(), total)
                .seed(Some(7))
                .run(table(), &schema);
        }
    }

    proptest! {
        #![proptest_config(config(150))]

        #[test]
        fn dp_specs_run_or_fail_cleanly(bytes in input(seeds(), SPEC_TOKENS), json in any::<bool>()) {
            check("running a DP spec", || run(&bytes, json))?;
        }
    }
}

// ---------------------------------------------------------------- reproducers

/// Reproducers of the Parquet panics the fuzzer found (arrow/parquet 59 panic on a corrupt
/// embedded Arrow schema, "Timestamp type with unit of <UNKNOWN -32760> not supported", and
/// on corrupt pages, "slice must not be empty" / "offset + len out of bounds"): every
/// single-byte corruption of a small file reads or fails with a typed error, and both
/// caught panics are among them.
#[cfg(feature = "parquet")]
#[test]
fn every_single_byte_corruption_of_a_parquet_file_is_a_typed_error() {
    use parquet::basic::Compression;
    let valid = parquet_files::valid(Compression::UNCOMPRESSED, false);
    let path = input_path("parquet-bytes", "parquet");
    let (mut footer, mut page) = (0, 0);
    for at in (0..valid.len()).step_by(3) {
        for b in [0x00, 0xFF, b'A', b'g'] {
            let mut v = valid.clone();
            v[at] = b;
            std::fs::write(&path, &v).unwrap();
            let read = pets::data::io::read_parquet(&path, 7).and_then(|s| s.collect_batches());
            if let Err(e) = read {
                let m = e.to_string();
                footer += usize::from(m.contains("Arrow schema in its footer is corrupt"));
                page += usize::from(m.contains("a data page is corrupt"));
            }
        }
    }
    assert!(footer > 0 && page > 0, "footer {footer}, page {page}");
}

#[test]
fn the_seeds_themselves_load() {
    for s in schema_seeds("json").iter().take(3) {
        load_schema(s, false);
    }
    read_text(
        CSV_SEEDS[0].as_bytes(),
        "csv",
        &CsvDialect::default(),
        false,
    );
}
