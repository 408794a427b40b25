//! The shipped schema file `datasets/schema/ae.schema.json` is exactly `ae_schema()`.
//!
//! To regenerate it after changing the schema, run
//! `PETS_WRITE_SCHEMA=1 cargo test -p pets-datasets --test schema_file`.

use std::path::PathBuf;

use pets::data::Schema;
use pets_datasets::ae::ae_schema;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/ae.schema.json")
}

#[test]
fn shipped_schema_file_matches_ae_schema() {
    let path = schema_path();
    let expected = ae_schema().to_json();
    if std::env::var_os("PETS_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &expected).unwrap();
        eprintln!("wrote {}", path.display());
    }
    let shipped = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        shipped == expected,
        "{} is out of date; regenerate it with \
         `PETS_WRITE_SCHEMA=1 cargo test -p pets-datasets --test schema_file`",
        path.display()
    );
    assert_eq!(Schema::load(&path).unwrap(), ae_schema());
}
