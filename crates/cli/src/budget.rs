//! `pets budget init|show|charge`: a dataset's privacy budget, kept in a file and spent over
//! many runs.
//!
//! ```text
//! pets budget init ae.budget --epsilon 2 --dataset ae-2026-q3 --note "panel of 3 Sep"
//! pets budget show ae.budget
//! pets budget charge ae.budget --epsilon 0.25 --what "tables sent to the trust board"
//! ```
//!
//! The file is an append-only, hash-chained ledger (`pets::dp::budget_store`): `init` sets the
//! budget once (it never overwrites a file), `show` prints the budget, every charge and
//! whether the chain verifies, and `charge` records a release made outside pets (under a
//! lock, refused if it does not fit). Exit codes: 0 ok, 2 bad usage (an invalid budget or
//! cost), 3 a broken or malformed file or a charge over budget, 4 file errors.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use pets::dp::Cost;
use pets::dp::budget_store::{
    BudgetErrorKind, BudgetStatus, BudgetStore, BudgetStoreError, ChargeRecord,
};

/// `pets budget ...`
#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Set a dataset's total budget in a new budget file (never overwrites one).
    Init(InitArgs),
    /// Show a budget file: total, spent, remaining, every charge, and whether its
    /// tamper-evident chain verifies (exit 3 if it does not).
    Show(ShowArgs),
    /// Charge a release made outside pets to a budget file (refused, exit 3, if it does not
    /// fit).
    Charge(ChargeArgs),
}

/// A privacy cost on the command line.
#[derive(Debug, Args)]
pub struct CostArgs {
    /// Pure epsilon-DP (or (epsilon, delta)-DP with --delta).
    #[arg(long, conflicts_with = "rho", required_unless_present = "rho")]
    pub epsilon: Option<f64>,
    /// rho-zCDP (Gaussian-type noise).
    #[arg(long)]
    pub rho: Option<f64>,
    /// Delta; 0 if none.
    #[arg(long, default_value_t = 0.0)]
    pub delta: f64,
}

impl CostArgs {
    fn cost(&self) -> Cost {
        match (self.epsilon, self.rho) {
            (Some(e), _) => Cost::epsilon(e).with_delta(self.delta),
            (None, Some(r)) => Cost::rho(r).with_delta(self.delta),
            (None, None) => unreachable!("clap requires --epsilon or --rho"),
        }
    }
}

/// Options of `pets budget init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The budget file to create.
    pub file: PathBuf,
    /// The total budget.
    #[command(flatten)]
    pub total: CostArgs,
    /// The dataset this is the budget of.
    #[arg(long)]
    pub dataset: String,
    /// A note (who decided, when, why).
    #[arg(long)]
    pub note: Option<String>,
}

/// Options of `pets budget show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The budget file.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Options of `pets budget charge`.
#[derive(Debug, Args)]
pub struct ChargeArgs {
    /// The budget file.
    pub file: PathBuf,
    /// What the release cost.
    #[command(flatten)]
    pub cost: CostArgs,
    /// What was released (recorded in the ledger).
    #[arg(long)]
    pub what: String,
    /// The data file's name.
    #[arg(long)]
    pub data: Option<String>,
    /// A note.
    #[arg(long)]
    pub note: Option<String>,
    /// A digest of the released results (e.g. their SHA-256).
    #[arg(long)]
    pub results_digest: Option<String>,
    /// Print the receipt as JSON (keep it with the release).
    #[arg(long)]
    pub json: bool,
}

/// Run `pets budget ...`; errors are printed here, with their exit code.
pub fn run(cmd: &BudgetCommand) -> ExitCode {
    let done = match cmd {
        BudgetCommand::Init(a) => init(a),
        BudgetCommand::Show(a) => show(a),
        BudgetCommand::Charge(a) => charge(a),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit code of a budget error (see the module docs).
fn exit_code(e: &BudgetStoreError) -> u8 {
    match e.kind() {
        BudgetErrorKind::Invalid => 2,
        BudgetErrorKind::Broken | BudgetErrorKind::OverBudget => 3,
        BudgetErrorKind::File => 4,
        _ => 3,
    }
}

fn init(a: &InitArgs) -> Result<(), BudgetStoreError> {
    let store = BudgetStore::init(&a.file, a.total.cost(), &a.dataset, a.note.as_deref())?;
    eprintln!(
        "pets budget: {} set for {:?} in {} (store {})",
        store.total(),
        store.dataset(),
        a.file.display(),
        short(store.store_id())
    );
    Ok(())
}

fn show(a: &ShowArgs) -> Result<(), BudgetStoreError> {
    let status = BudgetStore::inspect(&a.file)?;
    if a.json {
        let json = serde_json::to_string_pretty(&status).expect("a status serialises");
        println!("{json}");
    } else {
        print!("{}", render(&a.file, &status));
    }
    match status.broken {
        None => Ok(()),
        Some(b) => Err(BudgetStoreError::Broken {
            path: a.file.clone(),
            entry: b.entry,
            reason: b.reason,
        }),
    }
}

fn charge(a: &ChargeArgs) -> Result<(), BudgetStoreError> {
    let mut record = ChargeRecord::new(&a.what);
    record.data.clone_from(&a.data);
    record.note.clone_from(&a.note);
    record.results_digest.clone_from(&a.results_digest);
    let receipt = BudgetStore::open(&a.file)?.charge(&a.cost.cost(), &record)?;
    if a.json {
        let json = serde_json::to_string_pretty(&receipt).expect("a receipt serialises");
        println!("{json}");
    }
    eprintln!(
        "pets budget: charged {} to {:?} (entry {}); spent {} of {}, {} left",
        receipt.charged,
        receipt.dataset,
        receipt.entry,
        receipt.spent,
        receipt.total,
        receipt.remaining
    );
    Ok(())
}

fn when(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// The text of `pets budget show`.
fn render(file: &std::path::Path, s: &BudgetStatus) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "budget file  {}", file.display());
    let _ = writeln!(o, "dataset      {}", s.dataset);
    if let Some(n) = &s.note {
        let _ = writeln!(o, "note         {n}");
    }
    let _ = writeln!(
        o,
        "set          {} by {}",
        when(&s.created),
        s.created_by.as_deref().unwrap_or("(unknown)")
    );
    let _ = writeln!(o, "total        {}", s.total);
    let _ = writeln!(
        o,
        "spent        {} in {} charge{}",
        s.spent,
        s.entries.len(),
        if s.entries.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(o, "remaining    {}", s.remaining);
    let _ = writeln!(o, "store id     {}", s.store_id);
    if !s.entries.is_empty() {
        let _ = writeln!(o, "\ncharges:");
    }
    for e in &s.entries {
        let cost = if e.cost == e.charged {
            e.cost.to_string()
        } else {
            format!("{} (charged as {})", e.cost, e.charged)
        };
        let _ = writeln!(
            o,
            "  #{:<4} {}  {:<12} {}",
            e.seq,
            when(&e.at),
            e.user.as_deref().unwrap_or("(unknown)"),
            cost
        );
        let mut what = format!("        {}", e.what);
        if let Some(d) = &e.data {
            let _ = write!(what, " [data: {d}]");
        }
        let _ = writeln!(o, "{what}");
        if let Some(n) = &e.note {
            let _ = writeln!(o, "        note: {n}");
        }
        if let Some(d) = &e.results_digest {
            let _ = writeln!(o, "        results digest: {d}");
        }
    }
    let _ = writeln!(o);
    match &s.broken {
        None => {
            let _ = writeln!(
                o,
                "chain verified: {} entries, head {}",
                s.n_entries(),
                s.head
            );
        }
        Some(b) => {
            let _ = writeln!(
                o,
                "CHAIN BROKEN at entry {}: {}\n(only the entries before it are shown and counted)",
                b.entry, b.reason
            );
        }
    }
    o
}
