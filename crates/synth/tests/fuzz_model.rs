//! Fuzzing of the synthesiser's model-file loader (`SynthModel::load` / `from_json` and its
//! validation): arbitrary bytes and structure-aware edits of a real fitted model (numbers
//! made extreme, keys swapped, arrays cut, nesting deepened). The property: a typed error or
//! a model that samples (a loaded model is trusted by `pets synth sample`), never a panic,
//! an absurd allocation or a hang. `PETS_FUZZ_CASES` runs it longer (benches/README.md,
//! "Fuzzing").

#[path = "../../pets/tests/fuzz_common/mod.rs"]
mod fuzz_common;

use std::sync::{Arc, OnceLock};

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use fuzz_common::{check, config, input, input_path};
use pets::data::{EncodeOptions, Schema, encode_batches};
use pets_synth::{MstOptions, SynthModel, fit_mst};
use proptest::prelude::*;

#[global_allocator]
static ALLOC: cap::Cap<std::alloc::System> = fuzz_common::capped();

/// A small fitted model, as JSON.
fn model_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let schema = Schema::from_json(
            r#"{"columns": [
              {"name": "sex", "kind": "categorical", "values": ["F", "M"]},
              {"name": "age", "kind": "integer", "min": 0, "max": 9, "nullable": true},
              {"name": "band", "kind": "categorical", "values": ["a", "b", "c"], "ordered": true},
              {"name": "day", "kind": "date", "min": "2024-01-01", "max": "2024-01-10",
               "granularity": "day"}
            ]}"#,
        )
        .unwrap();
        let n = 300;
        let col = |f: &dyn Fn(usize) -> Option<String>| -> ArrayRef {
            Arc::new(StringArray::from_iter((0..n).map(f)))
        };
        let batch = RecordBatch::try_new(
            Arc::new(ArrowSchema::new(
                ["sex", "age", "band", "day"]
                    .map(|c| Field::new(c, DataType::Utf8, true))
                    .to_vec(),
            )),
            vec![
                col(&|i| Some(["F", "M"][i % 2].into())),
                col(&|i| (i % 11 != 0).then(|| (i * 7 % 10).to_string())),
                col(&|i| Some(["a", "b", "c"][(i / 3) % 3].into())),
                col(&|i| Some(format!("2024-01-{:02}", i % 10 + 1))),
            ],
        )
        .unwrap();
        let table = encode_batches(&schema, &[batch], EncodeOptions::default()).unwrap();
        let model = fit_mst(
            &table,
            &["sex", "age", "band", "day"],
            &MstOptions::new(1.0, 1e-6),
        )
        .unwrap();
        serde_json::to_string_pretty(&model).unwrap()
    })
}

const MODEL_TOKENS: &[&[u8]] = &[
    b"\"original_size\": 4294967295",
    b"\"n_values\": 4294967295",
    b"\"null_code\": 4294967295",
    b"\"total\": 1e308",
    b"\"total\": -0",
    b"[[0, 1, 2, 3], [0]]",
    b"[]",
    b"[[]]",
    b"[0, null]",
    b"[1e308, -1e308]",
    b"\"format\": \"pets-synth-model\"",
    b"\"version\": 1",
    b"\"kind\": \"datetime\", \"granularity\": \"second\", \"min\": \"1900-01-01T00:00:00\", \"max\": \"2024-12-31T23:59:59\"",
    b"\"kind\": \"integer\", \"min\": 0, \"max\": 16777215",
    b"\"rare_cdf\": [0.5, 1]",
    b"null",
    b"{}",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
];

fn seeds() -> Vec<Vec<u8>> {
    let json = model_json();
    let compact: serde_json::Value = serde_json::from_str(json).unwrap();
    vec![
        json.as_bytes().to_vec(),
        serde_json::to_vec(&compact).unwrap(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
    ]
}

/// Load a model file as `pets synth sample` does, and sample a few rows from it.
fn load_and_sample(bytes: &[u8]) {
    let path = input_path("model", "json");
    std::fs::write(&path, bytes).unwrap();
    if let Ok(model) = SynthModel::load(&path) {
        let _ = model.sample_table(50, 1);
        let _ = model.default_rows();
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn model_files_load_or_fail_cleanly(bytes in input(seeds(), MODEL_TOKENS)) {
        check("loading a model file", || load_and_sample(&bytes))?;
    }
}

#[test]
fn the_seed_model_loads_and_samples() {
    let model = SynthModel::from_json(model_json()).unwrap();
    assert_eq!(model.sample_table(20, 3).unwrap().n_rows(), 20);
}

/// The seed model with the first `"key": value` of `key` set to `to`.
fn edited(key: &str, to: &str) -> String {
    let json = model_json();
    let at = json.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
    let end = at + json[at..].find([',', '\n', '}']).unwrap();
    format!("{}{to}{}", &json[..at], &json[end..])
}

/// Reproducer: a compression claiming 2^32 - 1 codes made the loader allocate a 4 GB
/// table of seen codes before checking anything.
#[test]
fn a_huge_original_size_is_refused_before_allocating() {
    let e = SynthModel::from_json(&edited("original_size", "4294967295"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("4294967295"), "{e}");
}

/// Reproducer: a model whose codebooks disagree with its schema or compression loaded, and
/// sampling then indexed past the codebook.
#[test]
fn codebooks_schema_and_compression_must_agree() {
    for (key, to) in [("n_values", "7"), ("null_code", "null"), ("max", "99")] {
        let text = edited(key, to);
        if let Ok(m) = SynthModel::from_json(&text) {
            // Whatever loads must sample.
            m.sample_table(10, 1).unwrap();
        }
    }
    // A schema that does not validate is refused.
    let e = SynthModel::from_json(&edited("min", "10"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("schema") || e.contains("min"), "{e}");
}
