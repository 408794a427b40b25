//! The three configuration files (TOML), paths relative to the file's folder.
//!
//! ```toml
//! # agg.toml
//! listen = "127.0.0.1:8443"
//! schema = "ae.schema.json"          # the federation's declared schema
//! trusts = ["trust_a", "trust_b", "trust_c"]   # certificate names of the trusts
//! submitters = ["analyst"]           # certificate names allowed to submit jobs
//! min_participants = 2               # trusts that must join (default: all)
//! stage_seconds = 30                 # deadline of every stage
//! max_body_bytes = 67108864          # the largest request body
//! budget = "ae.budget.json"          # optional persistent budget file (pets budget init)
//! prio3_helper = "https://127.0.0.1:8444"  # Prio3's second aggregator (this one leads)
//! prio3_helper_name = "helper"       # ... and the name its certificate must carry
//! state = "agg.state.json"           # optional: the state file (default: beside this file)
//! job_window_seconds = 600           # a job stamped further from this clock is refused
//! keep_results = 256                 # ended rounds whose results are kept for submitters
//! [tls]
//! cert = "certs/aggregator.pem"
//! key = "certs/aggregator.key"
//! ca = "certs/ca.pem"
//!
//! # helper.toml: Prio3's second aggregator, serving the leader named here
//! listen = "127.0.0.1:8444"
//! schema = "ae.schema.json"
//! trusts = ["trust_a", "trust_b", "trust_c"]
//! submitters = ["analyst"]
//! helper_of = "aggregator"            # the leader's certificate name
//! [tls]
//! cert = "certs/helper.pem"
//! key = "certs/helper.key"
//! ca = "certs/ca.pem"
//!
//! # node.toml
//! aggregator = "https://127.0.0.1:8443"
//! helper = "https://127.0.0.1:8444"  # Prio3 jobs: the second aggregator
//! helper_name = "helper"             # ... and the name its certificate must carry
//! person_id = "nhs_number"           # optional: person-level bounding
//! rounds = 1                         # rounds to take part in, then exit (0: forever)
//! [tls]
//! cert = "certs/trust_a.pem"
//! key = "certs/trust_a.key"
//! ca = "certs/ca.pem"
//!
//! # job.toml
//! aggregator = "https://127.0.0.1:8443"
//! helper = "https://127.0.0.1:8444"  # Prio3 jobs: the collector fetches both shares
//! helper_name = "helper"             # ... and the name the helper's certificate must carry
//! [tls]
//! cert = "certs/analyst.pem"
//! key = "certs/analyst.key"
//! ca = "certs/ca.pem"
//! [job]
//! tables = [["age_band", "sex"]]
//! rho = 0.1
//! ```

use std::path::{Path, PathBuf};

use pets::federated::DropPoint;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{NetError, Result};
use crate::messages::JobSpec;
use crate::tls::TlsFiles;

/// The aggregator's configuration (`agg.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatorConfig {
    /// Address to listen on (`127.0.0.1:0`: any free port, printed at start).
    pub listen: String,
    /// The federation's declared schema.
    pub schema: PathBuf,
    /// Certificate names of the trusts of the federation.
    pub trusts: Vec<String>,
    /// Certificate names allowed to submit jobs and read results.
    pub submitters: Vec<String>,
    /// Trusts that must join a round (default all of them).
    #[serde(default)]
    pub min_participants: Option<usize>,
    /// Seconds each stage stays open for late parties (default 30).
    #[serde(default = "default_stage_seconds")]
    pub stage_seconds: f64,
    /// Largest request body in bytes (default 64 MiB); each protocol message is further held
    /// to its round's own limit.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// The dataset's persistent budget file, charged for every release.
    #[serde(default)]
    pub budget: Option<PathBuf>,
    /// Allow jobs that release the exact sum without noise (checks only; default false).
    #[serde(default)]
    pub allow_exact: bool,
    /// Write the port it listens on to this file once listening (for scripts and tests).
    #[serde(default)]
    pub port_file: Option<PathBuf>,
    /// Prio3's second aggregator (`https://host:port`), which this one (the leader) runs
    /// Prio3 jobs with; without it, Prio3 jobs are refused.
    #[serde(default)]
    pub prio3_helper: Option<String>,
    /// The certificate name (common name) Prio3's helper must present: the leader refuses a
    /// helper at `prio3_helper` whose certificate, though signed by the federation CA, names
    /// another party. Required with `prio3_helper`.
    #[serde(default)]
    pub prio3_helper_name: Option<String>,
    /// Serve as Prio3's helper of the leader with this certificate name (no jobs of its own).
    #[serde(default)]
    pub helper_of: Option<String>,
    /// The state file that makes replays across a restart recognisable
    /// ([`crate::state`]); loaded configurations default to `NAME.state.json` beside
    /// `NAME.toml`. `None` only when built in code: state in memory only.
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// The job window `W` in seconds (default [`crate::state::DEFAULT_JOB_WINDOW`], 600): a
    /// job submission stamped more than `W` from this aggregator's clock is refused, and the
    /// nonces of accepted jobs are remembered for `W` after their stamp (the bound on the
    /// state file; see [`crate::state`]). Submitters' clocks must agree with this one to
    /// within `W`.
    #[serde(default = "default_job_window")]
    pub job_window_seconds: u64,
    /// The ended rounds whose results (and Prio3 aggregate shares) are kept in memory for
    /// their submitters (default 256); older ones are let go and asking for one is answered
    /// 410, so a long-running aggregator's memory does not grow with every round.
    #[serde(default = "default_keep_results")]
    pub keep_results: usize,
    /// The aggregator's certificate, key and the federation CA.
    pub tls: TlsFiles,
}

fn default_keep_results() -> usize {
    256
}

fn default_job_window() -> u64 {
    crate::state::DEFAULT_JOB_WINDOW
}

fn default_stage_seconds() -> f64 {
    30.0
}

fn default_body() -> usize {
    64 << 20
}

/// A trust's node agent configuration (`node.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The aggregator's address (`https://host:port`).
    pub aggregator: String,
    /// Prio3's second aggregator (`https://host:port`): each report's helper share goes there.
    #[serde(default)]
    pub helper: Option<String>,
    /// The certificate name (common name) Prio3's helper must present: each report's helper share goes to
    /// `helper` only over a connection whose server certificate, besides being the
    /// federation CA's and valid for the address, names this party ([`TlsFiles`]'s pinned
    /// configuration). Required with `helper`: every party of a federation holds a
    /// certificate from the same CA, so the CA alone does not tell the helper from, say, a
    /// trust or the leader.
    #[serde(default)]
    pub helper_name: Option<String>,
    /// The person-id column of the trust's table, if it has one.
    #[serde(default)]
    pub person_id: Option<String>,
    /// Rounds to take part in before exiting (default 1; 0: run until stopped).
    #[serde(default = "one")]
    pub rounds: u32,
    /// Milliseconds between polls of the aggregator (default 200).
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
    /// Seconds to wait for a round to open before giving up (default 600).
    #[serde(default = "default_wait")]
    pub wait_seconds: f64,
    /// Allow this trust to send its counts without noise when a job asks (checks only).
    #[serde(default)]
    pub allow_exact: bool,
    /// Fault injection for tests and drills: leave the round at this point.
    #[serde(default)]
    pub drop_at: Option<String>,
    /// The trust's certificate, key and the federation CA.
    pub tls: TlsFiles,
}

fn one() -> u32 {
    1
}

fn default_poll() -> u64 {
    200
}

fn default_wait() -> f64 {
    600.0
}

impl NodeConfig {
    /// The fault to inject, if any.
    pub fn drop_point(&self, file: &Path) -> Result<Option<DropPoint>> {
        self.drop_at
            .as_deref()
            .map(|s| {
                s.parse()
                    .map_err(|e| NetError::config(file, format!("{e}")))
            })
            .transpose()
    }
}

/// Prio3's helper as a party configures it: its address and the certificate name pinned
/// for it, or `None` without `helper`; a `helper` without `helper_name` is refused (`file`
/// names the configuration in the error).
pub fn pinned_helper<'a>(
    helper: &'a Option<String>,
    helper_name: &'a Option<String>,
    file: &str,
) -> Result<Option<(&'a str, &'a str)>> {
    match (helper, helper_name) {
        (Some(url), Some(name)) => Ok(Some((url, name))),
        (Some(_), None) => Err(NetError::Config {
            file: file.to_string(),
            reason: "helper needs helper_name = \"NAME\": the certificate name Prio3's helper \
                     must present (any party of the federation holds a certificate from the \
                     same CA)"
                .into(),
        }),
        (None, _) => Ok(None),
    }
}

/// A job file (`job.toml`): where to send it, as whom, and the job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// The aggregator's address.
    pub aggregator: String,
    /// Prio3's second aggregator: the collector fetches its aggregate share there.
    #[serde(default)]
    pub helper: Option<String>,
    /// The certificate name (common name) Prio3's helper must present: the request for its aggregate share goes to
    /// `helper` only over a connection whose server certificate, besides being the
    /// federation CA's and valid for the address, names this party ([`TlsFiles`]'s pinned
    /// configuration). Required with `helper`: every party of a federation holds a
    /// certificate from the same CA, so the CA alone does not tell the helper from, say, a
    /// trust or the leader.
    #[serde(default)]
    pub helper_name: Option<String>,
    /// Seconds to wait for the result (default 600).
    #[serde(default = "default_wait")]
    pub wait_seconds: f64,
    /// The submitter's certificate, key and the federation CA.
    pub tls: TlsFiles,
    /// The job.
    pub job: JobSpec,
}

/// A fit file (`fit.toml`): where to send a federated MST fit's rounds, as whom, and the
/// fit (`pets federated submit fit.toml --out model.json`). The submitter runs the fit's
/// rounds in turn, one job each ([`crate::submit::submit_fit`]).
///
/// ```toml
/// aggregator = "https://127.0.0.1:8443"
/// [tls]
/// cert = "certs/analyst.pem"
/// key = "certs/analyst.key"
/// ca = "certs/ca.pem"
/// [fit]
/// schema = "ae.schema.json"   # the federation's declared schema (the trusts' must agree)
/// epsilon = 1.0
/// delta = 1e-9
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitFile {
    /// The aggregator's address.
    pub aggregator: String,
    /// Prio3's second aggregator (Prio3 fits): the collector fetches its shares there.
    #[serde(default)]
    pub helper: Option<String>,
    /// The certificate name Prio3's helper must present (required with `helper`).
    #[serde(default)]
    pub helper_name: Option<String>,
    /// Seconds to wait for each round's result (default 600).
    #[serde(default = "default_wait")]
    pub wait_seconds: f64,
    /// The submitter's certificate, key and the federation CA.
    pub tls: TlsFiles,
    /// The fit.
    pub fit: FitSpec,
}

/// The `[fit]` table of a fit file: the options of `pets federated fit`, by the same names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitSpec {
    /// The federation's declared schema (required: an inferred one would differ from trust
    /// to trust).
    pub schema: PathBuf,
    /// Target epsilon of (epsilon, delta)-DP for the whole fit (its three rounds).
    pub epsilon: f64,
    /// Target delta (default 1e-9).
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// Integer, date and datetime columns with more values are binned or coarsened
    /// (default 128).
    #[serde(default = "default_max_values")]
    pub max_values: u32,
    /// `secagg` (default) or `prio3`.
    #[serde(default = "secagg_name")]
    pub protocol: String,
    /// Secure aggregation: trusts that must survive every stage (default a strict majority).
    #[serde(default)]
    pub threshold: Option<usize>,
    /// Secure aggregation: trusts that may collude with the aggregator.
    #[serde(default)]
    pub colluders: usize,
    /// Rows kept per person at each trust that gives a person id (default 1).
    #[serde(default = "one")]
    pub max_rows_per_person: u32,
    /// Trusts one person may attend (public bound; default 1, announced).
    #[serde(default)]
    pub max_trusts_per_person: Option<u32>,
    /// Prio3's per-trust bound on a (weighted) cell.
    #[serde(default)]
    pub max_count: Option<u64>,
    /// Trusts that must join each round (default: the aggregator's setting).
    #[serde(default)]
    pub min_participants: Option<usize>,
    /// Seed of each trust's choice of kept rows.
    #[serde(default)]
    pub seed: u64,
    /// Share of rho for round B (default 0.1).
    #[serde(default)]
    pub selection_share: Option<f64>,
    /// Soft threshold of the tree's pair scores, in multiples of round B's sigma (default 1).
    #[serde(default)]
    pub score_threshold: Option<f64>,
    /// Columns with more declared values are measured 1-way only (default 4096).
    #[serde(default)]
    pub max_pair_values: Option<u32>,
    /// Largest compressed pair table considered (at most 4,000,000: one round).
    #[serde(default)]
    pub max_pair_cells: Option<u64>,
    /// Split each round's budget equally between its tables rather than by size.
    #[serde(default)]
    pub equal_shares: Option<bool>,
    /// Mirror-descent iterations of the inference, exactly.
    #[serde(default)]
    pub iters: Option<usize>,
}

/// A training file (`train.toml`): where to send a federated-averaging run's rounds, as
/// whom, and the run (`pets federated submit train.toml --out model.json`). The submitter
/// runs the rounds in turn, one job each, sending the current weights with each
/// ([`crate::submit::submit_train`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainFile {
    /// The aggregator's address.
    pub aggregator: String,
    /// Seconds to wait for each round's result (default 600).
    #[serde(default = "default_wait")]
    pub wait_seconds: f64,
    /// The submitter's certificate, key and the federation CA.
    pub tls: TlsFiles,
    /// The run.
    pub train: TrainSpec,
}

/// The `[train]` table of a training file: the options of `pets federated train`, by the
/// same names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// The federation's declared schema.
    pub schema: PathBuf,
    /// The binary target (a categorical column).
    pub target: String,
    /// Its positive value (default: the second of two declared values).
    #[serde(default)]
    pub positive: Option<String>,
    /// Feature columns (default: the encoding's defaults).
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Target epsilon of the whole run.
    pub epsilon: f64,
    /// Target delta (default 1e-9).
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// Rounds (default 50).
    #[serde(default)]
    pub rounds: Option<usize>,
    /// The clip norm of each row's gradient (default: the encoding's largest norm).
    #[serde(default)]
    pub clip: Option<f64>,
    /// Adam's step size (default 0.2).
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// The L2 penalty (default 1e-4).
    #[serde(default)]
    pub l2: Option<f64>,
    /// Secure aggregation: trusts that must survive every stage.
    #[serde(default)]
    pub threshold: Option<usize>,
    /// Secure aggregation: trusts that may collude with the aggregator.
    #[serde(default)]
    pub colluders: usize,
    /// Rows kept per person at each trust that gives a person id (default 1).
    #[serde(default = "one")]
    pub max_rows_per_person: u32,
    /// Trusts one person may attend.
    #[serde(default)]
    pub max_trusts_per_person: Option<u32>,
    /// Trusts that must join each round (default: the aggregator's setting).
    #[serde(default)]
    pub min_participants: Option<usize>,
    /// Seed of each trust's choice of kept rows.
    #[serde(default)]
    pub seed: u64,
}

impl TrainFile {
    /// The connection part.
    pub fn connection(&self) -> Connection {
        Connection {
            aggregator: self.aggregator.clone(),
            helper: None,
            helper_name: None,
            wait_seconds: self.wait_seconds,
            tls: self.tls.clone(),
        }
    }
}

impl Relative for TrainFile {
    fn relative_to(mut self, dir: &Path) -> Self {
        self.tls = self.tls.relative_to(dir);
        self.train.schema = rel(self.train.schema, dir);
        self
    }
}

fn default_delta() -> f64 {
    1e-9
}

fn default_max_values() -> u32 {
    128
}

fn secagg_name() -> String {
    "secagg".into()
}

impl FitFile {
    /// The connection part (where and as whom each round's job goes).
    pub fn connection(&self) -> Connection {
        Connection {
            aggregator: self.aggregator.clone(),
            helper: self.helper.clone(),
            helper_name: self.helper_name.clone(),
            wait_seconds: self.wait_seconds,
            tls: self.tls.clone(),
        }
    }
}

impl Relative for FitFile {
    fn relative_to(mut self, dir: &Path) -> Self {
        self.tls = self.tls.relative_to(dir);
        self.fit.schema = rel(self.fit.schema, dir);
        self
    }
}

/// Where to send a job and as whom: a job file without its `[job]` table (Python's
/// `pets.federated.submit(job, config=...)` takes the two apart).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// The aggregator's address.
    pub aggregator: String,
    /// Prio3's second aggregator: the collector fetches its aggregate share there.
    #[serde(default)]
    pub helper: Option<String>,
    /// The certificate name (common name) Prio3's helper must present: the request for its aggregate share goes to
    /// `helper` only over a connection whose server certificate, besides being the
    /// federation CA's and valid for the address, names this party ([`TlsFiles`]'s pinned
    /// configuration). Required with `helper`: every party of a federation holds a
    /// certificate from the same CA, so the CA alone does not tell the helper from, say, a
    /// trust or the leader.
    #[serde(default)]
    pub helper_name: Option<String>,
    /// Seconds to wait for the result (default 600).
    #[serde(default = "default_wait")]
    pub wait_seconds: f64,
    /// The submitter's certificate, key and the federation CA.
    pub tls: TlsFiles,
}

impl JobFile {
    /// The job file of `job` sent over `connection`.
    pub fn new(connection: Connection, job: JobSpec) -> JobFile {
        JobFile {
            aggregator: connection.aggregator,
            helper: connection.helper,
            helper_name: connection.helper_name,
            wait_seconds: connection.wait_seconds,
            tls: connection.tls,
            job,
        }
    }
}

/// A configuration given as JSON (a Python dict), its relative paths resolved against
/// `dir` (the caller's working directory). `what` names it in errors.
pub fn from_json<T: DeserializeOwned + Relative>(text: &str, dir: &Path, what: &str) -> Result<T> {
    let value: T = serde_json::from_str(text).map_err(|e| NetError::Config {
        file: what.to_string(),
        reason: e.to_string(),
    })?;
    Ok(value.relative_to(dir))
}

/// Read a TOML configuration and resolve its relative paths against its folder.
pub fn load<T: DeserializeOwned + Relative>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| NetError::io(path, e))?;
    let value: T = toml::from_str(&text).map_err(|e| NetError::config(path, e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(value.relative_to(dir).loaded_from(path))
}

/// A configuration whose paths resolve against its file's folder.
pub trait Relative: Sized {
    /// Resolve relative paths against `dir`.
    fn relative_to(self, dir: &Path) -> Self;

    /// Defaults that depend on the file the configuration was read from.
    fn loaded_from(self, _file: &Path) -> Self {
        self
    }
}

fn rel(p: PathBuf, dir: &Path) -> PathBuf {
    if p.is_relative() { dir.join(p) } else { p }
}

impl Relative for AggregatorConfig {
    fn relative_to(mut self, dir: &Path) -> Self {
        self.schema = rel(self.schema, dir);
        self.budget = self.budget.map(|b| rel(b, dir));
        self.port_file = self.port_file.map(|b| rel(b, dir));
        self.state = self.state.map(|b| rel(b, dir));
        self.tls = self.tls.relative_to(dir);
        self
    }

    fn loaded_from(mut self, file: &Path) -> Self {
        if self.state.is_none() {
            self.state = Some(file.with_extension("state.json"));
        }
        self
    }
}

impl Relative for NodeConfig {
    fn relative_to(mut self, dir: &Path) -> Self {
        self.tls = self.tls.relative_to(dir);
        self
    }
}

impl Relative for JobSpec {
    fn relative_to(self, _dir: &Path) -> Self {
        self
    }
}

impl Relative for Connection {
    fn relative_to(mut self, dir: &Path) -> Self {
        self.tls = self.tls.relative_to(dir);
        self
    }
}

impl Relative for JobFile {
    fn relative_to(mut self, dir: &Path) -> Self {
        self.tls = self.tls.relative_to(dir);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/federated")
            .join(name)
    }

    /// The example configurations in `examples/federated/` load, and every party that
    /// talks to Prio3's helper pins its certificate name.
    #[test]
    fn the_example_configurations_load_and_pin_the_helper() {
        let agg: AggregatorConfig = load(&example("agg.toml")).unwrap();
        assert_eq!(agg.prio3_helper_name.as_deref(), Some("helper"));
        assert_eq!(agg.job_window_seconds, crate::state::DEFAULT_JOB_WINDOW);
        assert_eq!(agg.keep_results, 256);
        assert_eq!(agg.state, Some(example("agg.state.json")));
        let helper: AggregatorConfig = load(&example("helper.toml")).unwrap();
        assert_eq!(helper.helper_of.as_deref(), Some("aggregator"));
        for n in 1..=3 {
            let node: NodeConfig = load(&example(&format!("node_{n}.toml"))).unwrap();
            let pinned = pinned_helper(&node.helper, &node.helper_name, "node").unwrap();
            assert_eq!(pinned.map(|(_, name)| name), Some("helper"));
        }
        let job: JobFile = load(&example("job_prio3.toml")).unwrap();
        let pinned = pinned_helper(&job.helper, &job.helper_name, "job").unwrap();
        assert_eq!(pinned.map(|(_, name)| name), Some("helper"));
        let job: JobFile = load(&example("job.toml")).unwrap();
        assert!(job.helper.is_none());
        let fit: FitFile = load(&example("fit.toml")).unwrap();
        assert_eq!(fit.fit.schema, example("../ae.schema.json"));
        assert_eq!((fit.fit.epsilon, fit.fit.max_values), (1.0, 128));
        let train: TrainFile = load(&example("train.toml")).unwrap();
        assert_eq!(train.train.target, "admitted");
        assert_eq!(train.train.rounds, Some(20));
    }

    #[test]
    fn a_helper_without_its_name_is_refused_with_what_to_write() {
        let e = pinned_helper(&Some("https://127.0.0.1:8444".into()), &None, "node.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("node.toml") && e.contains("helper_name = \"NAME\""),
            "{e}"
        );
        assert!(pinned_helper(&None, &None, "node.toml").unwrap().is_none());
    }
}
