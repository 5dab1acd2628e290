//! AWS clients: built once from the standard configuration chain, with the retry policy and
//! the request counter every Glue and S3 call goes through.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An SDK error as a user reads it: the service's code and message, or the whole chain of
/// causes for errors that never reached the service (DNS, TLS, credentials, timeouts).
pub fn describe<E, R>(err: &aws_sdk_glue::error::SdkError<E, R>) -> String
where
    E: aws_sdk_glue::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(e) => format!(
            "{}: {}",
            e.code().unwrap_or("error"),
            e.message().unwrap_or("no message")
        ),
        None => aws_sdk_glue::error::DisplayErrorContext(err).to_string(),
    }
}

/// Load the SDK configuration from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`,
/// profiles, the Lambda role).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
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
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", |m| m.name())
            .to_owned();
        *self
            .0
            .by_operation
            .lock()
            .expect("counter lock")
            .entry(operation)
            .or_default() += 1;
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
            if response.status().as_u16() == 429
                || error_type.starts_with("ThrottlingException")
                || error_type.starts_with("SlowDown")
            {
                self.0.throttles.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Glue throttles `BatchCreatePartition` when many functions write at once; a few more
/// attempts than the SDK's default 3, with its exponential backoff and jitter, ride that out.
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5))
}

/// The Glue and S3 clients, each with its request counter.
#[derive(Debug, Clone)]
pub struct Clients {
    pub glue: aws_sdk_glue::Client,
    pub s3: aws_sdk_s3::Client,
    pub glue_requests: Arc<RequestCounter>,
    pub s3_requests: Arc<RequestCounter>,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        let glue_requests = Arc::new(RequestCounter::default());
        let s3_requests = Arc::new(RequestCounter::default());
        let glue = aws_sdk_glue::config::Builder::from(sdk)
            .retry_config(retry_config())
            .interceptor(Counting(glue_requests.clone()))
            .build();
        // An endpoint override means an emulator or a VPC endpoint by IP, where
        // virtual-hosted bucket names do not resolve.
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .retry_config(retry_config())
            .force_path_style(sdk.endpoint_url().is_some())
            .interceptor(Counting(s3_requests.clone()))
            .build();
        Self {
            glue: aws_sdk_glue::Client::from_conf(glue),
            s3: aws_sdk_s3::Client::from_conf(s3),
            glue_requests,
            s3_requests,
        }
    }
}
