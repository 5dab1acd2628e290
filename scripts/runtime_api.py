"""The Lambda Runtime API (2018-06-01) on a loopback port, for running the registrar binary
exactly as Lambda runs it (started with AWS_LAMBDA_RUNTIME_API pointing here): the benchmark
(bench/e2e.py), the shipped package's test (tests/package/run.py) and the state machine's
player (tests/deploy/lambda_runtime.py)."""

import http.server
import json
import queue
import sys
import threading
import time
import uuid


class RuntimeApi:
    """The Lambda Runtime API (2018-06-01): hands out queued events, collects responses."""

    def __init__(self, function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench"):
        # Seconds from handing an event over to its deadline (Lambda-Runtime-Deadline-Ms):
        # the function's timeout.
        self.timeout = 900
        self.events = queue.Queue()
        self.responses = queue.Queue()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                request_id, body = api.events.get()
                api.delivered = time.perf_counter()
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + api.timeout) * 1000)))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                api.responses.put((time.perf_counter(), self.path, body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # The function is killed mid-poll at the end: a reset connection is expected.
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event, timeout=600, answered=True, raw=False):
        """Hand over one event; with `answered`, insist on a response rather than an error.
        With `raw`, the path answered (`.../response` or `.../error`) comes back too."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        done, path, body = self.responses.get(timeout=timeout)
        if answered and not path.endswith(f"/{request_id}/response"):
            sys.exit(f"invocation failed: {path}: {body[:500]!r}")
        if raw:
            return done, path, json.loads(body or b"{}")
        return done, json.loads(body)
