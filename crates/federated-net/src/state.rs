//! What an aggregator keeps across restarts: its state file (JSON, next to its
//! configuration: `agg.toml` keeps `agg.state.json` unless `state = "..."` says otherwise).
//!
//! Rounds live in memory, so without this file a restarted aggregator would know nothing of
//! what it accepted before. The file holds three things, each the least that makes a replay
//! across a restart recognisable:
//!
//! - the **epoch**, incremented and written (atomically, fsynced) before the aggregator
//!   serves. Every round id it makes carries its epoch and a sequence number within the
//!   epoch ([`round_id`]: 8 random bytes, then the epoch and the sequence, big-endian), so a
//!   message for a round of an earlier epoch is refused as **stale** (410) without any list
//!   of old rounds; round ids only grow ([`round_order`]).
//! - the **nonces of the jobs accepted** (16 bytes each, hex), written before a job is
//!   answered: a job submission is the one message that is not bound to a round (its
//!   envelope's round is all zeros), so a replayed submission from before a restart is
//!   recognised by its nonce and refused (409) instead of running, and being charged, again.
//!   33 bytes per job.
//! - for Prio3's helper, the **newest round it was provisioned with**: a task for a round
//!   that is not newer (a replayed task after the helper restarted) is refused (409), so a
//!   round's report shares can never be taken into a second aggregate share.
//!
//! A file that cannot be read or written stops the aggregator (at start, or the submission
//! that needed it): it never runs without the protection it promises. Two aggregators must
//! not share one state file.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use pets::federated::secagg::RoundId;
use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};

/// The state file's format version.
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Persisted {
    version: u32,
    epoch: u32,
    /// Hex nonces of the jobs accepted, oldest first.
    #[serde(default)]
    jobs: Vec<String>,
    /// Prio3's helper: [`round_order`] of the newest round provisioned.
    #[serde(default)]
    last_task: Option<u64>,
}

/// An aggregator's persistent state (see the module documentation).
#[derive(Debug)]
pub struct StateFile {
    path: Option<PathBuf>,
    data: Persisted,
    jobs: HashSet<[u8; 16]>,
    seq: u32,
}

/// The epoch and sequence of a round id made by [`round_id`], as one number that grows with
/// every round an aggregator makes, across its restarts.
pub fn round_order(round: &RoundId) -> u64 {
    u64::from_be_bytes(round.0[8..16].try_into().expect("8 bytes"))
}

/// The epoch a round id was made in.
pub fn epoch_of(round: &RoundId) -> u32 {
    (round_order(round) >> 32) as u32
}

/// A round id of `epoch` and `seq`: 8 fresh random bytes (shown first in logs), then the
/// epoch and the sequence number, big-endian.
pub fn round_id(epoch: u32, seq: u32) -> RoundId {
    let mut id = RoundId::random();
    id.0[8..12].copy_from_slice(&epoch.to_be_bytes());
    id.0[12..16].copy_from_slice(&seq.to_be_bytes());
    id
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl StateFile {
    /// Open the state at `path` (a missing file is a first start), begin a new epoch and
    /// write it before returning. `None`: state in memory only (replays across a restart
    /// are then not recognised; the configuration loader always gives a path).
    pub fn open(path: Option<&Path>) -> Result<StateFile> {
        let mut data = match path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => serde_json::from_str::<Persisted>(&text).map_err(|e| {
                    NetError::config(
                        p,
                        format!(
                            "the aggregator's state file is not readable ({e}); it is written \
                             by the aggregator only: restore it from a backup, or remove it \
                             only if no round of this aggregator may ever be replayed"
                        ),
                    )
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Persisted::default(),
                Err(e) => return Err(NetError::io(p, e)),
            },
            None => Persisted::default(),
        };
        if data.version > VERSION {
            return Err(NetError::config(
                path.unwrap_or(Path::new("state")),
                format!(
                    "state file version {}; this build reads version {VERSION}",
                    data.version
                ),
            ));
        }
        data.version = VERSION;
        data.epoch = data.epoch.checked_add(1).ok_or_else(|| {
            NetError::config(
                path.unwrap_or(Path::new("state")),
                "the epoch is exhausted (2^32 restarts)",
            )
        })?;
        let jobs = data.jobs.iter().filter_map(|j| unhex16(j)).collect();
        let state = StateFile {
            path: path.map(Path::to_path_buf),
            data,
            jobs,
            seq: 0,
        };
        state.save()?;
        Ok(state)
    }

    /// This run's epoch (1 at the first start).
    pub fn epoch(&self) -> u32 {
        self.data.epoch
    }

    /// A fresh round id of this epoch.
    pub fn next_round(&mut self) -> RoundId {
        self.seq = self.seq.wrapping_add(1);
        round_id(self.data.epoch, self.seq)
    }

    /// Whether `round` was made by this aggregator before its latest restart.
    pub fn is_stale(&self, round: &RoundId) -> bool {
        epoch_of(round) < self.data.epoch
    }

    /// Claim a job submission's nonce: `Ok(false)` if it was seen (now or before a restart);
    /// otherwise it is written to the file before `Ok(true)`.
    pub fn claim_job(&mut self, nonce: [u8; 16]) -> Result<bool> {
        if self.jobs.contains(&nonce) {
            return Ok(false);
        }
        self.data.jobs.push(hex(&nonce));
        if let Err(e) = self.save() {
            self.data.jobs.pop();
            return Err(e);
        }
        self.jobs.insert(nonce);
        Ok(true)
    }

    /// Prio3's helper: claim `round` for provisioning; refused unless it is newer than every
    /// round provisioned before (written to the file before `Ok`).
    pub fn claim_task(&mut self, round: &RoundId) -> std::result::Result<(), String> {
        let order = round_order(round);
        if let Some(last) = self.data.last_task
            && order <= last
        {
            return Err(format!(
                "round {round} (epoch {}, sequence {}) is not newer than the last round this \
                 helper was provisioned with (epoch {}, sequence {}): a replayed task, or the \
                 leader's state file was reset; refused, nothing from it is counted",
                order >> 32,
                order & 0xffff_ffff,
                last >> 32,
                last & 0xffff_ffff
            ));
        }
        let before = self.data.last_task.replace(order);
        if let Err(e) = self.save() {
            self.data.last_task = before;
            return Err(e.to_string());
        }
        Ok(())
    }

    /// Write the state atomically: a temporary file beside it, fsynced, renamed over it,
    /// and the folder fsynced.
    fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(&self.data).map_err(|e| {
            NetError::config(path, format!("writing the aggregator's state file: {e}"))
        })?;
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && let Ok(d) = std::fs::File::open(dir)
            {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| NetError::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_grows_with_each_start_and_round_ids_carry_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agg.state.json");
        let mut first = StateFile::open(Some(&path)).unwrap();
        assert_eq!(first.epoch(), 1);
        let a = first.next_round();
        let b = first.next_round();
        assert!(round_order(&b) > round_order(&a));
        assert_eq!(epoch_of(&a), 1);
        assert!(!first.is_stale(&a));
        drop(first);
        let mut second = StateFile::open(Some(&path)).unwrap();
        assert_eq!(second.epoch(), 2);
        assert!(second.is_stale(&a) && second.is_stale(&b));
        let c = second.next_round();
        assert!(!second.is_stale(&c));
        assert!(
            round_order(&c) > round_order(&b),
            "ids grow across restarts"
        );
    }

    #[test]
    fn a_job_nonce_and_a_provisioned_round_are_remembered_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("helper.state.json");
        let mut s = StateFile::open(Some(&path)).unwrap();
        assert!(s.claim_job([7; 16]).unwrap());
        assert!(!s.claim_job([7; 16]).unwrap());
        let old = round_id(3, 9);
        s.claim_task(&old).unwrap();
        assert!(s.claim_task(&old).is_err(), "the same round twice");
        drop(s);
        let mut s = StateFile::open(Some(&path)).unwrap();
        assert!(!s.claim_job([7; 16]).unwrap(), "seen before the restart");
        assert!(s.claim_job([8; 16]).unwrap());
        let e = s.claim_task(&old).unwrap_err();
        assert!(e.contains("not newer"), "{e}");
        assert!(s.claim_task(&round_id(3, 8)).is_err(), "an older round");
        s.claim_task(&round_id(4, 1)).unwrap();
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["helper.state.json"]);
    }

    #[test]
    fn an_unreadable_state_file_stops_the_aggregator_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agg.state.json");
        std::fs::write(&path, "not json").unwrap();
        let e = StateFile::open(Some(&path)).unwrap_err().to_string();
        assert!(e.contains("state file is not readable"), "{e}");
    }
}
