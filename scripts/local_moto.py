"""moto's server on a free loopback port, for the demo and the benchmark (the Rust tests
start their own, in tests/it/moto.rs)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator_env(endpoint, **extra):
    """This process's environment, pointed at the emulator with its dummy credentials, for the
    registrar binary (and whatever `extra` adds)."""
    return dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true", **extra)


def start_moto():
    """Start moto_server from this Python's environment; return (process, port)."""
    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("moto did not start")
