//! `pets demo`: the end-to-end job on the bundled A&E generator.
//!
//! Generates an A&E-shaped dataset, infers its schema from the data (and says loudly why
//! that schema is not fit for release), encodes it against the generator's declared public
//! schema, prints a summary of every column, runs the release panel's disclosure-risk check
//! on the extract as it would be released (arrival date, age in 5-year bands, sex, postcode
//! district), and answers a few differentially private queries under a budget of epsilon 1
//! with patient-level contribution bounds, then fits an MST synthesiser at (1, 1e-9)-DP,
//! writes as many synthetic rows as its noisy size estimate and measures their utility.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use pets::data::{InferOptions, Schema, TableSource, TableSummary};
use pets_datasets::ae::{ae_schema_for, write_ae};
use pets_synth::FitJob;
use pets_synth::eval::evaluate;

use crate::anonymise::{self, AnonymiseArgs};
use crate::datasets::config;
use crate::dp::{self, DpQueryArgs};
use crate::exit::CliError;
use crate::progress::rows_bar;
use crate::risk::{self, GroundArg, LVariantArg, ModelArgs, RiskArgs};
use crate::schema::{infer_file, warn_domain_from_data};
use crate::summary::{encode_with_spinner, print_summary};

/// The demo's DP query spec (also shipped as `examples/specs/ae_queries.toml`).
const DEMO_SPEC: &str = include_str!("../../../examples/specs/ae_queries.toml");

/// Options of `pets demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Attendances to generate (at least 1,000: the demo fits a model and measures risk).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..))]
    pub rows: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Folder for the outputs (data, schemas).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
}

/// Run the demo.
pub fn run(a: &DemoArgs) -> Result<ExitCode, CliError> {
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::io(a.out.display(), e))?;
    let cfg = config(a.rows, a.seed, None, None);
    cfg.validate()?;
    let data = a.out.join("ae.parquet");

    println!(
        "== 1. Generate {} synthetic A&E attendances (seed {})",
        a.rows, a.seed
    );
    let bar = rows_bar(a.rows, "generating");
    let w = write_ae(&cfg, &data, |done| bar.set_position(done))?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({:.1} MB) in {:.2} s",
        data.display(),
        w.bytes as f64 / 1e6,
        w.elapsed.as_secs_f64()
    );

    println!("\n== 2. Infer a schema from the data (convenience only)");
    let t = Instant::now();
    let inferred = infer_file(&data, Default::default(), InferOptions::default())?;
    let inferred_path = a.out.join("ae.inferred.schema.json");
    inferred.save(&inferred_path)?;
    println!(
        "{} columns inferred in {:.2} s, written to {}",
        inferred.columns.len(),
        t.elapsed().as_secs_f64(),
        inferred_path.display()
    );
    for c in &inferred.columns {
        println!("  {:<32} {}", c.name, c.kind.name());
    }
    warn_domain_from_data(&inferred);

    println!("\n== 3. Encode against the declared public schema");
    let declared = ae_schema_for(&cfg);
    let declared_path = a.out.join("ae.schema.json");
    declared.save(&declared_path)?;
    let t = Instant::now();
    let table = encode_with_spinner(&data, Default::default(), &declared)?;
    println!(
        "encoded {} rows x {} columns in {:.2} s (schema: {})",
        table.n_rows(),
        table.columns().len(),
        t.elapsed().as_secs_f64(),
        declared_path.display()
    );
    let r = table.report();
    println!(
        "not encoded (direct identifiers with no public domain): {}",
        r.text_columns_not_encoded.join(", ")
    );

    println!("\n== 4. Summary");
    print_summary(&TableSummary::of(&table, 3));
    drop(table);

    println!(
        "\n== 5. Disclosure risk of the record-level extract (what a release panel would see)"
    );
    let risk_args = RiskArgs {
        csv: Default::default(),
        data: data.clone(),
        schema: Some(declared_path.clone()),
        models: demo_models(),
        hierarchy: None,
        generalise: vec!["arrival_datetime=day".into(), "age=5".into()],
        max_records_at_risk: 0.0,
        sampling_fraction: None,
        intruder: Vec::new(),
        population: None,
        attacker: None,
        no_scenarios: false,
        no_suda: false,
        report: Some(a.out.join("risk.html")),
        json: Some(a.out.join("risk.json")),
    };
    let passed = risk::run(&risk_args)?;
    println!(
        "(the extract {} the panel's checks; `pets risk` exits 1 on failure so it can gate a \
         pipeline; the demo carries on)",
        if passed { "passes" } else { "fails" }
    );

    println!("\n== 5b. The least coarsening and suppression that passes those checks");
    let anonymise_args = AnonymiseArgs {
        data: data.clone(),
        csv: Default::default(),
        schema: Some(declared_path.clone()),
        models: demo_models(),
        hierarchies: vec![
            "age=5,10,20;top=90".into(),
            "arrival_datetime=day,week".into(),
        ],
        max_suppression: 0.05,
        drop: [
            "age_band",
            "ethnic_category",
            "lsoa",
            "imd_decile",
            "provider_code",
        ]
        .map(String::from)
        .to_vec(),
        measure: "loss".into(),
        mask: false,
        front_slack: 0.5,
        microaggregate: Vec::new(),
        local_recoding: 0,
        output: Some(a.out.join("release.csv")),
        release_schema: None,
        record: None,
        report: Some(a.out.join("anonymise.html")),
        json: None,
    };
    anonymise::run(&anonymise_args)?;

    println!("\n== 6. Differentially private answers instead (epsilon 1, patient-level)");
    let spec_path = a.out.join("ae_queries.toml");
    std::fs::write(&spec_path, DEMO_SPEC).map_err(|e| CliError::io(spec_path.display(), e))?;
    let dp_args = DpQueryArgs {
        csv: Default::default(),
        data,
        schema: declared_path,
        spec: spec_path,
        epsilon: Some(1.0),
        rho: None,
        delta: 0.0,
        alpha: None,
        seed: None,
        out: Some(a.out.join("dp_results.json")),
        show_exact: false,
        budget: None,
    };
    dp::run(&dp_args)?;

    synthesise(a, &declared)?;
    Ok(ExitCode::SUCCESS)
}

/// The columns the demo synthesises: the shape of an A&E extract without identifiers or
/// fine geography (see `pets synth fit --help` to synthesise every column).
const SYNTH_COLUMNS: [&str; 12] = [
    "age_band",
    "sex",
    "ethnic_category",
    "imd_decile",
    "provider_code",
    "department_type",
    "arrival_datetime",
    "arrival_mode",
    "acuity",
    "diagnosis_group",
    "total_time_in_dept_min",
    "admitted",
];

/// The person id of the demo's synthesis (as in the DP spec).
const SYNTH_PERSON_ID: &str = "local_patient_id";
/// Attendances a patient may contribute to the demo's synthesis (as in the DP spec).
const SYNTH_MAX_ROWS_PER_PERSON: u32 = 3;

/// Step 7: an MST synthesiser at (1, 1e-9)-DP, a synthetic file of the same size, and its
/// utility (mean 2-way TVD) beside sampling each column independently.
/// The models of the demo's release panel: k = 5, distinct 2-diversity and 0.3-closeness of
/// the diagnosis over age, sex, postcode district and arrival.
fn demo_models() -> ModelArgs {
    ModelArgs {
        qi: ["age", "sex", "postcode_district", "arrival_datetime"]
            .map(String::from)
            .to_vec(),
        sensitive: Some("diagnosis_group".into()),
        k: 5,
        l: Some(2),
        c: 3.0,
        l_variant: LVariantArg::Distinct,
        t: Some(0.3),
        ground_distance: GroundArg::Auto,
        alpha: None,
        beta: None,
        delta: None,
        max_average_risk: None,
        risk_threshold: 0.2,
    }
}

fn synthesise(a: &DemoArgs, declared: &Schema) -> Result<(), CliError> {
    println!(
        "\n== 7. Synthetic data: MST at (epsilon 1, delta 1e-9), a separate release with its \
         own budget"
    );
    let data = a.out.join("ae.parquet");
    let columns: Vec<String> = SYNTH_COLUMNS.iter().map(|c| c.to_string()).collect();
    // The same unit of privacy as the DP step: the patient, at most 3 attendances each.
    let t = Instant::now();
    let fitted = FitJob::new(data.as_path(), 1.0, 1e-9)
        .schema(declared.clone())
        .columns(columns.clone())
        .person_id(SYNTH_PERSON_ID, SYNTH_MAX_ROWS_PER_PERSON)
        .bounding_seed(a.seed)
        .run()?;
    let fit = t.elapsed().as_secs_f64();
    for w in &fitted.warnings {
        println!("  warning: {w}");
    }
    let model = fitted.model;
    println!(
        "person-level: at most {SYNTH_MAX_ROWS_PER_PERSON} attendances per {SYNTH_PERSON_ID} \
         (the noise scales with the bound)"
    );
    let model_path = a.out.join("synth_model.json");
    model.save(&model_path)?;
    let tree: Vec<String> = model.selected.iter().map(|p| p.join(" x ")).collect();
    println!(
        "fitted in {fit:.2} s over {} columns; spent {}; tree: {}",
        model.schema.columns.len(),
        model.ledger.spent,
        tree.join(", ")
    );
    // As many rows as the model's noisy estimate of the data's size: the exact row count
    // is not released.
    let rows = model.default_rows();
    let synth_path = a.out.join("synth.parquet");
    let t = Instant::now();
    let written = model.write_sample(&synth_path, rows, a.seed)?;
    println!(
        "sampled {written} synthetic rows (the model's noisy size) to {} in {:.2} s (model: {}; \
         sampling needs only the model file)",
        synth_path.display(),
        t.elapsed().as_secs_f64(),
        model_path.display()
    );
    // Utility is measured against the real data here, by the custodian, on generated data,
    // as an analyst views it (datetimes by weekday and hour, numbers by 20 quantile bins).
    let real: Vec<_> = TableSource::file(&data)
        .stream()?
        .collect::<Result<_, _>>()?;
    let synth: Vec<_> = TableSource::file(&synth_path)
        .stream()?
        .collect::<Result<_, _>>()?;
    let e = evaluate(&real, &synth, &declared.select(&SYNTH_COLUMNS)?)?;
    println!(
        "utility: mean 2-way total-variation distance to the real data {:.4} (1-way {:.4}) \
         over {} views (datetimes by weekday and hour, numbers by 20 quantile bins); the \
         real columns shuffled independently: {:.4} ({:.2}x the synthetic distance)",
        e.mean_2way,
        e.mean_1way,
        e.views.len(),
        e.shuffled_2way,
        e.ratio()
    );
    Ok(())
}
