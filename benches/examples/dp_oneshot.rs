//! One-shot timing of the DP histogram of A&E arrivals by provider x hour of day x age band
//! (see `benches/README.md`), split into its parts.
//!
//! ```text
//! cargo run --release -p pets-benches --example dp_oneshot -- 25000000 [REPEAT]
//! cargo run --release -p pets-benches --example dp_oneshot -- /tmp/ae.parquet [REPEAT]
//! ```
//!
//! With a row count the rows are generated (seed 7) and streamed through the encoder; with a
//! Parquet file they are read from it (the file the Python peers read, for a like-for-like
//! ratio). Printed, each the median of REPEAT runs (default 5):
//! - `encode`: the three columns to `u32` codes (once; streaming, with generation or reading);
//! - `person keys`: dense ids from the NHS numbers (once);
//! - `bounding`: keep at most 3 rows a person, sampled uniformly (`Bounded::by_person`);
//! - `histogram (row level)`: exact counting of every row into the 220 x 24 x 7 cells plus
//!   discrete Laplace noise on every cell, at epsilon 1;
//! - `noise`: the same noise on a vector of that many cells alone (so counting is the
//!   difference; noise runs on rayon across cells, so it is the part most sensitive to a
//!   busy second core);
//! - `scale calibration`: `DiscreteLaplace::for_epsilon`, which the histogram runs once;
//! - `histogram (3 per person)`: the release an analyst would make, on bounded rows;
//! - `provider x age band`: counting without the hour-of-day lookup (1,540 cells, so little
//!   noise), to show what the hour table costs.

use std::hint::black_box;
use std::time::Instant;

use arrow_array::ArrayRef;
use pets::data::io::{DEFAULT_BATCH_ROWS, open_table};
use pets::data::{EncodeOptions, EncodedTable, Encoder};
use pets::dp::bounding::{Bounded, RowKeys};
use pets::dp::mechanisms::DiscreteLaplace;
use pets::dp::queries::histogram::{HistogramQuery, histogram};
use pets::dp::queries::{Dimension, DpData};
use pets::dp::{Contribution, Cost, QueryRecord, Session};
use pets_benches::{DP_COLUMNS, ae_encoded_with, config};
use pets_datasets::ae::ae_schema_for;

type Error = Box<dyn std::error::Error>;

fn median(mut f: impl FnMut(), repeat: usize) -> f64 {
    let mut t: Vec<f64> = (0..repeat)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let source = args.next().unwrap_or_else(|| "1000000".into());
    let repeat: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let mut nhs: Vec<ArrayRef> = Vec::new();
    let t = Instant::now();
    let table: EncodedTable = match source.replace('_', "").parse::<u64>() {
        Ok(rows) => {
            let schema = ae_schema_for(&config(rows));
            ae_encoded_with(rows, &schema, &DP_COLUMNS, |b| {
                nhs.push(b.column_by_name("nhs_number").expect("nhs_number").clone())
            })
        }
        Err(_) => {
            let schema = ae_schema_for(&config(1));
            let mut enc = Encoder::new(
                &schema,
                EncodeOptions {
                    columns: Some(DP_COLUMNS.iter().map(|c| c.to_string()).collect()),
                    ..Default::default()
                },
            )?;
            for batch in open_table(&source, DEFAULT_BATCH_ROWS)? {
                let batch = batch?;
                enc.push(&batch)?;
                nhs.push(
                    batch
                        .column_by_name("nhs_number")
                        .ok_or("no nhs_number")?
                        .clone(),
                );
            }
            enc.finish()?
        }
    };
    let rows = table.n_rows();
    let encode = t.elapsed().as_secs_f64();
    println!(
        "{rows} rows: generated/read and encoded {} columns in {:.2} s",
        table.columns().len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let ids = RowKeys::from_arrays("nhs_number", &nhs, false)?;
    drop(nhs);
    println!(
        "person keys: {} people from NHS numbers in {:.2} s",
        ids.n_keys(),
        t.elapsed().as_secs_f64()
    );

    let dims = vec![
        Dimension::Column("provider_code".into()),
        Dimension::HourOfDay("arrival_datetime".into()),
        Dimension::Column("age_band".into()),
    ];
    let q = HistogramQuery::new(dims, Cost::epsilon(1.0));
    let row_level = DpData::row_level(&table);
    let mut s = Session::pure(1.0)?;
    let cells = histogram(&mut s, &row_level, &q)?.counts.len();

    let bound = median(
        || {
            black_box(Bounded::by_person(&ids, 3, 1).unwrap());
        },
        repeat,
    );
    let hist_rows = median(
        || {
            let mut s = Session::pure(1.0).unwrap();
            black_box(histogram(&mut s, &row_level, &q).unwrap());
        },
        repeat,
    );
    let lap = DiscreteLaplace::for_epsilon(1.0, 1.0)?;
    let zeros = vec![100i64; cells];
    let noise = median(
        || {
            let mut s = Session::pure(10.0).unwrap();
            let rec = QueryRecord::new("bench", vec![], Contribution::row_level("bench"));
            black_box(s.release(&lap, &zeros, rec).unwrap());
        },
        repeat,
    );
    // The same counting without the hour-of-day lookup table: provider x age band.
    let q2 = HistogramQuery::new(
        vec![
            Dimension::Column("provider_code".into()),
            Dimension::Column("age_band".into()),
        ],
        Cost::epsilon(1.0),
    );
    let hist_no_hour = median(
        || {
            let mut s = Session::pure(1.0).unwrap();
            black_box(histogram(&mut s, &row_level, &q2).unwrap());
        },
        repeat,
    );
    let calibrate = median(
        || {
            black_box(DiscreteLaplace::for_epsilon(1.0, 1.0).unwrap());
        },
        repeat,
    );
    let bounded = DpData::by_person(&table, &ids, 3, 1)?;
    let hist_person = median(
        || {
            let mut s = Session::pure(1.0).unwrap();
            black_box(histogram(&mut s, &bounded, &q).unwrap());
        },
        repeat,
    );
    println!("cells: {cells}; medians of {repeat} runs:");
    println!("  bounding (3 rows a person)      {bound:>8.3} s");
    println!("  histogram, row level (count+noise) {hist_rows:>8.3} s");
    println!("  noise alone ({cells} cells)     {noise:>8.3} s");
    println!("  scale calibration (for_epsilon) {calibrate:>8.3} s");
    println!(
        "  counting (difference)           {:>8.3} s",
        (hist_rows - noise).max(0.0)
    );
    println!("  histogram, 3 per person         {hist_person:>8.3} s");
    println!("  provider x age band (no hour, 1,540 cells) {hist_no_hour:>8.3} s");
    println!(
        "  bounding + histogram (3/person) {:>8.3} s",
        bound + hist_person
    );
    // One machine-readable line for benches/peers/dp_peers.py.
    println!(
        "PETS_JSON {{\"rows\": {rows}, \"cells\": {cells}, \"encode_s\": {encode:.4}, \
         \"bounding_s\": {bound:.4}, \"histogram_s\": {hist_rows:.4}, \"noise_s\": {noise:.4}, \"calibrate_s\": {calibrate:.4}, \
         \"counting_s\": {:.4}, \"histogram_3pp_s\": {hist_person:.4}, \"no_hour_s\": {hist_no_hour:.4}}}",
        (hist_rows - noise).max(0.0)
    );
    Ok(())
}
