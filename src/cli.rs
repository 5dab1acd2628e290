//! The command line: the same handler as the Lambda, for people and scripts.

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use glue_partition_registrar::aws::{Clients, load_sdk_config};
use glue_partition_registrar::catalog::CatalogError;
use glue_partition_registrar::config::{Config, TableName};
use glue_partition_registrar::core::Deadline;
use glue_partition_registrar::core::event::EventError;
use glue_partition_registrar::core::report::Report;
use glue_partition_registrar::handler::{HandleError, Registrar};
use glue_partition_registrar::maintenance::MaintenanceError;
use glue_partition_registrar::metrics::MetricsConfig;
use glue_partition_registrar::sync::{LogProgress, Progress, SyncError, SyncOptions, sync};
use glue_partition_registrar::{lambda, logging, maintenance};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Configuration comes from the environment: GLUE_TABLES (database.table,...), GLUE_DATABASES,
DELETE_EMPTY_PARTITIONS, LOG_LEVEL, TABLE_CACHE_SECONDS; AWS_REGION, AWS_ENDPOINT_URL and
credentials from the standard AWS chain. Started by the Lambda runtime (AWS_LAMBDA_RUNTIME_API
set) with no subcommand, it serves events.";

#[derive(Debug, Parser)]
#[command(name = "glue-partition-registrar", version, about = "Register AWS Glue partitions the moment objects land in S3", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Process one event document exactly as the Lambda would and print the report as JSON.
    ///
    /// Any event the function accepts: S3, SNS, SQS and EventBridge events, a failure record
    /// from its dead-letter queue, or a `{"backfill": ..}` / `{"sync": ..}` request.
    /// Exit status: 0 when nothing failed, 1 when any object failed, 2 on unusable input or
    /// configuration.
    #[command(after_help = "Examples:
  GLUE_TABLES=analytics.clickstream glue-partition-registrar handle events/s3-put.json
  aws sqs receive-message ... | jq ... | glue-partition-registrar handle -
  glue-partition-registrar handle --dry-run events/sqs-batch.json")]
    Handle {
        /// The event document (JSON), or `-` for stdin.
        file: String,
        /// Resolve and plan, read the catalog, but write nothing to Glue.
        #[arg(long)]
        dry_run: bool,
        /// Also print the CloudWatch Embedded Metric Format lines the Lambda would log, on stderr.
        #[arg(long)]
        metrics: bool,
    },
    /// Print, one JSON line per key, the partition it maps to or why it is skipped.
    ///
    /// Reads the table from Glue and writes nothing.
    #[command(after_help = "Examples:
  glue-partition-registrar explain --table analytics.clickstream \\
      clickstream/year=2026/month=11/day=25/part-0.parquet \\
      s3://my-bucket/clickstream/_SUCCESS")]
    Explain {
        /// The table, as database.table.
        #[arg(long)]
        table: String,
        /// Object keys in the table's bucket, or s3://bucket/key URIs.
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Register every partition under the table's location that the catalog lacks.
    ///
    /// The one-time migration from a crawler or `MSCK REPAIR TABLE`: Hive layouts are walked
    /// level by level (one S3 listing per directory, not per object), template layouts are
    /// listed. Prints the report; exit status as for `handle`.
    #[command(after_help = "Examples:
  glue-partition-registrar backfill --table analytics.clickstream --dry-run
  glue-partition-registrar backfill --table analytics.clickstream --concurrency 16")]
    Backfill {
        #[command(flatten)]
        run: SyncArgs,
    },
    /// Like backfill; with --prune also drop catalog partitions whose location holds no data,
    /// with --update-schema also bring partitions' schemas in line with the table's.
    ///
    /// Never deletes without --prune; with --dry-run prints the plan (and, with
    /// --update-schema, what differs) and writes nothing.
    #[command(after_help = "Examples:
  glue-partition-registrar sync --table analytics.clickstream --prune --dry-run
  glue-partition-registrar sync --table analytics.clickstream --prune
  glue-partition-registrar sync --table analytics.clickstream --update-schema --dry-run")]
    Sync {
        #[command(flatten)]
        run: SyncArgs,
        /// Also delete partitions whose location holds no object any more.
        #[arg(long)]
        prune: bool,
        /// Also update every partition whose columns, formats or SerDe differ from the
        /// table's (after a column was added), keeping each partition's location.
        #[arg(long)]
        update_schema: bool,
    },
}

#[derive(Debug, clap::Args)]
struct SyncArgs {
    /// The table, as database.table.
    #[arg(long)]
    table: String,
    /// Plan and read, but write nothing to Glue.
    #[arg(long)]
    dry_run: bool,
    /// S3 listings and Glue requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
}

/// Exit statuses (README, "The command line").
const FAILED: u8 = 1;
const UNUSABLE: u8 = 2;

pub async fn run(cli: Cli) -> ExitCode {
    let Some(command) = cli.command else {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return serve_lambda().await;
        }
        eprintln!(
            "error: no subcommand given; see --help (the Lambda runtime starts this binary without one)"
        );
        return ExitCode::from(UNUSABLE);
    };
    logging::init("warn", true);
    let result = match command {
        Command::Handle {
            file,
            dry_run,
            metrics,
        } => handle(&file, dry_run, metrics).await,
        Command::Explain { table, keys } => explain(&table, &keys).await,
        Command::Backfill { run } => run_sync(run, false, false).await,
        Command::Sync {
            run,
            prune,
            update_schema,
        } => run_sync(run, prune, update_schema).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(UNUSABLE)
        }
    }
}

async fn serve_lambda() -> ExitCode {
    logging::init("info", false);
    let registrar = match Config::from_env() {
        Ok(config) => Registrar::new(Clients::new(&load_sdk_config().await), config),
        Err(e) => {
            tracing::error!(error = %e, "configuration error");
            return ExitCode::from(UNUSABLE);
        }
    };
    // Boxed: the runtime's service stack is deep enough to overflow the compiler's layout
    // limit inside this function's future.
    match Box::pin(lambda::serve(registrar)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Lambda runtime stopped");
            ExitCode::from(FAILED)
        }
    }
}

async fn registrar(config: Config) -> anyhow::Result<Registrar> {
    let sdk = load_sdk_config().await;
    if sdk.region().is_none() {
        return Err(anyhow!(
            "no AWS region: set AWS_REGION (or a profile with a region)"
        ));
    }
    Ok(Registrar::new(Clients::new(&sdk), config))
}

/// The event document's bytes: from stdin, or a file mapped rather than copied (a
/// 10,000-record batch is megabytes, and copying it into fresh memory was a sixth of the
/// command's CPU).
enum EventBytes {
    Read(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl EventBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Read(v) => v,
            Self::Mapped(m) => m,
        }
    }
}

/// The event document, and what to call it in messages.
fn read_event(file: &str) -> anyhow::Result<(EventBytes, String)> {
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the event from stdin")?;
        return Ok((EventBytes::Read(bytes), "stdin".to_owned()));
    }
    let opened =
        std::fs::File::open(file).with_context(|| format!("cannot read event file `{file}`"))?;
    // SAFETY: the map is read once, while this command runs; an event file changed under a
    // running command is its user's doing, and at worst makes the event unreadable.
    // Populated at once: one call maps every page, where touching them faulted once per few.
    let mapped = unsafe { memmap2::MmapOptions::new().populate().map(&opened) };
    let bytes = match mapped {
        Ok(m) => EventBytes::Mapped(m),
        // Not mappable (a pipe, a special file): read it.
        Err(_) => EventBytes::Read(
            std::fs::read(file).with_context(|| format!("cannot read event file `{file}`"))?,
        ),
    };
    Ok((bytes, format!("`{file}`")))
}

/// The exit status of an error that stops a command: 1 when a call failed (running again
/// may succeed), 2 when the input or the configuration cannot work.
trait ExitStatus: std::fmt::Display {
    fn status(&self) -> u8;

    /// Say what went wrong, and exit with its status.
    fn exit(&self) -> ExitCode {
        eprintln!("error: {self}");
        ExitCode::from(self.status())
    }
}

impl ExitStatus for CatalogError {
    fn status(&self) -> u8 {
        match self {
            Self::Call(_) => FAILED,
            _ => UNUSABLE,
        }
    }
}

impl ExitStatus for SyncError {
    fn status(&self) -> u8 {
        match self {
            Self::Catalog(e) => e.status(),
            Self::NotServed(_) => UNUSABLE,
        }
    }
}

impl ExitStatus for MaintenanceError {
    fn status(&self) -> u8 {
        match self {
            Self::Sync(e) => e.status(),
            _ => UNUSABLE,
        }
    }
}

impl ExitStatus for HandleError {
    fn status(&self) -> u8 {
        match self {
            Self::Catalog(e) => e.status(),
            Self::Event(_) => UNUSABLE,
        }
    }
}

/// 0 when nothing failed, 1 when something did.
fn exit_for_report(report: &Report) -> ExitCode {
    if report.has_failures() {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

async fn handle(file: &str, dry_run: bool, metrics: bool) -> anyhow::Result<ExitCode> {
    let (bytes, source) = read_event(file)?;
    let event = std::str::from_utf8(bytes.bytes())
        .with_context(|| format!("the event in {source} is not UTF-8 text"))?;
    let config = Config::from_env()?;
    let registrar = registrar(config).await?;
    if let Some(request) = maintenance::parse(event) {
        let run = match request {
            Ok(request) => {
                maintenance::run(&registrar, &request.dry_run(dry_run), Deadline::NONE).await
            }
            Err(e) => Err(e),
        };
        return match run {
            Ok(report) => {
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(exit_for_report(&report))
            }
            Err(e) => Ok(e.exit()),
        };
    }
    match registrar.handle_text(event, dry_run, Deadline::NONE).await {
        Ok(outcome) => {
            if metrics {
                glue_partition_registrar::metrics::emit(
                    &MetricsConfig::from_env(),
                    &outcome,
                    None,
                    true,
                );
            }
            println!("{}", serde_json::to_string_pretty(&outcome.report)?);
            Ok(exit_for_report(&outcome.report))
        }
        Err(HandleError::Event(EventError::NotJson(e))) => {
            eprintln!("error: the event in {source} is not valid JSON: {e}");
            Ok(ExitCode::from(UNUSABLE))
        }
        Err(e) => Ok(e.exit()),
    }
}

async fn explain(table: &str, keys: &[String]) -> anyhow::Result<ExitCode> {
    let table = TableName::parse(table)?;
    let registrar = registrar(Config::for_table_from_env(&table)?).await?;
    match registrar.explain(keys).await {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(e.exit()),
    }
}

/// A progress bar on a terminal; log lines otherwise.
struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn phase(&self, name: &str, total: Option<u64>) {
        self.0.reset();
        self.0.set_message(name.to_owned());
        self.0.set_length(total.unwrap_or(0));
        let template = if total.is_some() {
            "{msg:>20} [{bar:40}] {pos}/{len} ({eta})"
        } else {
            "{spinner} {msg} ({pos} levels)"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            self.0.set_style(style.progress_chars("=> "));
        }
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

async fn run_sync(args: SyncArgs, prune: bool, update_schema: bool) -> anyhow::Result<ExitCode> {
    let table = TableName::parse(&args.table)?;
    let registrar = registrar(Config::for_table_from_env(&table)?).await?;
    let options = SyncOptions {
        dry_run: args.dry_run,
        prune,
        update_schema,
        concurrency: usize::from(args.concurrency),
        ..SyncOptions::default()
    };
    let terminal = std::io::stderr().is_terminal();
    let bar = Bar(indicatif::ProgressBar::new(0));
    let progress: &dyn Progress = if terminal { &bar } else { &LogProgress };
    // Boxed: the sync future is deep enough to overflow the compiler's layout limit inline.
    let result = Box::pin(sync(&registrar, &table, &options, progress)).await;
    bar.0.finish_and_clear();
    match result {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!(
                "{}: {} created, {} already registered, {} deleted, {} updated, {} skipped, {} failed{}",
                table,
                report.created.len(),
                report.existing.len(),
                report.deleted.len(),
                report.updated.len(),
                report.skipped.len(),
                report.failed.len(),
                if args.dry_run {
                    " (dry run: nothing written)"
                } else {
                    ""
                }
            );
            Ok(exit_for_report(&report))
        }
        Err(e) => Ok(e.exit()),
    }
}
