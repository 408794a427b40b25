//! A privacy budget that lasts between runs: one file per dataset, charged by every release.
//!
//! A release panel sets **one budget per dataset** and spends it over weeks, from the command
//! line and from notebooks. A [`BudgetStore`] is that budget on disk. The rule it enforces:
//!
//! > a charge is admitted only if the exact sum of every charge already in the file plus the
//! > new one fits in the file's total, decided while holding an exclusive lock on the file,
//! > and the charge is on disk (appended and synced) before [`BudgetStore::charge`] returns.
//!
//! So two runs, even started at the same moment in two processes, can never together spend
//! more than the total. The arithmetic is the exact rational arithmetic of
//! [`crate::dp::Accountant`]: the entries are replayed into an
//! `Accountant::new(total)` and the new cost is charged to it, so ten charges of `epsilon =
//! 0.125` fill a budget of 1 and ten charges of `0.1` do not quite fit in it (0.1 is not a
//! binary fraction; nine fit). A charge in the other measure converts as
//! [`Accountant::charge`](crate::dp::Accountant::charge) does (pure or approximate DP into a
//! zCDP budget as `rho = epsilon^2 / 2`) or is refused (zCDP into an (epsilon, delta) budget).
//!
//! ```no_run
//! use pets::dp::Cost;
//! use pets::dp::budget_store::{BudgetStore, ChargeRecord};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Once, by the custodian: the budget of the A&E extract.
//! BudgetStore::init("ae.budget", Cost::epsilon(2.0), "ae-2026-q3", Some("panel of 3 Sep"))?;
//! // Before every run spends anything: refused (DpError::OverBudget inside) if it does not fit.
//! let receipt = BudgetStore::open("ae.budget")?
//!     .charge(&Cost::epsilon(0.5), &ChargeRecord::new("pets dp query").data("ae.parquet"))?;
//! // Keep the receipt with the release: it pins the ledger's length and head hash.
//! println!("{}", serde_json::to_string(&receipt)?);
//! # Ok(()) }
//! ```
//!
//! # The file
//!
//! JSON lines, one entry a line, appended and never rewritten. Entry 0 sets the budget; every
//! later entry is one charge:
//!
//! ```text
//! {"seq":0,"kind":"pets-budget","format":1,"dataset":"ae-2026-q3","total":{"measure":"dp","epsilon":2.0,"delta":0.0},"note":"panel of 3 Sep","at":"2026-09-03T10:00:00Z","user":"custodian","hash":"5f0c…"}
//! {"seq":1,"kind":"charge","prev":"5f0c…","at":"2026-09-04T09:12:31.5Z","user":"analyst","what":"pets dp query","data":"ae.parquet","note":null,"results_digest":null,"cost":{"measure":"dp","epsilon":0.5,"delta":0.0},"hash":"a41e…"}
//! ```
//!
//! Each entry's `hash` is the SHA-256 (hex) of the entry's *canonical bytes*: the line exactly
//! as written, without its trailing `,"hash":"…"` member (that is, the compact JSON of every
//! other member, in the order shown). Each charge's `prev` is the hash of the entry before
//! it, so the entries form a chain rooted at entry 0, whose hash is the store's identity
//! ([`BudgetStatus::store_id`]). `cost` is the cost as charged by the caller (in its own
//! measure); what it took from the budget is recomputed exactly on every read.
//!
//! # Locking
//!
//! [`BudgetStore::charge`] opens the file for appending, takes an exclusive operating-system
//! lock on it ([`File::lock`]: `flock` on Unix, `LockFileEx` on Windows), re-reads and verifies
//! the whole chain, replays it, decides, appends one line, syncs the file to disk, and only
//! then unlocks. Reading ([`BudgetStore::open`], [`BudgetStore::status`]) takes a shared lock,
//! so it never sees half a line. [`BudgetStore::init`] writes a temporary file in the same
//! folder, syncs it and links it into place without ever replacing an existing file (a
//! hard link, which fails if the name is taken; a plain rename where links are not
//! supported), so a budget cannot be reset by initialising it again. The lock is advisory:
//! it binds pets and anything else that locks; an editor or `cp` ignores it. Locks over
//! network file systems are only as good as the server's; keep budget files on a local
//! disk or a file system whose locks you trust.
//!
//! # Tamper evidence, and its limits
//!
//! Every read recomputes the chain and refuses the store (nothing is charged) at the first
//! entry that was **edited** (its hash no longer matches), **deleted**, **inserted** or
//! **reordered** (its number or its `prev` no longer follows), or that takes the spending
//! over the total, with a [`BudgetStoreError::Broken`] naming the entry. The custodian must
//! then investigate: compare the file with a backup and with the receipts kept beside the
//! releases.
//!
//! A hash chain has no secret, so it detects changes made without recomputing the hashes
//! (mistakes, hand edits, tools that re-save the file) but not:
//!
//! - **truncation**: deleting the last entries leaves a valid, shorter chain;
//! - **a deliberate rewrite**: whoever can write the file can recompute every hash after
//!   the entry they changed.
//!
//! Both are detectable only against something kept elsewhere. That is what the
//! [`ChargeReceipt`] is for: it records the entry's number and the chain's head hash (and the
//! store id); callers write it into their output or ledger, and
//! [`BudgetStore::check_receipt`] tells whether the file still holds that entry with that
//! hash. Against someone who can write the budget file *and* every released output, file
//! permissions, backups or an external log are the only defence.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dp::budget::{Accountant, Cost};
use crate::dp::error::DpError;

#[cfg(test)]
mod tests;

/// The file format version written in entry 0.
pub const FORMAT: u32 = 1;

/// `kind` of entry 0.
const KIND_INIT: &str = "pets-budget";
/// `kind` of a charge.
const KIND_CHARGE: &str = "charge";

/// What a [`BudgetStoreError`] is, for mapping to exit codes or exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BudgetErrorKind {
    /// The file could not be read, written, locked or created (or already exists at init):
    /// a file error (the CLI's exit 4).
    File,
    /// A total or cost that is not a valid privacy loss, or a cost in a measure the budget
    /// cannot take: bad usage (the CLI's exit 2).
    Invalid,
    /// The file is not a pets budget file or its chain is broken: bad input (the CLI's
    /// exit 3); the custodian must investigate.
    Broken,
    /// The charge does not fit in what is left: [`DpError::OverBudget`] (the CLI's exit 3,
    /// as for any over-budget refusal).
    OverBudget,
}

/// An error of a [`BudgetStore`].
///
/// Map it with [`BudgetStoreError::kind`]; [`BudgetStoreError::as_dp`] gives the
/// [`DpError`] inside an over-budget refusal (or an invalid cost), so callers can treat it
/// like any other over-budget error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetStoreError {
    /// Reading, writing, locking or creating the file failed.
    #[error("budget file {}: {action}: {source}", path.display())]
    Io {
        /// The budget file.
        path: PathBuf,
        /// What pets was doing.
        action: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// `init` found a file already there; a budget is set once.
    #[error(
        "budget file {} already exists; a budget is set once per dataset and never reset: \
         look at it with `pets budget show`, or choose another file name",
        path.display()
    )]
    Exists {
        /// The budget file.
        path: PathBuf,
    },
    /// The file is not a pets budget file (entry 0 is missing or unreadable).
    #[error("{} is not a pets budget file: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The chain is broken at `entry`: the file was changed after it was written. Nothing
    /// was charged.
    #[error(
        "budget file {}: the ledger is broken at entry {entry}: {reason}. Nothing was \
         charged. The data custodian must investigate (compare the file with its backup and \
         with the receipts kept beside the releases) before this budget is used again",
        path.display()
    )]
    Broken {
        /// The budget file.
        path: PathBuf,
        /// The first entry that does not verify (0 is the budget itself).
        entry: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An argument is not valid (e.g. an empty dataset name). Nothing was written.
    #[error("budget file {}: {reason}", path.display())]
    Invalid {
        /// The budget file.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// The accountant refused: [`DpError::OverBudget`], [`DpError::IncompatibleMeasure`] or
    /// [`DpError::InvalidParameter`]. Nothing was charged.
    #[error("budget file {}: {source}", path.display())]
    Dp {
        /// The budget file.
        path: PathBuf,
        /// The refusal (boxed: a `DpError` is large).
        source: Box<DpError>,
    },
}

impl BudgetStoreError {
    /// What kind of error this is (see [`BudgetErrorKind`] for the mapping to exit codes).
    pub fn kind(&self) -> BudgetErrorKind {
        match self {
            BudgetStoreError::Io { .. } | BudgetStoreError::Exists { .. } => BudgetErrorKind::File,
            BudgetStoreError::Malformed { .. } | BudgetStoreError::Broken { .. } => {
                BudgetErrorKind::Broken
            }
            BudgetStoreError::Dp { source, .. }
                if matches!(**source, DpError::OverBudget { .. }) =>
            {
                BudgetErrorKind::OverBudget
            }
            BudgetStoreError::Dp { .. } | BudgetStoreError::Invalid { .. } => {
                BudgetErrorKind::Invalid
            }
        }
    }

    /// The [`DpError`] inside an accountant's refusal (over budget, incompatible measure,
    /// invalid cost), if this is one.
    pub fn as_dp(&self) -> Option<&DpError> {
        match self {
            BudgetStoreError::Dp { source, .. } => Some(&**source),
            _ => None,
        }
    }

    /// The [`DpError`] inside an accountant's refusal, or the error itself.
    pub fn into_dp(self) -> std::result::Result<DpError, BudgetStoreError> {
        match self {
            BudgetStoreError::Dp { source, .. } => Ok(*source),
            e => Err(e),
        }
    }
}

/// Result type of the budget store.
pub type Result<T, E = BudgetStoreError> = std::result::Result<T, E>;

/// What a charge is for: written into the ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRecord {
    /// The command or label that spends, e.g. `pets dp query`, `pets synth fit`,
    /// `notebook: waiting times by trust`. Also the query name in an over-budget error.
    pub what: String,
    /// The data file's name (not its contents).
    pub data: Option<String>,
    /// A free-text note.
    pub note: Option<String>,
    /// A digest of the run's results, when charged after they exist (e.g. an out-of-band
    /// release recorded by the custodian).
    pub results_digest: Option<String>,
    /// Who charged: the `USER` (or `USERNAME`) environment variable by default.
    pub user: Option<String>,
}

impl ChargeRecord {
    /// A record for `what`, with the user from the environment and nothing else.
    pub fn new(what: impl Into<String>) -> ChargeRecord {
        ChargeRecord {
            what: what.into(),
            data: None,
            note: None,
            results_digest: None,
            user: user_from_env(),
        }
    }

    /// With the data file's name.
    pub fn data(mut self, name: impl Into<String>) -> ChargeRecord {
        self.data = Some(name.into());
        self
    }

    /// With a note.
    pub fn note(mut self, note: impl Into<String>) -> ChargeRecord {
        self.note = Some(note.into());
        self
    }

    /// With a digest of the results.
    pub fn results_digest(mut self, digest: impl Into<String>) -> ChargeRecord {
        self.results_digest = Some(digest.into());
        self
    }

    /// With the user set (`None` for no user).
    pub fn user(mut self, user: Option<String>) -> ChargeRecord {
        self.user = user;
        self
    }
}

fn user_from_env() -> Option<String> {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.is_empty())
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

/// Proof that a charge was admitted and written: keep it with the release.
///
/// `entry` and `head` pin the ledger as it was right after this charge: if the budget file
/// later lacks entry `entry`, or holds it with another hash, it was truncated or rewritten
/// ([`BudgetStore::check_receipt`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeReceipt {
    /// The store's identity: the hash of entry 0.
    pub store_id: String,
    /// The dataset the budget is for.
    pub dataset: String,
    /// This charge's entry number (1 for the first charge).
    pub entry: u64,
    /// Entries in the file after this charge, entry 0 included (`entry + 1`).
    pub entries: u64,
    /// This entry's hash: the chain's head right after the charge.
    pub head: String,
    /// When the charge was written (UTC).
    pub at: DateTime<Utc>,
    /// What was charged, as given by the caller.
    pub cost: Cost,
    /// What that took from the budget, in the budget's measure (rounded up).
    pub charged: Cost,
    /// Spent after this charge (rounded up).
    pub spent: Cost,
    /// Left after this charge (rounded down).
    pub remaining: Cost,
    /// The total budget.
    pub total: Cost,
}

/// One charge as read back from the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeEntry {
    /// Entry number (1 for the first charge).
    pub seq: u64,
    /// When it was written (UTC).
    pub at: DateTime<Utc>,
    /// Who charged, if known.
    pub user: Option<String>,
    /// What it was for.
    pub what: String,
    /// The data file's name.
    pub data: Option<String>,
    /// A note.
    pub note: Option<String>,
    /// A digest of the results.
    pub results_digest: Option<String>,
    /// The cost as charged.
    pub cost: Cost,
    /// What it took from the budget, in the budget's measure (rounded up).
    pub charged: Cost,
    /// The entry's hash.
    pub hash: String,
}

/// Where and why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainBreak {
    /// The first entry that does not verify (0 is the budget itself).
    pub entry: u64,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}: {}", self.entry, self.reason)
    }
}

/// A budget file as read now: the budget, what was spent, every charge, and whether the
/// chain verifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// The dataset the budget is for.
    pub dataset: String,
    /// The note given at init.
    pub note: Option<String>,
    /// When the budget was set (UTC).
    pub created: DateTime<Utc>,
    /// Who set it, if known.
    pub created_by: Option<String>,
    /// The total budget.
    pub total: Cost,
    /// Spent by the verified charges (rounded up).
    pub spent: Cost,
    /// Left (rounded down).
    pub remaining: Cost,
    /// The verified charges, in order (those before the break, if the chain is broken).
    pub entries: Vec<ChargeEntry>,
    /// The store's identity: the hash of entry 0.
    pub store_id: String,
    /// The hash of the last verified entry.
    pub head: String,
    /// Where the chain breaks; `None` when every entry verifies.
    pub broken: Option<ChainBreak>,
}

impl BudgetStatus {
    /// True when every entry of the file verifies.
    pub fn verified(&self) -> bool {
        self.broken.is_none()
    }

    /// Entries in the file that verify, entry 0 included.
    pub fn n_entries(&self) -> u64 {
        self.entries.len() as u64 + 1
    }
}

/// Entry 0, as written (without its hash).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InitLine {
    seq: u64,
    kind: String,
    format: u32,
    dataset: String,
    total: Cost,
    note: Option<String>,
    at: DateTime<Utc>,
    user: Option<String>,
}

/// A charge, as written (without its hash).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChargeLine {
    seq: u64,
    kind: String,
    prev: String,
    at: DateTime<Utc>,
    user: Option<String>,
    what: String,
    data: Option<String>,
    note: Option<String>,
    results_digest: Option<String>,
    cost: Cost,
}

/// SHA-256 in lower-case hex.
fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// A line to append: the canonical bytes, then the hash member. Returns (line, hash).
fn seal<T: Serialize>(body: &T) -> (String, String) {
    let canonical = serde_json::to_string(body).expect("budget entries always serialise");
    let hash = sha256_hex(canonical.as_bytes());
    let open = &canonical[..canonical.len() - 1]; // without the closing brace
    (format!("{open},\"hash\":\"{hash}\"}}\n"), hash)
}

/// Split a line into its canonical bytes and its stored hash.
fn unseal(line: &str) -> std::result::Result<(String, &str), String> {
    const TAIL: usize = ",\"hash\":\"".len() + 64 + "\"}".len();
    let bad = || "it does not end with its hash (`,\"hash\":\"<64 hex digits>\"}`)".to_string();
    if line.len() < TAIL + 2 || !line.is_char_boundary(line.len() - TAIL) {
        return Err(bad());
    }
    let (head, tail) = line.split_at(line.len() - TAIL);
    let hash = tail
        .strip_prefix(",\"hash\":\"")
        .and_then(|t| t.strip_suffix("\"}"))
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or_else(bad)?;
    Ok((format!("{head}}}"), hash))
}

/// A file's contents, read and verified.
struct Chain {
    init: InitLine,
    store_id: String,
    head: String,
    accountant: Accountant,
    entries: Vec<ChargeEntry>,
    broken: Option<ChainBreak>,
}

impl Chain {
    /// Read and verify `text`. Errors only when entry 0 is unusable (not a budget file);
    /// a later break is reported in `broken`, with everything before it.
    fn parse(path: &Path, text: &str) -> Result<Chain> {
        let malformed = |reason: String| BudgetStoreError::Malformed {
            path: path.to_path_buf(),
            reason,
        };
        if text.is_empty() {
            return Err(malformed("the file is empty".into()));
        }
        let mut lines = text.split_inclusive('\n');
        let first = lines.next().unwrap_or_default();
        let first = first
            .strip_suffix('\n')
            .ok_or_else(|| malformed("entry 0 is incomplete (no end of line)".into()))?;
        let (canonical, hash) =
            unseal(first).map_err(|r| malformed(format!("entry 0 is not sealed: {r}")))?;
        let init: InitLine = serde_json::from_str(&canonical)
            .map_err(|e| malformed(format!("entry 0 is not a budget header: {e}")))?;
        if init.kind != KIND_INIT || init.seq != 0 {
            return Err(malformed(format!(
                "entry 0 has kind {:?} and number {} (a budget file starts with kind {KIND_INIT:?}, number 0)",
                init.kind, init.seq
            )));
        }
        if init.format != FORMAT {
            return Err(malformed(format!(
                "format {} is not known to this version of pets (it reads format {FORMAT}); \
                 use the pets that wrote it",
                init.format
            )));
        }
        let accountant = Accountant::new(init.total)
            .map_err(|e| malformed(format!("entry 0 holds a total that is not a budget: {e}")))?;
        let mut chain = Chain {
            store_id: hash.to_string(),
            head: hash.to_string(),
            init,
            accountant,
            entries: Vec::new(),
            broken: None,
        };
        if sha256_hex(canonical.as_bytes()) != hash {
            chain.broken = Some(ChainBreak {
                entry: 0,
                reason: "the budget itself was changed after it was written (its hash does not \
                         match its contents)"
                    .into(),
            });
            return Ok(chain);
        }
        for (i, line) in lines.enumerate() {
            let seq = i as u64 + 1;
            if let Err(reason) = chain.push(seq, line) {
                chain.broken = Some(ChainBreak { entry: seq, reason });
                break;
            }
        }
        Ok(chain)
    }

    /// Verify and replay line `seq` (with its end of line).
    fn push(&mut self, seq: u64, line: &str) -> std::result::Result<(), String> {
        let line = line.strip_suffix('\n').ok_or_else(|| {
            "it is incomplete (the file ends mid-line: a run may have stopped while writing \
             it, or the file was cut)"
                .to_string()
        })?;
        let (canonical, hash) = unseal(line)?;
        if sha256_hex(canonical.as_bytes()) != hash {
            return Err(
                "it was changed after it was written (its hash does not match its \
                        contents)"
                    .into(),
            );
        }
        let c: ChargeLine = serde_json::from_str(&canonical)
            .map_err(|e| format!("it is not a charge entry: {e}"))?;
        if c.kind != KIND_CHARGE {
            return Err(format!("its kind is {:?}, not {KIND_CHARGE:?}", c.kind));
        }
        if c.seq != seq {
            return Err(format!(
                "it is numbered {} where entry {seq} should be: entries were deleted, inserted \
                 or reordered",
                c.seq
            ));
        }
        if c.prev != self.head {
            return Err(format!(
                "it does not follow entry {}: its `prev` is not that entry's hash, so an entry \
                 before it was changed, deleted, inserted or reordered",
                seq - 1
            ));
        }
        let charged = self
            .accountant
            .charge(&c.what, &c.cost)
            .map_err(|e| format!("it cannot have been admitted: {e}"))?;
        self.head = hash.to_string();
        self.entries.push(ChargeEntry {
            seq,
            at: c.at,
            user: c.user,
            what: c.what,
            data: c.data,
            note: c.note,
            results_digest: c.results_digest,
            cost: c.cost,
            charged,
            hash: hash.to_string(),
        });
        Ok(())
    }

    fn status(self) -> BudgetStatus {
        BudgetStatus {
            dataset: self.init.dataset,
            note: self.init.note,
            created: self.init.at,
            created_by: self.init.user,
            total: self.init.total,
            spent: self.accountant.spent(),
            remaining: self.accountant.remaining(),
            entries: self.entries,
            store_id: self.store_id,
            head: self.head,
            broken: self.broken,
        }
    }

    fn broken_error(&self, path: &Path) -> Option<BudgetStoreError> {
        self.broken.as_ref().map(|b| BudgetStoreError::Broken {
            path: path.to_path_buf(),
            entry: b.entry,
            reason: b.reason.clone(),
        })
    }
}

/// A persistent privacy budget for one dataset: a locked, append-only, hash-chained file.
/// See the [module documentation](self) for the rule, the format and the guarantees.
#[derive(Debug, Clone)]
pub struct BudgetStore {
    path: PathBuf,
    store_id: String,
    dataset: String,
    total: Cost,
}

impl BudgetStore {
    /// Create the budget file at `path` with `total` to spend on `dataset`.
    ///
    /// Refuses an invalid total ([`Cost::validate_total`]) and an existing file (a budget is
    /// set once: never reset by initialising again). The file appears whole or not at all:
    /// it is written to a temporary file in the same folder, synced, then linked into place.
    pub fn init(
        path: impl AsRef<Path>,
        total: Cost,
        dataset: &str,
        note: Option<&str>,
    ) -> Result<BudgetStore> {
        let path = path.as_ref();
        let invalid = |source| BudgetStoreError::Dp {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        total.validate_total().map_err(invalid)?;
        Accountant::new(total).map_err(invalid)?;
        if dataset.trim().is_empty() {
            return Err(BudgetStoreError::Invalid {
                path: path.to_path_buf(),
                reason: "the budget needs a dataset name (what it is the budget of)".into(),
            });
        }
        let io = |action: &'static str| {
            move |source| BudgetStoreError::Io {
                path: path.to_path_buf(),
                action,
                source,
            }
        };
        if path.exists() {
            return Err(BudgetStoreError::Exists {
                path: path.to_path_buf(),
            });
        }
        let (line, hash) = seal(&InitLine {
            seq: 0,
            kind: KIND_INIT.into(),
            format: FORMAT,
            dataset: dataset.to_string(),
            total,
            note: note.map(str::to_string),
            at: now(),
            user: user_from_env(),
        });
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| {
                io("naming the file")(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the path has no file name",
                ))
            })?
            .to_string_lossy()
            .into_owned();
        // A name no other process (pid) or thread (counter) uses; `create_new` makes sure.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io("creating a temporary file beside it"))?;
        if let Err(e) = f.write_all(line.as_bytes()).and_then(|()| f.sync_all()) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("writing a temporary file beside it")(e));
        }
        drop(f);
        // Link, not rename: a link never replaces an existing file, so two `init`s at the
        // same moment cannot reset each other.
        let placed = match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_file(&tmp);
                return Err(BudgetStoreError::Exists {
                    path: path.to_path_buf(),
                });
            }
            // File systems without hard links: rename, after checking again.
            Err(_) if !path.exists() => std::fs::rename(&tmp, path),
            Err(_) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(BudgetStoreError::Exists {
                    path: path.to_path_buf(),
                });
            }
        };
        let _ = std::fs::remove_file(&tmp);
        placed.map_err(io("moving the new file into place"))?;
        sync_dir(&dir);
        Ok(BudgetStore {
            path: path.to_path_buf(),
            store_id: hash,
            dataset: dataset.to_string(),
            total,
        })
    }

    /// Open the budget file at `path`, verifying its whole chain. Fails with
    /// [`BudgetStoreError::Broken`] if any entry does not verify, and
    /// [`BudgetStoreError::Malformed`] if it is not a budget file.
    pub fn open(path: impl AsRef<Path>) -> Result<BudgetStore> {
        let path = path.as_ref();
        let chain = read_chain(path, false)?.1;
        if let Some(e) = chain.broken_error(path) {
            return Err(e);
        }
        Ok(BudgetStore {
            path: path.to_path_buf(),
            store_id: chain.store_id,
            dataset: chain.init.dataset,
            total: chain.init.total,
        })
    }

    /// Read the file at `path` as it is now, whether or not its chain verifies (for showing a
    /// broken file to the custodian). Fails only when the file cannot be read or is not a
    /// budget file.
    pub fn inspect(path: impl AsRef<Path>) -> Result<BudgetStatus> {
        Ok(read_chain(path.as_ref(), false)?.1.status())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dataset the budget is for.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// The total budget.
    pub fn total(&self) -> Cost {
        self.total
    }

    /// The store's identity: the hash of entry 0.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// The budget as it is now (re-read from the file): total, spent, remaining, every
    /// charge, and whether the chain verifies ([`BudgetStatus::broken`]).
    pub fn status(&self) -> Result<BudgetStatus> {
        let chain = read_chain(&self.path, false)?.1;
        self.same_store(&chain)?;
        Ok(chain.status())
    }

    /// Verify the whole chain now; the first broken entry is the error.
    pub fn verify(&self) -> Result<BudgetStatus> {
        let status = self.status()?;
        match &status.broken {
            Some(b) => Err(BudgetStoreError::Broken {
                path: self.path.clone(),
                entry: b.entry,
                reason: b.reason.clone(),
            }),
            None => Ok(status),
        }
    }

    /// Whether the file still holds the entry `receipt` was given for, with the same hash
    /// (detects truncation or a rewrite since then). Errors if it does not, or if the chain
    /// does not verify.
    pub fn check_receipt(&self, receipt: &ChargeReceipt) -> Result<()> {
        let status = self.verify()?;
        let broken = |reason: String| BudgetStoreError::Broken {
            path: self.path.clone(),
            entry: receipt.entry,
            reason,
        };
        if receipt.store_id != status.store_id {
            return Err(broken(format!(
                "the receipt is for another budget (store {}, this file is store {})",
                receipt.store_id, status.store_id
            )));
        }
        let entry = receipt
            .entry
            .checked_sub(1)
            .and_then(|i| status.entries.get(i as usize));
        match entry {
            None => Err(broken(format!(
                "the receipt shows entry {} but the file ends at entry {}: charges were cut \
                 from the end of the file",
                receipt.entry,
                status.entries.len()
            ))),
            Some(e) if e.hash != receipt.head => Err(broken(
                "the entry's hash is not the one on the receipt: the ledger was rewritten".into(),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Charge `cost` for `what`, or refuse it and write nothing.
    ///
    /// Under an exclusive lock on the file: re-read and verify the whole chain (a broken
    /// chain is [`BudgetStoreError::Broken`]), replay it exactly, charge `cost` (a refusal is
    /// [`DpError::OverBudget`] inside [`BudgetStoreError::Dp`], with what was requested, is
    /// left, was spent and the total; a zCDP cost on an (epsilon, delta) budget is
    /// [`DpError::IncompatibleMeasure`]), append one entry and sync it to disk. The receipt
    /// records the entry number and the new head hash: keep it with the release.
    pub fn charge(&self, cost: &Cost, what: &ChargeRecord) -> Result<ChargeReceipt> {
        let dp = |source| BudgetStoreError::Dp {
            path: self.path.clone(),
            source: Box::new(source),
        };
        cost.validate().map_err(dp)?;
        let io = |action: &'static str| {
            move |source| BudgetStoreError::Io {
                path: self.path.clone(),
                action,
                source,
            }
        };
        let (mut file, mut chain) = read_chain(&self.path, true)?;
        self.same_store(&chain)?;
        if let Some(e) = chain.broken_error(&self.path) {
            return Err(e);
        }
        let charged = chain.accountant.charge(&what.what, cost).map_err(dp)?;
        let seq = chain.entries.len() as u64 + 1;
        let at = now();
        let (line, hash) = seal(&ChargeLine {
            seq,
            kind: KIND_CHARGE.into(),
            prev: chain.head.clone(),
            at,
            user: what.user.clone(),
            what: what.what.clone(),
            data: what.data.clone(),
            note: what.note.clone(),
            results_digest: what.results_digest.clone(),
            cost: *cost,
        });
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(io("finding the end of the file"))?;
        if let Err(e) = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
        {
            // Leave the file as it was: a half-written entry would break the chain.
            let _ = file.set_len(len).and_then(|()| file.sync_data());
            return Err(io("appending the charge")(e));
        }
        file.unlock().map_err(io("unlocking"))?;
        Ok(ChargeReceipt {
            store_id: self.store_id.clone(),
            dataset: self.dataset.clone(),
            entry: seq,
            entries: seq + 1,
            head: hash,
            at,
            cost: *cost,
            charged,
            spent: chain.accountant.spent(),
            remaining: chain.accountant.remaining(),
            total: self.total,
        })
    }

    /// The file must still be the store that was opened (not replaced by another budget).
    fn same_store(&self, chain: &Chain) -> Result<()> {
        if chain.store_id == self.store_id {
            Ok(())
        } else {
            Err(BudgetStoreError::Broken {
                path: self.path.clone(),
                entry: 0,
                reason: format!(
                    "the file now holds another budget (store {}) than the one opened \
                     (store {}): it was replaced",
                    chain.store_id, self.store_id
                ),
            })
        }
    }
}

/// Open and lock `path` (exclusively, for appending, when `write`; shared otherwise), read it
/// whole and verify it. The returned file holds the lock until dropped.
fn read_chain(path: &Path, write: bool) -> Result<(File, Chain)> {
    let io = |action: &'static str| {
        move |source| BudgetStoreError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let mut file = OpenOptions::new()
        .read(true)
        .append(write)
        .open(path)
        .map_err(io("opening"))?;
    if write {
        file.lock().map_err(io("locking"))?;
    } else {
        file.lock_shared().map_err(io("locking for reading"))?;
    }
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(io("reading"))?;
    // Bytes that are not UTF-8 become U+FFFD: the entry holding them then fails its hash.
    let text = String::from_utf8_lossy(&bytes);
    let chain = Chain::parse(path, &text)?;
    Ok((file, chain))
}

/// Sync a folder so a new name in it survives a crash (Unix; a no-op where folders cannot
/// be opened).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
