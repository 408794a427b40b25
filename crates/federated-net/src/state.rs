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
//! - the **nonces of the jobs accepted within the job window**, each with the time its
//!   submitter stamped on it. A job submission is the one message that is not bound to a
//!   round, so it carries its own time instead ([`crate::messages::JobSubmission`]): a
//!   submission stamped more than `W` seconds (the window, `job_window_seconds`, default
//!   [`DEFAULT_JOB_WINDOW`]) before or after the aggregator's clock is refused (409,
//!   "outside the job window"), and within the window a nonce seen before (now or before a
//!   restart) is a replay (409): either way nothing is run or charged. A nonce stamped at
//!   `t` is forgotten once `t + W` has passed, exactly when the window check alone would
//!   refuse it, so the list holds only the jobs of the last `2 W` seconds (at most
//!   [`MAX_JOBS_IN_WINDOW`]; more are refused, 503, until old ones expire) and replays stay
//!   refused forever. The submitter's and the aggregator's clocks must agree to within `W`.
//! - for Prio3's helper, the **newest round it was provisioned with**: a task for a round
//!   that is not newer (a replayed task after the helper restarted) is refused (409), so a
//!   round's report shares can never be taken into a second aggregate share.
//!
//! A file that cannot be read or written stops the aggregator (at start, or the submission
//! that needed it): it never runs without the protection it promises. Two aggregators must
//! not share one state file: each holds an exclusive OS lock ([`std::fs::File::try_lock`]:
//! `flock` on Unix, `LockFileEx` on Windows) on `STATE.lock` beside it for as long as it
//! runs, taken before the file is read, and a second aggregator started on the same state
//! file stops at once with [`NetError::StateLocked`] naming both files. (The lock is on a
//! file of its own because the state file itself is replaced by a rename at every write.)
//! The lock file is left in place when the aggregator ends; a lock dies with its process.

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use pets::federated::secagg::RoundId;
use serde::{Deserialize, Serialize};

use crate::error::{NetError, Result};

/// The state file's format version (2: job nonces with their time; 1 had bare nonces).
const VERSION: u32 = 2;

/// The default job window `W` in seconds (10 minutes): see the module documentation.
pub const DEFAULT_JOB_WINDOW: u64 = 600;

/// The most job nonces kept at once (the jobs accepted within the last `2 W` seconds); a
/// submission beyond it is refused until old nonces expire. About 80 bytes each in the file.
pub const MAX_JOBS_IN_WINDOW: usize = 100_000;

/// A job nonce as the file keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum StoredJob {
    /// Version 2: the hex nonce and the submitter's time stamp (Unix seconds).
    Timed { nonce: String, issued: u64 },
    /// Version 1: a bare hex nonce, read as stamped at the start that reads it (so it is
    /// remembered for one more window, then forgotten).
    Bare(String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Persisted {
    version: u32,
    epoch: u32,
    /// The jobs accepted within the window, oldest first.
    #[serde(default)]
    jobs: Vec<StoredJob>,
    /// Prio3's helper: [`round_order`] of the newest round provisioned.
    #[serde(default)]
    last_task: Option<u64>,
}

/// An aggregator's persistent state (see the module documentation).
#[derive(Debug)]
pub struct StateFile {
    path: Option<PathBuf>,
    data: Persisted,
    /// The job nonces within the window, with their time stamps (the file's `jobs`).
    jobs: HashMap<[u8; 16], u64>,
    /// The job window `W` in seconds.
    window: u64,
    seq: u32,
    /// The exclusive lock on `STATE.lock`, held while this aggregator runs.
    _lock: Option<File>,
}

/// What became of a job submission's nonce ([`StateFile::claim_job`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobClaim {
    /// New, and now remembered (written to the file): run the job.
    Fresh,
    /// Seen before (now or before a restart): a replay.
    Replayed,
    /// Stamped outside the window around the aggregator's clock: the reason.
    OutsideWindow(String),
    /// [`MAX_JOBS_IN_WINDOW`] jobs are remembered already: the reason.
    TooMany(String),
}

/// Seconds since the Unix epoch by this machine's clock (0 before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The lock file of the state file `path`: `path` with `.lock` appended.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Take the exclusive lock of the state file `path` (creating its lock file), or
/// [`NetError::StateLocked`] if another process holds it.
fn lock_state(path: &Path) -> Result<File> {
    let lock = lock_path(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|e| NetError::io(&lock, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(NetError::StateLocked {
            path: path.display().to_string(),
            lock: lock.display().to_string(),
        }),
        Err(TryLockError::Error(e)) => Err(NetError::io(&lock, e)),
    }
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
    /// Open the state at `path` (a missing file is a first start) with a job window of
    /// `job_window` seconds: take its lock (refused while another aggregator holds it),
    /// begin a new epoch, forget the job nonces outside the window, and write it before
    /// returning. `None`: state in memory only (replays across a restart are then not
    /// recognised; the configuration loader always gives a path).
    pub fn open(path: Option<&Path>, job_window: u64) -> Result<StateFile> {
        let lock = path.map(lock_state).transpose()?;
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
        let now = unix_now();
        let jobs = data
            .jobs
            .iter()
            .filter_map(|j| match j {
                StoredJob::Timed { nonce, issued } => Some((unhex16(nonce)?, *issued)),
                StoredJob::Bare(nonce) => Some((unhex16(nonce)?, now)),
            })
            .collect();
        let mut state = StateFile {
            path: path.map(Path::to_path_buf),
            data,
            jobs,
            window: job_window,
            seq: 0,
            _lock: lock,
        };
        state.expire_jobs(now);
        state.sync_jobs();
        state.save()?;
        Ok(state)
    }

    /// The job window `W` in seconds.
    pub fn job_window(&self) -> u64 {
        self.window
    }

    /// The job nonces remembered (those stamped within the window).
    pub fn jobs_remembered(&self) -> usize {
        self.jobs.len()
    }

    /// Forget the nonces stamped at `t` with `t + W < now`: the window check refuses them.
    fn expire_jobs(&mut self, now: u64) {
        let window = self.window;
        self.jobs
            .retain(|_, issued| issued.saturating_add(window) >= now);
    }

    /// The file's `jobs` from the map, oldest first (then by nonce).
    fn sync_jobs(&mut self) {
        let mut jobs: Vec<(&[u8; 16], &u64)> = self.jobs.iter().collect();
        jobs.sort_by_key(|(nonce, issued)| (**issued, **nonce));
        self.data.jobs = jobs
            .into_iter()
            .map(|(nonce, issued)| StoredJob::Timed {
                nonce: hex(nonce),
                issued: *issued,
            })
            .collect();
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

    /// Claim a job submission's nonce, stamped `issued` by its submitter, at the
    /// aggregator's time `now` (both Unix seconds): see [`JobClaim`]. A fresh nonce is
    /// written to the file (with the expired ones dropped) before [`JobClaim::Fresh`].
    pub fn claim_job(&mut self, nonce: [u8; 16], issued: u64, now: u64) -> Result<JobClaim> {
        let w = self.window;
        if issued.saturating_add(w) < now || issued > now.saturating_add(w) {
            return Ok(JobClaim::OutsideWindow(format!(
                "the submission is stamped {issued} (Unix seconds) and this aggregator's clock \
                 says {now}: more than the job window of {w} s apart (a replay of an old \
                 submission, or clocks out of step); nothing is run or charged: check the \
                 clocks and submit the job afresh"
            )));
        }
        self.expire_jobs(now);
        if self.jobs.contains_key(&nonce) {
            return Ok(JobClaim::Replayed);
        }
        if self.jobs.len() >= MAX_JOBS_IN_WINDOW {
            return Ok(JobClaim::TooMany(format!(
                "{} job submissions within the job window of {w} s are remembered already \
                 (the most kept): nothing is run or charged; submit again once older ones \
                 expire",
                self.jobs.len()
            )));
        }
        self.jobs.insert(nonce, issued);
        self.sync_jobs();
        if let Err(e) = self.save() {
            self.jobs.remove(&nonce);
            self.sync_jobs();
            return Err(e);
        }
        Ok(JobClaim::Fresh)
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

    const W: u64 = DEFAULT_JOB_WINDOW;

    #[test]
    fn the_epoch_grows_with_each_start_and_round_ids_carry_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agg.state.json");
        let mut first = StateFile::open(Some(&path), W).unwrap();
        assert_eq!(first.epoch(), 1);
        let a = first.next_round();
        let b = first.next_round();
        assert!(round_order(&b) > round_order(&a));
        assert_eq!(epoch_of(&a), 1);
        assert!(!first.is_stale(&a));
        drop(first);
        let mut second = StateFile::open(Some(&path), W).unwrap();
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
        let now = unix_now();
        let mut s = StateFile::open(Some(&path), W).unwrap();
        assert_eq!(s.claim_job([7; 16], now, now).unwrap(), JobClaim::Fresh);
        assert_eq!(s.claim_job([7; 16], now, now).unwrap(), JobClaim::Replayed);
        let old = round_id(3, 9);
        s.claim_task(&old).unwrap();
        assert!(s.claim_task(&old).is_err(), "the same round twice");
        drop(s);
        let mut s = StateFile::open(Some(&path), W).unwrap();
        assert_eq!(
            s.claim_job([7; 16], now, now).unwrap(),
            JobClaim::Replayed,
            "seen before the restart"
        );
        assert_eq!(s.claim_job([8; 16], now, now).unwrap(), JobClaim::Fresh);
        let e = s.claim_task(&old).unwrap_err();
        assert!(e.contains("not newer"), "{e}");
        assert!(s.claim_task(&round_id(3, 8)).is_err(), "an older round");
        s.claim_task(&round_id(4, 1)).unwrap();
        drop(s);
        // No temporary file is left behind; the lock file stays (a lock dies with its
        // process, the file does not need to).
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["helper.state.json", "helper.state.json.lock"]);
    }

    /// The nonce list is bounded by the window: a nonce stamped at `t` is kept while
    /// `t + W` has not passed and refused as a replay; after that it is forgotten, and the
    /// same submission is refused by its stamp instead. The file shrinks with it.
    #[test]
    fn job_nonces_expire_with_the_window_and_a_replay_stays_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agg.state.json");
        let w = 60;
        let t0 = 1_800_000_000;
        let mut s = StateFile::open(Some(&path), w).unwrap();
        for i in 0..50u8 {
            assert_eq!(s.claim_job([i; 16], t0, t0).unwrap(), JobClaim::Fresh);
        }
        assert_eq!(s.jobs_remembered(), 50);
        let full = std::fs::metadata(&path).unwrap().len();
        // Still inside the window: a replay.
        assert_eq!(
            s.claim_job([3; 16], t0, t0 + w).unwrap(),
            JobClaim::Replayed
        );
        // Stamped outside the window, before or after the aggregator's clock: refused by the
        // stamp, whatever the nonce.
        for (issued, now) in [(t0, t0 + w + 1), (t0 + 2 * w + 2, t0 + w + 1)] {
            match s.claim_job([200; 16], issued, now).unwrap() {
                JobClaim::OutsideWindow(why) => assert!(why.contains("job window"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        // One fresh job after the window: the fifty old nonces are forgotten.
        let later = t0 + w + 1;
        assert_eq!(
            s.claim_job([99; 16], later, later).unwrap(),
            JobClaim::Fresh
        );
        assert_eq!(s.jobs_remembered(), 1);
        assert!(std::fs::metadata(&path).unwrap().len() < full / 10);
        // A forgotten nonce replayed with its old stamp: refused by the stamp.
        assert!(matches!(
            s.claim_job([3; 16], t0, later).unwrap(),
            JobClaim::OutsideWindow(_)
        ));
        drop(s);
        // Across a restart, the file holds the one nonce with its stamp.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!("\"issued\": {later}")), "{text}");
        let mut s = StateFile::open(Some(&path), w).unwrap();
        assert_eq!(
            s.claim_job([99; 16], later, later + 1).unwrap(),
            JobClaim::Replayed
        );
    }

    #[test]
    fn a_version_1_state_file_is_read_and_its_bare_nonces_kept_one_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agg.state.json");
        std::fs::write(
            &path,
            format!(
                "{{\"version\": 1, \"epoch\": 4, \"jobs\": [\"{}\"]}}",
                hex(&[5; 16])
            ),
        )
        .unwrap();
        let mut s = StateFile::open(Some(&path), W).unwrap();
        assert_eq!(s.epoch(), 5);
        let now = unix_now();
        assert_eq!(s.claim_job([5; 16], now, now).unwrap(), JobClaim::Replayed);
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("\"version\": 2")
        );
    }

    /// Two aggregators on one state file: the second stops at once with the typed error
    /// naming the file, and neither the epoch nor the nonces move; once the first ends, the
    /// file can be opened again.
    #[test]
    fn a_second_aggregator_on_the_same_state_file_is_refused_while_the_first_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agg.state.json");
        let first = StateFile::open(Some(&path), W).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();
        let e = StateFile::open(Some(&path), W).unwrap_err();
        assert!(matches!(e, NetError::StateLocked { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("another aggregator"), "{msg}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        drop(first);
        let again = StateFile::open(Some(&path), W).unwrap();
        assert_eq!(again.epoch(), 2);
    }

    #[test]
    fn an_unreadable_state_file_stops_the_aggregator_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agg.state.json");
        std::fs::write(&path, "not json").unwrap();
        let e = StateFile::open(Some(&path), W).unwrap_err().to_string();
        assert!(e.contains("state file is not readable"), "{e}");
    }
}
