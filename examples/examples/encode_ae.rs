//! Generate A&E attendances, encode them against the declared schema, and print an
//! arrival-hour by age-band marginal: the shape every later capability starts from.
//!
//! `cargo run --release -p pets-examples --example encode_ae -- [rows] [seed]`

use pets::data::{EncodeOptions, TableSummary, encode_batches};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};
use pets_synth::Marginal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(7);

    let config = AeConfig::new(rows, seed);
    let schema = ae_schema_for(&config);
    let batches: Vec<_> = AeGenerator::new(config)?.collect();
    let table = encode_batches(&schema, &batches, EncodeOptions::default())?;
    println!(
        "{} rows encoded into {} columns ({} bytes of codes)",
        table.n_rows(),
        table.columns().len(),
        table.code_bytes()
    );

    let summary = TableSummary::of(&table, 1);
    for c in summary.columns.iter().take(5) {
        println!(
            "  {:<20} {:>6} codes, most frequent {:?}",
            c.name,
            c.codes,
            c.top.first()
        );
    }

    let m = Marginal::compute(&table, &["age_band", "department_type"])?;
    let age = table.column("age_band")?;
    let dept = table.column("department_type")?;
    println!("\nattendances by age band and department type:");
    for a in 0..m.shape[0] {
        let row: Vec<String> = (0..m.shape[1])
            .map(|d| {
                format!(
                    "{}={:>7}",
                    dept.label(d),
                    m.counts[m.index(&[a, d]).expect("in range")]
                )
            })
            .collect();
        println!("  {:<6} {}", age.label(a), row.join("  "));
    }
    Ok(())
}
