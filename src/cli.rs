//! The command line: the same handler as the Lambda, for people and scripts. Settings are
//! read once (`Settings::from_env`) and every command takes them from there.

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use glue_partition_registrar::aws::{Clients, load_sdk_config};
use glue_partition_registrar::config::{Config, Settings, TableName};
use glue_partition_registrar::core::Deadline;
use glue_partition_registrar::core::event::EventError;
use glue_partition_registrar::core::pass::CursorRef;
use glue_partition_registrar::core::report::Report;
use glue_partition_registrar::core::request::Step;
use glue_partition_registrar::handler::{Explained, HandleError, Registrar};
use glue_partition_registrar::invocation::{self, Answer, InvocationError, Options};
use glue_partition_registrar::sync::{
    self, LogProgress, PassRequest, Progress, Ran, SyncOptions, WalkProgress,
};
use glue_partition_registrar::{lambda, logging, metrics};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::time::Instant;

const AFTER_HELP: &str = "\
Configuration comes from the environment:
  GLUE_TABLES              database.table,...  the tables served (handle), or s3://bucket/key
                           of an object listing them
  GLUE_DATABASES           databases whose every partitioned table is served (handle)
  GLUE_CATALOG_ID          the Data Catalog's account, when it is another account's
  DELETE_EMPTY_PARTITIONS  true: drop a partition once its location holds no data
  SCHEMA_DRIFT_DETECTION   true: compare new Parquet files' columns with the table's
  TABLE_CACHE_SECONDS      how long a warm process trusts table metadata (300)
  LOG_LEVEL                error, warn, info, debug (warn for the CLI)
  METRICS_NAMESPACE        CloudWatch namespace of the metrics (GluePartitionRegistrar)
  METRICS_PER_TABLE        false: no per-table metrics
  POWERTOOLS_SERVICE_NAME  the `service` of log lines and metrics (glue-partition-registrar)
  CHECKPOINT_URI           where backfill and sync passes keep their state between runs
                           (s3://bucket/prefix/ or file:///dir/; a temporary directory)
  COMPLETION_BUS           EventBridge bus for Partition Complete events (none by default)
  TABLE_SETTINGS           JSON, per database.table: registration (first_object or marker),
                           marker (_SUCCESS), complete_after (15m): registration policies
AWS_REGION, AWS_ENDPOINT_URL and credentials come from the standard AWS chain. Started by
the Lambda runtime (AWS_LAMBDA_RUNTIME_API set) with no subcommand, it serves events.";

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
    #[command(after_help = "Examples (the files are in the repository's events/):
  GLUE_TABLES=analytics.clickstream glue-partition-registrar handle events/s3-object-created.json
  aws sqs receive-message ... | jq ... | glue-partition-registrar handle -
  glue-partition-registrar handle --dry-run events/sqs-s3.json")]
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
    /// The one-time migration from a crawler or `MSCK REPAIR TABLE`. The table's prefix is
    /// listed flat, 1,000 keys a request, many listings at once (the key space cut into
    /// units); large partitions and hidden or foreign directories are stepped over. Prints
    /// the report; exit status as for `handle`. A run that stops (Ctrl-C aside: a failed
    /// listing or registration) says where in the report's `cursor`: `--resume` goes on.
    #[command(after_help = "Examples:
  glue-partition-registrar backfill --table analytics.clickstream --dry-run
  glue-partition-registrar backfill --table analytics.clickstream --concurrency 32 > run.json
  glue-partition-registrar backfill --table analytics.clickstream --resume @run.json")]
    Backfill {
        #[command(flatten)]
        run: SyncArgs,
    },
    /// Like backfill; with --prune also drop catalog partitions whose location holds no data,
    /// with --update-schema also bring partitions' schemas in line with the table's.
    ///
    /// Never deletes without --prune, and never before the whole table was walked (by this
    /// run, or the runs its --resume continues); with --dry-run prints the plan (and, with
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
    /// S3 listings in flight at most: the walk starts at 16 and grows towards this while S3
    /// answers as fast, halving when it answers SlowDown.
    #[arg(long, default_value_t = sync::DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Glue requests in flight at once.
    #[arg(long, default_value_t = sync::DEFAULT_GLUE_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=64))]
    glue_concurrency: u16,
    /// Continue a stopped pass: its cursor as JSON, or `@FILE` holding the cursor or a
    /// report that has one (`-` reads stdin). The cursor names the pass; its state is in the
    /// checkpoint store (`--checkpoint`).
    #[arg(long)]
    resume: Option<String>,
    /// Walk only the partitions of the last N days (tables whose first partition keys are
    /// dates: year/month/day, dt, date, ...); others are walked whole.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=366))]
    window_days: Option<u32>,
    /// Where the pass keeps its checkpoints between runs: s3://bucket/prefix/ or
    /// file:///directory/ (default: CHECKPOINT_URI, else a directory under the system's
    /// temporary directory).
    #[arg(long)]
    checkpoint: Option<String>,
}

/// Exit statuses (README, "The command line").
const FAILED: u8 = 1;
const UNUSABLE: u8 = 2;

pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(UNUSABLE);
        }
    };
    let Some(command) = cli.command else {
        if settings.lambda_runtime {
            return serve_lambda(settings).await;
        }
        eprintln!(
            "error: no subcommand given; see --help (the Lambda runtime starts this binary without one)"
        );
        return ExitCode::from(UNUSABLE);
    };
    // The SDK's own warnings (a region looked for on instance metadata) would bury the one
    // line that says what to do.
    logging::init(
        settings.log_level.as_deref(),
        "warn,aws_config=error,aws_smithy_runtime=error",
        &settings.metrics.service,
        true,
    );
    let result = match command {
        Command::Handle {
            file,
            dry_run,
            metrics,
        } => handle(&settings, &file, dry_run, metrics).await,
        Command::Explain { table, keys } => explain(&settings, &table, &keys).await,
        Command::Backfill { run } => run_sync(&settings, run, false, false).await,
        Command::Sync {
            run,
            prune,
            update_schema,
        } => run_sync(&settings, run, prune, update_schema).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(UNUSABLE)
        }
    }
}

async fn serve_lambda(settings: Settings) -> ExitCode {
    logging::init(
        settings.log_level.as_deref(),
        "info",
        &settings.metrics.service,
        false,
    );
    if let Err(e) = settings.registrar.require_tables() {
        tracing::error!(error = %e, "configuration error");
        return ExitCode::from(UNUSABLE);
    }
    let sdk = load_sdk_config(settings.endpoint.as_deref()).await;
    let registrar = Registrar::new(Clients::new(&sdk), settings.registrar);
    // Boxed: the runtime's service stack is deep enough to overflow the compiler's layout
    // limit inside this function's future.
    match Box::pin(lambda::serve(registrar, settings.metrics)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Lambda runtime stopped");
            ExitCode::from(FAILED)
        }
    }
}

async fn registrar(settings: &Settings, config: Config) -> anyhow::Result<Registrar> {
    let sdk = load_sdk_config(settings.endpoint.as_deref()).await;
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

/// Say what stopped a command, and exit 1 when a call failed (running again may succeed),
/// 2 when the input or the configuration cannot work.
fn exit_on(error: &InvocationError, source: &str) -> ExitCode {
    match error {
        InvocationError::Event(HandleError::Event(EventError::NotJson(e))) => {
            eprintln!("error: the event in {source} is not valid JSON: {e}")
        }
        e => eprintln!("error: {e}"),
    }
    ExitCode::from(if error.is_unusable() {
        UNUSABLE
    } else {
        FAILED
    })
}

/// 0 when nothing failed, 1 when something did.
fn exit_for(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

async fn handle(
    settings: &Settings,
    file: &str,
    dry_run: bool,
    emit: bool,
) -> anyhow::Result<ExitCode> {
    let (bytes, source) = read_event(file)?;
    let payload = std::str::from_utf8(bytes.bytes())
        .with_context(|| format!("the event in {source} is not UTF-8 text"))?;
    settings.registrar.require_tables()?;
    let registrar = registrar(settings, settings.registrar.clone()).await?;
    let progress = LogProgress::default();
    let options = Options {
        dry_run,
        event_deadline: Deadline::NONE,
        repair_deadline: Deadline::NONE,
        progress: &progress,
    };
    let answer = match invocation::run(&registrar, payload, &options).await {
        Ok(answer) => answer,
        Err(e) => return Ok(exit_on(&e, &source)),
    };
    if let (true, Answer::Event(outcome)) = (emit, &answer) {
        metrics::emit(&settings.metrics, outcome, None, true);
    }
    let failed = answer.has_failures();
    let printed = match &answer {
        Answer::Event(outcome) => serde_json::to_string_pretty(&outcome.report)?,
        Answer::Maintenance { report, summary } if *summary => {
            serde_json::to_string_pretty(&report.summary())?
        }
        Answer::Maintenance { report, .. } => serde_json::to_string_pretty(report)?,
        Answer::Split(plan) => serde_json::to_string_pretty(plan)?,
        Answer::Planned(planned) => serde_json::to_string_pretty(planned)?,
        Answer::Reviewed(reviewed) => serde_json::to_string_pretty(reviewed)?,
    };
    println!("{printed}");
    Ok(exit_for(failed))
}

async fn explain(settings: &Settings, table: &str, keys: &[String]) -> anyhow::Result<ExitCode> {
    let table = TableName::parse(table)?;
    let config = settings.registrar.clone().serving_only(table);
    let registrar = registrar(settings, config).await?;
    for line in registrar.explain(keys).await {
        let json = match line {
            Explained::Partition {
                uri,
                table,
                values,
                location,
            } => {
                serde_json::json!({"key": uri, "table": table, "values": values, "location": location})
            }
            Explained::Skipped { uri, reason } => {
                serde_json::json!({"key": uri, "skipped": reason})
            }
        };
        println!("{json}");
    }
    Ok(ExitCode::SUCCESS)
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
            "{spinner} {msg}"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            self.0.set_style(style.progress_chars("=> "));
        }
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }

    fn walk(&self, at: &WalkProgress) {
        self.0.set_message(format!(
            "walking: {}/{} units, {} objects, {} partitions, {:.0} objects/s",
            at.units_done,
            at.units,
            at.objects,
            at.partitions,
            at.rate()
        ));
        self.0.tick();
    }
}

/// A cursor from `--resume`: JSON, or `@FILE` (`@-` for stdin) holding a cursor or a report.
fn read_cursor(text: &str) -> anyhow::Result<CursorRef> {
    let json = match text.strip_prefix('@') {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the cursor file `{path}`"))?,
        None => text.to_owned(),
    };
    let value: serde_json::Value =
        serde_json::from_str(&json).context("--resume is not JSON (a cursor, or a report)")?;
    let cursor = match value.get("cursor") {
        Some(serde_json::Value::Null) => {
            return Err(anyhow!(
                "the report given to --resume has no cursor: its pass is over"
            ));
        }
        Some(c) => c.clone(),
        None => value,
    };
    serde_json::from_value(cursor).context("--resume is not a cursor")
}

async fn run_sync(
    settings: &Settings,
    args: SyncArgs,
    prune: bool,
    update_schema: bool,
) -> anyhow::Result<ExitCode> {
    let table = TableName::parse(&args.table)?;
    let step = match args.resume.as_deref().map(read_cursor).transpose()? {
        None => Step::Start,
        Some(cursor) if cursor.table != table.to_string() => {
            return Err(anyhow!(
                "the cursor is for table {}, not {table}: resume a pass with its own cursor",
                cursor.table
            ));
        }
        Some(CursorRef {
            pass,
            group: Some(group),
            ..
        }) => Step::Group { pass, group },
        Some(CursorRef { pass, .. }) => Step::Finish { pass },
    };
    let mut config = settings.registrar.clone().serving_only(table.clone());
    if let Some(uri) = args.checkpoint {
        config.checkpoint = Some(uri);
    }
    let registrar = registrar(settings, config).await?;
    let options = SyncOptions {
        dry_run: args.dry_run,
        concurrency: usize::from(args.concurrency),
        glue_concurrency: usize::from(args.glue_concurrency),
        ..SyncOptions::default()
    };
    let request = PassRequest {
        table: table.clone(),
        prune,
        update_schema,
        window_days: args.window_days,
        step,
    };
    let terminal = std::io::stderr().is_terminal();
    let bar = Bar(indicatif::ProgressBar::new(0));
    let log = LogProgress::default();
    let progress: &dyn Progress = if terminal { &bar } else { &log };
    let started = Instant::now();
    let (glue_before, s3_before) = (
        registrar.clients().glue_requests.snapshot(),
        registrar.clients().s3_requests.snapshot(),
    );
    // Boxed: the sync future is deep enough to overflow the compiler's layout limit inline.
    let result = Box::pin(sync::run(&registrar, &request, &options, progress)).await;
    bar.0.finish_and_clear();
    let report = match result {
        Ok(Ran::Report(report)) => *report,
        Ok(Ran::Split(plan)) => {
            println!("{}", serde_json::to_string_pretty(&plan)?);
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(if e.is_unusable() {
                UNUSABLE
            } else {
                FAILED
            }));
        }
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    let glue = registrar
        .clients()
        .glue_requests
        .snapshot()
        .since(&glue_before);
    let s3 = registrar.clients().s3_requests.snapshot().since(&s3_before);
    eprintln!(
        "{}",
        summary_line(
            &table,
            &report,
            s3.get("ListObjectsV2"),
            glue.total(),
            started.elapsed().as_secs_f64()
        )
    );
    if let Some(cause) = &report.cause {
        eprintln!("{cause}");
    }
    Ok(exit_for(
        report.has_failures() || report.unregistered.unwrap_or(0) > 0,
    ))
}

/// The one line a backfill or sync ends with: what it did, what it sent, how long it took,
/// and how to go on if it stopped.
fn summary_line(
    table: &TableName,
    report: &Report,
    listings: u64,
    glue: u64,
    seconds: f64,
) -> String {
    let c = report.counts.unwrap_or_default();
    let mut line = format!(
        "{table}: {} created, {} already registered, {} deleted, {} updated, {} skipped, {} failed; {listings} S3 listings and {glue} Glue requests in {seconds:.1} s",
        c.created, c.existing, c.deleted, c.updated, c.skipped, c.failed
    );
    if report.dry_run {
        line.push_str(" (dry run: nothing written)");
    }
    if report.cursor.is_some() {
        line.push_str(
            "; stopped before the end: the report's `cursor` goes on (--resume @report.json)",
        );
    }
    line
}
