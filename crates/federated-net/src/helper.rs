//! Prio3's second aggregator (the helper of the IETF DAP protocol): an HTTPS service beside
//! the leader ([`crate::aggregator`]), run by another organisation, that never sees a
//! trust's counts, only its share of them.
//!
//! ```text
//! leader  POST /v1/prio/{id}/task   job, joins, layout, verify key
//!         -> the helper checks the job for those trusts and plans its own noise from it
//!            (FederatedJob::plan_noise: the same plan the leader charged; the helper does
//!            not take the leader's word for the scale)
//! trusts  POST /v1/rounds/{id}/report   each its helper report share (one per trust)
//! leader  POST /v1/prio/{id}/verify     each report's leader verifier share
//!         -> PrioAggregator::start, combine, finish per report: the verifier message back
//!            (or the reason it failed); valid reports go into the helper's share, once
//!         -> its own noise (drawn here, after the leader charged) -> its Collection
//! submitter GET /v1/jobs/{id}/share     the helper's noisy aggregate share
//! ```
//!
//! A second `verify` for a round is refused: nothing is counted twice. Rounds live in
//! memory: a helper that restarts forgets them, and their collectors get no share from it
//! (the round is lost, never half-counted); its state file keeps the newest round it was
//! provisioned with, and a task for a round not newer is refused (409), so a replayed task
//! cannot bring an old round's report shares back.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pets::data::Schema;
use pets::dp::Session;
use pets::dp::mechanisms::DiscreteGaussian;
use pets::federated::prio::{HELPER, Pending, PrioAggregator, PrioTask, ReportShare, report_limit};
use pets::federated::secagg::RoundId;
use pets::federated::wire::{from_wire, to_wire};
use pets::federated::{FederatedError, Protocol, RoundNoise};
use serde::de::DeserializeOwned;

use crate::aggregator::Peer;
use crate::config::AggregatorConfig;
use crate::messages::{Collection, Envelope, HelperTask, VerifyInit, VerifyResp, parse_round};
use crate::state::{StateFile, round_order};

struct HelperRound {
    aggregator: PrioAggregator,
    noise: Option<DiscreteGaussian>,
    trusts: BTreeSet<String>,
    reports: BTreeMap<String, ReportShare>,
    bytes_from_trusts: usize,
    verified: bool,
    collection: Option<Vec<u8>>,
    /// The nonces of this round's messages (report shares, the leader's verify): kept per
    /// round, so they go when the round's messages can no longer be accepted anyway.
    nonces: HashSet<[u8; 16]>,
}

struct HelperState {
    config: AggregatorConfig,
    leader: String,
    schema: Schema,
    rounds: HashMap<RoundId, HelperRound>,
    /// [`round_order`] of the newest verified round let go (`keep_results`), 0 if none.
    expired: u64,
    /// The newest round provisioned, kept across restarts.
    state: StateFile,
}

type Shared = Arc<Mutex<HelperState>>;

fn lock(s: &Shared) -> MutexGuard<'_, HelperState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn reply(status: StatusCode, text: impl Into<String>) -> Response {
    (status, text.into()).into_response()
}

fn log(line: impl AsRef<str>) {
    eprintln!("pets helper: {}", line.as_ref());
}

/// The helper's routes over `config` (its `helper_of` names the leader), the federation
/// schema already read.
pub fn router(
    config: AggregatorConfig,
    leader: String,
    schema: Schema,
    state: StateFile,
) -> Router {
    let body_limit = config.max_body_bytes;
    let state: Shared = Arc::new(Mutex::new(HelperState {
        config,
        leader,
        schema,
        rounds: HashMap::new(),
        expired: 0,
        state,
    }));
    Router::new()
        .route("/v1/prio/{id}/task", post(task))
        .route("/v1/prio/{id}/verify", post(verify))
        .route("/v1/rounds/{id}/report", post(report))
        .route("/v1/jobs/{id}/share", get(share))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// A refusal before a message reaches the protocol: its status and reason.
type Refusal = (StatusCode, String);

fn refusal(status: StatusCode, text: impl Into<String>) -> Refusal {
    (status, text.into())
}

/// Decode an envelope for round `id`, refusing another round's message and a nonce seen in
/// that round. (A task, for a round not provisioned yet, has no round to remember its
/// nonce in: a replayed task is refused as already provisioned, or by the state file as not
/// newer than the last.)
fn open<T: DeserializeOwned>(
    s: &mut HelperState,
    body: &[u8],
    limit: usize,
    peer: &str,
    id: &str,
    what: &str,
) -> std::result::Result<(RoundId, T), Refusal> {
    let Some(round) = parse_round(id) else {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "a round id is 32 hex digits",
        ));
    };
    let env: Envelope<T> = from_wire(body, limit, peer, what)
        .map_err(|e| refusal(StatusCode::BAD_REQUEST, e.to_string()))?;
    if env.round != round {
        return Err(refusal(
            StatusCode::CONFLICT,
            format!(
                "{peer}'s {what} is for round {}, not {round} (a replay?)",
                env.round
            ),
        ));
    }
    if let Some(r) = s.rounds.get_mut(&round)
        && !r.nonces.insert(env.nonce)
    {
        return Err(refusal(
            StatusCode::CONFLICT,
            format!("{peer}'s {what}: a replayed message (its nonce was seen)"),
        ));
    }
    Ok((round, env.message))
}

fn only_leader(s: &HelperState, peer: &str) -> std::result::Result<(), Refusal> {
    if peer == s.leader {
        Ok(())
    } else {
        Err(refusal(
            StatusCode::FORBIDDEN,
            format!("{peer} is not this helper's leader"),
        ))
    }
}

async fn task(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut s = lock(&state);
    if let Err(r) = only_leader(&s, &peer) {
        return r.into_response();
    }
    let (round, task): (RoundId, HelperTask) =
        match open(&mut s, &body, 16 << 20, &peer, &id, "task") {
            Ok(m) => m,
            Err(r) => return r.into_response(),
        };
    if s.rounds.contains_key(&round) {
        return reply(
            StatusCode::CONFLICT,
            format!("round {round} is already provisioned"),
        );
    }
    let provisioned = provision(&s, round, task);
    // Only a valid task claims its round: ids only grow, so a task replayed after this
    // helper restarted (its round forgotten, its report shares replayable) is refused.
    let provisioned = provisioned.and_then(|r| {
        s.state
            .claim_task(&round)
            .map(|()| r)
            .map_err(|reason| FederatedError::Rejected {
                party: peer.clone(),
                message: "task".into(),
                reason,
            })
    });
    match provisioned {
        Ok(r) => {
            log(format!(
                "round {round}: provisioned by {peer} for {} trusts ({})",
                r.trusts.len(),
                if r.noise.is_some() {
                    "noisy"
                } else {
                    "exact check"
                }
            ));
            s.rounds.insert(round, r);
            reply(StatusCode::OK, "provisioned")
        }
        Err(e) => {
            log(format!("round {round}: refused the task: {e}"));
            let status = match e {
                FederatedError::Rejected { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            reply(status, e.to_string())
        }
    }
}

/// Check the leader's task and plan this helper's own noise from the job.
fn provision(
    s: &HelperState,
    round: RoundId,
    task: HelperTask,
) -> pets::federated::Result<HelperRound> {
    let spec = &task.spec;
    if spec.protocol()? != Protocol::Prio3 {
        return Err(FederatedError::InvalidParameter {
            name: "protocol".into(),
            value: spec.protocol.clone(),
            reason: "a helper runs Prio3 rounds only".into(),
        });
    }
    if spec.exact && !s.config.allow_exact {
        return Err(FederatedError::InvalidParameter {
            name: "exact".into(),
            value: "true".to_string(),
            reason: "this helper adds its noise to every round (allow_exact is off)".into(),
        });
    }
    let job = spec.job(None)?;
    let names: Vec<&str> = task
        .joins
        .iter()
        .map(|j| j.declaration.name.as_str())
        .collect();
    for n in &names {
        if !s.config.trusts.iter().any(|t| t == n) {
            return Err(FederatedError::InvalidParameter {
                name: "trust".into(),
                value: n.to_string(),
                reason: "not a trust of this helper's federation".into(),
            });
        }
    }
    let fingerprint = spec.fingerprint(&s.schema)?;
    let layout = task
        .joins
        .first()
        .map(|j| j.layout.clone())
        .unwrap_or_default();
    for j in &task.joins {
        job.check_trust_schema(&fingerprint, &j.declaration.name, &j.fingerprint)?;
        if j.layout != layout {
            return Err(FederatedError::InvalidParameter {
                name: "layout".into(),
                value: j.declaration.name.clone(),
                reason: "the trusts' layouts differ".into(),
            });
        }
    }
    let session = Session::zcdp(spec.rho)?;
    let checked = job.check_trusts(&session, &names)?;
    let cells: usize = layout.iter().map(|l| l.cells()).sum();
    let noise = if spec.exact {
        None
    } else {
        let declared: Vec<_> = task.joins.iter().map(|j| j.declaration.clone()).collect();
        match job.plan_noise(checked, &declared, layout)? {
            RoundNoise::PerAggregator(dg) => Some(dg),
            RoundNoise::Distributed(_) => {
                return Err(FederatedError::InvalidParameter {
                    name: "protocol".into(),
                    value: "secagg".to_string(),
                    reason: "a helper runs Prio3 rounds only".into(),
                });
            }
        }
    };
    let prio = PrioTask::new(round, cells, spec.prio_max_count())?;
    Ok(HelperRound {
        aggregator: PrioAggregator::new(prio, HELPER, task.verify_key),
        noise,
        trusts: names.iter().map(|n| n.to_string()).collect(),
        reports: BTreeMap::new(),
        bytes_from_trusts: 0,
        verified: false,
        collection: None,
        nonces: HashSet::new(),
    })
}

async fn report(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut guard = lock(&state);
    let s = &mut *guard;
    let Some(round) = parse_round(&id) else {
        return reply(StatusCode::BAD_REQUEST, "a round id is 32 hex digits");
    };
    let limit = match s.rounds.get(&round) {
        Some(r) => {
            let t = r.aggregator.task();
            report_limit(t.cells(), t.max_count()) + 4096
        }
        None => {
            return reply(
                StatusCode::NOT_FOUND,
                format!("no round {round} at this helper"),
            );
        }
    };
    let (round, share): (RoundId, ReportShare) = match open(s, &body, limit, &peer, &id, "report") {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    let r = s.rounds.get_mut(&round).expect("checked");
    if !r.trusts.contains(&peer) {
        return reply(
            StatusCode::FORBIDDEN,
            format!("{peer} did not join round {round}"),
        );
    }
    if r.verified {
        return reply(
            StatusCode::CONFLICT,
            format!("{peer}'s report arrived after round {round} was verified"),
        );
    }
    if r.reports.contains_key(&peer) {
        return reply(
            StatusCode::CONFLICT,
            format!("{peer}'s report: a second report in round {round} (a replay?)"),
        );
    }
    r.bytes_from_trusts += body.len();
    r.reports.insert(peer, share);
    reply(StatusCode::OK, "accepted")
}

async fn verify(
    State(state): State<Shared>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    // Decode and check first; then give the trusts' report shares that are still on their
    // way (each trust sends its two shares independently) until every listed report is
    // here or the stage deadline passes.
    let (round, init, wait) = {
        let mut guard = lock(&state);
        let s = &mut *guard;
        if let Err(r) = only_leader(s, &peer) {
            return r.into_response();
        }
        let (round, init): (RoundId, VerifyInit) =
            match open(s, &body, 64 << 20, &peer, &id, "verify") {
                Ok(m) => m,
                Err(r) => return r.into_response(),
            };
        (round, init, s.config.stage_seconds)
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(wait);
    loop {
        let all = {
            let s = lock(&state);
            match s.rounds.get(&round) {
                Some(r) => init
                    .reports
                    .iter()
                    .all(|(t, _, _)| r.reports.contains_key(t)),
                None => true,
            }
        };
        if all || std::time::Instant::now() >= until {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut r = {
        let mut guard = lock(&state);
        let s = &mut *guard;
        let Some(r) = s.rounds.get_mut(&round) else {
            return reply(
                StatusCode::NOT_FOUND,
                format!("no round {round} at this helper"),
            );
        };
        if r.verified {
            return reply(
                StatusCode::CONFLICT,
                format!("round {round} was verified already: nothing is counted twice"),
            );
        }
        r.verified = true;
        // Take the round out while the CPU-bound verification runs.
        s.rounds.remove(&round).expect("present")
    };
    let result = tokio::task::spawn_blocking(move || {
        let resp = verify_batch(&mut r, round, &init);
        (r, resp)
    })
    .await;
    let (r, resp) = match result {
        Ok(x) => x,
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let counted = resp.results.iter().filter(|x| x.is_ok()).count();
    log(format!(
        "round {round}: verified {} reports, {counted} valid",
        resp.results.len()
    ));
    let bytes = to_wire(&resp);
    {
        let mut guard = lock(&state);
        guard.rounds.insert(round, r);
        let_go(&mut guard);
    }
    match bytes {
        Ok(b) => (StatusCode::OK, b).into_response(),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Keep the newest `keep_results` verified rounds (their collections for the submitters);
/// let the older ones go, so the helper's memory does not grow with every round.
fn let_go(s: &mut HelperState) {
    let keep = s.config.keep_results.max(1);
    let mut verified: Vec<RoundId> = s
        .rounds
        .iter()
        .filter(|(_, r)| r.verified)
        .map(|(id, _)| *id)
        .collect();
    if verified.len() > keep {
        verified.sort_by_key(round_order);
        for old in &verified[..verified.len() - keep] {
            s.rounds.remove(old);
            s.expired = s.expired.max(round_order(old));
        }
    }
}

/// Verify the leader's batch against this helper's report shares; add the valid ones, then
/// this helper's noise, and keep its collection.
fn verify_batch(r: &mut HelperRound, round: RoundId, init: &VerifyInit) -> VerifyResp {
    // Match each listed report with this helper's share of it, then start the matched ones
    // and combine their verifier shares in parallel, and finish (accumulate) in order.
    let mut results: Vec<Option<Result<Vec<u8>, String>>> = vec![None; init.reports.len()];
    let mut matched: Vec<(usize, (String, ReportShare))> = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, (trust, nonce, _)) in init.reports.iter().enumerate() {
        let refuse = |reason: &str| {
            Some(Err(FederatedError::Rejected {
                party: trust.clone(),
                message: "report".into(),
                reason: reason.into(),
            }
            .to_string()))
        };
        if !seen.insert(trust.clone()) {
            results[i] = refuse("listed twice by the leader");
        } else if let Some(share) = r.reports.get(trust) {
            if &share.nonce != nonce {
                results[i] =
                    refuse("the leader's and the helper's report shares have different nonces");
            } else {
                matched.push((i, (trust.clone(), share.clone())));
            }
        } else {
            results[i] = refuse("the helper has no report share from this trust");
        }
    }
    let shares: Vec<(String, ReportShare)> = matched.iter().map(|(_, x)| x.clone()).collect();
    let started = r.aggregator.start_batch(&shares);
    let items: Vec<(usize, &str, Pending)> = matched
        .iter()
        .zip(started)
        .filter_map(|((i, (trust, _)), p)| match p {
            Ok(p) => Some((*i, trust.as_str(), p)),
            Err(e) => {
                results[*i] = Some(Err(e.to_string()));
                None
            }
        })
        .collect();
    let refs: Vec<(&str, &Pending, &[u8])> = items
        .iter()
        .map(|(i, trust, p)| (*trust, p, init.reports[*i].2.as_slice()))
        .collect();
    let messages = r.aggregator.combine_batch(&refs);
    drop(refs);
    let mut counted = Vec::new();
    for ((i, trust, pending), message) in items.into_iter().zip(messages) {
        let outcome = message.and_then(|m| {
            r.aggregator.finish(trust, pending, &m)?;
            Ok(m)
        });
        results[i] = Some(match outcome {
            Ok(m) => {
                counted.push(trust.to_string());
                Ok(m)
            }
            Err(e) => Err(e.to_string()),
        });
    }
    let results: Vec<Result<Vec<u8>, String>> = results
        .into_iter()
        .map(|x| x.unwrap_or_else(|| Err("not verified".into())))
        .collect();
    r.reports.clear();
    counted.sort();
    let collection = (|| -> pets::federated::Result<Vec<u8>> {
        if let Some(dg) = &r.noise {
            r.aggregator.add_noise_from(dg)?;
        }
        let task = r.aggregator.task();
        to_wire(&Collection {
            round,
            aggregator: HELPER as u8,
            cells: task.cells(),
            max_count: task.max_count(),
            counted,
            aggregate_share: r.aggregator.aggregate_share()?,
            noisy: r.noise.is_some(),
            bytes_from_trusts: r.bytes_from_trusts,
        })
    })();
    match collection {
        Ok(c) => r.collection = Some(c),
        Err(e) => log(format!("the helper's collection failed: {e}")),
    }
    VerifyResp { results }
}

async fn share(
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
    match s.rounds.get(&round) {
        Some(HelperRound {
            collection: Some(c),
            ..
        }) => (StatusCode::OK, c.clone()).into_response(),
        Some(_) => reply(StatusCode::ACCEPTED, "not verified yet"),
        None if round_order(&round) <= s.expired => reply(
            StatusCode::GONE,
            format!(
                "round {round} was verified and its share let go: this helper keeps the shares \
                 of its last {} rounds (keep_results)",
                s.config.keep_results
            ),
        ),
        None => reply(
            StatusCode::NOT_FOUND,
            format!("no round {round} at this helper"),
        ),
    }
}
