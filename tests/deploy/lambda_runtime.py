"""One Lambda invocation as Lambda makes it: a fresh process of the function's binary,
started with `AWS_LAMBDA_RUNTIME_API` pointing at the Runtime API of scripts/runtime_api.py,
handed one event with its deadline (`Lambda-Runtime-Deadline-Ms`, the function's timeout),
and its answer or its error (`errorType`, `errorMessage`) read back as a Step Functions task
sees them. https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

import os
import queue
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "scripts"))
from runtime_api import RuntimeApi  # noqa: E402


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
    api = RuntimeApi(f"arn:aws:lambda:us-east-1:123456789012:function:{function}")
    api.timeout = timeout
    process_env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}", AWS_LAMBDA_FUNCTION_NAME=function,
                       AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024", AWS_LAMBDA_FUNCTION_VERSION="$LATEST")
    process = subprocess.Popen([binary], env=process_env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, path, answer = api.invoke(payload, timeout=timeout + 2, answered=False, raw=True)
    except queue.Empty:
        path = None
    finally:
        process.kill()
        _, stderr = process.communicate()
        api.server.shutdown()
        api.server.server_close()
    if path is None:
        raise FunctionError("Lambda.Unknown",
                            f"Task timed out after {timeout:.2f} seconds; {stderr.decode(errors='replace')[-2000:]}")
    if not path.endswith("/response"):
        raise FunctionError(answer.get("errorType", "Lambda.Unknown"), answer.get("errorMessage", ""))
    return answer
