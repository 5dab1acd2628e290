//! The AWS emulator for the tests: moto's server on a loopback port chosen by the OS,
//! started once per test binary and gone when the binary exits.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_glue::config::Credentials;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Runs moto in-process and exits when its stdin closes, i.e. when the test binary ends,
/// however it ends: no server outlives the tests.
const SERVER: &str = r#"
import logging, os, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("port", server.get_host_and_port()[1], flush=True)
sys.stdin.read()
os._exit(0)
"#;

pub struct Moto {
    pub endpoint: String,
    _child: Mutex<Child>,
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_PYTHON") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

const HOW_TO_FIX: &str = "the tests need moto's server (PyPI `moto[server]`): run `make test`, which \
creates .venv with it, or `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'`, \
or point MOTO_PYTHON at a Python that has it";

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let python = python();
        let mut child = Command::new(&python)
            .args(["-c", SERVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {HOW_TO_FIX}", python.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("moto stdout"))
            .read_line(&mut line)
            .expect("read moto's port");
        let port = line
            .trim()
            .strip_prefix("port ")
            .unwrap_or_else(|| panic!("moto did not start (it printed `{line}`); {HOW_TO_FIX}"));
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _child: Mutex::new(child),
        }
    })
}

/// SDK configuration pointing at the emulator with dummy credentials.
pub fn sdk_config() -> SdkConfig {
    sdk_config_at(&moto().endpoint)
}

/// SDK configuration pointing at `endpoint` (the emulator, or a proxy in front of it).
pub fn sdk_config_at(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_glue::config::SharedCredentialsProvider::new(
            Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .build()
}

/// Environment for running the binary against the emulator.
pub fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto().endpoint.clone()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}
