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
use pets::dp::{ChargeRecord, Cost, Session};
use pets::federated::secagg::{
    AdvertiseKeys, Inbox, MaskedInput, Roster, RoundId, SecAggConfig, SecAggServer, ShareKeys,
    Survivors, UnmaskShares,
};
use pets::federated::wire::{from_wire, to_wire};
use pets::federated::{
    ChargedRound, DropPoint, FederatedError, FederatedJob, FederatedQuery, Protocol, RoundNoise,
    RoundReport, TrustDeclaration, message_limit, ring, split_tables,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::AggregatorConfig;
use crate::error::{NetError, Result};
use crate::messages::{Announcement, Envelope, JobAccepted, JobSpec, Join, RoundPlan, parse_round};
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
}

impl Stage {
    fn drop_point(self) -> DropPoint {
        match self {
            Stage::Join | Stage::Keys => DropPoint::BeforeKeys,
            Stage::Shares => DropPoint::BeforeShares,
            Stage::Masked => DropPoint::BeforeMasked,
            Stage::Unmask => DropPoint::BeforeUnmask,
        }
    }
}

enum Outcome {
    Running,
    Released(String),
    Aborted(String),
}

struct Round {
    id: RoundId,
    spec: JobSpec,
    job: FederatedJob,
    /// The job's query (announced to the trusts).
    query: FederatedQuery,
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
    nonces: HashSet<[u8; 16]>,
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
    state: Shared,
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
        let tls = config.tls.server_config()?;
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| NetError::Config {
                file: "aggregator config".into(),
                reason: format!("listen = {:?}: {e}", config.listen),
            })?;
        let body_limit = config.max_body_bytes;
        let state: Shared = Arc::new(Mutex::new(AggState {
            config,
            schema,
            round: None,
            outcomes: HashMap::new(),
            nonces: HashSet::new(),
        }));
        let app = Router::new()
            .route("/v1/jobs", post(submit_job))
            .route("/v1/jobs/{id}", get(job_result))
            .route("/v1/round", get(announcement))
            .route("/v1/rounds/{id}/{kind}", post(round_post).get(round_get))
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(state.clone());
        Ok(Aggregator {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            app,
            state,
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
        let ticker = self.state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                tick(&mut lock(&ticker));
            }
        });
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
    let env: Envelope<JobSpec> = match decode(&body, SMALL_LIMIT, &peer, "job") {
        Ok(e) => e,
        Err(r) => return r.into_response(),
    };
    if !s.nonces.insert(env.nonce) {
        return reply(StatusCode::CONFLICT, "a replayed job (its nonce was seen)");
    }
    if let Some(r) = &s.round {
        return reply(
            StatusCode::CONFLICT,
            format!("round {} is running; submit again when it ends", r.id),
        );
    }
    match open_round(&s, env.message) {
        Ok(round) => {
            let id = round.id;
            log(format!(
                "round {id}: {} from {peer}, waiting for {} trusts",
                round.job.label(),
                s.config.trusts.len()
            ));
            s.outcomes.insert(id, Outcome::Running);
            s.round = Some(round);
            wire(&JobAccepted { round: id })
        }
        Err(e) => reply(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

fn open_round(s: &AggState, spec: JobSpec) -> std::result::Result<Round, FederatedError> {
    let protocol: Protocol = spec.protocol.parse()?;
    if protocol != Protocol::SecAgg {
        return Err(FederatedError::InvalidParameter {
            name: "protocol".into(),
            value: spec.protocol.clone(),
            reason: "the network service runs secure aggregation (secagg); Prio3 runs in \
                     `pets federated simulate`"
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
    let query = spec.query()?;
    let fingerprint = query.fingerprint(&s.schema)?;
    let job = FederatedJob::new(query.clone())
        .protocol(protocol)
        .share(Cost::rho(spec.rho))
        .threshold_opt(spec.threshold)
        .colluders(spec.colluders)
        .max_rows_per_person(spec.max_rows_per_person.unwrap_or(1))
        .max_trusts_per_person_opt(spec.max_trusts_per_person)
        .alpha(spec.alpha.unwrap_or(0.05))
        .seed(spec.seed.unwrap_or(0))
        .budget_file(
            s.config.budget.clone(),
            ChargeRecord::new("pets federated aggregator"),
        );
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
    let id = RoundId::random();
    Ok(Round {
        id,
        spec,
        job,
        query,
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
        report: RoundReport::new(Protocol::SecAgg, id, n),
        layout: Vec::new(),
        limit: SMALL_LIMIT,
        started: Instant::now(),
    })
}

async fn job_result(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
) -> Response {
    let s = lock(&state);
    if !s.config.submitters.contains(&peer) {
        return reply(
            StatusCode::FORBIDDEN,
            format!("{peer} is not a submitter of this federation"),
        );
    }
    let Some(round) = parse_round(&id) else {
        return reply(StatusCode::BAD_REQUEST, "a job id is 32 hex digits");
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
            query: r.query.clone(),
            fingerprint: r.fingerprint.clone(),
            max_rows_per_person: r.job.rows_per_person(),
            seed: r.job.row_seed(),
            exact: r.spec.exact,
        }),
        _ => reply(StatusCode::NO_CONTENT, ""),
    }
}

/// Look up the open round `id` for `peer`, or the reason it is not open.
fn open_round_for<'a>(
    round: &'a mut Option<Round>,
    outcomes: &HashMap<RoundId, Outcome>,
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
    let r = match open_round_for(&mut s.round, &s.outcomes, &s.config.trusts, &id, &peer) {
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
    let (ready, msg) = match kind.as_str() {
        "plan" => (true, r.plans.get(&party).map(to_wire)),
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
    if close {
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
    let nonces = &mut s.nonces;
    let r = match open_round_for(&mut s.round, &s.outcomes, &s.config.trusts, id, peer) {
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
            if !nonces.insert(env.nonce) {
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
            s.outcomes.insert(id, Outcome::Released(json));
            s.round = None;
        }
        Err(e) => {
            log(format!("round {}: {e}", r.id));
            let id = r.id;
            s.outcomes.insert(id, Outcome::Aborted(e.to_string()));
            s.round = None;
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
                None => serde_json::json!({
                    "exact": true,
                    "warning": "the exact sum of the trusts' counts, without noise: not a \
                                differentially private release (a check of the service)",
                    "tables": split_tables(&r.layout, &sums),
                    "round": report,
                }),
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
            RoundNoise::PerAggregator(_) => unreachable!("the service runs secure aggregation"),
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
