//! AWS clients and calls: built once from the standard configuration chain, with one HTTPS
//! stack, the retry and timeout policy, the request counter every Glue and S3 call goes
//! through, and the one classification of their errors.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use registrar_core::Deadline;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What kind of failure an AWS call met: what callers decide on (retry, treat as absent,
/// report), read off the service's error code or the transport's failure once, here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked about does not exist (`EntityNotFoundException`, `NoSuchKey`).
    NotFound,
    /// `AlreadyExistsException`.
    AlreadyExists,
    /// The service asked us to slow down.
    Throttled,
    /// A failure that may pass: an internal error, a timeout, a reset connection.
    Transient,
    /// The function's role may not do this.
    AccessDenied,
    /// No answer before the invocation's deadline.
    Deadline,
    /// The service refused the request as it stands (invalid input and the like).
    Rejected,
}

impl ErrorKind {
    /// The kind of a service error code, as Glue and S3 spell them.
    pub fn of_code(code: &str) -> Self {
        match code {
            "EntityNotFoundException" | "NoSuchKey" | "NoSuchBucket" | "NotFound" => Self::NotFound,
            "AlreadyExistsException" => Self::AlreadyExists,
            "ThrottlingException"
            | "Throttling"
            | "SlowDown"
            | "TooManyRequestsException"
            | "RequestLimitExceeded" => Self::Throttled,
            "InternalServiceException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "OperationTimeoutException"
            | "RequestTimeout"
            | "ConcurrentModificationException" => Self::Transient,
            "AccessDeniedException" | "AccessDenied" => Self::AccessDenied,
            _ => Self::Rejected,
        }
    }

    /// Worth trying again later (in this invocation after a backoff, or on redelivery).
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::Transient | Self::Deadline)
    }
}

/// Why an AWS call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} {operation} failed: {detail}")]
pub struct CallError {
    pub service: &'static str,
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub detail: String,
}

impl CallError {
    /// An error from a service's code and message (a per-entry error of a batch call).
    pub fn from_code(
        service: &'static str,
        operation: &'static str,
        code: &str,
        message: &str,
    ) -> Self {
        Self {
            service,
            operation,
            kind: ErrorKind::of_code(code),
            detail: format!("{code}: {message}"),
        }
    }

    pub fn deadline(service: &'static str, operation: &'static str) -> Self {
        Self {
            service,
            operation,
            kind: ErrorKind::Deadline,
            detail: "no answer before the invocation's deadline; retried with the message"
                .to_owned(),
        }
    }

    /// Classify an SDK error: the service's code and message, or the whole chain of causes
    /// for errors that never reached the service (DNS, TLS, credentials, timeouts).
    pub fn classify<E, R>(
        service: &'static str,
        operation: &'static str,
        err: &SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        if let Some(e) = err.as_service_error() {
            return Self::from_code(
                service,
                operation,
                e.code().unwrap_or("UnknownError"),
                e.message().unwrap_or("no message"),
            );
        }
        let kind = match err {
            SdkError::ConstructionFailure(_) => ErrorKind::Rejected,
            _ => ErrorKind::Transient,
        };
        Self {
            service,
            operation,
            kind,
            detail: aws_sdk_glue::error::DisplayErrorContext(err).to_string(),
        }
    }
}

/// Send one AWS call, bounded by the deadline: whatever the SDK's retries would still do,
/// the call gives up when the deadline passes and says so.
pub async fn call<T, E, R>(
    deadline: Deadline,
    service: &'static str,
    operation: &'static str,
    send: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, CallError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let result = match deadline.instant() {
        None => send.await,
        Some(at) => tokio::time::timeout_at(at.into(), send)
            .await
            .map_err(|_| CallError::deadline(service, operation))?,
    };
    result.map_err(|e| CallError::classify(service, operation, &e))
}

/// How hard the clients try. The defaults suit Lambda; tests tighten them.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Each attempt's limit: a stalled connection is abandoned and the call retried on a
    /// fresh one, well before the invocation's deadline.
    pub attempt_timeout: Duration,
    pub initial_backoff: Duration,
    /// Groups clients that share a retry budget (the SDK's retry token bucket). One per
    /// process in production; tests that inject faults keep theirs apart.
    pub retry_partition: &'static str,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            attempt_timeout: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(100),
            retry_partition: "registrar",
        }
    }
}

impl ClientOptions {
    /// Glue throttles `BatchCreatePartition` when many functions write at once; a few more
    /// attempts than the SDK's default 3, with exponential backoff and jitter, ride that out,
    /// and the SDK's retry token bucket stops retrying under a sustained storm (the messages
    /// come back later instead). Standard mode, not adaptive: adaptive's client-side rate
    /// limiter, after one throttled answer, holds every later request of the process to about
    /// one per two seconds (the tests saw each retry wait the 5 s maximum), which in an
    /// invocation of a few dozen calls under a deadline turns one throttle into a lost batch.
    fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(Duration::from_secs(5))
    }

    fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(self.attempt_timeout)
            .build()
    }
}

/// The one HTTPS stack: hyper 1 with rustls on ring. The SDK crates' default features would
/// add a second (hyper 0.14, rustls 0.21) and aws-lc, a C library slow to build.
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The HTTP client for an endpoint: a plain http:// one (the emulator, an endpoint inside a
/// VPC) needs no TLS, and its client never loads the root certificates (an HTTPS client loads
/// them as soon as an SDK client is built on it).
fn http_client_for(endpoint: Option<&str>) -> SharedHttpClient {
    match endpoint {
        Some(url) if url.starts_with("http://") => {
            aws_smithy_http_client::Builder::new().build_http()
        }
        _ => https_client(),
    }
}

/// Load the SDK configuration by the standard chain (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// profiles, the Lambda role), with the HTTP client `endpoint` (the settings'
/// `AWS_ENDPOINT_URL`) needs.
pub async fn load_sdk_config(endpoint: Option<&str>) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client_for(endpoint))
        .load()
        .await
}

/// Requests sent per API operation (every attempt counts, retries included) and how many
/// answers were throttling: the figures behind the GlueRequests/GlueThrottles metrics and the
/// benchmarks' request counts.
#[derive(Debug, Default)]
pub struct RequestCounter {
    by_operation: Mutex<BTreeMap<String, u64>>,
    throttles: AtomicU64,
}

impl RequestCounter {
    /// Throttled answers so far (retried or not): what a walk slows down on.
    pub fn throttles(&self) -> u64 {
        self.throttles.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            by_operation: self.by_operation.lock().expect("counter lock").clone(),
            throttles: self.throttles.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Display for RequestCounts {
    /// `BatchCreatePartition=10 GetTable=1`, for log lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (op, n) in &self.by_operation {
            write!(f, "{}{op}={n}", if first { "" } else { " " })?;
            first = false;
        }
        Ok(())
    }
}

/// A copy of the counts at one moment; subtract two to get one invocation's requests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestCounts {
    pub by_operation: BTreeMap<String, u64>,
    pub throttles: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.by_operation.values().sum()
    }

    pub fn get(&self, operation: &str) -> u64 {
        self.by_operation.get(operation).copied().unwrap_or(0)
    }

    /// The requests made since `earlier`.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            by_operation: self
                .by_operation
                .iter()
                .map(|(op, n)| (op.clone(), n - earlier.get(op)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            throttles: self.throttles - earlier.throttles,
        }
    }
}

#[derive(Debug, Clone)]
struct Counting(Arc<RequestCounter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("unknown", |m| m.name());
        let mut counts = self.0.by_operation.lock().expect("counter lock");
        match counts.get_mut(operation) {
            Some(n) => *n += 1,
            None => {
                counts.insert(operation.to_owned(), 1);
            }
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(response) = context.response() {
            let error_type = response.headers().get("x-amzn-errortype").unwrap_or("");
            // S3 answers `503 SlowDown` with the code in its XML body only: a 503 is counted.
            if matches!(response.status().as_u16(), 429 | 503)
                || error_type.starts_with("ThrottlingException")
                || error_type.starts_with("SlowDown")
            {
                self.0.throttles.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// The Glue and S3 clients, each with its request counter.
#[derive(Debug, Clone)]
pub struct Clients {
    pub glue: aws_sdk_glue::Client,
    pub s3: aws_sdk_s3::Client,
    pub glue_requests: Arc<RequestCounter>,
    pub s3_requests: Arc<RequestCounter>,
    /// EventBridge, for `Partition Complete` events.
    pub events: aws_sdk_eventbridge::Client,
    pub events_requests: Arc<RequestCounter>,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_options(sdk, &ClientOptions::default())
    }

    pub fn with_options(sdk: &SdkConfig, options: &ClientOptions) -> Self {
        use aws_sdk_glue::config::retry::RetryPartition;
        let glue_requests = Arc::new(RequestCounter::default());
        let s3_requests = Arc::new(RequestCounter::default());
        let http = sdk
            .http_client()
            .unwrap_or_else(|| http_client_for(sdk.endpoint_url()));
        let glue = aws_sdk_glue::config::Builder::from(sdk)
            .http_client(http.clone())
            .retry_config(options.retry_config())
            .retry_partition(RetryPartition::new(format!(
                "{}-glue",
                options.retry_partition
            )))
            .timeout_config(options.timeout_config())
            .interceptor(Counting(glue_requests.clone()))
            .build();
        // An endpoint override means an emulator or a VPC endpoint by IP, where
        // virtual-hosted bucket names do not resolve.
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .http_client(http.clone())
            .retry_config(options.retry_config())
            .retry_partition(RetryPartition::new(format!(
                "{}-s3",
                options.retry_partition
            )))
            .timeout_config(options.timeout_config())
            .force_path_style(sdk.endpoint_url().is_some())
            .interceptor(Counting(s3_requests.clone()))
            .build();
        let events_requests = Arc::new(RequestCounter::default());
        let events = aws_sdk_eventbridge::config::Builder::from(sdk)
            .http_client(http)
            .retry_config(options.retry_config())
            .retry_partition(RetryPartition::new(format!(
                "{}-events",
                options.retry_partition
            )))
            .timeout_config(options.timeout_config())
            .interceptor(Counting(events_requests.clone()))
            .build();
        Self {
            glue: aws_sdk_glue::Client::from_conf(glue),
            s3: aws_sdk_s3::Client::from_conf(s3),
            glue_requests,
            s3_requests,
            events: aws_sdk_eventbridge::Client::from_conf(events),
            events_requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_kinds_are_worth_retrying() {
        assert!(ErrorKind::of_code("ThrottlingException").is_transient());
        assert!(ErrorKind::of_code("InternalServiceException").is_transient());
        assert!(!ErrorKind::of_code("InvalidInputException").is_transient());
        assert!(!ErrorKind::of_code("AlreadyExistsException").is_transient());
        assert_eq!(
            ErrorKind::of_code("EntityNotFoundException"),
            ErrorKind::NotFound
        );
    }
}
