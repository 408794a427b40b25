//! Three trusts and two aggregators on loopback, over HTTPS with mutual TLS: the generated
//! A&E attendances split by provider into three trusts' files, each trust's node agent
//! taking part in a secure-aggregation round (one aggregator) and then a Prio3 round (the
//! same aggregator as leader, and a helper), and both DP tables of attendances by age band
//! printed beside the pooled exact counts that no party in the protocol ever sees.
//!
//! ```text
//! cargo run --release -p pets-examples --example federated_network
//! ```
//!
//! Every party here is a task of this process, but each talks to the aggregator only
//! through its own TLS connection on a loopback port, with its own certificate (a throwaway
//! federation CA made with rcgen): the same code `pets federated aggregator`, `pets
//! federated node` and `pets federated submit` run as separate processes (README,
//! "Federated"). The exact pooled column is computed here, outside the protocol, only to show
//! the error.

use std::path::Path;

use pets::data::TableSource;
use pets::federated::aggregate::local_aggregate;
use pets::federated::{FederatedQuery, FederatedRelease, split_by_column};
use pets_datasets::ae::{AeConfig, AeGenerator, ae_schema_for};
use pets_federated_net::aggregator::Aggregator;
use pets_federated_net::config::{AggregatorConfig, JobFile, NodeConfig};
use pets_federated_net::messages::JobSpec;
use pets_federated_net::tls::generate_federation;

const TRUSTS: [&str; 3] = ["trust_1", "trust_2", "trust_3"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("pets-federated-network-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    // The data: 60,000 generated attendances, split by provider into three trusts' files.
    let config = AeConfig::new(60_000, 21);
    let schema = ae_schema_for(&config);
    let generator = AeGenerator::new(config)?;
    let arrow_schema = generator.arrow_schema();
    let pooled = TableSource::batches("pooled", arrow_schema, generator.collect());
    let schema_path = dir.join("ae.schema.json");
    schema.save(&schema_path)?;
    for (t, name) in split_by_column(&pooled, Some(&schema), "provider_code", Some(3))?
        .iter()
        .zip(TRUSTS)
    {
        pets::data::io::write_table(dir.join(format!("{name}.parquet")), t.source.stream()?)?;
    }
    // The federation: a CA and a certificate for every party.
    let mut parties = vec!["aggregator", "helper", "analyst"];
    parties.extend(TRUSTS);
    let certs = generate_federation(&dir.join("certs"), &parties)?;

    let rt = pets_federated_net::runtime()?;
    let (secagg, prio) = rt.block_on(async {
        let aggregator = |name: &str| AggregatorConfig {
            listen: "127.0.0.1:0".into(),
            schema: schema_path.clone(),
            trusts: TRUSTS.iter().map(|t| t.to_string()).collect(),
            submitters: vec!["analyst".into()],
            min_participants: None,
            stage_seconds: 30.0,
            max_body_bytes: 1 << 20,
            budget: None,
            allow_exact: false,
            port_file: None,
            prio3_helper: None,
            prio3_helper_name: None,
            helper_of: None,
            state: None,
            job_window_seconds: pets_federated_net::state::DEFAULT_JOB_WINDOW,
            keep_results: 256,
            tls: certs.party(name),
        };
        // Prio3's helper (another organisation in practice), then the leader that names it.
        let mut helper_config = aggregator("helper");
        helper_config.helper_of = Some("aggregator".into());
        let helper = Aggregator::bind(helper_config).await?;
        let helper_url = format!("https://{}", helper.local_addr()?);
        tokio::spawn(helper.serve());
        let mut leader = aggregator("aggregator");
        leader.prio3_helper = Some(helper_url.clone());
        leader.prio3_helper_name = Some("helper".into());
        let agg = Aggregator::bind(leader).await?;
        let url = format!("https://{}", agg.local_addr()?);
        println!("aggregator listening on {url}, Prio3 helper on {helper_url}");
        tokio::spawn(agg.serve());
        for name in TRUSTS {
            let node = NodeConfig {
                aggregator: url.clone(),
                helper: Some(helper_url.clone()),
                helper_name: Some("helper".into()),
                person_id: None,
                rounds: 2,
                poll_ms: 100,
                wait_seconds: 60.0,
                allow_exact: false,
                drop_at: None,
                tls: certs.party(name),
            };
            let data = TableSource::file(dir.join(format!("{name}.parquet")));
            let schema = schema.clone();
            tokio::spawn(async move {
                if let Err(e) =
                    pets_federated_net::node::run(node, Path::new("node.toml"), data, schema).await
                {
                    eprintln!("{name}: {e}");
                }
            });
        }
        let job = |protocol: &str| JobFile {
            aggregator: url.clone(),
            helper: Some(helper_url.clone()),
            helper_name: Some("helper".into()),
            wait_seconds: 120.0,
            tls: certs.party("analyst"),
            job: JobSpec {
                tables: vec![vec!["age_band".into()]],
                values: Vec::new(),
                rho: 0.25,
                protocol: protocol.into(),
                max_count: None,
                threshold: None,
                colluders: 0,
                max_rows_per_person: None,
                max_trusts_per_person: Some(1),
                alpha: None,
                seed: None,
                min_participants: None,
                exact: false,
                vector: None,
            },
        };
        let secagg = pets_federated_net::submit::submit(&job("secagg")).await?.1;
        let prio = pets_federated_net::submit::submit(&job("prio3")).await?.1;
        Ok::<_, pets_federated_net::NetError>((secagg, prio))
    })?;
    let release = |json: &str| -> Result<FederatedRelease, Box<dyn std::error::Error>> {
        let value: serde_json::Value = serde_json::from_str(json)?;
        Ok(serde_json::from_value(value["release"].clone())?)
    };
    let (secagg, prio) = (release(&secagg)?, release(&prio)?);

    // The exact pooled counts: for this demonstration only.
    let query = FederatedQuery::histogram(&["age_band"])?;
    let exact = local_aggregate("pooled", &pooled, &schema, None, 1, 0, &query)?;
    for r in [&secagg, &prio] {
        println!(
            "{:?}: trusts counted {:?}; {} (scale {:.2}); {} charged; +-{:.1} at 95%; {} bytes \
             from trusts over HTTPS",
            r.round.protocol,
            r.round.counted,
            r.noise.mechanism,
            r.noise.share_scale,
            r.cost,
            r.accuracy.half_width,
            r.round.bytes_from_trusts
        );
    }
    let (a, b) = (&secagg.tables[0], &prio.tables[0]);
    println!(
        "\n{:<8} {:>10} {:>12} {:>12}",
        "age band", "pooled", "DP (secagg)", "DP (prio3)"
    );
    for (i, label) in a.labels[0].iter().enumerate() {
        println!(
            "{label:<8} {:>10} {:>12} {:>12}",
            exact.values[i], a.counts[i], b.counts[i]
        );
    }
    Ok(())
}
