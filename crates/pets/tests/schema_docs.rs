//! Every example schema in `docs/schema.md` parses (JSON and TOML), so the reference can
//! never drift from the code.

use pets::data::Schema;

fn blocks(lang: &str) -> Vec<String> {
    let text = include_str!("../../../docs/schema.md");
    let fence = format!("```{lang}\n");
    text.split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

#[test]
fn every_example_in_the_schema_reference_parses() {
    let json = blocks("json");
    let toml = blocks("toml");
    assert!(json.len() >= 4 && !toml.is_empty());
    for b in json {
        Schema::from_json(&b).unwrap_or_else(|e| panic!("{e}\n{b}"));
    }
    for b in toml {
        let s = Schema::from_toml(&b).unwrap_or_else(|e| panic!("{e}\n{b}"));
        assert_eq!(s.csv.unwrap().null_values.unwrap(), ["", "?"]);
    }
}
