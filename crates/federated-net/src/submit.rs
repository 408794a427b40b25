//! The collector's side: submit a job, wait for the round, fetch the release.

use std::time::Duration;

use pets::federated::secagg::RoundId;
use pets::federated::wire::from_wire;

use crate::client::Client;
use crate::config::JobFile;
use crate::error::{NetError, Result};
use crate::messages::{JobAccepted, round_hex};

/// Submit `job` and wait for its release; returns the round and the release's JSON
/// (`{"release": ..., "ledger": ...}`, or `{"exact": true, ...}` for an exact check).
pub async fn submit(job: &JobFile) -> Result<(RoundId, String)> {
    let client = Client::new(&job.aggregator, &job.tls, Duration::from_millis(200))?;
    let body = client
        .post("v1/jobs", RoundId([0; 16]), job.job.clone(), "the job")
        .await?;
    let accepted: JobAccepted = from_wire(&body, 1 << 16, "aggregator", "job accepted")?;
    eprintln!(
        "pets federated submit: job {} accepted; waiting for the round",
        round_hex(&accepted.round)
    );
    let path = format!("v1/jobs/{}", round_hex(&accepted.round));
    let bytes = client
        .poll(
            &path,
            "the release",
            Duration::from_secs_f64(job.wait_seconds.max(0.1)),
        )
        .await?;
    let json = String::from_utf8(bytes).map_err(|e| NetError::Refused {
        what: "the release".into(),
        status: 200,
        reason: format!("not UTF-8: {e}"),
    })?;
    Ok((accepted.round, json))
}
