//! One-shot timing of federated rounds over real HTTPS with mutual TLS on loopback (see
//! `benches/README.md`, "Federated aggregation over the network"): a Prio3 round (leader
//! and helper aggregators) of a 10,000-cell histogram and a secure-aggregation round of a
//! 1,000,000-cell table, for 10 and 50 trusts, beside the plaintext sum of the same vectors.
//!
//! ```text
//! cargo run --release -p pets-benches --example federated_loopback -- [TRUSTS...]
//! ```
//!
//! Everything runs in this one process on one tokio runtime: the aggregators are the
//! service's own (`pets_federated_net::aggregator`, `helper`), each trust is a task running
//! the node agent (`pets_federated_net::node::run`) with its own TLS client, certificate
//! and CSV file, and the submitter is `submit::submit`. Every byte crosses a TLS connection
//! on 127.0.0.1. The jobs are exact checks (`exact = true`, no noise), as the in-process
//! benchmark (`federated_round`), so the figures are the protocol and transport alone; the
//! sums are checked against the plaintext sum. Printed: the round's wall time from
//! submission to the release, and the round report's bytes.

use std::path::Path;
use std::time::{Duration, Instant};

use pets::data::{Schema, TableSource};
use pets::federated::FederatedQuery;
use pets::federated::aggregate::local_aggregate;
use pets_federated_net::aggregator::Aggregator;
use pets_federated_net::config::{AggregatorConfig, JobFile, NodeConfig};
use pets_federated_net::messages::JobSpec;
use pets_federated_net::tls::{Federation, generate_federation};
use rand::{RngExt, SeedableRng};

type Error = Box<dyn std::error::Error>;

/// A schema of two categorical columns of `side` values each (`side^2` cells together).
fn schema(dir: &Path, side: usize) -> Result<std::path::PathBuf, Error> {
    let values: Vec<String> = (0..side).map(|i| i.to_string()).collect();
    let json = serde_json::json!({"columns": [
        {"name": "x", "kind": "categorical", "values": values},
        {"name": "y", "kind": "categorical", "values": values},
    ]});
    let path = dir.join(format!("s{side}.schema.json"));
    std::fs::write(&path, json.to_string())?;
    Ok(path)
}

/// Each trust's CSV: `rows` random cells.
fn data(dir: &Path, trust: usize, side: usize, rows: usize) -> Result<std::path::PathBuf, Error> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(trust as u64 + 7);
    let mut text = String::from("x,y\n");
    for _ in 0..rows {
        let (x, y) = (rng.random_range(0..side), rng.random_range(0..side));
        text.push_str(&format!("{x},{y}\n"));
    }
    let path = dir.join(format!("t{trust}_{side}.csv"));
    std::fs::write(&path, text)?;
    Ok(path)
}

fn agg_config(
    certs: &Federation,
    name: &str,
    schema: &Path,
    trusts: &[String],
) -> AggregatorConfig {
    AggregatorConfig {
        listen: "127.0.0.1:0".into(),
        schema: schema.to_path_buf(),
        trusts: trusts.to_vec(),
        submitters: vec!["analyst".into()],
        min_participants: None,
        stage_seconds: 300.0,
        max_body_bytes: 64 << 20,
        budget: None,
        allow_exact: true,
        port_file: None,
        prio3_helper: None,
        prio3_helper_name: None,
        helper_of: None,
        state: None,
        job_window_seconds: pets_federated_net::state::DEFAULT_JOB_WINDOW,
        keep_results: 256,
        tls: certs.party(name),
    }
}

async fn start(config: AggregatorConfig) -> Result<String, Error> {
    let agg = Aggregator::bind(config).await?;
    let url = format!("https://{}", agg.local_addr()?);
    tokio::spawn(agg.serve());
    Ok(url)
}

async fn round(n: usize, prio: bool, dir: &Path) -> Result<(), Error> {
    let side = if prio { 100 } else { 1000 };
    let schema_path = schema(dir, side)?;
    let schema = Schema::load(&schema_path)?;
    let trusts: Vec<String> = (0..n).map(|i| format!("trust_{i}")).collect();
    let mut parties = vec!["aggregator", "helper", "analyst"];
    parties.extend(trusts.iter().map(String::as_str));
    let certs = generate_federation(&dir.join(format!("certs_{n}_{prio}")), &parties)?;
    let mut leader = agg_config(&certs, "aggregator", &schema_path, &trusts);
    let helper_url = if prio {
        let mut h = agg_config(&certs, "helper", &schema_path, &trusts);
        h.helper_of = Some("aggregator".into());
        let url = start(h).await?;
        leader.prio3_helper = Some(url.clone());
        leader.prio3_helper_name = Some("helper".into());
        Some(url)
    } else {
        None
    };
    let url = start(leader).await?;
    // Each trust's file, and the plaintext sum of their vectors (in memory, for comparison).
    let query = FederatedQuery::from_tables(&[vec!["x".to_string(), "y".to_string()]])?;
    let mut files = Vec::new();
    let mut vectors = Vec::new();
    for i in 0..n {
        let f = data(dir, i, side, 2_000)?;
        let src = TableSource::file(&f);
        vectors.push(local_aggregate("t", &src, &schema, None, 1, 0, &query)?.values);
        files.push(f);
    }
    let t = Instant::now();
    let mut plain = vec![0i64; side * side];
    for v in &vectors {
        for (s, x) in plain.iter_mut().zip(v) {
            *s += x;
        }
    }
    let plain_s = t.elapsed().as_secs_f64();
    let mut nodes = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let config = NodeConfig {
            aggregator: url.clone(),
            helper: helper_url.clone(),
            helper_name: helper_url.as_ref().map(|_| "helper".into()),
            person_id: None,
            rounds: 1,
            poll_ms: 20,
            wait_seconds: 600.0,
            allow_exact: true,
            drop_at: None,
            tls: certs.party(&trusts[i]),
        };
        let (src, schema) = (TableSource::file(f), schema.clone());
        nodes.push(tokio::spawn(async move {
            pets_federated_net::node::run(config, Path::new("node.toml"), src, schema).await
        }));
    }
    let job = JobFile {
        aggregator: url.clone(),
        helper: helper_url.clone(),
        helper_name: helper_url.as_ref().map(|_| "helper".into()),
        wait_seconds: 600.0,
        tls: certs.party("analyst"),
        job: JobSpec {
            tables: vec![vec!["x".into(), "y".into()]],
            values: Vec::new(),
            rho: 1.0,
            protocol: if prio { "prio3" } else { "secagg" }.into(),
            max_count: prio.then_some(65_535),
            threshold: None,
            colluders: 0,
            max_rows_per_person: None,
            max_trusts_per_person: None,
            alpha: None,
            seed: None,
            min_participants: None,
            exact: true,
            vector: None,
        },
    };
    let wall = Instant::now();
    let (_, json) = pets_federated_net::submit::submit(&job).await?;
    let wall_s = wall.elapsed().as_secs_f64();
    for node in nodes {
        node.await??;
    }
    let value: serde_json::Value = serde_json::from_str(&json)?;
    let got: Vec<i64> = value["tables"][0]["counts"]
        .as_array()
        .ok_or("no table")?
        .iter()
        .map(|c| c.as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(got, plain, "the round's sum is the plaintext sum");
    let r = &value["round"];
    let (from, to, between) = (
        r["bytes_from_trusts"].as_u64().unwrap_or(0),
        r["bytes_to_trusts"].as_u64().unwrap_or(0),
        r["bytes_between_aggregators"].as_u64().unwrap_or(0),
    );
    let cells = side * side;
    let protocol_s = r["protocol_seconds"].as_f64().unwrap_or(0.0);
    let per_trust = (from + to) as f64 / n as f64;
    println!(
        "{} {n:>3} trusts x {cells} cells over HTTPS: round {wall_s:.2} s (submit to release; \
         {protocol_s:.2} s from the join stage's close); \
         {:.2} MB from trusts, {:.2} MB to trusts, {:.2} MB between aggregators/collector; \
         {:.2} MB per trust ({:.3}x its plain vector); plaintext sum {:.4} s",
        if prio { "prio3 " } else { "secagg" },
        from as f64 / 1e6,
        to as f64 / 1e6,
        between as f64 / 1e6,
        per_trust / 1e6,
        per_trust / (8 * cells) as f64,
        plain_s
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![10, 50]
    } else {
        sizes
    };
    let dir = tempfile::tempdir()?;
    let rt = pets_federated_net::runtime()?;
    for prio in [true, false] {
        for &n in &sizes {
            rt.block_on(round(n, prio, dir.path()))?;
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}
