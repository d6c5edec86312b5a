"""Value class scenario of the probe (e2e/values_test.go): Dagster's own message handler reads a
messages file written by the Go library, every message in this one Python process.

probe.py hands a request here when it has "values_messages":

    {"name": "values", "values_messages": "/abs/path/messages"}

Inside a real asset step (materialize on an ephemeral instance), a Pipes session is opened with a
reader that launches nothing; each line of the file is then decoded with json.loads, every
metadata entry is resolved with `metadata_value_from_external` and stored with `serialize_value`
(as the event log stores it), and the message goes through the session's PipesMessageHandler
(`handle_message`: the same code that Dagster's reader threads call). A result the handler
queues (MaterializeResult, AssetCheckResult) is serialized too (its key and metadata, as the event log stores them), and a custom payload is
round-tripped through json.dumps, as a user's code would.

The answer is {"lines": [{"line": n, "method": ..., "error": "..." | null}], "success": ...,
"step_failures": [...], "engine_errors": [...]}: one entry per line, in order; "error" is what
Dagster raised for that line; the errors as probe.describe reports them (the closed message's
exception is an engine error).
"""

import json
import traceback

from dagster import (
    AssetExecutionContext,
    DagsterInstance,
    MaterializeResult,
    PipesEnvContextInjector,
    asset,
    materialize,
    open_pipes_session,
)
try:
    from dagster._core.definitions.metadata.external_metadata import metadata_value_from_external
except ImportError:  # Dagster before 1.10 (the oldest supported release): the handler's resolver
    from dagster._core.pipes.context import PipesMessageHandler

    metadata_value_from_external = PipesMessageHandler._resolve_metadata_value
from dagster._serdes import serialize_value


def _check_line(handler, line):
    msg = json.loads(line)
    params = msg.get("params") if isinstance(msg, dict) else None
    metadata = params.get("metadata") if isinstance(params, dict) else None
    for entry in (metadata or {}).values():
        serialize_value(metadata_value_from_external(entry["raw_value"], entry["type"]))
    results_before = handler._result_queue.qsize()
    customs_before = handler._extra_msg_queue.qsize()
    handler.handle_message(msg)
    for result in list(handler._result_queue.queue)[results_before:]:
        # What the event log stores of a result: its key and metadata.
        serialize_value(result.asset_key)
        serialize_value(dict(result.metadata or {}))
    for payload in list(handler._extra_msg_queue.queue)[customs_before:]:
        json.loads(json.dumps(payload))
    return msg.get("method")


def handle(req, probe):
    path = req["values_messages"]
    lines = []

    @asset(name="values_asset")
    def values_asset(context: AssetExecutionContext):
        reader = probe.StdioLineReader("stdio", "stdout")
        with open_pipes_session(
            context=context, context_injector=PipesEnvContextInjector(), message_reader=reader
        ):
            handler = reader.handler
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f):
                    entry = {"line": n, "method": None, "error": None}
                    try:
                        entry["method"] = _check_line(handler, line)
                    except BaseException as e:  # noqa: BLE001 - RecursionError included
                        entry["error"] = "".join(traceback.format_exception_only(type(e), e))[:600]
                    lines.append(entry)
        # Dagster's results of this session are not the point: the step just succeeds.
        return MaterializeResult()

    instance = DagsterInstance.ephemeral()
    result = materialize(
        [values_asset], instance=instance, raise_on_error=False, run_config=probe.RUN_CONFIG
    )
    described = probe.describe(instance, result)
    return {
        "lines": lines,
        "success": result.success,
        "step_failures": described["step_failures"],
        "engine_errors": described["engine_errors"],
    }
