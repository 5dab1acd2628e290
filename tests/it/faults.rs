//! Fault injection: a loopback HTTP proxy in front of moto. The registrar's SDK points at it;
//! it forwards every request to moto, except that a chosen share of Glue calls is answered
//! with an AWS error, a reset connection, a long delay, or nothing at all. moto itself cannot
//! throttle; through this, the real SDK meets what a busy Glue does.

use crate::moto::moto;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a faulted call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 `ThrottlingException`, as Glue answers when its rate limit is hit.
    Throttle,
    /// 500 `InternalServiceException`.
    Internal,
    /// The connection is reset once the request has been read.
    Reset,
    /// The call is answered, late.
    Delay(Duration),
    /// The call is never answered.
    Stall,
}

/// Which Glue calls fail, and how: a share of them, each fault drawn from `faults`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rate: f64,
    pub faults: Vec<Fault>,
    /// Only these operations are faulted (`BatchCreatePartition`, ...); empty for all.
    pub operations: Vec<&'static str>,
}

impl Plan {
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            faults: Vec::new(),
            operations: Vec::new(),
        }
    }

    pub fn storm(rate: f64) -> Self {
        Self {
            rate,
            faults: vec![
                Fault::Throttle,
                Fault::Throttle,
                Fault::Internal,
                Fault::Reset,
                Fault::Delay(Duration::from_millis(1500)),
            ],
            operations: Vec::new(),
        }
    }

    pub fn stall() -> Self {
        Self {
            rate: 1.0,
            faults: vec![Fault::Stall],
            operations: Vec::new(),
        }
    }
}

/// One Glue request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub operation: String,
    pub body: String,
    pub fault: Option<Fault>,
}

struct State {
    plan: Plan,
    rng: u64,
    seen: Vec<Seen>,
}

impl State {
    /// xorshift64*: a seeded, repeatable draw without a dependency.
    fn draw(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn decide(&mut self, operation: &str) -> Option<Fault> {
        let plan = &self.plan;
        if plan.faults.is_empty()
            || !(plan.operations.is_empty() || plan.operations.contains(&operation))
        {
            return None;
        }
        if self.draw() >= self.plan.rate {
            return None;
        }
        let i = (self.draw() * self.plan.faults.len() as f64) as usize;
        Some(self.plan.faults[i.min(self.plan.faults.len() - 1)])
    }
}

pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// A proxy in front of the tests' moto, on its own loopback port.
    pub async fn start(plan: Plan, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = moto().endpoint.trim_start_matches("http://").to_owned();
        let state = Arc::new(Mutex::new(State {
            plan,
            rng: seed | 1,
            seen: Vec::new(),
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), shared.clone()));
            }
        });
        Self { endpoint, state }
    }

    pub fn set_plan(&self, plan: Plan) {
        self.state.lock().unwrap().plan = plan;
    }

    /// The Glue requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Glue requests by operation: (answered by moto, faulted).
    pub fn tally(&self) -> BTreeMap<String, (usize, usize)> {
        let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for s in self.seen() {
            let t = tally.entry(s.operation).or_default();
            if s.fault.is_some() {
                t.1 += 1;
            } else {
                t.0 += 1;
            }
        }
        tally
    }
}

/// One client connection, one request: every response closes the connection, so the
/// client never reuses one the proxy is about to drop.
async fn serve(mut client: TcpStream, upstream: String, state: Arc<Mutex<State>>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let operation = header(&head, "x-amz-target")
        .and_then(|t| t.strip_prefix("AWSGlue."))
        .map(str::to_owned);
    let fault = operation.as_ref().and_then(|op| {
        let mut state = state.lock().unwrap();
        let fault = state.decide(op);
        state.seen.push(Seen {
            operation: op.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            fault,
        });
        fault
    });
    match fault {
        Some(Fault::Throttle) => answer_error(&mut client, 400, "ThrottlingException").await,
        Some(Fault::Internal) => answer_error(&mut client, 500, "InternalServiceException").await,
        Some(Fault::Reset) => {
            // A zero linger makes the close a reset (RST), which is the point; it does not
            // block.
            #[allow(deprecated)]
            let _ = client.set_linger(Some(Duration::ZERO));
            drop(client);
        }
        Some(Fault::Stall) => {
            // Hold the connection until the client gives up on it.
            let mut sink = [0u8; 1];
            let _ = tokio::time::timeout(Duration::from_secs(600), client.read(&mut sink)).await;
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            forward(&mut client, &upstream, &head, &body).await;
        }
        None => forward(&mut client, &upstream, &head, &body).await,
    }
}

async fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The head with its `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> String {
    let mut out = String::with_capacity(head.len() + 20);
    for line in head.trim_end().lines() {
        let name = line.split(':').next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

async fn forward(client: &mut TcpStream, upstream: &str, head: &str, body: &[u8]) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let mut request = closing(head).into_bytes();
    request.extend_from_slice(body);
    if server.write_all(&request).await.is_err() {
        return;
    }
    let mut response = Vec::new();
    if server.read_to_end(&mut response).await.is_err() {
        return;
    }
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let head = String::from_utf8_lossy(&response[..end + 4]).into_owned();
    let mut out = closing(&head).into_bytes();
    out.extend_from_slice(&response[end + 4..]);
    let _ = client.write_all(&out).await;
    let _ = client.shutdown().await;
}

async fn answer_error(client: &mut TcpStream, status: u16, code: &str) {
    let body = format!(r#"{{"__type":"{code}","message":"injected by the test proxy"}}"#);
    let reason = if status == 400 {
        "Bad Request"
    } else {
        "Internal Server Error"
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: {code}\r\nx-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}
