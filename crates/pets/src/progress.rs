//! Progress of long work, and stopping it cleanly.
//!
//! A job that may run for minutes (encoding tens of millions of rows, the anonymisation
//! search, fitting and sampling a synthesiser) takes a [`Progress`] and, at **safe points**
//! of its loops (between batches of rows, between rounds of the search, between iterations
//! of the inference, between sampling chunks), reports how far it is and asks whether the
//! user wants it to stop. A safe point is one where nothing has been released and no output
//! file is half-written: every writer of pets writes to a temporary file and renames it into
//! place only when the job succeeds, so a job stopped at a safe point leaves nothing behind.
//!
//! The front doors supply the [`Observer`]: the command line draws an `indicatif` bar on a
//! terminal and turns Ctrl-C into a stop request (exit code 130); the Python package drives a
//! `tqdm` bar and turns `KeyboardInterrupt` into one. A stopped job returns
//! [`DataError::Cancelled`], classified as [`ErrorKind::Cancelled`](crate::ErrorKind).
//!
//! Without an observer ([`Progress::none`], the default) every call is a no-op.

use std::sync::Arc;

use crate::data::DataError;

/// What a front door does with the progress of a job.
///
/// Calls come from the thread that runs the job's loop (the caller's thread), at most a few
/// times a second for row counts; implementations must be cheap and must not block.
pub trait Observer: Send + Sync {
    /// A stage begins: its name (`"reading"`, `"searching"`, ...), its size in `unit`s if
    /// known (`"rows"`, `"nodes"`, `"iterations"`).
    fn stage(&self, _name: &str, _total: Option<u64>, _unit: &str) {}
    /// `done` units of the current stage are complete (an absolute count, not an increment).
    fn update(&self, _done: u64) {}
    /// Whether the user asked the job to stop (checked at each safe point).
    fn cancelled(&self) -> bool {
        false
    }
}

/// A job's handle on its observer (cheap to clone; [`Progress::none`] does nothing).
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Observer>>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(observed)"
        } else {
            "Progress(none)"
        })
    }
}

impl Progress {
    /// No observer: nothing is reported and the job never stops early.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// Report to `observer`.
    pub fn new(observer: Arc<dyn Observer>) -> Progress {
        Progress(Some(observer))
    }

    /// A stage begins (see [`Observer::stage`]).
    pub fn stage(&self, name: &str, total: Option<u64>, unit: &str) {
        if let Some(o) = &self.0 {
            o.stage(name, total, unit);
        }
    }

    /// `done` units of the current stage are complete.
    pub fn update(&self, done: u64) {
        if let Some(o) = &self.0 {
            o.update(done);
        }
    }

    /// A safe point: `Err(DataError::Cancelled)` if the user asked to stop.
    pub fn check(&self) -> Result<(), DataError> {
        match &self.0 {
            Some(o) if o.cancelled() => Err(DataError::Cancelled),
            _ => Ok(()),
        }
    }

    /// [`Progress::update`] then [`Progress::check`]: the usual call at the end of a batch.
    pub fn advance(&self, done: u64) -> Result<(), DataError> {
        self.update(done);
        self.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Default)]
    struct Record {
        events: Mutex<Vec<String>>,
        stop: AtomicBool,
    }

    impl Observer for Record {
        fn stage(&self, name: &str, total: Option<u64>, unit: &str) {
            self.events
                .lock()
                .unwrap()
                .push(format!("{name} {total:?} {unit}"));
        }
        fn update(&self, done: u64) {
            self.events.lock().unwrap().push(done.to_string());
        }
        fn cancelled(&self) -> bool {
            self.stop.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn reports_reach_the_observer_and_a_stop_request_is_an_error() {
        let rec = Arc::new(Record::default());
        let p = Progress::new(rec.clone());
        p.stage("reading", Some(10), "rows");
        assert!(p.advance(4).is_ok());
        rec.stop.store(true, Ordering::SeqCst);
        let e = p.advance(8).unwrap_err();
        assert!(matches!(e, DataError::Cancelled));
        assert_eq!(crate::Classify::kind(&e), crate::ErrorKind::Cancelled);
        assert_eq!(crate::ErrorKind::Cancelled.exit_code(), 130);
        assert_eq!(
            *rec.events.lock().unwrap(),
            vec!["reading Some(10) rows", "4", "8"]
        );
    }

    #[test]
    fn without_an_observer_nothing_happens() {
        let p = Progress::none();
        p.stage("x", None, "rows");
        assert!(p.advance(1).is_ok());
        assert_eq!(format!("{p:?}"), "Progress(none)");
    }
}
