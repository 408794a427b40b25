//! A trust's node agent: waits for a round, computes its local aggregate over its own table,
//! joins, and runs the trust's side of secure aggregation ([`SecAggClient`]) through the
//! aggregator, or of Prio3: it shards its counts with their validity proof
//! ([`PrioTask::upload`]) and sends one report share to the leader and one to the helper,
//! each over that aggregator's own mutual-TLS connection, then leaves. The helper's
//! connection is pinned to the certificate name the node's configuration gives it
//! (`helper_name`), as the leader pins it (`prio3_helper_name`): a server at the helper's
//! address holding another party's certificate from the same CA fails the handshake, and no
//! share is sent to it. Its rows never leave; its counts leave only with its noise share
//! added and masked. It adds no noise of its own choosing: its share's scale comes from the plan the
//! aggregator made when it charged the budget, and it never sends a vector without noise
//! unless its own configuration allows exact checks.
//!
//! A round of a multi-round run (a federated fit's rounds, a training run's) carries a
//! declared vector the node computes from its own table ([`Reading`]): the table is read
//! and bounded once for the run and kept between its jobs, keyed by what the reading
//! depends on (the work's reading options, the person bound and seed, the file's size and
//! modification time); a round of another run or a query lets it go.

use std::path::Path;
use std::time::Duration;

use pets::data::{Schema, TableSource};
use pets::federated::aggregate::local_aggregate;
use pets::federated::prio::{HELPER, LEADER, PrioTask, report_counts};
use pets::federated::secagg::{Inbox, Roster, RoundId, SecAggClient, Survivors};
use pets::federated::wire::from_wire;
use pets::federated::{DropPoint, FederatedError, TrustDeclaration, message_limit, noisy_input};

use crate::client::Client;
use crate::config::{NodeConfig, pinned_helper};
use crate::error::{NetError, Result};
use crate::messages::{Announcement, Join, Plan, PrioPlan, RoundWork, VectorJob, round_hex};
use pets_synth::federated::FitTrust;

/// A trust's table as the rounds of one run read it, kept between that run's jobs.
pub enum Reading {
    /// A federated fit's reading (its synthesis columns, bounded).
    Fit(FitTrust),
    /// A training run's rows (encoded, bounded).
    Train(pets::federated::train::TrustRows),
}

/// What a [`Reading`] depends on in a round's work.
fn reading_key(vector: &VectorJob) -> String {
    match vector {
        VectorJob::MstRound(w) => format!(
            "fit:{}:{}:{}:{}",
            w.epsilon,
            w.delta,
            w.max_values,
            w.read.join(",")
        ),
        VectorJob::TrainRound(w) => format!(
            "train:{}",
            serde_json::to_string(&w.encoding).unwrap_or_default()
        ),
    }
}

/// A file's path, size and modification time (empty for in-memory batches, which do not
/// change).
fn file_stamp(data: &TableSource) -> String {
    match data {
        TableSource::File { path, .. } => std::fs::metadata(path)
            .map(|m| format!("{}:{}:{:?}", path.display(), m.len(), m.modified().ok()))
            .unwrap_or_else(|_| path.display().to_string()),
        _ => String::new(),
    }
}

/// What a node did in one round.
#[derive(Debug, Clone)]
pub struct NodeRound {
    /// The round.
    pub round: RoundId,
    /// Its party id.
    pub party: u32,
    /// Where it left on purpose (fault injection), if it did.
    pub dropped_at: Option<DropPoint>,
}

fn log(name: &str, line: impl AsRef<str>) {
    eprintln!("pets node {name}: {}", line.as_ref());
}

/// Run the node of `config` (read from `config_path`) over `data` declared by `schema`.
pub async fn run(
    config: NodeConfig,
    config_path: &Path,
    data: TableSource,
    schema: Schema,
) -> Result<Vec<NodeRound>> {
    let drop_at = config.drop_point(config_path)?;
    // A helper without its pinned name is refused before the node joins any round.
    pinned_helper(
        &config.helper,
        &config.helper_name,
        &config_path.display().to_string(),
    )?;
    let name = config.tls.own_name()?;
    let client = Client::new(
        &config.aggregator,
        &config.tls,
        Duration::from_millis(config.poll_ms.max(10)),
    )?;
    let wait = Duration::from_secs_f64(config.wait_seconds.max(0.1));
    let mut done = Vec::new();
    let mut last: Option<RoundId> = None;
    let mut down_since: Option<std::time::Instant> = None;
    // The table as the rounds of one run (a fit, a training run) read it, kept between
    // their jobs (module docs).
    let mut cache: Option<(String, Reading)> = None;
    while config.rounds == 0 || done.len() < config.rounds as usize {
        // Between rounds, an aggregator that is down (restarting) is waited for, up to
        // `wait_seconds`; within a round, losing it ends the node with the error.
        let bytes = match client.poll("v1/round", "the round", wait).await {
            Ok(b) => {
                down_since = None;
                b
            }
            Err(NetError::Connect { down: true, .. })
                if down_since.is_none_or(|t| t.elapsed() < wait) =>
            {
                if down_since.is_none() {
                    log(&name, "the aggregator is not answering; waiting for it");
                }
                down_since.get_or_insert_with(std::time::Instant::now);
                tokio::time::sleep(Duration::from_millis(config.poll_ms.max(100))).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let ann: Announcement = from_wire(&bytes, 1 << 20, "aggregator", "announcement")?;
        if Some(ann.round) == last {
            tokio::time::sleep(Duration::from_millis(config.poll_ms)).await;
            continue;
        }
        last = Some(ann.round);
        log(&name, format!("round {}: {}", ann.round, ann.work.label()));
        let round = one_round(
            &client, &config, &name, &ann, &data, &schema, drop_at, wait, &mut cache,
        )
        .await?;
        done.push(round);
    }
    Ok(done)
}

#[allow(clippy::too_many_arguments)]
async fn one_round(
    client: &Client,
    config: &NodeConfig,
    name: &str,
    ann: &Announcement,
    data: &TableSource,
    schema: &Schema,
    drop_at: Option<DropPoint>,
    wait: Duration,
    cache: &mut Option<(String, Reading)>,
) -> Result<NodeRound> {
    if ann.exact && !config.allow_exact {
        return Err(NetError::Federated(FederatedError::Trust {
            trust: name.to_string(),
            reason: "the job asks for the exact sum without noise, and this node does not \
                     allow it (allow_exact is off)"
                .into(),
        }));
    }
    let (local, fingerprint) = match &ann.work {
        RoundWork::Query(query) => (
            {
                // A query's round reads the table itself: a run's reading is let go.
                *cache = None;
                local_aggregate(
                    name,
                    data,
                    schema,
                    config.person_id.as_deref(),
                    ann.max_rows_per_person,
                    ann.seed,
                    query,
                )?
            },
            query.fingerprint(schema)?,
        ),
        RoundWork::Vector(vector) => {
            // Checked here, before the table is read: a trust whose schema declares the
            // columns otherwise would compute a vector that does not line up.
            let fingerprint = vector.fingerprint(schema)?;
            if fingerprint != ann.fingerprint {
                return Err(NetError::Federated(FederatedError::Trust {
                    trust: name.to_string(),
                    reason: format!(
                        "its schema declares the columns of {} differently from the job's \
                         (fingerprint {fingerprint}, the job's is {}), so its cells would not \
                         line up; use the job's schema",
                        vector.label(),
                        ann.fingerprint
                    ),
                }));
            }
            // One reading serves every round of a run: the key is what the reading depends
            // on (the work's reading options, the person bound and seed, and the file's
            // size and modification time, so a changed file is read again).
            let key = format!(
                "{}|{}|{:?}|{}|{}",
                reading_key(vector),
                file_stamp(data),
                config.person_id,
                ann.max_rows_per_person,
                ann.seed
            );
            if cache.as_ref().is_none_or(|(k, _)| *k != key) {
                *cache = None;
                let reading = match vector {
                    VectorJob::MstRound(work) => Reading::Fit(FitTrust::read(
                        name,
                        data.clone(),
                        schema,
                        work,
                        config.person_id.as_deref(),
                        ann.max_rows_per_person,
                    )?),
                    VectorJob::TrainRound(work) => {
                        work.check(schema)?;
                        Reading::Train(work.encoding.read(
                            data,
                            schema,
                            config.person_id.as_deref(),
                            ann.max_rows_per_person,
                            ann.seed,
                        )?)
                    }
                };
                *cache = Some((key, reading));
            }
            let local = match (vector, cache.as_ref().map(|(_, r)| r)) {
                (VectorJob::MstRound(work), Some(Reading::Fit(trust))) => trust.vector(work)?,
                (VectorJob::TrainRound(work), Some(Reading::Train(rows))) => {
                    work.check(schema)?;
                    work.local(rows)?
                }
                _ => {
                    return Err(NetError::Federated(FederatedError::Trust {
                        trust: name.to_string(),
                        reason: "its reading of the table is not the round's kind".into(),
                    }));
                }
            };
            (local, fingerprint)
        }
    };
    for w in &local.warnings {
        log(name, format!("warning: {}", w.message));
    }
    let id = round_hex(&ann.round);
    let path = |kind: &str| format!("v1/rounds/{id}/{kind}");
    let join = Join {
        declaration: TrustDeclaration {
            name: name.to_string(),
            unit: local.unit,
            person_id: config.person_id.clone(),
            warnings: local.warnings.clone(),
        },
        fingerprint,
        layout: local.layout.clone(),
    };
    // Prio3: make sure of the helper before joining (a server at its address without the
    // pinned name fails the handshake here, and the trust does not join); the connection is
    // kept for the upload.
    let helper = match ann.protocol {
        pets::federated::Protocol::Prio3 => {
            match pinned_helper(&config.helper, &config.helper_name, "node config")? {
                Some((url, helper_name)) => {
                    let c = Client::pinned(
                        url,
                        &config.tls,
                        helper_name,
                        Duration::from_millis(config.poll_ms.max(10)),
                    )?;
                    c.handshake("v1/round").await?;
                    Some(c)
                }
                None => {
                    return Err(NetError::Config {
                        file: "node config".into(),
                        reason: "a Prio3 round needs the helper's address and certificate \
                                 name: helper = \"https://...\" and helper_name = \"NAME\""
                            .into(),
                    });
                }
            }
        }
        _ => None,
    };
    client.post(&path("join"), ann.round, join, "join").await?;
    let cells = local.values.len();
    let bytes = client.poll(&path("plan"), "the plan", wait).await?;
    let plan = match from_wire::<Plan>(&bytes, 1 << 20, "aggregator", "plan")? {
        Plan::SecAgg(p) => p,
        Plan::Prio3(p) => {
            let helper = helper.ok_or_else(|| {
                NetError::Federated(FederatedError::Trust {
                    trust: name.to_string(),
                    reason: "the aggregator's plan is for Prio3, the round it announced was \
                             not: refused"
                        .into(),
                })
            })?;
            return prio_round(client, &helper, name, ann, &local.values, &p, drop_at).await;
        }
    };
    if plan.config.round != ann.round || plan.config.vector_len != cells {
        return Err(NetError::Federated(FederatedError::Trust {
            trust: name.to_string(),
            reason: format!(
                "the aggregator's plan is for round {} with {} cells; this trust joined round \
                 {} with {cells}",
                plan.config.round, plan.config.vector_len, ann.round
            ),
        }));
    }
    if plan.noise.is_none() && !(ann.exact && config.allow_exact) {
        return Err(NetError::Federated(FederatedError::Trust {
            trust: name.to_string(),
            reason: "the aggregator's plan has no noise for a job that did not ask for the \
                     exact sum: refused"
                .into(),
        }));
    }
    let limit = message_limit(cells, 255);
    // The trust's noise share is drawn here: the aggregator charged the budget before any
    // plan was handed out.
    let input = noisy_input(&local.values, plan.noise.as_ref(), name)?;
    let (mut sa, adv) = SecAggClient::new(plan.config.clone(), plan.party, input)?;
    let result = |dropped_at| NodeRound {
        round: ann.round,
        party: plan.party,
        dropped_at,
    };
    let leave = |point: DropPoint| {
        log(
            name,
            format!("leaving the round at {point:?} (fault injection)"),
        );
        Ok(result(Some(point)))
    };
    if drop_at == Some(DropPoint::BeforeKeys) {
        return leave(DropPoint::BeforeKeys);
    }
    client.post(&path("keys"), ann.round, adv, "keys").await?;
    let roster: Roster = from_wire(
        &client.poll(&path("roster"), "the roster", wait).await?,
        limit,
        "aggregator",
        "roster",
    )?;
    let shares = sa.share_keys(&roster)?;
    if drop_at == Some(DropPoint::BeforeShares) {
        return leave(DropPoint::BeforeShares);
    }
    client
        .post(&path("shares"), ann.round, shares, "shares")
        .await?;
    let inbox: Inbox = from_wire(
        &client.poll(&path("inbox"), "the inbox", wait).await?,
        limit,
        "aggregator",
        "inbox",
    )?;
    let masked = sa.masked_input(&inbox)?;
    if drop_at == Some(DropPoint::BeforeMasked) {
        return leave(DropPoint::BeforeMasked);
    }
    client
        .post(&path("masked"), ann.round, masked, "masked input")
        .await?;
    let survivors: Survivors = from_wire(
        &client
            .poll(&path("survivors"), "the survivors", wait)
            .await?,
        limit,
        "aggregator",
        "survivors",
    )?;
    let unmask = sa.unmask(&survivors)?;
    if drop_at == Some(DropPoint::BeforeUnmask) {
        return leave(DropPoint::BeforeUnmask);
    }
    client
        .post(&path("unmask"), ann.round, unmask, "unmask shares")
        .await?;
    log(
        name,
        format!("round {}: done as party {}", ann.round, plan.party),
    );
    Ok(result(None))
}

/// The trust's side of a Prio3 round: shard its counts with their proof and send each
/// aggregator its report share (the leader through `leader`, the helper through `helper`,
/// a connection pinned to the helper's certificate name).
#[allow(clippy::too_many_arguments)]
async fn prio_round(
    leader: &Client,
    helper: &Client,
    name: &str,
    ann: &Announcement,
    values: &[i64],
    plan: &PrioPlan,
    drop_at: Option<DropPoint>,
) -> Result<NodeRound> {
    if plan.round != ann.round || plan.cells != values.len() {
        return Err(NetError::Federated(FederatedError::Trust {
            trust: name.to_string(),
            reason: format!(
                "the aggregator's Prio3 task is for round {} with {} cells; this trust joined \
                 round {} with {}",
                plan.round,
                plan.cells,
                ann.round,
                values.len()
            ),
        }));
    }
    let result = |dropped_at| NodeRound {
        round: ann.round,
        party: 0,
        dropped_at,
    };
    let task = PrioTask::new(plan.round, plan.cells, plan.max_count)?;
    let upload = task.upload(name, &report_counts(name, values)?)?;
    if drop_at.is_some() {
        log(
            name,
            "leaving the round before its upload (fault injection)",
        );
        return Ok(result(Some(DropPoint::BeforeKeys)));
    }
    let path = format!("v1/rounds/{}/report", round_hex(&ann.round));
    let (a, b) = tokio::join!(
        leader.post(
            &path,
            ann.round,
            upload.share_for(LEADER),
            "report (leader)"
        ),
        helper.post(
            &path,
            ann.round,
            upload.share_for(HELPER),
            "report (helper)"
        ),
    );
    a?;
    b?;
    log(
        name,
        format!(
            "round {}: report uploaded ({} bytes)",
            ann.round,
            upload.bytes()
        ),
    );
    Ok(result(None))
}
