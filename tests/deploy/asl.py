"""The repair state machine's definition, played as Step Functions would run it, with the
registrar binary as the function its Tasks invoke, and AWS's quotas enforced as AWS documents
them, so that a definition that would fail on AWS fails here.

The local emulator can hold a state machine but not run our function inside it (its Lambda
needs Docker), so this plays the definition Terraform deployed, state by state, for the
subset of the Amazon States Language the definition uses: Task (lambda:invoke, with
Parameters, ResultSelector, ResultPath and Retry), Map (Inline, and Distributed: each item a
child execution with its own history, ItemReader from an S3 JSON file, ItemSelector,
ResultWriter to S3, ToleratedFailurePercentage, ToleratedFailureCount(Path)), Choice (IsNull, StringEquals,
NumericGreaterThanEquals, NumericEquals, BooleanEquals, And, Or, Not), Pass (InputPath,
Parameters, ResultPath), Succeed and Fail (Cause, CausePath with States.Format). Paths are
JSONPath's `$.a.b`, `$[*].a` and the context's `$$.Map.Item.Value`, `$$.Execution.Name`.

The quotas (https://docs.aws.amazon.com/step-functions/latest/dg/limits-overview.html):
- a state's input or output, and a task's result, at most 262,144 bytes of UTF-8
  (past it the execution fails with States.DataLimitExceeded, which nothing catches);
- at most 25,000 events in one execution's history
  (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html); a
  Distributed Map's child executions each have their own
  (https://docs.aws.amazon.com/step-functions/latest/dg/state-map.html), an Inline Map's
  iterations count into the parent's
  (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html);
- an Inline Map runs at most 40 iterations at once, a Distributed Map 10,000 child
  executions;
- a Lambda function answers at most 6 MB (6,291,456 bytes) to a synchronous invocation
  (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html);
- a Fail state's cause at most 32,768 characters, its error 256
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html).

The events a state adds to its execution's history, as AWS records them: a Task 5
(TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited) and 3 more per
failed attempt; a Choice, Pass or Succeed 2; a Fail 1; a Distributed Map 6 in its parent
(MapStateEntered, MapStateStarted, MapRunStarted, MapRunSucceeded, MapStateSucceeded,
MapStateExited); an Inline Map 4 and 2 per iteration around the iteration's own; an
execution 2 (ExecutionStarted, and ExecutionSucceeded or ExecutionFailed).
"""

import copy
import json
import re
import uuid

MAX_PAYLOAD = 262_144
MAX_HISTORY = 25_000
MAX_INLINE_CONCURRENCY = 40
MAX_DISTRIBUTED_CONCURRENCY = 10_000
MAX_LAMBDA_RESPONSE = 6_291_456
MAX_CAUSE = 32_768


class Failed(Exception):
    """A Fail state was reached, or an error outlived its retries."""

    def __init__(self, error, cause):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class QuotaExceeded(Failed):
    """An AWS quota the definition or its function would pass: the execution fails on AWS."""


def size(value):
    return len(json.dumps(value, separators=(",", ":")).encode())


def select(path, data, context=None):
    """A JSONPath of the kind the definition uses, read from `data` (or `context` for $$)."""
    if path.startswith("$$"):
        data, path = context, path[1:]
    if path == "$":
        return data
    assert path.startswith("$"), path
    parts = path[1:].replace("[*]", ".[*]").split(".")
    values, many = [data], False
    for part in parts:
        if part == "":
            continue
        if part == "[*]":
            values = [v for value in values for v in value]
            many = True
            continue
        values = [value[part] for value in values if isinstance(value, dict) and part in value]
    if many:
        return values
    if not values:
        raise Failed("States.Runtime", f"the path {path} matched nothing")
    return values[0]


def intrinsic(text, data, context):
    """States.Format('template {}', $.path, ...), the one intrinsic the definition uses."""
    m = re.fullmatch(r"States\.Format\((.*)\)", text.strip(), re.S)
    if not m:
        raise AssertionError(f"an intrinsic this player does not know: {text}")
    args, current, quoted, i, body = [], "", False, 0, m.group(1)
    while i < len(body):
        c = body[i]
        if c == "\\" and quoted and i + 1 < len(body):
            current += body[i + 1]
            i += 2
            continue
        if c == "'":
            quoted = not quoted
            current += c
        elif c == "," and not quoted:
            args.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    args.append(current.strip())
    template = args[0][1:-1]
    values = [select(a, data, context) for a in args[1:]]
    out = ""
    for piece in template.split("{}")[:-1]:
        out += piece + (str(values.pop(0)) if not isinstance(values[0], str) else values.pop(0))
    return out + template.split("{}")[-1]


def fill(template, data, context):
    """Parameters, ItemSelector or ResultSelector: keys ending in `.$` take a path's value."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = (intrinsic(value, data, context) if value.startswith("States.")
                                 else select(value, data, context))
            else:
                out[key] = fill(value, data, context)
        return out
    if isinstance(template, list):
        return [fill(v, data, context) for v in template]
    return template


def place(data, result, path):
    """ResultPath: where the result goes in (a copy of) the input."""
    if path is None:
        return data
    if path == "$":
        return result
    out = copy.deepcopy(data)
    keys = path[2:].split(".")
    node = out
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = result
    return out


def matches(rule, data):
    if "Not" in rule:
        return not matches(rule["Not"], data)
    if "And" in rule:
        return all(matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data) for r in rule["Or"])
    try:
        value = select(rule["Variable"], data)
    except Failed:
        value = None
        if "IsNull" not in rule and "IsPresent" not in rule:
            return False
    if "IsPresent" in rule:
        try:
            select(rule["Variable"], data)
            return rule["IsPresent"]
        except Failed:
            return not rule["IsPresent"]
    if "IsNull" in rule:
        return (value is None) == rule["IsNull"]
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return value is rule["BooleanEquals"]
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if "NumericEquals" in rule:
        return number and value == rule["NumericEquals"]
    if "NumericGreaterThan" in rule:
        return number and value > rule["NumericGreaterThan"]
    if "NumericGreaterThanEquals" in rule:
        return number and value >= rule["NumericGreaterThanEquals"]
    raise AssertionError(f"a Choice rule this player does not know: {rule}")


class Execution:
    """One execution's history, as AWS counts it."""

    def __init__(self, name, parent=None):
        self.name = name
        self.parent = parent
        self.events = 2  # ExecutionStarted, and how it ended

    def add(self, n):
        self.events += n
        if self.events > MAX_HISTORY:
            raise QuotaExceeded("States.Runtime",
                                f"execution {self.name} passed {MAX_HISTORY} history events")


class Machine:
    """Plays a definition; `invoke(function_arn, payload)` runs the function and returns its
    answer, or raises Failed(errorType, errorMessage) as Lambda reports a function error.
    `s3` reads an ItemReader's file and writes a ResultWriter's (a boto3 S3 client)."""

    def __init__(self, definition, invoke, s3=None):
        self.definition = definition
        self.invoke = invoke
        self.s3 = s3
        self.tasks = 0
        self.executions = []
        self.largest_state = 0
        self.largest_answer = 0
        self.check(definition)

    def check(self, machine):
        """Quotas the definition itself must keep."""
        for state in machine["States"].values():
            if state["Type"] == "Map":
                mode = state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode", "INLINE")
                limit = MAX_DISTRIBUTED_CONCURRENCY if mode == "DISTRIBUTED" else MAX_INLINE_CONCURRENCY
                if state.get("MaxConcurrency", 0) > limit:
                    raise QuotaExceeded("States.Runtime", f"a {mode} Map runs at most {limit} at once")
                self.check(state["ItemProcessor"])

    def run(self, data, name="execution"):
        execution = Execution(name)
        self.executions.append(execution)
        context = {"Execution": {"Name": name, "Id": f"arn:aws:states:us-east-1:123456789012:execution:repair:{name}"}}
        return self.states(self.definition, data, context, execution)

    def measure(self, value):
        n = size(value)
        self.largest_state = max(self.largest_state, n)
        if n > MAX_PAYLOAD:
            raise QuotaExceeded("States.DataLimitExceeded",
                                f"a state's input or output of {n} bytes (at most {MAX_PAYLOAD})")

    def states(self, machine, data, context, execution):
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            self.measure(data)
            data, done = self.state(state, data, context, execution)
            self.measure(data)
            if done or state.get("End"):
                return data
            name = state["Next"] if state["Type"] != "Choice" else data.pop("__next__")

    def state(self, state, data, context, execution):
        kind = state["Type"]
        if kind == "Succeed":
            execution.add(2)
            return data, True
        if kind == "Fail":
            execution.add(1)
            cause = state.get("Cause", "")
            if "CausePath" in state:
                path = state["CausePath"]
                cause = intrinsic(path, data, context) if path.startswith("States.") else select(path, data, context)
            if len(cause) > MAX_CAUSE:
                raise QuotaExceeded("States.Runtime", f"a cause of {len(cause)} characters")
            raise Failed(state.get("Error", "States.Fail"), cause)
        if kind == "Choice":
            execution.add(2)
            for rule in state["Choices"]:
                if matches(rule, data):
                    return dict(data, __next__=rule["Next"]), False
            return dict(data, __next__=state["Default"]), False
        if kind == "Pass":
            execution.add(2)
            given = select(state.get("InputPath", "$"), data, context)
            if "Parameters" in state:
                given = fill(state["Parameters"], given, context)
            result = state.get("Result", given)
            return place(data, result, state.get("ResultPath", "$")), False
        if kind == "Task":
            return self.task(state, data, context, execution), False
        if kind == "Map":
            return self.map(state, data, context, execution), False
        raise AssertionError(f"a state this player does not know: {kind}")

    def items(self, state, data, context):
        reader = state.get("ItemReader")
        if reader is None:
            return select(state.get("ItemsPath", "$"), data, context)
        assert reader["Resource"].endswith(":states:::s3:getObject"), reader
        assert reader["ReaderConfig"]["InputType"] == "JSON", reader
        where = fill(reader["Parameters"], data, context)
        body = self.s3.get_object(Bucket=where["Bucket"], Key=where["Key"])["Body"].read()
        return json.loads(body)

    def map(self, state, data, context, execution):
        processor = state["ItemProcessor"]
        distributed = processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        items = self.items(state, data, context)
        execution.add(6 if distributed else 4)
        tolerated = state.get("ToleratedFailurePercentage", 0)
        tolerated_count = state.get("ToleratedFailureCount")
        if "ToleratedFailureCountPath" in state:
            tolerated_count = select(state["ToleratedFailureCountPath"], data, context)
        results, outcomes, failures = [], [], 0
        run_id = uuid.uuid4().hex[:12]
        for i, item in enumerate(items):
            inner = dict(context, Map={"Item": {"Index": i, "Value": item}})
            given = fill(state["ItemSelector"], data, inner) if "ItemSelector" in state else item
            if not distributed:
                execution.add(2)
                results.append(self.states(processor, given, inner, execution))
                continue
            child = Execution(f"{execution.name}/{run_id}:{i}", parent=execution)
            self.executions.append(child)
            child_context = dict(inner, Execution={"Name": child.name, "Id": child.name})
            self.measure(given)
            try:
                output = self.states(processor, given, child_context, child)
                results.append(output)
                outcomes.append(("SUCCEEDED", {"Input": json.dumps(given), "Output": json.dumps(output),
                                               "Status": "SUCCEEDED", "Name": child.name}))
            except QuotaExceeded:
                raise
            except Failed as e:
                failures += 1
                outcomes.append(("FAILED", {"Input": json.dumps(given), "Error": e.error, "Cause": e.cause,
                                            "Status": "FAILED", "Name": child.name}))
                over = (failures > tolerated_count if tolerated_count is not None
                        else failures * 100 > tolerated * max(len(items), 1))
                if over:
                    raise Failed("States.ExceedToleratedFailureThreshold",
                                 f"{failures} of {len(items)} child executions failed") from e
        if "ResultWriter" in state:
            writer = fill(state["ResultWriter"]["Parameters"], data, context)
            prefix = f"{writer.get('Prefix', '').rstrip('/')}/{run_id}"
            files = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
            for status in ("SUCCEEDED", "FAILED"):
                rows = [r for s, r in outcomes if s == status]
                if rows:
                    key = f"{prefix}/{status}_0.json"
                    body = json.dumps(rows).encode()
                    self.s3.put_object(Bucket=writer["Bucket"], Key=key, Body=body)
                    files[status].append({"Key": key, "Size": len(body)})
            manifest_key = f"{prefix}/manifest.json"
            self.s3.put_object(Bucket=writer["Bucket"], Key=manifest_key, Body=json.dumps({
                "DestinationBucket": writer["Bucket"], "MapRunArn": f"arn:aws:states:::mapRun:{run_id}",
                "ResultFiles": files}).encode())
            output = {"MapRunArn": f"arn:aws:states:::mapRun:{run_id}",
                      "ResultWriterDetails": {"Bucket": writer["Bucket"], "Key": manifest_key}}
        else:
            output = results
        if "ResultSelector" in state:
            output = fill(state["ResultSelector"], output, context)
        return place(data, output, state.get("ResultPath", "$"))

    def task(self, state, data, context, execution):
        assert state["Resource"].endswith(":states:::lambda:invoke"), state["Resource"]
        params = fill(state["Parameters"], data, context)
        self.measure(params["Payload"])
        attempts = {}
        execution.add(2)  # TaskStateEntered, TaskStateExited
        while True:
            execution.add(3)  # TaskScheduled, TaskStarted, TaskSucceeded or TaskFailed
            try:
                self.tasks += 1
                answer = self.invoke(params["FunctionName"], params["Payload"])
                n = size(answer)
                self.largest_answer = max(self.largest_answer, n)
                if n > MAX_LAMBDA_RESPONSE:
                    raise QuotaExceeded("Lambda.Unknown", f"a function answered {n} bytes")
                self.measure({"Payload": answer})
                break
            except QuotaExceeded:
                raise
            except Failed as e:
                retrier = next((r for r in state.get("Retry", [])
                                if e.error in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"]
                                or ("States.TaskFailed" in r["ErrorEquals"] and e.error != "States.Timeout")),
                               None)
                if retrier is None:
                    raise
                key = json.dumps(retrier["ErrorEquals"])
                attempts[key] = attempts.get(key, 0) + 1
                if attempts[key] > retrier.get("MaxAttempts", 3):
                    raise
        result = {"Payload": answer, "StatusCode": 200}
        if "ResultSelector" in state:
            result = fill(state["ResultSelector"], result, context)
        return place(data, result, state.get("ResultPath", "$"))

    def history(self):
        """The most events any one execution had, and how many executions there were."""
        return max((e.events for e in self.executions), default=0), len(self.executions)
