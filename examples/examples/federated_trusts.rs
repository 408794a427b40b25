//! Three trusts keep their A&E rows; one DP table of attendances by age band over all of
//! them, by secure aggregation (one aggregator) and by Prio3 (two aggregators), printed
//! beside the pooled exact counts that no party in the protocol ever sees.
//!
//! ```text
//! cargo run --release -p pets-examples --example federated_trusts
//! ```
//!
//! The rows are generated (nothing real) and split by provider into three trusts; every
//! party runs in this process and every message goes through the wire format. The exact
//! pooled column is computed here, outside the protocol, only to show the error.

use pets::data::TableSource;
use pets::dp::{Cost, DpTable, Session};
use pets::federated::{FederatedJob, FederatedQuery, Protocol, split_by_column};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = AeConfig::new(60_000, 21);
    let schema = ae_schema_for(&config);
    let generator = AeGenerator::new(config)?;
    let arrow_schema = generator.arrow_schema();
    let batches: Vec<_> = generator.collect();
    let pooled = TableSource::batches("pooled", arrow_schema, batches);
    let trusts = split_by_column(&pooled, Some(&schema), "provider_code", Some(3))?;

    // The exact pooled counts: for this demonstration only.
    let exact = DpTable::load(pooled, &schema).read(&["age_band".to_string()], &[])?;
    let codes = &exact.data.column("age_band")?.codes;
    let labels = match &schema.column("age_band")?.kind {
        pets::data::ColumnKind::Categorical { values, .. } => values.clone(),
        _ => unreachable!("age_band is categorical"),
    };
    let mut exact_counts = vec![0i64; labels.len()];
    for &c in codes {
        exact_counts[c as usize] += 1;
    }

    let query = FederatedQuery::histogram(&["age_band"])?;
    let mut results = Vec::new();
    for protocol in [Protocol::SecAgg, Protocol::Prio3] {
        let mut session = Session::zcdp(0.25)?;
        let release = FederatedJob::new(query.clone())
            .protocol(protocol)
            .share(Cost::rho(0.25))
            .max_trusts_per_person(1)
            .run(&mut session, &schema, &trusts)?;
        println!(
            "{protocol:?}: trusts counted {:?}; noise {} (share scale {:.2}); +-{:.1} at 95%; \
             {} bytes from trusts",
            release.round.counted,
            release.noise.mechanism,
            release.noise.share_scale,
            release.accuracy.half_width,
            release.round.bytes_from_trusts
        );
        results.push(release.tables[0].counts.clone());
    }
    println!(
        "\n{:<8} {:>10} {:>10} {:>10}",
        "age band", "pooled", "secagg", "prio3"
    );
    for (i, label) in labels.iter().enumerate() {
        println!(
            "{label:<8} {:>10} {:>10} {:>10}",
            exact_counts[i], results[0][i], results[1][i]
        );
    }
    Ok(())
}
