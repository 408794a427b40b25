//! Progress and Ctrl-C for long jobs called from Python.
//!
//! [`observer`] wraps an optional Python callable as a [`pets::progress::Observer`]: the
//! job's stages and counts are passed to it (`callback("stage", name, total, unit)`,
//! `callback("update", done)`; the Python side drives a `tqdm` bar with them), at most ten
//! times a second. Whether or not there is a callback, the observer checks for Ctrl-C: the
//! job runs with the interpreter detached, so Python's own handler cannot interrupt it;
//! at each safe point on the calling thread the observer attaches briefly and asks Python
//! whether a signal arrived (`PyErr_CheckSignals`). If one did (a `KeyboardInterrupt`), the
//! job stops there with [`pets::data::DataError::Cancelled`], which the error mapping turns
//! back into `KeyboardInterrupt`, with nothing written.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use pets::progress::{Observer, Progress};
use pyo3::prelude::*;

/// How often the callback is told of counts, and signals are checked, at most.
const INTERVAL: Duration = Duration::from_millis(100);

struct PyObserver {
    callback: Option<Py<PyAny>>,
    /// The thread that called into Rust: the only one Python delivers signals to.
    caller: ThreadId,
    stop: AtomicBool,
    last_update: Mutex<Option<Instant>>,
    last_check: Mutex<Option<Instant>>,
}

/// Whether at least [`INTERVAL`] passed since `*last` (and if so, restart the clock).
fn due(last: &Mutex<Option<Instant>>) -> bool {
    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    match *last {
        Some(t) if now.duration_since(t) < INTERVAL => false,
        _ => {
            *last = Some(now);
            true
        }
    }
}

/// A failing progress display must not fail the job: print its error and go on.
fn report(py: Python<'_>, result: PyResult<Py<PyAny>>) {
    if let Err(e) = result {
        e.print(py);
    }
}

impl Observer for PyObserver {
    fn stage(&self, name: &str, total: Option<u64>, unit: &str) {
        if let Some(cb) = &self.callback {
            Python::attach(|py| report(py, cb.call1(py, ("stage", name, total, unit))));
        }
        *self.last_update.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn update(&self, done: u64) {
        if let Some(cb) = &self.callback
            && due(&self.last_update)
        {
            Python::attach(|py| report(py, cb.call1(py, ("update", done))));
        }
    }

    fn cancelled(&self) -> bool {
        if self.stop.load(Ordering::SeqCst) {
            return true;
        }
        if std::thread::current().id() != self.caller || !due(&self.last_check) {
            return false;
        }
        let interrupted = Python::attach(|py| py.check_signals().is_err());
        if interrupted {
            self.stop.store(true, Ordering::SeqCst);
        }
        interrupted
    }
}

/// The [`Progress`] of a job called from Python, reporting to `callback` (if any) and
/// stopping on Ctrl-C. Call on the thread that will run the job.
pub fn observer(callback: Option<Py<PyAny>>) -> Progress {
    Progress::new(Arc::new(PyObserver {
        callback,
        caller: std::thread::current().id(),
        stop: AtomicBool::new(false),
        last_update: Mutex::new(None),
        last_check: Mutex::new(None),
    }))
}
