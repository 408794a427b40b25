//! The aggregator: an HTTPS service (axum on hyper, rustls with client certificates) that
//! takes a job from a submitter, runs one secure-aggregation round with the trusts that join,
//! and hands the submitter the noisy release.
//!
//! ```text
//! submit job -> check it (query, share, schema fingerprint) -> announce the round
//! -> trusts join (fingerprint, unit, layout; no count) until all or the deadline
//! -> min participants? plan the noise and charge the budget (FederatedJob::plan_and_charge,
//!    as the simulation does) -> each trust's plan (party id, noise share)
//! -> keys -> roster -> shares -> inboxes -> masked inputs -> survivors -> unmask shares
//! -> SecAggServer::finish: the sum of the survivors' noisy vectors -> the release (JSON)
//! ```
//!
//! Every stage closes when every expected party has sent or at its deadline; a party that
//! misses a stage is treated as dropped (the core's state machine decides what is counted).
//! Fewer than the threshold at any stage aborts the round; nothing is released.
//! One round runs at a time.
//!
//! **Prio3** (with `prio3_helper` set, this aggregator is the leader of two, in the shape of
//! the IETF DAP protocol; the helper is [`crate::helper`]):
//!
//! ```text
//! submit job (protocol = "prio3") -> trusts join as above -> plan the noise and charge the
//! budget (once, here) -> provision the helper (job, joins, verify key; it plans its own
//! noise from the job) -> each trust's plan (round, cells, bound) -> each trust uploads one
//! report share here and one to the helper, then leaves -> upload stage closes (all or
//! deadline; each report started as it arrived) -> the helper verifies the batch with the
//! leader's verifier shares and returns the verifier messages -> finish (invalid reports
//! counted nowhere) -> this aggregator's noise -> its noisy aggregate share and the release
//! without sums (ChargedRound::pending) for the submitter, who adds the two shares
//! ```
//!
//! The aggregator keeps its rounds in memory. If it dies, a round in progress is lost: its
//! submitter and nodes fail with a connection error, nothing is released, and a budget
//! already charged for it stays charged (spent, never refunded). Its state file
//! ([`crate::state`]) makes what came before a restart recognisable: a message for a round
//! of an earlier epoch is refused as stale (410), a job submission seen before (its nonce)
//! as a replay (409); nothing is counted twice.
//!
//! A Prio3 leader starts each report (its verifier share) as it arrives during the upload
//! stage; the helper's half follows in one `verify` when the stage closes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use pets::data::Schema;
use pets::dp::Session;
use pets::dp::mechanisms::DiscreteGaussian;
use pets::federated::prio::{LEADER, PrioAggregator, PrioTask, ReportShare, report_limit};
use pets::federated::secagg::{
    AdvertiseKeys, Inbox, MaskedInput, Roster, RoundId, SecAggConfig, SecAggServer, ShareKeys,
    Survivors, UnmaskShares,
};
use pets::federated::wire::{from_wire, to_wire};
use pets::federated::{
    ChargedRound, DropPoint, FederatedError, FederatedJob, Protocol, RoundNoise, RoundReport,
    TrustDeclaration, message_limit, ring, split_tables,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::client::Client;
use crate::config::AggregatorConfig;
use crate::error::{NetError, Result};
use crate::messages::{
    Announcement, Collection, Envelope, HelperTask, JobAccepted, JobSpec, JobSubmission, Join,
    Plan, PrioPlan, RoundPlan, RoundWork, VerifyInit, VerifyResp, parse_round,
};
use crate::state::{JobClaim, StateFile, round_order};
use crate::tls::peer_name;

/// The authenticated name of the party on a connection (its certificate's common name).
#[derive(Debug, Clone)]
pub struct Peer(pub String);

/// Largest job or join message.
const SMALL_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Join,
    Keys,
    Shares,
    Masked,
    Unmask,
    /// Prio3: the helper is being provisioned.
    Provision,
    /// Prio3: trusts upload their report shares.
    Upload,
    /// Prio3: the two aggregators verify the reports.
    Verify,
}

impl Stage {
    fn drop_point(self) -> DropPoint {
        match self {
            Stage::Join | Stage::Keys => DropPoint::BeforeKeys,
            Stage::Shares => DropPoint::BeforeShares,
            Stage::Masked => DropPoint::BeforeMasked,
            Stage::Unmask => DropPoint::BeforeUnmask,
            Stage::Provision | Stage::Upload | Stage::Verify => DropPoint::BeforeKeys,
        }
    }
}

enum Outcome {
    Running,
    Released(String),
    Aborted(String),
}

/// The leader's side of a Prio3 round.
struct PrioRound {
    plan: PrioPlan,
    aggregator: Option<PrioAggregator>,
    noise: Option<DiscreteGaussian>,
    reports: BTreeMap<String, ReportShare>,
}

struct Round {
    id: RoundId,
    protocol: Protocol,
    prio: Option<PrioRound>,
    spec: JobSpec,
    job: FederatedJob,
    /// What the round computes (announced to the trusts).
    work: RoundWork,
    session: Session,
    fingerprint: String,
    min_participants: usize,
    stage: Stage,
    deadline: Instant,
    joins: BTreeMap<String, Join>,
    parties: BTreeMap<String, u32>,
    charged: Option<ChargedRound>,
    plans: BTreeMap<u32, RoundPlan>,
    server: Option<SecAggServer>,
    roster: Option<Roster>,
    inboxes: BTreeMap<u32, Inbox>,
    survivors: Option<Survivors>,
    expected: BTreeSet<u32>,
    sent: BTreeSet<u32>,
    report: RoundReport,
    layout: Vec<pets::federated::aggregate::TableLayout>,
    limit: usize,
    started: Instant,
    /// The nonces of this round's messages: kept while the round runs and dropped with it
    /// (a message for an ended round is refused before its nonce is looked at).
    nonces: HashSet<[u8; 16]>,
}

impl Round {
    fn name(&self, party: u32) -> String {
        self.parties
            .iter()
            .find(|(_, p)| **p == party)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| format!("party {party}"))
    }
}

struct AggState {
    config: AggregatorConfig,
    schema: Schema,
    round: Option<Round>,
    outcomes: HashMap<RoundId, Outcome>,
    /// Prio3: this aggregator's encoded [`Collection`] of each released round.
    collections: HashMap<RoundId, Vec<u8>>,
    /// [`round_order`] of the newest ended round whose result was let go
    /// (`keep_results`), 0 if none.
    expired: u64,
    /// The epoch, the round ids and the job nonces, kept across restarts.
    state: StateFile,
}

type Shared = Arc<Mutex<AggState>>;

/// A refusal before a message reaches the protocol: its status and reason.
type Refusal = (StatusCode, String);

fn lock(s: &Shared) -> MutexGuard<'_, AggState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn reply(status: StatusCode, text: impl Into<String>) -> Response {
    (status, text.into()).into_response()
}

fn refused(e: &FederatedError) -> Response {
    let status = match e {
        FederatedError::Rejected { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    reply(status, e.to_string())
}

fn log(line: impl AsRef<str>) {
    eprintln!("pets aggregator: {}", line.as_ref());
}

/// A bound aggregator, ready to serve.
pub struct Aggregator {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    /// The leader's state (none for a Prio3 helper, whose rounds are driven by its leader).
    state: Option<Shared>,
}

impl Aggregator {
    /// Read the schema and certificates and bind the listening address.
    pub async fn bind(config: AggregatorConfig) -> Result<Aggregator> {
        let schema = Schema::load(&config.schema)
            .map_err(|e| NetError::config(&config.schema, format!("the federation schema: {e}")))?;
        if config.trusts.len() < 2 {
            return Err(NetError::Config {
                file: "aggregator config".into(),
                reason: "trusts: name at least two trusts (their certificates' common names)"
                    .into(),
            });
        }
        if !(config.stage_seconds.is_finite() && config.stage_seconds > 0.0) {
            return Err(NetError::Config {
                file: "aggregator config".into(),
                reason: format!(
                    "stage_seconds = {}: a positive number of seconds",
                    config.stage_seconds
                ),
            });
        }
        if config.prio3_helper.is_some() && config.prio3_helper_name.is_none() {
            return Err(NetError::Config {
                file: "aggregator config".into(),
                reason: "prio3_helper needs prio3_helper_name = \"NAME\": the certificate name \
                         the helper must present (any party of the federation holds a \
                         certificate from the same CA)"
                    .into(),
            });
        }
        let tls = config.tls.server_config()?;
        if !(1..=7 * 86_400).contains(&config.job_window_seconds) {
            return Err(NetError::Config {
                file: "aggregator config".into(),
                reason: format!(
                    "job_window_seconds = {}: from 1 to 604800 (a week); the submitters' clocks \
                     must agree with this one to within it",
                    config.job_window_seconds
                ),
            });
        }
        let state = StateFile::open(config.state.as_deref(), config.job_window_seconds)?;
        if config.state.is_none() {
            log("no state file: a replay from before a restart would not be recognised");
        }
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| NetError::Config {
                file: "aggregator config".into(),
                reason: format!("listen = {:?}: {e}", config.listen),
            })?;
        if let Some(leader) = config.helper_of.clone() {
            if config.prio3_helper.is_some() {
                return Err(NetError::Config {
                    file: "aggregator config".into(),
                    reason: "helper_of and prio3_helper: an aggregator is either Prio3's \
                             leader or its helper"
                        .into(),
                });
            }
            let app = crate::helper::router(config, leader, schema, state);
            return Ok(Aggregator {
                listener,
                acceptor: TlsAcceptor::from(Arc::new(tls)),
                app,
                state: None,
            });
        }
        let body_limit = config.max_body_bytes;
        let state: Shared = Arc::new(Mutex::new(AggState {
            config,
            schema,
            round: None,
            outcomes: HashMap::new(),
            collections: HashMap::new(),
            expired: 0,
            state,
        }));
        let app = Router::new()
            .route("/v1/jobs", post(submit_job))
            .route("/v1/jobs/{id}", get(job_result))
            .route("/v1/jobs/{id}/share", get(leader_share))
            .route("/v1/round", get(announcement))
            .route("/v1/rounds/{id}/{kind}", post(round_post).get(round_get))
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(state.clone());
        Ok(Aggregator {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            app,
            state: Some(state),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(|e| NetError::Config {
            file: "aggregator config".into(),
            reason: e.to_string(),
        })
    }

    /// Serve until the process ends: accept connections (each with its TLS handshake and
    /// client certificate) and close stages at their deadlines.
    pub async fn serve(self) -> Result<()> {
        if let Some(ticker) = self.state.clone() {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    tick(&mut lock(&ticker));
                }
            });
        }
        loop {
            let (tcp, addr) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    log(format!("accept: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let acceptor = self.acceptor.clone();
            let app = self.app.clone();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        log(format!("refused a connection from {addr}: {e}"));
                        return;
                    }
                    Err(_) => {
                        log(format!("TLS handshake with {addr} timed out"));
                        return;
                    }
                };
                let Some(name) = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(peer_name)
                else {
                    log(format!(
                        "{addr}: a client certificate without a common name"
                    ));
                    return;
                };
                let svc = TowerToHyperService::new(app.layer(Extension(Peer(name))));
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    }
}

/// Run the aggregator of `config` until the process ends; prints the address it listens on.
pub async fn run(config: AggregatorConfig) -> Result<()> {
    let port_file = config.port_file.clone();
    let agg = Aggregator::bind(config).await?;
    let addr = agg.local_addr()?;
    log(format!("listening on https://{addr}"));
    if let Some(p) = port_file {
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", addr.port())).map_err(|e| NetError::io(&tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| NetError::io(&p, e))?;
    }
    agg.serve().await
}

fn decode<T: DeserializeOwned>(
    body: &[u8],
    limit: usize,
    peer: &str,
    what: &str,
) -> std::result::Result<Envelope<T>, Refusal> {
    from_wire::<Envelope<T>>(body, limit, peer, what)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

fn wire<T: Serialize>(msg: &T) -> Response {
    match to_wire(msg) {
        Ok(b) => (StatusCode::OK, b).into_response(),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn submit_job(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    body: Bytes,
) -> Response {
    let mut s = lock(&state);
    if !s.config.submitters.contains(&peer) {
        return reply(
            StatusCode::FORBIDDEN,
            format!("{peer} is not a submitter of this federation"),
        );
    }
    let env: Envelope<JobSubmission> = match decode(&body, SMALL_LIMIT, &peer, "job") {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    // Job nonces within the job window are kept in the state file: a submission replayed
    // after a restart is recognised too; one stamped outside the window is refused by its
    // stamp (its nonce may have been forgotten).
    match s
        .state
        .claim_job(env.nonce, env.message.issued, crate::state::unix_now())
    {
        Ok(JobClaim::Fresh) => {}
        Ok(JobClaim::Replayed) => {
            return reply(
                StatusCode::CONFLICT,
                "a replayed job (its nonce was seen, before or since the aggregator's last \
                 restart): nothing is run or charged; submit the job afresh",
            );
        }
        Ok(JobClaim::OutsideWindow(why)) => return reply(StatusCode::CONFLICT, why),
        Ok(JobClaim::TooMany(why)) => return reply(StatusCode::SERVICE_UNAVAILABLE, why),
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let env = Envelope {
        round: env.round,
        nonce: env.nonce,
        message: env.message.job,
    };
    if let Some(r) = &s.round {
        return reply(
            StatusCode::CONFLICT,
            format!("round {} is running; submit again when it ends", r.id),
        );
    }
    let helper = match (
        &s.config.prio3_helper,
        &s.config.prio3_helper_name,
        env.message.protocol.as_str(),
    ) {
        (Some(url), Some(name), "prio3" | "prio") => {
            match Client::pinned(url, &s.config.tls, name, Duration::from_millis(20)) {
                Ok(c) => Some(c),
                Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        _ => None,
    };
    match open_round(&mut s, env.message) {
        Ok(round) => {
            let id = round.id;
            log(format!(
                "round {id}: {} by {:?} from {peer}, waiting for {} trusts",
                round.job.label(),
                round.protocol,
                s.config.trusts.len()
            ));
            s.outcomes.insert(id, Outcome::Running);
            s.round = Some(round);
            if let Some(helper) = helper {
                tokio::spawn(drive_prio(state.clone(), id, helper));
            }
            wire(&JobAccepted { round: id })
        }
        Err(e) => reply(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

fn open_round(s: &mut AggState, spec: JobSpec) -> std::result::Result<Round, FederatedError> {
    let protocol = spec.protocol()?;
    if protocol == Protocol::Prio3 && s.config.prio3_helper.is_none() {
        return Err(FederatedError::InvalidParameter {
            name: "protocol".into(),
            value: spec.protocol.clone(),
            reason: "this aggregator has no Prio3 helper (set prio3_helper = \"https://...\" \
                     in its configuration to lead Prio3 rounds), or run secagg"
                .into(),
        });
    }
    if spec.exact && !s.config.allow_exact {
        return Err(FederatedError::InvalidParameter {
            name: "exact".into(),
            value: "true".into(),
            reason: "this aggregator releases only noisy sums (allow_exact is off)".into(),
        });
    }
    let work = spec.work()?;
    let fingerprint = spec.fingerprint(&s.schema)?;
    let job = spec.job(s.config.budget.clone())?;
    let session = Session::zcdp(spec.rho)?;
    let n = s.config.trusts.len();
    let min_participants = spec
        .min_participants
        .or(s.config.min_participants)
        .unwrap_or(n);
    if !(2..=n).contains(&min_participants) {
        return Err(FederatedError::InvalidParameter {
            name: "min_participants".into(),
            value: min_participants.to_string(),
            reason: format!("from 2 to the federation's {n} trusts"),
        });
    }
    // The job must be valid for every trust joining; checked again with those who do.
    let names: Vec<&str> = s.config.trusts.iter().map(String::as_str).collect();
    job.check_trusts(&session, &names)?;
    let id = s.state.next_round();
    Ok(Round {
        id,
        protocol,
        prio: None,
        spec,
        job,
        work,
        session,
        fingerprint,
        min_participants,
        stage: Stage::Join,
        deadline: Instant::now() + Duration::from_secs_f64(s.config.stage_seconds),
        joins: BTreeMap::new(),
        parties: BTreeMap::new(),
        charged: None,
        plans: BTreeMap::new(),
        server: None,
        roster: None,
        inboxes: BTreeMap::new(),
        survivors: None,
        expected: BTreeSet::new(),
        sent: BTreeSet::new(),
        report: RoundReport::new(protocol, id, n),
        layout: Vec::new(),
        limit: SMALL_LIMIT,
        started: Instant::now(),
        nonces: HashSet::new(),
    })
}

/// The round of job `id` asked for by `peer`, or the refusal: only the federation's
/// submitters may read a job's result or shares.
fn submitters_job(
    s: &AggState,
    peer: &str,
    id: &str,
) -> std::result::Result<RoundId, (StatusCode, String)> {
    if !s.config.submitters.iter().any(|p| p == peer) {
        return Err((
            StatusCode::FORBIDDEN,
            format!("{peer} is not a submitter of this federation"),
        ));
    }
    parse_round(id).ok_or_else(|| {
        (
            StatusCode::BAD_REQUEST,
            "a job id is 32 hex digits".to_string(),
        )
    })
}

async fn job_result(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
) -> Response {
    let s = lock(&state);
    let round = match submitters_job(&s, &peer, &id) {
        Ok(round) => round,
        Err((status, why)) => return reply(status, why),
    };
    match s.outcomes.get(&round) {
        Some(Outcome::Running) => {
            let stage = s
                .round
                .as_ref()
                .map(|r| format!("{:?}", r.stage))
                .unwrap_or_default();
            reply(StatusCode::ACCEPTED, stage)
        }
        Some(Outcome::Released(json)) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            json.clone(),
        )
            .into_response(),
        Some(Outcome::Aborted(reason)) => reply(StatusCode::UNPROCESSABLE_ENTITY, reason.clone()),
        None if s.state.is_stale(&round) => reply(StatusCode::GONE, stale(&round, &s.state)),
        None if round_order(&round) <= s.expired => expired(&round, s.config.keep_results),
        None => reply(StatusCode::NOT_FOUND, "no such job"),
    }
}

async fn announcement(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
) -> Response {
    let s = lock(&state);
    if !s.config.trusts.contains(&peer) {
        return reply(
            StatusCode::FORBIDDEN,
            format!("{peer} is not a trust of this federation"),
        );
    }
    match &s.round {
        Some(r) if r.stage == Stage::Join && !r.joins.contains_key(&peer) => wire(&Announcement {
            round: r.id,
            work: r.work.clone(),
            fingerprint: r.fingerprint.clone(),
            max_rows_per_person: r.job.rows_per_person(),
            seed: r.job.row_seed(),
            exact: r.spec.exact,
            protocol: r.protocol,
        }),
        _ => reply(StatusCode::NO_CONTENT, ""),
    }
}

/// The refusal of a message for `round`, made before this aggregator's last restart.
fn stale(round: &RoundId, state: &StateFile) -> String {
    format!(
        "round {round} is stale: it was opened in epoch {} and the aggregator has restarted \
         since (epoch {}); a round in progress at a restart is lost, and nothing of it is \
         counted",
        crate::state::epoch_of(round),
        state.epoch()
    )
}

/// Look up the open round `id` for `peer`, or the reason it is not open.
fn open_round_for<'a>(
    round: &'a mut Option<Round>,
    outcomes: &HashMap<RoundId, Outcome>,
    state: &StateFile,
    trusts: &[String],
    id: &str,
    peer: &str,
) -> std::result::Result<&'a mut Round, Refusal> {
    if !trusts.iter().any(|t| t == peer) {
        return Err((
            StatusCode::FORBIDDEN,
            format!("{peer} is not a trust of this federation"),
        ));
    }
    let Some(wanted) = parse_round(id) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "a round id is 32 hex digits".into(),
        ));
    };
    match (round, outcomes.get(&wanted)) {
        (Some(r), _) if r.id == wanted => Ok(r),
        (_, Some(Outcome::Aborted(reason))) => Err((
            StatusCode::GONE,
            format!("round {wanted} aborted: {reason}"),
        )),
        (_, Some(_)) => Err((StatusCode::GONE, format!("round {wanted} has finished"))),
        (_, None) if state.is_stale(&wanted) => Err((StatusCode::GONE, stale(&wanted, state))),
        (_, None) => Err((StatusCode::NOT_FOUND, format!("no round {wanted}"))),
    }
}

async fn round_get(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path((id, kind)): Path<(String, String)>,
) -> Response {
    let mut guard = lock(&state);
    let s = &mut *guard;
    let r = match open_round_for(
        &mut s.round,
        &s.outcomes,
        &s.state,
        &s.config.trusts,
        &id,
        &peer,
    ) {
        Ok(r) => r,
        Err(resp) => return resp.into_response(),
    };
    if r.stage == Stage::Join {
        return reply(StatusCode::ACCEPTED, "the join stage is open");
    }
    let Some(&party) = r.parties.get(&peer) else {
        return reply(
            StatusCode::FORBIDDEN,
            format!("{peer} did not join round {}", r.id),
        );
    };
    if r.protocol == Protocol::Prio3 {
        if kind != "plan" {
            return reply(StatusCode::NOT_FOUND, format!("no such message: {kind}"));
        }
        let plan = match &r.prio {
            Some(p) if r.stage >= Stage::Upload => to_wire(&Plan::Prio3(p.plan.clone())),
            _ => return reply(StatusCode::ACCEPTED, "plan: not yet"),
        };
        return match plan {
            Ok(bytes) => {
                // Counted as secure aggregation's plans are: every byte sent to a trust.
                r.report.bytes_to_trusts += bytes.len();
                (StatusCode::OK, bytes).into_response()
            }
            Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    let (ready, msg) = match kind.as_str() {
        "plan" => (
            true,
            r.plans
                .get(&party)
                .map(|p| to_wire(&Plan::SecAgg(p.clone()))),
        ),
        "roster" => (r.stage > Stage::Keys, r.roster.as_ref().map(to_wire)),
        "inbox" => (r.stage > Stage::Shares, r.inboxes.get(&party).map(to_wire)),
        "survivors" => (
            r.stage > Stage::Masked,
            r.survivors
                .as_ref()
                .filter(|s| s.parties.contains(&party))
                .map(to_wire),
        ),
        other => return reply(StatusCode::NOT_FOUND, format!("no such message: {other}")),
    };
    match (ready, msg) {
        (false, _) => reply(StatusCode::ACCEPTED, format!("{kind}: not yet")),
        (true, None) => reply(
            StatusCode::FORBIDDEN,
            format!("{peer} is no longer in round {} (it missed a stage)", r.id),
        ),
        (true, Some(Ok(bytes))) => {
            r.report.bytes_to_trusts += bytes.len();
            (StatusCode::OK, bytes).into_response()
        }
        (true, Some(Err(e))) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn round_post(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path((id, kind)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut guard = lock(&state);
    let (response, close) = handle_post(&mut guard, &peer, &id, &kind, &body);
    let secagg = guard
        .round
        .as_ref()
        .is_some_and(|r| r.protocol == Protocol::SecAgg);
    if close && secagg {
        close_stage(&mut guard);
    }
    response
}

/// One protocol message from a trust; whether its stage is now complete.
fn handle_post(
    s: &mut AggState,
    peer: &str,
    id: &str,
    kind: &str,
    body: &[u8],
) -> (Response, bool) {
    let all_trusts = s.config.trusts.len();
    let r = match open_round_for(
        &mut s.round,
        &s.outcomes,
        &s.state,
        &s.config.trusts,
        id,
        peer,
    ) {
        Ok(r) => r,
        Err(resp) => return (resp.into_response(), false),
    };
    let limit = r.limit;
    // Decode, then check the round and the nonce, before the message reaches the protocol.
    macro_rules! envelope {
        ($t:ty, $what:expr) => {{
            let env: Envelope<$t> = match decode(body, limit, peer, $what) {
                Ok(e) => e,
                Err(resp) => return (resp.into_response(), false),
            };
            if env.round != r.id {
                let reason = format!(
                    "{peer}'s {} is for round {}, not {} (a replay?)",
                    $what, env.round, r.id
                );
                r.report.refused.push(reason.clone());
                return (reply(StatusCode::CONFLICT, reason), false);
            }
            if !r.nonces.insert(env.nonce) {
                let reason = format!(
                    "{peer}'s {}: a replayed message (its nonce was seen)",
                    $what
                );
                r.report.refused.push(reason.clone());
                return (reply(StatusCode::CONFLICT, reason), false);
            }
            env.message
        }};
    }
    if kind == "join" {
        let join = envelope!(Join, "join");
        return match accept_join(r, peer, join) {
            Ok(()) => (reply(StatusCode::OK, "joined"), r.joins.len() == all_trusts),
            Err(e) => {
                log(format!("round {}: {e}", r.id));
                r.report.refused.push(e.to_string());
                (refused(&e), false)
            }
        };
    }
    let Some(&party) = r.parties.get(peer) else {
        return (
            reply(
                StatusCode::FORBIDDEN,
                format!("{peer} did not join round {}", r.id),
            ),
            false,
        );
    };
    if r.protocol == Protocol::Prio3 {
        if kind != "report" {
            return (
                reply(StatusCode::NOT_FOUND, format!("no such message: {kind}")),
                false,
            );
        }
        let share: ReportShare = envelope!(ReportShare, "report");
        let stage = r.stage;
        let Some(p) = r.prio.as_mut() else {
            return (
                reply(StatusCode::CONFLICT, "the round has no task yet"),
                false,
            );
        };
        if stage != Stage::Upload {
            let reason = format!("{peer}'s report arrived outside the upload stage ({stage:?})");
            r.report.refused.push(reason.clone());
            return (reply(StatusCode::CONFLICT, reason), false);
        }
        if r.sent.contains(&party) {
            let reason = format!("{peer}'s report: a second report in this round (a replay?)");
            r.report.refused.push(reason.clone());
            return (reply(StatusCode::CONFLICT, reason), false);
        }
        p.reports.insert(peer.to_string(), share);
        r.report.bytes_from_trusts += body.len();
        r.sent.insert(party);
        return (reply(StatusCode::OK, "accepted"), false);
    }
    let not_own = |p: u32| {
        (
            reply(
                StatusCode::FORBIDDEN,
                format!("{peer} is party {party}, not party {p}"),
            ),
            false,
        )
    };
    if r.server.is_none() {
        return (
            reply(
                StatusCode::CONFLICT,
                "the round has not started its protocol",
            ),
            false,
        );
    }
    let result = match kind {
        "keys" => {
            let m: AdvertiseKeys = envelope!(AdvertiseKeys, "keys");
            if m.party != party {
                return not_own(m.party);
            }
            r.server.as_mut().expect("checked").receive_keys(m)
        }
        "shares" => {
            let m: ShareKeys = envelope!(ShareKeys, "shares");
            if m.party != party {
                return not_own(m.party);
            }
            r.server.as_mut().expect("checked").receive_shares(m)
        }
        "masked" => {
            let m: MaskedInput = envelope!(MaskedInput, "masked input");
            if m.party != party {
                return not_own(m.party);
            }
            r.server.as_mut().expect("checked").receive_masked(m)
        }
        "unmask" => {
            let m: UnmaskShares = envelope!(UnmaskShares, "unmask shares");
            if m.party != party {
                return not_own(m.party);
            }
            r.server.as_mut().expect("checked").receive_unmask(m)
        }
        other => {
            return (
                reply(StatusCode::NOT_FOUND, format!("no such message: {other}")),
                false,
            );
        }
    };
    match result {
        Ok(()) => {
            r.report.bytes_from_trusts += body.len();
            r.sent.insert(party);
            (
                reply(StatusCode::OK, "accepted"),
                r.sent.is_superset(&r.expected),
            )
        }
        Err(e) => {
            log(format!("round {}: {e}", r.id));
            r.report.refused.push(e.to_string());
            (refused(&e), false)
        }
    }
}

fn accept_join(r: &mut Round, peer: &str, join: Join) -> pets::federated::Result<()> {
    if r.stage != Stage::Join {
        return Err(FederatedError::Rejected {
            party: peer.into(),
            message: "join".into(),
            reason: "it arrived after the join stage closed".into(),
        });
    }
    if r.joins.contains_key(peer) {
        return Err(FederatedError::Rejected {
            party: peer.into(),
            message: "join".into(),
            reason: "a second join from the same trust (a replay?)".into(),
        });
    }
    if join.declaration.name != peer {
        return Err(FederatedError::Rejected {
            party: peer.into(),
            message: "join".into(),
            reason: format!(
                "it names itself {:?}, its certificate says {peer:?}",
                join.declaration.name
            ),
        });
    }
    r.job
        .check_trust_schema(&r.fingerprint, peer, &join.fingerprint)?;
    if let Some(first) = r.joins.values().next()
        && first.layout != join.layout
    {
        return Err(FederatedError::Trust {
            trust: peer.into(),
            reason: "its tables' cells are laid out differently from the other trusts' (a \
                     different schema version?)"
                .into(),
        });
    }
    log(format!("round {}: {peer} joined", r.id));
    r.joins.insert(peer.to_string(), join);
    Ok(())
}

fn tick(s: &mut AggState) {
    if let Some(r) = &s.round
        && r.protocol == Protocol::SecAgg
        && Instant::now() >= r.deadline
    {
        close_stage(s);
    }
}

/// Close the current stage (every expected party sent, or its deadline passed).
fn close_stage(s: &mut AggState) {
    let stage_seconds = s.config.stage_seconds;
    let Some(r) = s.round.as_mut() else {
        return;
    };
    let result = advance(r);
    r.deadline = Instant::now() + Duration::from_secs_f64(stage_seconds);
    match result {
        Ok(None) => {}
        Ok(Some(json)) => {
            log(format!(
                "round {}: released (counted {} of {})",
                r.id,
                r.report.counted.len(),
                r.report.trusts
            ));
            let id = r.id;
            s.round = None;
            record(s, id, Outcome::Released(json));
        }
        Err(e) => {
            log(format!("round {}: {e}", r.id));
            let id = r.id;
            s.round = None;
            record(s, id, Outcome::Aborted(e.to_string()));
        }
    }
}

/// Move `r` to its next stage; the release's JSON when the last one closes.
fn advance(r: &mut Round) -> pets::federated::Result<Option<String>> {
    for p in r.expected.difference(&r.sent).copied().collect::<Vec<_>>() {
        let name = r.name(p);
        log(format!("round {}: {name} dropped at {:?}", r.id, r.stage));
        r.report.dropped.push((name, r.stage.drop_point()));
    }
    r.sent.clear();
    match r.stage {
        // Prio3 rounds are driven by `drive_prio`, never by `advance`.
        Stage::Provision | Stage::Upload | Stage::Verify => {}
        Stage::Join => {
            start_protocol(r)?;
            r.stage = Stage::Keys;
        }
        Stage::Keys => {
            let server = r.server.as_mut().expect("protocol started");
            let roster = server.roster()?;
            r.expected = roster.parties.iter().map(|k| k.party).collect();
            r.roster = Some(roster);
            r.stage = Stage::Shares;
        }
        Stage::Shares => {
            let server = r.server.as_mut().expect("protocol started");
            r.inboxes = server.inboxes()?;
            r.expected = r.inboxes.keys().copied().collect();
            r.stage = Stage::Masked;
        }
        Stage::Masked => {
            let server = r.server.as_mut().expect("protocol started");
            let survivors = server.survivors()?;
            r.expected = survivors.parties.iter().copied().collect();
            r.survivors = Some(survivors);
            r.stage = Stage::Unmask;
        }
        Stage::Unmask => {
            let server = r.server.take().expect("protocol started");
            let (sum, counted) = server.finish()?;
            let sums = ring::decode(&sum);
            r.report.counted = counted.iter().map(|&p| r.name(p)).collect();
            r.report.protocol_seconds = r.started.elapsed().as_secs_f64();
            let report = r.report.clone();
            let value = match r.charged.take() {
                Some(charged) => serde_json::json!({
                    "release": charged.release(&sums, report),
                    "ledger": r.session.ledger(),
                }),
                None => {
                    let mut v = serde_json::json!({
                        "exact": true,
                        "warning": "the exact sum of the trusts' counts, without noise: not a \
                                    differentially private release (a check of the service)",
                        "tables": split_tables(&r.layout, &sums),
                        "round": report,
                    });
                    if matches!(r.work, RoundWork::Vector(_)) {
                        // A declared vector's weighted cells, as summed.
                        v["sums"] = serde_json::json!(sums);
                    }
                    v
                }
            };
            return serde_json::to_string_pretty(&value).map(Some).map_err(|e| {
                FederatedError::Crypto {
                    stage: "writing the release".into(),
                    reason: e.to_string(),
                }
            });
        }
    }
    Ok(None)
}

/// Close the join stage: enough trusts? Check the job for them, plan the noise and charge the
/// budget (before any trust draws), and give every trust its plan.
fn start_protocol(r: &mut Round) -> pets::federated::Result<()> {
    let names: Vec<&str> = r.joins.keys().map(String::as_str).collect();
    if names.len() < r.min_participants {
        return Err(FederatedError::Aborted {
            round: r.id.to_string(),
            stage: "join".into(),
            reason: format!(
                "{} trusts joined ({}); the job needs at least {}",
                names.len(),
                names.join(", "),
                r.min_participants
            ),
        });
    }
    let checked = r.job.check_trusts(&r.session, &names)?;
    let threshold = checked.threshold();
    let first = r.joins.values().next().expect("at least two joined");
    r.layout = first.layout.clone();
    let cells: usize = r.layout.iter().map(|l| l.cells()).sum();
    let noise = if r.spec.exact {
        None
    } else {
        let declared: Vec<TrustDeclaration> =
            r.joins.values().map(|j| j.declaration.clone()).collect();
        let charged =
            r.job
                .plan_and_charge(&mut r.session, checked, &declared, r.layout.clone())?;
        let plan = match &charged.noise {
            RoundNoise::Distributed(p) => p.clone(),
            RoundNoise::PerAggregator(_) => unreachable!("a secure-aggregation round"),
        };
        log(format!(
            "round {}: charged {} (share scale {:.3})",
            r.id,
            charged.cost(),
            plan.share_scale
        ));
        r.charged = Some(charged);
        Some(plan)
    };
    let config = SecAggConfig {
        round: r.id,
        threshold,
        vector_len: cells,
    };
    config.check(names.len())?;
    r.limit = message_limit(cells, names.len());
    for (i, name) in r.joins.keys().enumerate() {
        let party = i as u32 + 1;
        r.parties.insert(name.clone(), party);
        r.plans.insert(
            party,
            RoundPlan {
                config: config.clone(),
                party,
                noise: noise.clone(),
            },
        );
    }
    r.expected = r.parties.values().copied().collect();
    r.report.threshold = Some(threshold);
    r.server = Some(SecAggServer::new(config));
    r.started = Instant::now();
    Ok(())
}

/// `GET /v1/jobs/{id}/share`: this leader's noisy aggregate share of a Prio3 round.
async fn leader_share(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
) -> Response {
    let s = lock(&state);
    let round = match submitters_job(&s, &peer, &id) {
        Ok(round) => round,
        Err((status, why)) => return reply(status, why),
    };
    match (s.collections.get(&round), s.outcomes.get(&round)) {
        (Some(c), _) => (StatusCode::OK, c.clone()).into_response(),
        (None, Some(Outcome::Running)) => reply(StatusCode::ACCEPTED, "running"),
        (None, Some(Outcome::Aborted(reason))) => {
            reply(StatusCode::UNPROCESSABLE_ENTITY, reason.clone())
        }
        (None, None) if round_order(&round) <= s.expired => expired(&round, s.config.keep_results),
        _ => reply(StatusCode::NOT_FOUND, "no Prio3 share for this job"),
    }
}

/// Record how round `id` ended, keeping the results (and Prio3 collections) of the newest
/// `keep_results` ended rounds only: older ones are let go, so a long-running aggregator's
/// memory does not grow with every round; asking for one is answered 410.
fn record(s: &mut AggState, id: RoundId, outcome: Outcome) {
    s.outcomes.insert(id, outcome);
    let keep = s.config.keep_results.max(1);
    let mut ended: Vec<RoundId> = s
        .outcomes
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Running))
        .map(|(id, _)| *id)
        .collect();
    if ended.len() > keep {
        ended.sort_by_key(round_order);
        for old in &ended[..ended.len() - keep] {
            s.outcomes.remove(old);
            s.collections.remove(old);
            s.expired = s.expired.max(round_order(old));
        }
    }
}

/// The refusal of a request for round `round`'s result after it was let go.
fn expired(round: &RoundId, keep: usize) -> Response {
    reply(
        StatusCode::GONE,
        format!(
            "round {round} ended and its result was let go: this aggregator keeps the results \
             of its last {keep} rounds (keep_results)"
        ),
    )
}

/// End round `id` with `outcome` (and this leader's collection, when released).
fn end_round(state: &Shared, id: RoundId, outcome: Outcome, collection: Option<Vec<u8>>) {
    let mut s = lock(state);
    if let Some(c) = collection {
        s.collections.insert(id, c);
    }
    match &outcome {
        Outcome::Aborted(reason) => log(format!("round {id}: {reason}")),
        _ => log(format!("round {id}: released")),
    }
    record(&mut s, id, outcome);
    if s.round.as_ref().is_some_and(|r| r.id == id) {
        s.round = None;
    }
}

/// Wait until every trust of the federation has joined round `id` or the join stage's
/// deadline; false if the round is gone.
async fn wait_joins(state: &Shared, id: RoundId) -> bool {
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let s = lock(state);
        let Some(r) = s.round.as_ref().filter(|r| r.id == id) else {
            return false;
        };
        if r.joins.len() == s.config.trusts.len() || Instant::now() >= r.deadline {
            return true;
        }
    }
}

/// Drive Prio3 round `id` as its leader, with `helper` (the second aggregator): close the
/// join stage, charge, provision the helper, collect the reports, verify them with the
/// helper, add this leader's noise and keep the round's results for the submitter.
async fn drive_prio(state: Shared, id: RoundId, helper: Client) {
    if let Err(reason) = drive_prio_inner(&state, id, &helper).await {
        end_round(&state, id, Outcome::Aborted(reason), None);
    }
}

async fn drive_prio_inner(
    state: &Shared,
    id: RoundId,
    helper: &Client,
) -> std::result::Result<(), String> {
    if !wait_joins(state, id).await {
        return Ok(());
    }
    // Close the join stage: check the job for those who joined, charge, draw the task.
    let (task, stage_seconds) = {
        let mut s = lock(state);
        let stage_seconds = s.config.stage_seconds;
        let r = s.round.as_mut().filter(|r| r.id == id).ok_or("gone")?;
        let task = start_prio(r).map_err(|e| e.to_string())?;
        r.stage = Stage::Provision;
        (task, stage_seconds)
    };
    let path = format!("v1/prio/{}/task", crate::messages::round_hex(&id));
    let body = Client::envelope(id, task).map_err(|e| e.to_string())?;
    let task_bytes = body.len();
    let (status, text) = helper
        .post_bytes(&path, body)
        .await
        .map_err(|e| format!("the Prio3 helper: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "the Prio3 helper refused the round ({status}): {}",
            String::from_utf8_lossy(&text)
        ));
    }
    {
        let mut s = lock(state);
        let r = s.round.as_mut().filter(|r| r.id == id).ok_or("gone")?;
        r.report.bytes_between_aggregators += task_bytes;
        r.stage = Stage::Upload;
        r.deadline = Instant::now() + Duration::from_secs_f64(stage_seconds);
        log(format!("round {id}: uploads open"));
    }
    // The upload stage: each report is started (decoded, its nonce claimed, the leader's
    // verifier share computed: most of the leader's verification work) as it arrives, in
    // batches, while the other trusts are still sharding and uploading; the stage closes
    // when every trust has sent or at its deadline.
    let mut aggregator = {
        let mut s = lock(state);
        let r = s.round.as_mut().filter(|r| r.id == id).ok_or("gone")?;
        let p = r.prio.as_mut().ok_or("no task")?;
        p.aggregator.take().ok_or("no aggregator")?
    };
    let mut started = Vec::new();
    let mut refused = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (closed, batch) = {
            let mut s = lock(state);
            let Some(r) = s.round.as_mut().filter(|r| r.id == id) else {
                return Ok(());
            };
            let closed = r.sent.is_superset(&r.expected) || Instant::now() >= r.deadline;
            if closed {
                r.stage = Stage::Verify;
                for p in r.expected.difference(&r.sent).copied().collect::<Vec<_>>() {
                    let name = r.name(p);
                    log(format!("round {id}: {name} sent no report"));
                    r.report.dropped.push((name, DropPoint::BeforeKeys));
                }
            }
            let p = r.prio.as_mut().ok_or("no task")?;
            (closed, std::mem::take(&mut p.reports))
        };
        if !batch.is_empty() {
            let (back, ok, failed) = tokio::task::spawn_blocking(move || {
                let mut aggregator = aggregator;
                let reports: Vec<(String, ReportShare)> = batch.into_iter().collect();
                let mut ok = Vec::new();
                let mut failed = Vec::new();
                let results = aggregator.start_batch(&reports);
                for ((trust, share), result) in reports.into_iter().zip(results) {
                    match result {
                        Ok(p) => ok.push((trust, share.nonce, p)),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (aggregator, ok, failed)
            })
            .await
            .map_err(|e| e.to_string())?;
            aggregator = back;
            started.extend(ok);
            refused.extend(failed);
        }
        if closed {
            break;
        }
    }
    // The helper's answers are matched by trust; list the reports in name order.
    started.sort_by(|a, b| a.0.cmp(&b.0));
    let init = VerifyInit {
        reports: started
            .iter()
            .map(|(t, n, p)| (t.clone(), *n, p.verifier_share.clone()))
            .collect(),
    };
    let path = format!("v1/prio/{}/verify", crate::messages::round_hex(&id));
    let body = Client::envelope(id, init).map_err(|e| e.to_string())?;
    let mut between = body.len();
    let (status, bytes) = helper
        .post_bytes(&path, body)
        .await
        .map_err(|e| format!("the Prio3 helper: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "the Prio3 helper refused to verify ({status}): {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    between += bytes.len();
    let resp: VerifyResp =
        from_wire(&bytes, 64 << 20, "the helper", "verify").map_err(|e| e.to_string())?;
    if resp.results.len() != started.len() {
        return Err("the Prio3 helper answered for another number of reports".into());
    }
    let noise = lock(state)
        .round
        .as_ref()
        .filter(|r| r.id == id)
        .and_then(|r| r.prio.as_ref())
        .and_then(|p| p.noise);
    let (collection, mut counted) = tokio::task::spawn_blocking(move || {
        let mut aggregator = aggregator;
        let mut counted = Vec::new();
        for ((trust, _, pending), result) in started.into_iter().zip(resp.results) {
            let outcome = match result {
                Ok(message) => aggregator.finish(&trust, pending, &message),
                Err(reason) => Err(FederatedError::Rejected {
                    party: trust.clone(),
                    message: "report".into(),
                    reason: format!("at the helper: {reason}"),
                }),
            };
            match outcome {
                Ok(()) => counted.push(trust),
                Err(e) => refused.push(e.to_string()),
            }
        }
        if let Some(dg) = &noise {
            aggregator.add_noise_from(dg)?;
        }
        let share = aggregator.aggregate_share()?;
        Ok::<_, FederatedError>(((aggregator.accepted(), share, refused), counted))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let (accepted, aggregate_share, refused) = collection;
    counted.sort();
    if accepted == 0 {
        return Err(FederatedError::Aborted {
            round: id.to_string(),
            stage: "verify".into(),
            reason: format!("no valid report ({})", refused.join("; ")),
        }
        .to_string());
    }
    // The release without its sums, for the submitter to finish with both shares.
    let mut s = lock(state);
    let r = s.round.as_mut().filter(|r| r.id == id).ok_or("gone")?;
    r.report.refused.extend(refused);
    r.report.counted = counted.clone();
    r.report.bytes_between_aggregators += between + aggregate_share.len();
    r.report.protocol_seconds = r.started.elapsed().as_secs_f64();
    let plan = r.prio.as_ref().ok_or("no task")?.plan.clone();
    let collection = to_wire(&Collection {
        round: id,
        aggregator: LEADER as u8,
        cells: plan.cells,
        max_count: plan.max_count,
        counted,
        aggregate_share,
        noisy: noise.is_some(),
        bytes_from_trusts: r.report.bytes_from_trusts,
    })
    .map_err(|e| e.to_string())?;
    let report = r.report.clone();
    let value = match r.charged.take() {
        Some(charged) => serde_json::json!({
            "protocol": "prio3",
            "pending": charged.pending(report),
            "ledger": r.session.ledger(),
        }),
        None => serde_json::json!({
            "protocol": "prio3",
            "exact": true,
            "layout": r.layout,
            "round": report,
        }),
    };
    drop(s);
    let json = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    end_round(state, id, Outcome::Released(json), Some(collection));
    Ok(())
}

/// Close a Prio3 round's join stage: enough trusts? Check the job for them, plan the noise
/// and charge the budget (before either aggregator draws), set up this leader's aggregator,
/// and the helper's task.
fn start_prio(r: &mut Round) -> pets::federated::Result<HelperTask> {
    let names: Vec<&str> = r.joins.keys().map(String::as_str).collect();
    if names.len() < r.min_participants {
        return Err(FederatedError::Aborted {
            round: r.id.to_string(),
            stage: "join".into(),
            reason: format!(
                "{} trusts joined ({}); the job needs at least {}",
                names.len(),
                names.join(", "),
                r.min_participants
            ),
        });
    }
    let checked = r.job.check_trusts(&r.session, &names)?;
    let first = r.joins.values().next().expect("at least two joined");
    r.layout = first.layout.clone();
    let cells: usize = r.layout.iter().map(|l| l.cells()).sum();
    let noise = if r.spec.exact {
        None
    } else {
        let declared: Vec<TrustDeclaration> =
            r.joins.values().map(|j| j.declaration.clone()).collect();
        let charged =
            r.job
                .plan_and_charge(&mut r.session, checked, &declared, r.layout.clone())?;
        let dg = match &charged.noise {
            RoundNoise::PerAggregator(dg) => *dg,
            RoundNoise::Distributed(_) => unreachable!("a Prio3 round"),
        };
        log(format!(
            "round {}: charged {} (each aggregator's scale {:.3})",
            r.id,
            charged.cost(),
            dg.scale()
        ));
        r.charged = Some(charged);
        Some(dg)
    };
    let max_count = r.spec.prio_max_count();
    let task = PrioTask::new(r.id, cells, max_count)?;
    let verify_key = pets::federated::prio::verify_key();
    for (i, name) in r.joins.keys().enumerate() {
        r.parties.insert(name.clone(), i as u32 + 1);
    }
    r.expected = r.parties.values().copied().collect();
    r.sent.clear();
    r.limit = report_limit(cells, max_count) + 4096;
    r.prio = Some(PrioRound {
        plan: PrioPlan {
            round: r.id,
            cells,
            max_count,
        },
        aggregator: Some(PrioAggregator::new(task, LEADER, verify_key)),
        noise,
        reports: BTreeMap::new(),
    });
    r.started = Instant::now();
    Ok(HelperTask {
        round: r.id,
        spec: r.spec.clone(),
        joins: r.joins.values().cloned().collect(),
        verify_key,
    })
}
