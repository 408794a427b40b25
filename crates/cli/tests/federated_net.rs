//! The federated network service with real processes on loopback: an aggregator
//! (`pets federated aggregator`), three trusts' node agents (`pets federated node`) and a
//! submitter (`pets federated submit`), all over HTTPS with mutual TLS (certificates made
//! here with rcgen). The exact sum equals the pooled single-machine table cell for cell; the
//! DP release is charged and near it; a trust that drops is handled as the protocol says; a
//! replayed, oversized or malformed message, a certificate from another CA or expired and a
//! trust with another schema are refused with their reasons; an aggregator restart loses the
//! round in progress (nothing released) and counts nothing twice afterwards. Prio3 runs with
//! a leader and a helper aggregator, each its own process.

#![cfg(feature = "net")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ae, p, pets, text};
use pets::data::{Schema, TableSource};
use pets::federated::aggregate::TableLayout;
use pets::federated::aggregate::local_aggregate;
use pets::federated::prio::{HELPER, LEADER, PrioTask};
use pets::federated::train::FederatedTrainJob;
use pets::federated::wire::WIRE_VERSION;
use pets::federated::wire::from_wire;
use pets::federated::{FederatedQuery, split_by_column};
use pets_federated_net::client::{Client, Got};
use pets_federated_net::config::JobFile;
use pets_federated_net::messages::{
    Announcement, JobAccepted, JobSpec, JobSubmission, Join, Plan, VectorJob, round_hex,
};
use pets_federated_net::tls::{Federation, generate_federation, generate_federation_with_expired};
use pets_synth::federated::{FederatedFitJob, FitRoundWork, FitTables, FitTrust};

const TRUSTS: [&str; 3] = ["trust_a", "trust_b", "trust_c"];
const TABLES: &str = r#"[["age_band", "sex"], ["hour(arrival_datetime)"]]"#;

/// A process of ours, killed (by its own handle) when the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Wait for the process to end (at most `secs`); its exit code and output.
    fn finish(mut self, secs: u64) -> (Option<i32>, String) {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if self.0.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let status = self.0.wait().unwrap();
        let mut out = String::new();
        use std::io::Read;
        if let Some(mut e) = self.0.stderr.take() {
            e.read_to_string(&mut out).unwrap();
        }
        if let Some(mut o) = self.0.stdout.take() {
            o.read_to_string(&mut out).unwrap();
        }
        (status.code(), out)
    }
}

fn spawn(args: &[&str]) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_pets"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pets starts"),
    )
}

/// A federation on disk: certificates, the trusts' files, the schema, the pooled file.
struct Fed {
    dir: tempfile::TempDir,
    data: PathBuf,
    schema: PathBuf,
    certs: Federation,
}

impl Fed {
    fn new(rows: u64, seed: u64) -> Fed {
        let (dir, data, schema) = ae(rows, seed);
        let mut parties = vec!["aggregator", "helper", "analyst", "intruder", "expired"];
        parties.extend(TRUSTS);
        let certs =
            generate_federation_with_expired(&dir.path().join("certs"), &parties, &["expired"])
                .unwrap();
        // The trusts' own files: the generated table split by provider, one file each.
        let s = Schema::load(&schema).unwrap();
        let trusts = split_by_column(
            &TableSource::file(&data),
            Some(&s),
            "provider_code",
            Some(3),
        )
        .unwrap();
        for (t, name) in trusts.iter().zip(TRUSTS) {
            let path = dir.path().join(format!("{name}.parquet"));
            pets::data::io::write_table(&path, t.source.stream().unwrap()).unwrap();
        }
        Fed {
            dir,
            data,
            schema,
            certs,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tls(&self, party: &str) -> String {
        let f = self.certs.party(party);
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\n",
            f.cert, f.key, f.ca
        )
    }

    /// Start an aggregator with `extra` settings; its address.
    fn aggregator(&self, tag: &str, extra: &str) -> (Proc, String) {
        self.aggregator_as(tag, "aggregator", extra)
    }

    /// Start an aggregator holding `party`'s certificate with `extra` settings; its address.
    fn aggregator_as(&self, tag: &str, party: &str, extra: &str) -> (Proc, String) {
        let port_file = self.path(&format!("{tag}.port"));
        let config = self.path(&format!("{tag}.agg.toml"));
        std::fs::write(
            &config,
            format!(
                "{}schema = {:?}\ntrusts = [\"trust_a\", \"trust_b\", \
                 \"trust_c\"]\nsubmitters = [\"analyst\"]\nport_file = {:?}\n{extra}\n{}",
                if extra.contains("listen =") {
                    ""
                } else {
                    "listen = \"127.0.0.1:0\"\n"
                },
                self.schema,
                port_file,
                self.tls(party)
            ),
        )
        .unwrap();
        let proc = spawn(&["federated", "aggregator", "--config", p(&config)]);
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(port) = std::fs::read_to_string(&port_file)
                && port.ends_with('\n')
            {
                return (proc, format!("https://127.0.0.1:{}", port.trim()));
            }
            assert!(Instant::now() < until, "the aggregator did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Start trust `name`'s node with `extra` settings, on its own file and `schema`.
    fn node(&self, url: &str, name: &str, schema: &Path, extra: &str) -> Proc {
        let config = self.path(&format!("{name}.node.toml"));
        std::fs::write(
            &config,
            format!(
                "aggregator = {url:?}\npoll_ms = 50\nwait_seconds = 60\n{extra}\n{}",
                self.tls(name)
            ),
        )
        .unwrap();
        let data = self.path(&format!("{name}.parquet"));
        spawn(&[
            "federated",
            "node",
            "--data",
            p(&data),
            "--schema",
            p(schema),
            "--config",
            p(&config),
        ])
    }

    /// Submit a job; the exit code, the output and the JSON written.
    fn submit(&self, url: &str, tag: &str, job: &str) -> (Option<i32>, String, serde_json::Value) {
        self.submit_with(url, "", tag, job)
    }

    /// Write a job file with `head` settings (e.g. the helper's address); its path and the
    /// path of the JSON its submission writes.
    fn job_file(&self, url: &str, head: &str, tag: &str, job: &str) -> (PathBuf, PathBuf) {
        let file = self.path(&format!("{tag}.job.toml"));
        let json = self.path(&format!("{tag}.json"));
        std::fs::write(
            &file,
            format!(
                "aggregator = {url:?}\nwait_seconds = 120\n{head}\n{}\n[job]\n{job}\n",
                self.tls("analyst")
            ),
        )
        .unwrap();
        (file, json)
    }

    /// Submit a job with `head` settings; the exit code, the output and the JSON written.
    fn submit_with(
        &self,
        url: &str,
        head: &str,
        tag: &str,
        job: &str,
    ) -> (Option<i32>, String, serde_json::Value) {
        let (file, json) = self.job_file(url, head, tag, job);
        let o = pets(&["federated", "submit", p(&file), "--json", p(&json)]);
        (o.status.code(), text(&o), read_json(&json))
    }

    /// The pooled single-machine table of the trusts in `names` (rows as people).
    fn pooled(&self, names: &[&str]) -> Vec<i64> {
        let schema = Schema::load(&self.schema).unwrap();
        let sets: Vec<Vec<String>> = serde_json::from_str(TABLES).unwrap();
        let query = FederatedQuery::from_tables(&sets).unwrap();
        let mut sum: Vec<i64> = Vec::new();
        for name in names {
            let src = TableSource::file(self.path(&format!("{name}.parquet")));
            let local = local_aggregate(name, &src, &schema, None, 1, 0, &query).unwrap();
            sum.resize(local.values.len(), 0);
            for (s, v) in sum.iter_mut().zip(&local.values) {
                *s += *v;
            }
        }
        sum
    }

    /// The pooled table of the whole generated file, in one pass.
    fn pooled_file(&self) -> Vec<i64> {
        let schema = Schema::load(&self.schema).unwrap();
        let sets: Vec<Vec<String>> = serde_json::from_str(TABLES).unwrap();
        let query = FederatedQuery::from_tables(&sets).unwrap();
        let src = TableSource::file(&self.data);
        let local = local_aggregate("pool", &src, &schema, None, 1, 0, &query).unwrap();
        local.values
    }

    /// The pooled exact vector of a values query over the whole file.
    fn pooled_values(&self, values: &[String]) -> Vec<i64> {
        let schema = Schema::load(&self.schema).unwrap();
        let query = FederatedQuery::from_specs(&[], values).unwrap();
        let src = TableSource::file(&self.data);
        local_aggregate("pool", &src, &schema, None, 1, 0, &query)
            .unwrap()
            .values
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    std::fs::read_to_string(path)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(serde_json::Value::Null)
}

fn cells(tables: &serde_json::Value) -> Vec<i64> {
    tables
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["counts"].as_array().unwrap().clone())
        .map(|c| c.as_i64().unwrap())
        .collect()
}

/// A node's or a job file's Prio3 helper at `url`, pinned to the certificate name "helper".
fn pin(url: &str) -> String {
    format!("helper = {url:?}\nhelper_name = \"helper\"")
}

fn job(extra: &str) -> String {
    format!("tables = {TABLES}\nrho = 0.5\n{extra}")
}

#[test]
fn three_trusts_give_the_pooled_sum_exactly_and_a_charged_dp_release() {
    let fed = Fed::new(6_000, 21);
    let (_agg, url) = fed.aggregator(
        "main",
        "allow_exact = true\nstage_seconds = 20\nkeep_results = 2",
    );
    let nodes: Vec<Proc> = TRUSTS
        .iter()
        .map(|t| fed.node(&url, t, &fed.schema, "rounds = 3\nallow_exact = true"))
        .collect();
    // Round 1: the exact sum (a check both sides allowed) equals the pooled table.
    let (code, first, exact) = fed.submit(&url, "exact", &job("exact = true"));
    assert_eq!(code, Some(0), "{first}");
    assert_eq!(exact["exact"], true, "{exact}");
    let pooled = fed.pooled_file();
    assert_eq!(fed.pooled(&TRUSTS), pooled);
    assert_eq!(cells(&exact["tables"]), pooled, "cell for cell");
    assert_eq!(exact["round"]["counted"].as_array().unwrap().len(), 3);
    // Round 2: a DP release, charged once, near the pooled table.
    let (code, out, dp) = fed.submit(&url, "dp", &job(""));
    assert_eq!(code, Some(0), "{out}");
    let release = &dp["release"];
    assert_eq!(release["round"]["counted"].as_array().unwrap().len(), 3);
    assert_eq!(dp["ledger"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        release["noise"]["mechanism"],
        "distributed_discrete_gaussian"
    );
    let half = release["accuracy"]["half_width"].as_f64().unwrap();
    let noisy = cells(&release["tables"]);
    assert_eq!(noisy.len(), pooled.len());
    assert_ne!(noisy, pooled, "the DP release carries noise");
    for (n, e) in noisy.iter().zip(&pooled) {
        assert!(
            ((n - e) as f64).abs() <= 3.0 * half,
            "{n} vs {e} (+-{half})"
        );
    }
    assert!(out.contains("noisy count"), "{out}");
    // Round 3: a mean flows through the same round (the query travels in the
    // announcement); its exact sum is the pooled one, cell for cell.
    let spec = "mean(total_time_in_dept_min, 0, 300) by sex".to_string();
    let (code, out, exact) = fed.submit(
        &url,
        "mean",
        &format!("values = [{spec:?}]\nrho = 0.5\nexact = true"),
    );
    assert_eq!(code, Some(0), "{out}");
    let pooled = fed.pooled_values(std::slice::from_ref(&spec));
    let table = &exact["tables"][0];
    let n = table["counts"].as_array().unwrap().len();
    let w = pets::federated::aggregate::VALUE_COUNT_WEIGHT as i64;
    let counts: Vec<i64> = pooled[..n].iter().map(|c| c / w).collect();
    assert_eq!(cells(&exact["tables"]), counts, "{exact}");
    let r = table["value"]["resolution"].as_f64().unwrap();
    let sums: Vec<f64> = pooled[n..].iter().map(|&u| u as f64 * r).collect();
    let got: Vec<f64> = table["value"]["sums"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_f64().unwrap())
        .collect();
    assert_eq!(got, sums, "cell for cell");
    for n in nodes {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    // The aggregator keeps the results of its last two rounds (keep_results = 2): the first
    // round's is let go (410), the last one's is still there.
    let rt = pets_federated_net::runtime().unwrap();
    rt.block_on(async {
        let analyst =
            Client::new(&url, &fed.certs.party("analyst"), Duration::from_millis(50)).unwrap();
        let e = analyst
            .get(&format!("v1/jobs/{}", job_id(&first)), "release")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("410") && e.contains("keep_results"), "{e}");
        let last = analyst
            .get(&format!("v1/jobs/{}", job_id(&out)), "release")
            .await
            .unwrap();
        assert!(matches!(last, Got::Ready(_)));
    });
}

/// The job id a submission printed ("job ID accepted").
fn job_id(out: &str) -> String {
    out.split("job ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the job's id")
        .to_string()
}

#[test]
fn a_trust_that_drops_after_its_masked_input_is_counted_and_one_before_is_not() {
    let fed = Fed::new(3_000, 22);
    for (drop_at, counted) in [("before-unmask", 3), ("before-masked", 2)] {
        let (_agg, url) = fed.aggregator(
            drop_at,
            "allow_exact = true\nstage_seconds = 2\nmin_participants = 3",
        );
        let _a = fed.node(&url, "trust_a", &fed.schema, "allow_exact = true");
        let _b = fed.node(&url, "trust_b", &fed.schema, "allow_exact = true");
        let _c = fed.node(
            &url,
            "trust_c",
            &fed.schema,
            &format!("allow_exact = true\ndrop_at = {drop_at:?}"),
        );
        let (code, out, exact) = fed.submit(&url, drop_at, &job("exact = true\nthreshold = 2"));
        assert_eq!(code, Some(0), "{drop_at}: {out}");
        let round = &exact["round"];
        assert_eq!(
            round["counted"].as_array().unwrap().len(),
            counted,
            "{drop_at}: {round}"
        );
        let dropped = round["dropped"].as_array().unwrap();
        assert_eq!(dropped.len(), 1, "{round}");
        assert_eq!(dropped[0][0], "trust_c");
        assert_eq!(dropped[0][1], drop_at.replace('-', "_"));
        let expected = if counted == 3 {
            fed.pooled(&TRUSTS)
        } else {
            fed.pooled(&["trust_a", "trust_b"])
        };
        assert_eq!(
            cells(&exact["tables"]),
            expected,
            "{drop_at}: the survivors' sum"
        );
    }
}

#[test]
fn replayed_oversized_malformed_and_foreign_messages_are_refused() {
    let fed = Fed::new(1_000, 23);
    let (_agg, url) = fed.aggregator("faults", "max_body_bytes = 65536\nstage_seconds = 30");
    let rt = pets_federated_net::runtime().unwrap();
    let poll = Duration::from_millis(50);
    rt.block_on(async {
        let analyst = Client::new(&url, &fed.certs.party("analyst"), poll).unwrap();
        let spec: JobSpec = toml::from_str(&job("")).unwrap();
        let zero = pets::federated::secagg::RoundId([0; 16]);
        // A submission stamped an hour ago (or an hour ahead): outside the job window,
        // refused by its stamp whatever its nonce; nothing opens.
        for skew in [-3600i64, 3600] {
            let stale = JobSubmission {
                issued: JobSubmission::now(spec.clone())
                    .issued
                    .saturating_add_signed(skew),
                job: spec.clone(),
            };
            let e = analyst
                .post("v1/jobs", zero, stale, "job")
                .await
                .unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("409"), "{msg}");
            assert!(msg.contains("job window of 600 s"), "{msg}");
        }
        let body = analyst
            .post("v1/jobs", zero, JobSubmission::now(spec), "job")
            .await
            .unwrap();
        let accepted: JobAccepted = from_wire(&body, 1 << 16, "aggregator", "job").unwrap();
        let id = round_hex(&accepted.round);

        // A trust reads the announcement and joins; the same bytes again are a replay.
        let a = Client::new(&url, &fed.certs.party("trust_a"), poll).unwrap();
        let Got::Ready(bytes) = a.get("v1/round", "round").await.unwrap() else {
            panic!("no round announced");
        };
        let ann: Announcement = from_wire(&bytes, 1 << 20, "aggregator", "round").unwrap();
        let schema = Schema::load(&fed.schema).unwrap();
        let src = TableSource::file(fed.path("trust_a.parquet"));
        let local = local_aggregate(
            "trust_a",
            &src,
            &schema,
            None,
            1,
            0,
            ann.work.query().unwrap(),
        )
        .unwrap();
        let join = Join {
            declaration: pets::federated::TrustDeclaration {
                name: "trust_a".into(),
                unit: local.unit,
                person_id: None,
                warnings: Vec::new(),
            },
            fingerprint: ann.fingerprint.clone(),
            layout: local.layout.clone(),
        };
        let body = Client::envelope(ann.round, join).unwrap();
        let path = format!("v1/rounds/{id}/join");
        let (status, text) = a.post_bytes(&path, body.clone()).await.unwrap();
        assert_eq!(status.as_u16(), 200, "{}", String::from_utf8_lossy(&text));
        let (status, text) = a.post_bytes(&path, body).await.unwrap();
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status.as_u16(), 409, "{text}");
        assert!(text.contains("replayed"), "{text}");

        // An oversized body: refused by the body limit before it is read. The server answers
        // 413 and closes the connection; a client still writing the body may see the close
        // first (a broken pipe or a reset), which is the same refusal.
        match a
            .post_bytes(&format!("v1/rounds/{id}/keys"), vec![1u8; 200_000])
            .await
        {
            Ok((status, _)) => assert_eq!(status.as_u16(), 413),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("Broken pipe") || msg.contains("reset"),
                    "{msg}"
                );
            }
        }

        // Malformed bytes: refused with the reason, nothing decoded.
        let b = Client::new(&url, &fed.certs.party("trust_b"), poll).unwrap();
        let (status, text) = b
            .post_bytes(&path, vec![pets::federated::wire::WIRE_VERSION, 200, 3])
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status.as_u16(), 400, "{text}");
        assert!(text.contains("malformed"), "{text}");
        let (status, text) = b.post_bytes(&path, vec![9, 0, 0]).await.unwrap();
        assert_eq!(status.as_u16(), 400);
        assert!(String::from_utf8_lossy(&text).contains("wire version 9"));

        // A certificate of the federation's CA but not a trust: forbidden.
        let intruder = Client::new(&url, &fed.certs.party("intruder"), poll).unwrap();
        let e = intruder.get("v1/round", "round").await.unwrap_err();
        assert!(e.to_string().contains("403"), "{e}");
        // A trust may not submit jobs.
        let e = a
            .post(
                "v1/jobs",
                zero,
                JobSubmission::now(toml::from_str::<JobSpec>(&job("")).unwrap()),
                "job",
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not a submitter"), "{e}");
    });
    // A certificate signed by another CA: the TLS handshake fails, no request is served.
    let rogue = generate_federation(&fed.path("rogue"), &["trust_c"]).unwrap();
    let mut files = rogue.party("trust_c");
    files.ca = fed.certs.party("trust_c").ca; // it trusts the real CA, but its cert is not from it
    let c = Client::new(&url, &files, Duration::from_millis(50)).unwrap();
    let e = rt.block_on(c.get("v1/round", "round")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("connecting to"), "{msg}");
    // A certificate of the federation's CA that has expired: refused in the handshake too.
    let expired =
        Client::new(&url, &fed.certs.party("expired"), Duration::from_millis(50)).unwrap();
    let e = rt.block_on(expired.get("v1/round", "round")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("connecting to"), "{msg}");
}

#[test]
fn a_rogue_certificate_node_exits_and_a_trust_with_another_schema_is_refused_with_the_reason() {
    let fed = Fed::new(3_000, 24);
    let (_agg, url) = fed.aggregator("schema", "stage_seconds = 3\nmin_participants = 2");
    // trust_c declares `sex` with a fifth value: its cells would not line up.
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fed.schema).unwrap()).unwrap();
    for c in s["columns"].as_array_mut().unwrap() {
        if c["name"] == "sex" {
            c["values"].as_array_mut().unwrap().push("U".into());
        }
    }
    let other = fed.path("other.schema.json");
    std::fs::write(&other, s.to_string()).unwrap();
    let a = fed.node(&url, "trust_a", &fed.schema, "");
    let b = fed.node(&url, "trust_b", &fed.schema, "");
    let c = fed.node(&url, "trust_c", &other, "");
    // A node whose certificate is from another CA cannot even connect.
    let rogue = generate_federation(&fed.path("rogue"), &["trust_b"]).unwrap();
    let config = fed.path("rogue.node.toml");
    let f = rogue.party("trust_b");
    std::fs::write(
        &config,
        format!(
            "aggregator = {url:?}\nwait_seconds = 5\n[tls]\ncert = {:?}\nkey = {:?}\nca = {:?}\n",
            f.cert,
            f.key,
            fed.certs.party("trust_b").ca
        ),
    )
    .unwrap();
    let o = pets(&[
        "federated",
        "node",
        "--data",
        p(&fed.path("trust_b.parquet")),
        "--schema",
        p(&fed.schema),
        "--config",
        p(&config),
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("connecting to"), "{}", text(&o));

    let (code, out, dp) = fed.submit(&url, "dp", &job(""));
    assert_eq!(code, Some(0), "{out}");
    let round = &dp["release"]["round"];
    let counted: Vec<&str> = round["counted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(counted, ["trust_a", "trust_b"], "{round}");
    let refused = round["refused"].to_string();
    assert!(refused.contains("trust_c"), "{refused}");
    assert!(refused.contains("differently from the job's"), "{refused}");
    let (code, out) = c.finish(30);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("differently from the job's"), "{out}");
    assert!(out.contains("fingerprint"), "{out}");
    for n in [a, b] {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
}

/// Prio3 over the network: a leader and a helper aggregator (two processes), three trusts'
/// nodes that each send one report share to each, and a submitter that adds the two noisy
/// aggregate shares. The exact check equals the pooled table cell for cell; the DP release
/// is charged once and near it; a trust whose report encodes an out-of-range value is
/// refused by the validity proof and counted nowhere, and its replayed, second or garbled
/// report shares are refused at the door.
#[test]
fn prio3_with_a_leader_and_a_helper_gives_the_pooled_sum_and_refuses_an_out_of_range_report() {
    let fed = Fed::new(3_000, 25);
    let (_helper, helper) = fed.aggregator_as(
        "helper",
        "helper",
        "helper_of = \"aggregator\"\nallow_exact = true\nkeep_results = 1",
    );
    let (_leader, url) = fed.aggregator(
        "leader",
        &format!(
            "prio3_helper = {helper:?}\nprio3_helper_name = \"helper\"\nallow_exact = \
             true\nstage_seconds = 20"
        ),
    );
    let node_extra =
        |rounds: u32| format!("{}\nrounds = {rounds}\nallow_exact = true", pin(&helper));
    let head = pin(&helper);
    let a = fed.node(&url, "trust_a", &fed.schema, &node_extra(3));
    let b = fed.node(&url, "trust_b", &fed.schema, &node_extra(3));
    let c = fed.node(&url, "trust_c", &fed.schema, &node_extra(2));
    let prio = "protocol = \"prio3\"\nmax_count = 1000";

    // Round 1: the exact sum of the two aggregators' shares is the pooled table.
    let (code, first, exact) = fed.submit_with(
        &url,
        &head,
        "prio-exact",
        &job(&format!("{prio}\nexact = true")),
    );
    assert_eq!(code, Some(0), "{first}");
    assert_eq!(exact["exact"], true, "{exact}");
    let pooled = fed.pooled_file();
    assert_eq!(cells(&exact["tables"]), pooled, "cell for cell");
    let round = &exact["round"];
    assert_eq!(round["protocol"], "prio3", "{round}");
    assert_eq!(round["counted"].as_array().unwrap().len(), 3, "{round}");
    assert!(round["bytes_from_trusts"].as_u64().unwrap() > 0, "{round}");
    // Each trust's plan (its Prio3 task) is counted among the bytes sent to trusts.
    assert!(round["bytes_to_trusts"].as_u64().unwrap() > 0, "{round}");

    // Round 2: a DP release; each aggregator adds its own noise; charged once.
    let (code, out, dp) = fed.submit_with(&url, &head, "prio-dp", &job(prio));
    assert_eq!(code, Some(0), "{out}");
    let release = &dp["release"];
    assert_eq!(release["round"]["counted"].as_array().unwrap().len(), 3);
    assert_eq!(dp["ledger"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        release["noise"]["mechanism"],
        "discrete_gaussian_per_aggregator"
    );
    let half = release["accuracy"]["half_width"].as_f64().unwrap();
    let noisy = cells(&release["tables"]);
    assert_eq!(noisy.len(), pooled.len());
    assert_ne!(noisy, pooled, "the DP release carries noise");
    for (n, e) in noisy.iter().zip(&pooled) {
        assert!(
            ((n - e) as f64).abs() <= 3.0 * half,
            "{n} vs {e} (+-{half})"
        );
    }
    let (code, out) = c.finish(30);
    assert_eq!(code, Some(0), "{out}");

    // Round 3: trust_c is played by this test and sends a report whose encoding is out of
    // range: the proof fails at the aggregators and it is not counted.
    let (file, json) = fed.job_file(
        &url,
        &head,
        "prio-bad",
        &job(&format!("{prio}\nexact = true")),
    );
    let submit = spawn(&["federated", "submit", p(&file), "--json", p(&json)]);
    let rt = pets_federated_net::runtime().unwrap();
    let poll = Duration::from_millis(50);
    rt.block_on(async {
        let files = fed.certs.party("trust_c");
        let leader = Client::new(&url, &files, poll).unwrap();
        let help = Client::new(&helper, &files, poll).unwrap();
        let bytes = leader
            .poll("v1/round", "round", Duration::from_secs(60))
            .await
            .unwrap();
        let ann: Announcement = from_wire(&bytes, 1 << 20, "aggregator", "round").unwrap();
        let schema = Schema::load(&fed.schema).unwrap();
        let src = TableSource::file(fed.path("trust_c.parquet"));
        let local = local_aggregate(
            "trust_c",
            &src,
            &schema,
            None,
            1,
            0,
            ann.work.query().unwrap(),
        )
        .unwrap();
        let id = round_hex(&ann.round);
        let join = Join {
            declaration: pets::federated::TrustDeclaration {
                name: "trust_c".into(),
                unit: local.unit,
                person_id: None,
                warnings: Vec::new(),
            },
            fingerprint: ann.fingerprint.clone(),
            layout: local.layout.clone(),
        };
        leader
            .post(&format!("v1/rounds/{id}/join"), ann.round, join, "join")
            .await
            .unwrap();
        let bytes = leader
            .poll(
                &format!("v1/rounds/{id}/plan"),
                "plan",
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        let Plan::Prio3(plan) = from_wire::<Plan>(&bytes, 1 << 20, "aggregator", "plan").unwrap()
        else {
            panic!("not a Prio3 plan");
        };
        assert_eq!(plan.max_count, 1000);
        // Prio3SumVec encodes a cell as bits weighted so that every encoding is in
        // [0, max_count]: a cell above the bound cannot even be expressed. What a malicious
        // trust can send is a share whose encoded "bit" is not 0 or 1 (here the first bit
        // of cell 0 raised by 2 in the leader's explicit share): the proof must catch it.
        let task = PrioTask::new(plan.round, plan.cells, plan.max_count).unwrap();
        let mut upload = task.upload("trust_c", &vec![0u64; plan.cells]).unwrap();
        let first = u128::from_le_bytes(upload.leader_share[..16].try_into().unwrap());
        upload.leader_share[..16].copy_from_slice(&first.wrapping_add(2).to_le_bytes());
        let path = format!("v1/rounds/{id}/report");
        // Garbled bytes: refused before decoding, nothing stored.
        let (status, _) = leader
            .post_bytes(&path, vec![WIRE_VERSION, 7, 7])
            .await
            .unwrap();
        assert_eq!(status.as_u16(), 400);
        help.post(&path, ann.round, upload.share_for(HELPER), "report")
            .await
            .unwrap();
        // A second report from the same trust with a fresh nonce: refused too.
        let e = help
            .post(&path, ann.round, upload.share_for(HELPER), "report")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("second report"), "{e}");
        let body = Client::envelope(ann.round, upload.share_for(LEADER)).unwrap();
        let (status, text) = leader.post_bytes(&path, body.clone()).await.unwrap();
        assert_eq!(status.as_u16(), 200, "{}", String::from_utf8_lossy(&text));
        // The same bytes again: a replay.
        let (status, text) = leader.post_bytes(&path, body).await.unwrap();
        assert_eq!(status.as_u16(), 409);
        assert!(String::from_utf8_lossy(&text).contains("replayed"));
    });
    let (code, out) = submit.finish(120);
    assert_eq!(code, Some(0), "{out}");
    let bad = read_json(&json);
    let round = &bad["round"];
    let counted: Vec<&str> = round["counted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(counted, ["trust_a", "trust_b"], "{round}");
    let refused = round["refused"].to_string();
    assert!(refused.contains("trust_c"), "{refused}");
    assert!(refused.contains("validity proof fails"), "{refused}");
    assert_eq!(
        cells(&bad["tables"]),
        fed.pooled(&["trust_a", "trust_b"]),
        "the two valid reports, exactly"
    );
    for n in [a, b] {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    // The helper keeps the share of its last verified round only (keep_results = 1): the
    // first round's is let go (410), the last one's is still there.
    rt.block_on(async {
        let analyst = Client::new(&helper, &fed.certs.party("analyst"), poll).unwrap();
        let e = analyst
            .get(&format!("v1/jobs/{}/share", job_id(&first)), "share")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("410") && e.contains("keep_results"), "{e}");
        let got = analyst
            .get(&format!("v1/jobs/{}/share", job_id(&out)), "share")
            .await
            .unwrap();
        assert!(matches!(got, Got::Ready(_)));
    });
}

/// An aggregator restarted between rounds, and one killed during a round. The round in
/// progress is lost: its submitter and nodes fail with a connection error and nothing is
/// released. A node started while the aggregator is down waits for it. The restarted
/// aggregator (same address, fresh memory) knows no old round: a message for it is refused
/// (404), and its next round counts each trust once: the exact sum equals the pooled table.
#[test]
fn an_aggregator_restart_loses_the_round_in_progress_and_the_next_round_counts_each_trust_once() {
    let fed = Fed::new(2_000, 26);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = format!(
        "listen = \"127.0.0.1:{port}\"\nallow_exact = true\nstage_seconds = 60\nmin_participants = 3"
    );
    let exact = job("exact = true");
    let pooled = fed.pooled_file();
    let run_round = |url: &str, tag: &str| {
        let nodes: Vec<Proc> = TRUSTS
            .iter()
            .map(|t| fed.node(url, t, &fed.schema, "allow_exact = true"))
            .collect();
        let (code, out, value) = fed.submit(url, tag, &exact);
        assert_eq!(code, Some(0), "{out}");
        for n in nodes {
            let (code, out) = n.finish(30);
            assert_eq!(code, Some(0), "{out}");
        }
        value
    };
    // A round on the first aggregator.
    let (first, url) = fed.aggregator("first", &settings);
    let value = run_round(&url, "before");
    assert_eq!(cells(&value["tables"]), pooled);

    // A round in progress: two of the three trusts have joined when the aggregator dies.
    let a = fed.node(&url, "trust_a", &fed.schema, "allow_exact = true");
    let b = fed.node(&url, "trust_b", &fed.schema, "allow_exact = true");
    let (file, _) = fed.job_file(&url, "", "killed", &exact);
    let submit = spawn(&["federated", "submit", p(&file)]);
    std::thread::sleep(Duration::from_millis(2_500));
    drop(first);
    let (code, out) = submit.finish(60);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("connecting to"), "{out}");
    let old = out
        .split("job ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the job's id")
        .to_string();
    for n in [a, b] {
        let (code, out) = n.finish(60);
        assert_ne!(code, Some(0), "{out}");
        assert!(out.contains("connecting to"), "{out}");
    }

    // A node started while the aggregator is down waits for it (between rounds).
    let c = fed.node(&url, "trust_c", &fed.schema, "allow_exact = true");
    std::thread::sleep(Duration::from_millis(1_000));
    // Restarted on the same address: the old round is unknown, the next one exact.
    let (_second, url2) = fed.aggregator("second", &settings);
    assert_eq!(url2, url);
    let rt = pets_federated_net::runtime().unwrap();
    let client = Client::new(&url, &fed.certs.party("trust_a"), Duration::from_millis(50)).unwrap();
    let (status, text) = rt
        .block_on(client.post_bytes(&format!("v1/rounds/{old}/join"), vec![WIRE_VERSION]))
        .unwrap();
    assert_eq!(status.as_u16(), 404, "{}", String::from_utf8_lossy(&text));
    let a = fed.node(&url, "trust_a", &fed.schema, "allow_exact = true");
    let b = fed.node(&url, "trust_b", &fed.schema, "allow_exact = true");
    let (code, out, value) = fed.submit(&url, "after", &exact);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(cells(&value["tables"]), pooled, "each trust counted once");
    assert_eq!(value["round"]["counted"].as_array().unwrap().len(), 3);
    for n in [a, b] {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    let (code, out) = c.finish(30);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("waiting for it"), "{out}");
}

/// A replay across a restart. The aggregator keeps an epoch and the nonces of the jobs it
/// accepted in its state file: after a restart, the same job submission (the same bytes) is
/// refused as a replay (409) and runs nothing, a message for a round of the old epoch is
/// refused as stale (410), and the budget file holds the one charge of the one round.
#[test]
fn a_submission_replayed_after_an_aggregator_restart_is_refused_and_nothing_is_counted_twice() {
    let fed = Fed::new(1_500, 27);
    let budget = fed.path("ae.budget");
    let o = pets(&[
        "budget",
        "init",
        p(&budget),
        "--rho",
        "5",
        "--dataset",
        "ae-test",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let charges = || {
        let o = pets(&["budget", "show", "--json", p(&budget)]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["entries"].as_array().unwrap().len()
    };
    let before = charges();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = fed.path("restart.state.json");
    let settings = format!(
        "listen = \"127.0.0.1:{port}\"\nstage_seconds = 30\nmin_participants = 3\nstate = \
         {state:?}\nbudget = {budget:?}"
    );
    let (first, url) = fed.aggregator("epoch1", &settings);
    let nodes: Vec<Proc> = TRUSTS
        .iter()
        .map(|t| fed.node(&url, t, &fed.schema, ""))
        .collect();
    let rt = pets_federated_net::runtime().unwrap();
    let poll = Duration::from_millis(50);
    let zero = pets::federated::secagg::RoundId([0; 16]);
    let spec: JobSpec = toml::from_str(&job("")).unwrap();
    let body = Client::envelope(zero, JobSubmission::now(spec)).unwrap();
    // The job runs once: three trusts counted, one charge.
    let old = rt.block_on(async {
        let analyst = Client::new(&url, &fed.certs.party("analyst"), poll).unwrap();
        let (status, answer) = analyst.post_bytes("v1/jobs", body.clone()).await.unwrap();
        assert_eq!(status.as_u16(), 200, "{}", String::from_utf8_lossy(&answer));
        let accepted: JobAccepted = from_wire(&answer, 1 << 16, "aggregator", "job").unwrap();
        let path = format!("v1/jobs/{}", round_hex(&accepted.round));
        let json = analyst
            .poll(&path, "release", Duration::from_secs(90))
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let counted = &value["release"]["round"]["counted"];
        assert_eq!(counted.as_array().unwrap().len(), 3, "{value}");
        accepted.round
    });
    for n in nodes {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    assert_eq!(charges(), before + 1);
    let epoch1 = std::fs::read_to_string(&state).unwrap();
    assert!(epoch1.contains("\"epoch\": 1"), "{epoch1}");

    // A second aggregator on the same state file while the first runs: it stops at once
    // with the reason naming the file, before it reads or writes it (the epoch stays 1).
    let o = pets(&[
        "federated",
        "aggregator",
        "--config",
        p(&fed.path("epoch1.agg.toml")),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let why = text(&o);
    assert!(why.contains("another aggregator is running"), "{why}");
    assert!(why.contains(&state.display().to_string()), "{why}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), epoch1);

    // Restarted on the same address with the same state file: a new epoch.
    drop(first);
    let (_second, url2) = fed.aggregator("epoch2", &settings);
    assert_eq!(url2, url);
    let epoch2 = std::fs::read_to_string(&state).unwrap();
    assert!(epoch2.contains("\"epoch\": 2"), "{epoch2}");
    rt.block_on(async {
        // The same submission, byte for byte: a replay, refused; nothing opens.
        let analyst = Client::new(&url, &fed.certs.party("analyst"), poll).unwrap();
        let (status, answer) = analyst.post_bytes("v1/jobs", body.clone()).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status.as_u16(), 409, "{answer}");
        assert!(answer.contains("replayed job"), "{answer}");
        assert!(answer.contains("restart"), "{answer}");
        let a = Client::new(&url, &fed.certs.party("trust_a"), poll).unwrap();
        assert!(
            matches!(a.get("v1/round", "round").await.unwrap(), Got::Wait),
            "no round announced"
        );
        // A trust's message for the old round: stale, refused before it is read.
        let id = round_hex(&old);
        let stale = Client::envelope(old, "a message of the old round").unwrap();
        let (status, answer) = a
            .post_bytes(&format!("v1/rounds/{id}/join"), stale)
            .await
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status.as_u16(), 410, "{answer}");
        assert!(answer.contains("stale"), "{answer}");
        assert!(answer.contains("epoch 1"), "{answer}");
        // The old job's result: gone with the old epoch.
        let e = analyst
            .get(&format!("v1/jobs/{id}"), "release")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("410"), "{e}");
    });
    assert_eq!(charges(), before + 1, "the replay charged nothing");
}

/// The leader pins its Prio3 helper's certificate name: a leader configured without it does
/// not start, and a "helper" whose certificate is the federation CA's but names another party
/// (here `intruder`) fails the handshake, so the round aborts with the reason before any
/// trust uploads a report.
#[test]
fn a_leader_refuses_a_prio3_helper_whose_certificate_names_another_party() {
    let fed = Fed::new(1_000, 28);
    let (_impostor, impostor) =
        fed.aggregator_as("impostor", "intruder", "helper_of = \"aggregator\"");
    let (_helper, helper) = fed.aggregator_as("helper", "helper", "helper_of = \"aggregator\"");
    // Without the helper's name, the leader refuses to start.
    let config = fed.path("unpinned.agg.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nschema = {:?}\ntrusts = [\"trust_a\", \"trust_b\", \
             \"trust_c\"]\nsubmitters = [\"analyst\"]\nprio3_helper = {impostor:?}\n{}",
            fed.schema,
            fed.tls("aggregator")
        ),
    )
    .unwrap();
    let o = pets(&["federated", "aggregator", "--config", p(&config)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("prio3_helper_name"), "{}", text(&o));

    // The leader is sent to the impostor; the trusts and the submitter know the real helper.
    let (_leader, url) = fed.aggregator(
        "pinned",
        &format!(
            "prio3_helper = {impostor:?}\nprio3_helper_name = \"helper\"\nstage_seconds = \
             5\nmin_participants = 2"
        ),
    );
    let extra = pin(&helper);
    let _a = fed.node(&url, "trust_a", &fed.schema, &extra);
    let _b = fed.node(&url, "trust_b", &fed.schema, &extra);
    let (code, out, _) = fed.submit_with(
        &url,
        &pin(&helper),
        "pinned",
        &job("protocol = \"prio3\"\nmax_count = 1000"),
    );
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("aborted") || out.contains("422"), "{out}");
    assert!(out.contains("names \"intruder\""), "{out}");
    assert!(out.contains("not \"helper\""), "{out}");
}

/// Trusts and submitters pin Prio3's helper as the leader does (`helper_name`): a server at
/// the helper's address holding another party's certificate from the federation's own CA
/// (`intruder`) fails the handshake, which they make before anything is sent. A submitter
/// sent to it stops before the job is submitted (nothing opened or charged); a trust sent to
/// it leaves before joining, so the round runs with the other two and counts exactly them;
/// a configuration with `helper` but no `helper_name` does not start.
#[test]
fn trusts_and_submitters_refuse_a_prio3_helper_whose_certificate_names_another_party() {
    let fed = Fed::new(1_000, 30);
    let (_impostor, impostor) =
        fed.aggregator_as("impostor2", "intruder", "helper_of = \"aggregator\"");
    let (_helper, helper) = fed.aggregator_as(
        "helper2",
        "helper",
        "helper_of = \"aggregator\"\nallow_exact = true",
    );
    let (_leader, url) = fed.aggregator(
        "leader2",
        &format!(
            "prio3_helper = {helper:?}\nprio3_helper_name = \"helper\"\nallow_exact = \
             true\nstage_seconds = 4\nmin_participants = 2"
        ),
    );
    // A node with a helper but no name: refused at start, with what to write.
    let unpinned = fed.node(
        &url,
        "trust_c",
        &fed.schema,
        &format!("helper = {helper:?}"),
    );
    let (code, out) = unpinned.finish(30);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("helper_name"), "{out}");

    let honest = format!("{}\nallow_exact = true", pin(&helper));
    let a = fed.node(&url, "trust_a", &fed.schema, &honest);
    let b = fed.node(&url, "trust_b", &fed.schema, &honest);
    let c = fed.node(
        &url,
        "trust_c",
        &fed.schema,
        &format!("{}\nallow_exact = true", pin(&impostor)),
    );
    let prio = job("protocol = \"prio3\"\nmax_count = 1000\nexact = true");
    // The submitter sent to the impostor: refused in the handshake, before the job is sent.
    let (code, out, _) = fed.submit_with(&url, &pin(&impostor), "to-impostor", &prio);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("names \"intruder\""), "{out}");
    assert!(out.contains("not \"helper\""), "{out}");
    assert!(!out.contains("accepted"), "{out}");
    let rt = pets_federated_net::runtime().unwrap();
    rt.block_on(async {
        let trust =
            Client::new(&url, &fed.certs.party("trust_a"), Duration::from_millis(50)).unwrap();
        assert!(
            matches!(trust.get("v1/round", "round").await.unwrap(), Got::Wait),
            "no round was opened"
        );
    });
    // A round with the real helper: trust_c, sent to the impostor, stops before joining;
    // the others are counted, exactly.
    let (code, out, exact) = fed.submit_with(&url, &pin(&helper), "to-helper", &prio);
    assert_eq!(code, Some(0), "{out}");
    let counted: Vec<&str> = exact["round"]["counted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(counted, ["trust_a", "trust_b"], "{exact}");
    assert_eq!(cells(&exact["tables"]), fed.pooled(&["trust_a", "trust_b"]));
    let (code, out) = c.finish(30);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("names \"intruder\""), "{out}");
    for n in [a, b] {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
}

/// Prio3's helper keeps the newest round it was provisioned with in its state file:
/// restarted, it refuses a task for a round it served before (a replayed task, which would
/// otherwise let the old round's report shares be counted into a second aggregate share),
/// and a report share for that round finds no round.
#[test]
fn a_restarted_prio3_helper_refuses_a_replayed_task_for_an_old_round() {
    let fed = Fed::new(1_000, 29);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = fed.path("helper.state.json");
    let settings = format!(
        "listen = \"127.0.0.1:{port}\"\nhelper_of = \"aggregator\"\nallow_exact = true\nstate = \
         {state:?}"
    );
    let (first, helper) = fed.aggregator_as("helper1", "helper", &settings);
    let (_leader, url) = fed.aggregator(
        "leader",
        &format!(
            "prio3_helper = {helper:?}\nprio3_helper_name = \"helper\"\nallow_exact = \
             true\nstage_seconds = 20"
        ),
    );
    let extra = format!("{}\nallow_exact = true", pin(&helper));
    let nodes: Vec<Proc> = TRUSTS
        .iter()
        .map(|t| fed.node(&url, t, &fed.schema, &extra))
        .collect();
    let prio = job("protocol = \"prio3\"\nmax_count = 1000\nexact = true");
    let (code, out, exact) = fed.submit_with(&url, &pin(&helper), "helper-old", &prio);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(cells(&exact["tables"]), fed.pooled_file());
    for n in nodes {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    let old = out
        .split("job ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(pets_federated_net::messages::parse_round)
        .expect("the job's id");

    // The helper restarts with its state file; the leader's task for the old round again.
    drop(first);
    let (_second, again) = fed.aggregator_as("helper2", "helper", &settings);
    assert_eq!(again, helper);
    let schema = Schema::load(&fed.schema).unwrap();
    let spec: JobSpec = toml::from_str(&prio).unwrap();
    let query = spec.query().unwrap();
    let joins: Vec<Join> = TRUSTS
        .iter()
        .map(|name| {
            let src = TableSource::file(fed.path(&format!("{name}.parquet")));
            let local = local_aggregate(name, &src, &schema, None, 1, 0, &query).unwrap();
            Join {
                declaration: pets::federated::TrustDeclaration {
                    name: name.to_string(),
                    unit: local.unit,
                    person_id: None,
                    warnings: Vec::new(),
                },
                fingerprint: query.fingerprint(&schema).unwrap(),
                layout: local.layout,
            }
        })
        .collect();
    let task = pets_federated_net::messages::HelperTask {
        round: old,
        spec,
        joins,
        verify_key: [9; 32],
    };
    let rt = pets_federated_net::runtime().unwrap();
    rt.block_on(async {
        let poll = Duration::from_millis(50);
        let leader = Client::new(&helper, &fed.certs.party("aggregator"), poll).unwrap();
        let id = round_hex(&old);
        let e = leader
            .post(&format!("v1/prio/{id}/task"), old, task, "task")
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("409"), "{msg}");
        assert!(msg.contains("not newer"), "{msg}");
        // A trust's report share for the old round: no such round at this helper.
        let trust = Client::new(&helper, &fed.certs.party("trust_a"), poll).unwrap();
        let (status, _) = trust
            .post_bytes(
                &format!("v1/rounds/{id}/report"),
                Client::envelope(old, "a report share of the old round").unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(status.as_u16(), 404);
    });
}

/// A federated MST fit's round over the network, summed exactly (a check both sides
/// allow): the aggregator's sum of the trusts' declared vectors, before noise.
fn exact_fit_round(fed: &Fed, url: &str, work: &FitRoundWork) -> Vec<i64> {
    let rt = pets_federated_net::runtime().unwrap();
    let job = JobFile {
        aggregator: url.to_string(),
        helper: None,
        helper_name: None,
        wait_seconds: 120.0,
        tls: fed.certs.party("analyst"),
        job: JobSpec {
            tables: Vec::new(),
            values: Vec::new(),
            rho: 0.5,
            protocol: "secagg".into(),
            max_count: None,
            threshold: None,
            colluders: 0,
            max_rows_per_person: None,
            max_trusts_per_person: Some(1),
            alpha: None,
            seed: None,
            min_participants: None,
            exact: true,
            vector: Some(VectorJob::MstRound(work.clone())),
        },
    };
    let (_, json) = rt
        .block_on(pets_federated_net::submit::submit(&job))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["exact"], true, "{value}");
    assert_eq!(value["round"]["counted"].as_array().unwrap().len(), 3);
    serde_json::from_value(value["sums"].clone()).unwrap()
}

/// The same vector over one table on one machine (`FitTrust`: the fit's own reading).
fn pooled_fit_vector(schema: &Schema, data: &Path, work: &FitRoundWork) -> Vec<i64> {
    FitTrust::read("pool", TableSource::file(data), schema, work, None, 1)
        .unwrap()
        .vector(work)
        .unwrap()
        .values
}

/// A fit file for the network fit at `url`.
fn fit_file(fed: &Fed, url: &str, tag: &str, extra: &str) -> PathBuf {
    let file = fed.path(&format!("{tag}.fit.toml"));
    std::fs::write(
        &file,
        format!(
            "aggregator = {url:?}\nwait_seconds = 120\n{}\n[fit]\nschema = {:?}\nepsilon = \
             2.0\ndelta = 1e-9\nmax_trusts_per_person = 1\n{extra}\n",
            fed.tls("analyst"),
            fed.schema
        ),
    )
    .unwrap();
    file
}

/// Federated MST over the network, as separate processes: the aggregator's pre-noise sums
/// of round A's 1-way vectors and of pair vectors on compressed codes are the pooled
/// single-machine vectors cell for cell; the fit (`pets federated submit fit.toml`) runs
/// its three rounds as three jobs, writes a model file that `pets synth sample` samples,
/// and its ledger charges exactly what the in-process `pets federated fit` charges, round
/// for round.
#[test]
fn a_federated_fit_over_the_network_sums_the_pooled_vectors_and_charges_what_the_in_process_fit_charges()
 {
    let fed = Fed::new(3_000, 31);
    let schema = Schema::load(&fed.schema).unwrap();
    let (_agg, url) = fed.aggregator("fit", "allow_exact = true\nstage_seconds = 30");
    let nodes: Vec<Proc> = TRUSTS
        .iter()
        .map(|t| fed.node(&url, t, &fed.schema, "rounds = 5\nallow_exact = true"))
        .collect();
    // Round A's work, as the fit's coordinator plans it from the declared schema alone.
    let mut remote = FederatedFitJob::new(schema.clone(), 2.0, 1e-9)
        .max_trusts_per_person(Some(1))
        .remote()
        .unwrap();
    let a = remote.next_round().unwrap();
    assert_eq!(a.round, "A");
    let work_a = a.parts[0].0.clone();
    let sums = exact_fit_round(&fed, &url, &work_a);
    assert_eq!(
        sums,
        pooled_fit_vector(&schema, &fed.data, &work_a),
        "cell for cell"
    );
    // Pair vectors on compressed codes, weighted (rounds B and C's kind): three pairs of
    // small columns, each column folded onto at most 3 codes.
    let small: Vec<usize> = work_a
        .layout
        .iter()
        .enumerate()
        .filter(|(_, t)| t.shape[0] <= 40)
        .map(|(i, _)| i)
        .take(4)
        .collect();
    assert_eq!(small.len(), 4, "{:?}", work_a.layout);
    let cards: Vec<usize> = work_a.layout.iter().map(|t| t.shape[0]).collect();
    let sizes: Vec<usize> = cards.iter().map(|&k| k.min(3)).collect();
    let maps: Vec<Vec<u32>> = cards
        .iter()
        .zip(&sizes)
        .map(|(&k, &n)| (0..k as u32).map(|c| c % n as u32).collect())
        .collect();
    let pairs = vec![
        (small[0], small[1]),
        (small[1], small[2]),
        (small[2], small[3]),
    ];
    let weights = vec![1u64, 3, 16];
    let layout = pairs
        .iter()
        .zip(&weights)
        .map(|(&(x, y), &w)| TableLayout {
            dimensions: vec![work_a.columns[x].clone(), work_a.columns[y].clone()],
            labels: Vec::new(),
            shape: vec![sizes[x], sizes[y]],
            weight: w,
            value: None,
        })
        .collect();
    let work_b = FitRoundWork {
        round: "B".into(),
        label: "pairs on compressed codes (check)".into(),
        tables: FitTables::Pairs {
            pairs,
            maps,
            sizes,
            weights,
        },
        first: 0,
        layout,
        ..work_a.clone()
    };
    let sums = exact_fit_round(&fed, &url, &work_b);
    assert_eq!(
        sums,
        pooled_fit_vector(&schema, &fed.data, &work_b),
        "cell for cell"
    );

    // The fit over the network: three rounds, three jobs; the model file samples.
    let file = fit_file(&fed, &url, "net", "");
    let (model, json) = (fed.path("net.model.json"), fed.path("net.fit.json"));
    let o = pets(&[
        "federated",
        "submit",
        p(&file),
        "--out",
        p(&model),
        "--json",
        p(&json),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for n in nodes {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    let net = read_json(&json);
    let rounds: Vec<&str> = net["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["round"].as_str().unwrap())
        .collect();
    assert_eq!(rounds, ["A", "B", "C"]);
    for r in net["rounds"].as_array().unwrap() {
        assert_eq!(
            r["reports"][0]["counted"].as_array().unwrap().len(),
            3,
            "{r}"
        );
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(saved["method"], "mst (federated)");
    let sample = fed.path("net.sample.csv");
    let o = pets(&[
        "synth",
        "sample",
        p(&model),
        "--rows",
        "200",
        "--out",
        p(&sample),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&sample).unwrap().lines().count(),
        201
    );

    // The same fit in one process, on the same three files: the same charges.
    let local_json = fed.path("local.fit.json");
    let mut args = vec![
        "federated".to_string(),
        "fit".into(),
        "--schema".into(),
        p(&fed.schema).into(),
        "--epsilon".into(),
        "2.0".into(),
        "--max-trusts-per-person".into(),
        "1".into(),
        "--out".into(),
        p(&fed.path("local.model.json")).into(),
        "--json".into(),
        p(&local_json).into(),
    ];
    for t in TRUSTS {
        args.push("--trust".into());
        args.push(format!("{t}={}", p(&fed.path(&format!("{t}.parquet")))));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = pets(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let local = read_json(&local_json);
    let entries = |v: &serde_json::Value| v["ledger"]["entries"].as_array().unwrap().clone();
    let (n, l) = (entries(&net), entries(&local));
    assert_eq!(n.len(), 3, "{net}");
    assert_eq!(n.len(), l.len());
    // Rounds A and B are planned from the declared schema alone (B's candidates from A's
    // compression, whose tables all charge weight 1): the same charge to the bit. Round C's
    // table weights follow the tree, chosen from noisy tables, so its sensitivity and scale
    // differ from run to run while its charge is MST's rho2 up to rounding.
    let rho = |e: &serde_json::Value| e["cost"]["rho"].as_f64().unwrap();
    for (i, (n, l)) in n.iter().zip(&l).enumerate() {
        if i < 2 {
            assert_eq!(n["cost"], l["cost"], "{n} vs {l}");
            assert_eq!(n["mechanism"], l["mechanism"]);
        } else {
            assert!((rho(n) - rho(l)).abs() <= 1e-12 * rho(l), "{n} vs {l}");
            assert_eq!(n["mechanism"]["name"], l["mechanism"]["name"]);
        }
        assert_eq!(
            n["query"].as_str().unwrap()[..30],
            l["query"].as_str().unwrap()[..30]
        );
        assert_eq!(n["contribution"], l["contribution"]);
        assert_eq!(n["warnings"], l["warnings"]);
    }
    assert_eq!(n[0]["query"], l[0]["query"]);
    let spent = |v: &serde_json::Value| v["ledger"]["spent"]["rho"].as_f64().unwrap();
    assert!((spent(&net) - spent(&local)).abs() <= 1e-12, "{net}");
    assert_eq!(net["ledger"]["budget"], local["ledger"]["budget"]);
}

/// A trust that leaves between a fit's rounds: round B waits for it until its join
/// deadline, then aborts (fewer than the job's minimum joined); the submission fails
/// naming the round, no model is written, and the budget file holds round A's charge only.
#[test]
fn a_trust_leaving_between_fit_rounds_stops_the_fit_at_the_next_round_with_round_a_charged() {
    let fed = Fed::new(1_500, 32);
    let budget = fed.path("fit.budget");
    let o = pets(&[
        "budget",
        "init",
        p(&budget),
        "--rho",
        "5",
        "--dataset",
        "ae-test",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (_agg, url) = fed.aggregator(
        "dropfit",
        &format!("stage_seconds = 3\nmin_participants = 3\nbudget = {budget:?}"),
    );
    let _a = fed.node(&url, "trust_a", &fed.schema, "rounds = 3");
    let _b = fed.node(&url, "trust_b", &fed.schema, "rounds = 3");
    // trust_c takes part in round A only, then leaves.
    let c = fed.node(&url, "trust_c", &fed.schema, "rounds = 1");
    let file = fit_file(&fed, &url, "drop", "");
    let model = fed.path("drop.model.json");
    let o = pets(&["federated", "submit", p(&file), "--out", p(&model)]);
    let out = text(&o);
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("round B") && out.contains("stay charged") && out.contains("needs at least 3"),
        "{out}"
    );
    assert!(!model.exists());
    let (code, out) = c.finish(30);
    assert_eq!(code, Some(0), "{out}");
    let o = pets(&["budget", "show", "--json", p(&budget)]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let charges = v["entries"].as_array().unwrap();
    assert_eq!(charges.len(), 1, "{v}");
    assert!(charges[0].to_string().contains("round A"), "{}", charges[0]);
}

/// Federated averaging over the network, as separate processes: at a round's public
/// weights the aggregator's pre-noise sum of the trusts' clipped gradient vectors is the
/// pooled single-machine one cell for cell; a run (`pets federated submit train.toml`)
/// takes its rounds in turn, sending the weights with each, and its ledger charges exactly
/// what the in-process `pets federated train` charges, round for round.
#[test]
fn federated_averaging_over_the_network_sums_the_pooled_gradients_and_charges_what_the_in_process_run_charges()
 {
    let fed = Fed::new(3_000, 33);
    let schema = Schema::load(&fed.schema).unwrap();
    let (_agg, url) = fed.aggregator("train", "allow_exact = true\nstage_seconds = 30");
    let nodes: Vec<Proc> = TRUSTS
        .iter()
        .map(|t| fed.node(&url, t, &fed.schema, "rounds = 4\nallow_exact = true"))
        .collect();
    let run = FederatedTrainJob::new(schema.clone(), "admitted", 2.0, 1e-9)
        .rounds(3)
        .max_trusts_per_person(Some(1))
        .remote()
        .unwrap();
    let (mut work, _) = run.next_round().unwrap();
    work.weights = (0..work.weights.len())
        .map(|j| 0.25 * (j % 3) as f64 - 0.25)
        .collect();
    let rt = pets_federated_net::runtime().unwrap();
    let job = JobFile {
        aggregator: url.clone(),
        helper: None,
        helper_name: None,
        wait_seconds: 120.0,
        tls: fed.certs.party("analyst"),
        job: JobSpec {
            tables: Vec::new(),
            values: Vec::new(),
            rho: 0.5,
            protocol: "secagg".into(),
            max_count: None,
            threshold: None,
            colluders: 0,
            max_rows_per_person: None,
            max_trusts_per_person: Some(1),
            alpha: None,
            seed: None,
            min_participants: None,
            exact: true,
            vector: Some(VectorJob::TrainRound(work.clone())),
        },
    };
    let (_, json) = rt
        .block_on(pets_federated_net::submit::submit(&job))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sums: Vec<i64> = serde_json::from_value(value["sums"].clone()).unwrap();
    let rows = work
        .encoding
        .read(&TableSource::file(&fed.data), &schema, None, 1, 0)
        .unwrap();
    assert_eq!(sums, work.local(&rows).unwrap().values, "cell for cell");

    // The run over the network, and the same run in one process.
    let file = fed.path("net.train.toml");
    std::fs::write(
        &file,
        format!(
            "aggregator = {url:?}\nwait_seconds = 120\n{}\n[train]\nschema = {:?}\ntarget = \
             \"admitted\"\nepsilon = 2.0\nrounds = 3\nmax_trusts_per_person = 1\n",
            fed.tls("analyst"),
            fed.schema
        ),
    )
    .unwrap();
    let net_model = fed.path("net.train.json");
    let o = pets(&["federated", "submit", p(&file), "--out", p(&net_model)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for n in nodes {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    let local_model = fed.path("local.train.json");
    let mut args: Vec<String> = [
        "federated",
        "train",
        "--schema",
        p(&fed.schema),
        "--target",
        "admitted",
        "--epsilon",
        "2.0",
        "--rounds",
        "3",
        "--max-trusts-per-person",
        "1",
        "--out",
        p(&local_model),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for t in TRUSTS {
        args.push("--trust".into());
        args.push(format!("{t}={}", p(&fed.path(&format!("{t}.parquet")))));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = pets(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (net, local) = (read_json(&net_model), read_json(&local_model));
    assert_eq!(net["method"], local["method"]);
    assert_eq!(net["model"]["names"], local["model"]["names"]);
    assert_eq!(net["options"], local["options"]);
    assert_eq!(net["rounds"].as_array().unwrap().len(), 3);
    for r in net["rounds"].as_array().unwrap() {
        assert_eq!(r["report"]["counted"].as_array().unwrap().len(), 3, "{r}");
    }
    let entries = |v: &serde_json::Value| v["ledger"]["entries"].as_array().unwrap().clone();
    let (n, l) = (entries(&net), entries(&local));
    assert_eq!(n.len(), 3);
    assert_eq!(n.len(), l.len());
    for (n, l) in n.iter().zip(&l) {
        for key in [
            "query",
            "columns",
            "cost",
            "charged",
            "mechanism",
            "contribution",
        ] {
            assert_eq!(n[key], l[key], "{key}: {n} vs {l}");
        }
    }
    assert_eq!(net["ledger"]["spent"], local["ledger"]["spent"]);
    assert_eq!(net["ledger"]["budget"], local["ledger"]["budget"]);
}

/// A federated fit over the network by Prio3: every round's declared vector goes through a
/// leader and a helper (each adding its noise, the submitter adding the two noisy shares),
/// and the fit ends in a model file with the per-aggregator mechanism in every round.
#[test]
fn a_federated_fit_over_the_network_runs_by_prio3_with_a_leader_and_a_helper() {
    let fed = Fed::new(1_500, 34);
    let (_helper, helper) = fed.aggregator_as("fithelper", "helper", "helper_of = \"aggregator\"");
    let (_leader, url) = fed.aggregator(
        "fitleader",
        &format!("prio3_helper = {helper:?}\nprio3_helper_name = \"helper\"\nstage_seconds = 20"),
    );
    let nodes: Vec<Proc> = TRUSTS
        .iter()
        .map(|t| {
            fed.node(
                &url,
                t,
                &fed.schema,
                &format!("{}\nrounds = 3", pin(&helper)),
            )
        })
        .collect();
    let file = fed.path("prio.fit.toml");
    std::fs::write(
        &file,
        format!(
            "aggregator = {url:?}\n{}\nwait_seconds = 120\n{}\n[fit]\nschema = {:?}\nepsilon = \
             2.0\nprotocol = \"prio3\"\nmax_trusts_per_person = 1\n",
            pin(&helper),
            fed.tls("analyst"),
            fed.schema
        ),
    )
    .unwrap();
    let (model, json) = (fed.path("prio.model.json"), fed.path("prio.fit.json"));
    let o = pets(&[
        "federated",
        "submit",
        p(&file),
        "--out",
        p(&model),
        "--json",
        p(&json),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for n in nodes {
        let (code, out) = n.finish(30);
        assert_eq!(code, Some(0), "{out}");
    }
    let v = read_json(&json);
    let entries = v["ledger"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{v}");
    for e in entries {
        assert_eq!(
            e["mechanism"]["name"], "discrete_gaussian_per_aggregator",
            "{e}"
        );
    }
    for r in v["rounds"].as_array().unwrap() {
        assert_eq!(r["reports"][0]["protocol"], "prio3", "{r}");
        assert_eq!(
            r["reports"][0]["counted"].as_array().unwrap().len(),
            3,
            "{r}"
        );
    }
    assert!(model.exists());
}
