//! `pets`: the command line of the pets privacy toolkit — the data release panel's front door.
//!
//! Exit codes: 0 success (or every check passed), 1 a check failed (e.g. a risk threshold),
//! 2 bad usage, 3 bad input data (values, schema), 4 files (not found, unreadable format),
//! 70 an internal error, 130 stopped by Ctrl-C at a safe point (nothing written).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod alloc;
mod anonymise;
mod budget;
mod csv_args;
mod datasets;
mod demo;
mod dp;
mod exit;
mod federated;
#[cfg(feature = "net")]
mod federated_net;
mod outputs;
mod progress;
mod risk;
mod schema;
mod summary;
mod synth;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::CliError;

/// Privacy-enhancing technologies for health data: disclosure risk, differential privacy,
/// synthetic data and federated aggregation.
#[derive(Debug, Parser)]
#[command(name = "pets", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok, 1 check failed, 2 usage, 3 bad input data, 4 file error, 70 internal error, 130 stopped by Ctrl-C (nothing written)."
)]
struct Cli {
    /// Draw no progress bars (they are drawn only on a terminal anyway).
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the end-to-end demo on the bundled A&E generator (the README's first command).
    Demo(demo::DemoArgs),
    /// Generate or describe bundled datasets.
    #[command(subcommand)]
    Datasets(datasets::DatasetsCommand),
    /// Infer, check and print table schemas.
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// Encode a file against its schema and summarise every column.
    Summary(summary::SummaryArgs),
    /// Measure disclosure ("jigsaw" identification) risk and write the release panel's report.
    /// Exits 0 when every check passes and 1 when one fails, so it can gate a pipeline.
    Risk(Box<risk::RiskArgs>),
    /// The least coarsening and suppression that meets the privacy models (k, l, t, ...):
    /// an optimal search over the columns' hierarchies; writes the release, its schema and a
    /// record of what was done.
    Anonymise(Box<anonymise::AnonymiseArgs>),
    /// Count tables safe to publish: the NHS HES/ECDS small-numbers rule, or threshold
    /// suppression with secondary suppression, audited across linked tables by linear
    /// programming. Exits 3 if a small count cannot be protected.
    Table(table::TableArgs),
    /// Output checking (ACRO's rules): frequency tables, crosstabs and pivot tables computed
    /// and checked cell by cell (minimum frequency, zeros, dominance, degrees of freedom),
    /// mitigated if asked, recorded in a bundle for the release panel, and reviewed.
    #[command(subcommand)]
    Outputs(outputs::OutputsCommand),
    /// Differentially private queries under an enforced budget.
    #[command(subcommand)]
    Dp(DpCommand),
    /// Differentially private synthetic data: fit a model, sample from it.
    #[command(subcommand)]
    Synth(synth::SynthCommand),
    /// A dataset's privacy budget kept in a locked, tamper-evident file and spent over many
    /// runs: set it, show it, charge it.
    #[command(subcommand)]
    Budget(budget::BudgetCommand),
    /// Federated aggregation: trusts keep their rows; a DP answer over all of them without
    /// any party seeing one trust's contribution.
    #[command(subcommand)]
    Federated(federated::FederatedCommand),
}

/// `pets dp ...`
#[derive(Debug, Subcommand)]
enum DpCommand {
    /// Answer a query spec (TOML/JSON) over a data file; write results and the budget ledger.
    Query(dp::DpQueryArgs),
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Demo(a) => demo::run(&a),
        Command::Datasets(c) => datasets::run(&c),
        Command::Schema(c) => schema::run(&c),
        Command::Summary(a) => summary::run(&a),
        Command::Risk(a) => Ok(if risk::run(&a)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        Command::Anonymise(a) => {
            // Its memory is per record (about a class a record at the bottom of the
            // lattice): keep resident memory near the live heap (see `alloc`).
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            alloc::return_large_blocks_at_once();
            anonymise::run(&a)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Table(a) => {
            table::run(&a)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Outputs(c) => {
            outputs::run(&c)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dp(DpCommand::Query(a)) => {
            dp::run(&a)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth(c) => {
            synth::run(&c)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Budget(c) => Ok(budget::run(&c)),
        Command::Federated(c) => {
            federated::run(&c)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    progress::init(cli.no_progress);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
