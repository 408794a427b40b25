//! Progress bars on standard error (drawn only when it is a terminal, and not with
//! `--no-progress`), and Ctrl-C as a request to stop at the job's next safe point.
//!
//! The first Ctrl-C sets a flag that the running core job reads at its safe points
//! ([`pets::progress`]): it stops before anything is released or written, and the command
//! exits with 130. A second Ctrl-C exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pets::progress::{Observer, Progress};

/// Set by Ctrl-C: the running job stops at its next safe point.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by `--no-progress`: no bar is drawn.
static HIDDEN: AtomicBool = AtomicBool::new(false);

/// Install the Ctrl-C handler (once, at start-up) and remember `--no-progress`.
pub fn init(no_progress: bool) {
    HIDDEN.store(no_progress, Ordering::Relaxed);
    // Failing to install a handler (another one exists) leaves Ctrl-C's default: the
    // process ends at once, and atomic writers' temporary files may remain.
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\nstopping at the next safe point (nothing will be written); Ctrl-C again to quit now"
        );
    });
}

fn new_bar(bar: ProgressBar) -> ProgressBar {
    if HIDDEN.load(Ordering::Relaxed) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// A bar counting rows towards `total`.
pub fn rows_bar(total: u64, what: &str) -> ProgressBar {
    let bar = new_bar(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown length.
pub fn spinner(what: &str) -> ProgressBar {
    let bar = new_bar(ProgressBar::new_spinner());
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// The observer a core job reports to: one bar, restyled at each stage.
struct BarObserver {
    bar: ProgressBar,
    what: String,
}

impl Observer for BarObserver {
    fn stage(&self, name: &str, total: Option<u64>, unit: &str) {
        let template = match total {
            Some(n) => {
                self.bar.set_length(n);
                format!("{{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{eta}} left)")
            }
            None => {
                self.bar.unset_length();
                format!("{{spinner}} {{msg}} {{human_pos}} {unit}")
            }
        };
        self.bar.set_style(
            ProgressStyle::with_template(&template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_message(format!("{}: {name}", self.what));
        self.bar.set_position(0);
    }

    fn update(&self, done: u64) {
        self.bar.set_position(done);
    }

    fn cancelled(&self) -> bool {
        STOP.load(Ordering::SeqCst)
    }
}

/// A core job's progress for `what` (shown as the bar's prefix), and the bar to clear when
/// the job returns.
pub fn job(what: &str) -> (Progress, ProgressBar) {
    let bar = new_bar(ProgressBar::new_spinner());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let observer = BarObserver {
        bar: bar.clone(),
        what: what.to_string(),
    };
    (Progress::new(Arc::new(observer)), bar)
}
