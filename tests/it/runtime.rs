//! The Lambda entry as Lambda runs it: the binary started under a Runtime API (2018-06-01)
//! served here over loopback, answering one invocation after another from the event it was
//! handed.

use crate::moto;
use crate::support::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One request the function made of the Runtime API: its path and body.
type Call = (String, Vec<u8>);

/// The Runtime API: hands out queued events on `/next`, passes on what the function posts.
struct RuntimeApi {
    port: u16,
    events: Sender<(String, Vec<u8>)>,
    posted: Receiver<Call>,
}

impl RuntimeApi {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (events, queued) = channel::<(String, Vec<u8>)>();
        let (post, posted) = channel();
        let queued = Arc::new(Mutex::new(queued));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (queued, post) = (queued.clone(), post.clone());
                std::thread::spawn(move || serve(conn, &queued, &post));
            }
        });
        Self {
            port,
            events,
            posted,
        }
    }

    /// Invoke the function with `event`; what it posted back (its answer or its error).
    fn invoke(&self, request_id: &str, event: &Value) -> Call {
        self.events
            .send((request_id.to_owned(), event.to_string().into_bytes()))
            .unwrap();
        self.posted
            .recv_timeout(Duration::from_secs(60))
            .expect("the function answers within a minute")
    }
}

/// HTTP/1.1 with keep-alive, as the runtime's client speaks it; one request at a time.
fn serve(conn: TcpStream, queued: &Mutex<Receiver<(String, Vec<u8>)>>, post: &Sender<Call>) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let response = if path.ends_with("/invocation/next") {
            // Blocks until the test queues an event (or ends, dropping the queue).
            let Ok((request_id, event)) = queued.lock().unwrap().recv() else {
                return;
            };
            let deadline =
                SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
            let mut head = format!(
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {request_id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:registrar\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                deadline.as_millis(),
                event.len()
            )
            .into_bytes();
            head.extend_from_slice(&event);
            head
        } else {
            post.send((path, body)).unwrap();
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_vec()
        };
        if out.write_all(&response).is_err() {
            return;
        }
    }
}

/// The binary as Lambda starts it, pointed at `api` and serving `tables`.
fn function(api: &RuntimeApi, tables: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_glue-partition-registrar"))
        .envs(moto::env())
        .env("GLUE_TABLES", tables)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port))
        .env("AWS_LAMBDA_FUNCTION_NAME", "registrar")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "registrar")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "registrar")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary")
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn lambda_answers_each_invocation_from_its_own_event() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let api = RuntimeApi::start();
    let mut child = function(&api, &t.to_string());

    // An SQS batch with one unreadable message: exactly that one is named.
    let (path, body) = api.invoke("req-1", &fixture("sqs-one-unparsable.json"));
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-1/response");
    assert_eq!(
        json_of(&body),
        json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975960001"}]})
    );

    // The warm process reads the next event, not the last one again.
    let (path, body) = api.invoke(
        "req-2",
        &s3_event(&["clickstream/year=2026/month=11/day=27/a.parquet"]),
    );
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-2/response");
    let created: Vec<Value> = json_of(&body)["created"].as_array().unwrap().clone();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["values"], json!(["2026", "11", "27"]));

    child.kill().unwrap();
    child.wait().unwrap();
    let mut got: Vec<Vec<String>> = partitions(&t)
        .await
        .iter()
        .map(|p| p.values().to_vec())
        .collect();
    got.sort();
    assert_eq!(
        got,
        strings(&[
            &["2026", "11", "25"],
            &["2026", "11", "26"],
            &["2026", "11", "27"]
        ])
    );
}

#[tokio::test]
async fn lambda_reports_an_event_that_is_not_utf8_as_an_invocation_error() {
    let t = create_table(CLICKSTREAM, YMD, None).await;
    let api = RuntimeApi::start();
    let mut child = function(&api, &t.to_string());
    api.events
        .send(("req-1".to_owned(), b"{\"Records\": [\"\xff\"]}".to_vec()))
        .unwrap();
    let (path, body) = api.posted.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-1/error");
    assert!(
        String::from_utf8_lossy(&body).contains("not UTF-8"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // And the process lives on to serve the next invocation.
    let (path, _) = api.invoke(
        "req-2",
        &s3_event(&["clickstream/year=2026/month=11/day=25/a.parquet"]),
    );
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-2/response");
    child.kill().unwrap();
    child.wait().unwrap();
}
