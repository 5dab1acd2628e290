"""One Lambda invocation as Lambda makes it: a fresh process of the function's binary,
started with `AWS_LAMBDA_RUNTIME_API` pointing at a small implementation of the Lambda
Runtime API (2018-06-01) on loopback, handed one event with its deadline
(`Lambda-Runtime-Deadline-Ms`), and its answer or its error (`errorType`, `errorMessage`)
read back as a Step Functions task sees them.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

import http.server
import json
import os
import subprocess
import threading
import time
import uuid


class FunctionError(Exception):
    """The function failed: `error` is its errorType (what a Task's Retry matches)."""

    def __init__(self, error, message):
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message


def invoke(binary, env, payload, timeout=60.0, function="repair"):
    """Run one invocation of `payload` in a fresh process, with `timeout` seconds to its
    deadline. Returns the answer (parsed JSON); raises FunctionError as Lambda reports one
    (`Lambda.Unknown` when the function did not answer by its timeout)."""
    done = threading.Event()
    outcome = {}
    request_id = str(uuid.uuid4())
    body = json.dumps(payload).encode()
    deadline_ms = int((time.time() + timeout) * 1000)
    handed = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if handed.is_set():
                # One event a process: the next poll waits until the process is stopped.
                done.wait(timeout + 10)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            handed.set()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                             f"arn:aws:lambda:us-east-1:123456789012:function:{function}")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            if self.path.endswith("/response"):
                outcome["answer"] = data
            else:
                outcome["error"] = data
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            done.set()

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # The process is killed while its next poll waits: nothing to report.
            pass

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    process_env = dict(env)
    process_env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    })
    process = subprocess.Popen([binary], env=process_env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        answered = done.wait(timeout + 2)
    finally:
        process.kill()
        _, stderr = process.communicate()
        server.shutdown()
        server.server_close()
    if not answered:
        tail = stderr.decode(errors="replace")[-2000:]
        raise FunctionError("Lambda.Unknown", f"Task timed out after {timeout:.2f} seconds; {tail}")
    if "error" in outcome:
        error = json.loads(outcome["error"] or b"{}")
        raise FunctionError(error.get("errorType", "Lambda.Unknown"), error.get("errorMessage", ""))
    return json.loads(outcome["answer"])


def environment(base=None):
    """The process environment for the binary, without anything that would make it a CLI."""
    env = dict(base if base is not None else os.environ)
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    return env
