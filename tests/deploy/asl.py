"""The repair state machine's definition, played as Step Functions would run it, with the
registrar binary as the function its Tasks invoke.

The local emulator can hold a state machine but not run our function inside it (its Lambda
needs Docker), so this plays the definition Terraform deployed, state by state, for the
subset of the Amazon States Language the definition uses: Task (lambda:invoke, with
Parameters, ResultSelector, ResultPath and Retry), Map (ItemsPath, ItemSelector,
ItemProcessor; items one after another), Choice (IsNull, StringEquals,
NumericGreaterThanEquals, Not), Pass (InputPath, ResultPath), Succeed and Fail. Paths are
JSONPath's `$.a.b`, `$[*].a` and the context's `$$.Map.Item.Value`.
"""

import copy
import json


class Failed(Exception):
    """A Fail state was reached, or a Task's error outlived its retries."""

    def __init__(self, error, cause):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


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


def fill(template, data, context):
    """Parameters, ItemSelector or ResultSelector: keys ending in `.$` take a path's value."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = select(value, data, context)
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
    try:
        value = select(rule["Variable"], data)
    except Failed:
        value = None
        if "IsNull" not in rule:
            return False
    if "IsNull" in rule:
        return (value is None) == rule["IsNull"]
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    if "NumericGreaterThanEquals" in rule:
        return isinstance(value, (int, float)) and value >= rule["NumericGreaterThanEquals"]
    raise AssertionError(f"a Choice rule this player does not know: {rule}")


class Machine:
    """Plays a definition; `invoke(function_arn, payload)` runs the function and returns its
    answer, or raises Failed("States.TaskFailed", ...) as Lambda reports a function error."""

    def __init__(self, definition, invoke):
        self.definition = definition
        self.invoke = invoke
        self.tasks = 0

    def run(self, data):
        return self.states(self.definition, data, {})

    def states(self, machine, data, context):
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            data, done = self.state(state, data, context)
            if done or state.get("End"):
                return data
            name = state["Next"] if state["Type"] != "Choice" else data.pop("__next__")

    def state(self, state, data, context):
        kind = state["Type"]
        if kind == "Succeed":
            return data, True
        if kind == "Fail":
            raise Failed(state.get("Error", "States.Fail"), state.get("Cause", ""))
        if kind == "Choice":
            for rule in state["Choices"]:
                if matches(rule, data):
                    return dict(data, __next__=rule["Next"]), False
            return dict(data, __next__=state["Default"]), False
        if kind == "Pass":
            given = select(state.get("InputPath", "$"), data, context)
            result = state.get("Result", given)
            return place(data, result, state.get("ResultPath", "$")), False
        if kind == "Task":
            return self.task(state, data, context), False
        if kind == "Map":
            items = select(state.get("ItemsPath", "$"), data, context)
            results = []
            for i, item in enumerate(items):
                inner = dict(context, Map={"Item": {"Index": i, "Value": item}})
                given = fill(state["ItemSelector"], data, inner) if "ItemSelector" in state else item
                results.append(self.states(state["ItemProcessor"], given, inner))
            if "ResultSelector" in state:
                results = fill(state["ResultSelector"], results, context)
            return place(data, results, state.get("ResultPath", "$")), False
        raise AssertionError(f"a state this player does not know: {kind}")

    def task(self, state, data, context):
        assert state["Resource"].endswith(":states:::lambda:invoke"), state["Resource"]
        params = fill(state["Parameters"], data, context)
        attempts = {}
        while True:
            try:
                self.tasks += 1
                answer = self.invoke(params["FunctionName"], params["Payload"])
                break
            except Failed as e:
                retrier = next((r for r in state.get("Retry", []) if e.error in r["ErrorEquals"]), None)
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
