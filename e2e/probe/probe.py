"""Probe for the end-to-end tests: real Dagster launches a program, we report what Dagster recorded.

The Go tests (e2e/*_test.go) start this script once per test run and keep it alive. They send one
JSON request per line on stdin; the probe answers with one JSON line per request on the file
descriptor that was its stdout at start-up. Everything else that would go to stdout (Dagster's
console output, the launched program's forwarded stdio, `log_external_stream` text) is sent to
stderr, so it can never corrupt the answers.

A request describes one scenario:

    {
      "name": "ctx_env",                     # used for the asset-job description only
      "command": ["/path/to/job", "arg"],    # argv of the external program
      "env": {"K": "V"},                     # extra environment for the program
      "injector": "tempfile" | "env",        # context injector (default: tempfile)
      "reader": "tempfile"                   # message reader (default: tempfile), or one of
                | "stdio:stdout" | "stdio:stderr"
                | "buffered_stdio:stdout" | "buffered_stdio:stderr"
                | "lambda"                   # dagster-aws PipesLambdaLogsMessageReader
                | "tempfile+stdio",          # temp file, include_stdio_in_messages=True
      "assets": [{"key": ["a", "b"], "code_version": "v1", "checks": ["c1"]}],
      "partitions": null | {"kind": "static", "keys": [...]}
                         | {"kind": "daily", "start": "2024-01-01"},
      "partition_key": null | "...",
      "extras": {...},                       # PipesSubprocessClient.run(extras=...)
      "max_retries": 0,                      # RetryPolicy on the asset
      "op": false,                           # a plain op job instead (assets are ignored)
      "lambda": {...}                        # PipesLambdaClient on the Lambda emulator: lambdaext.py
    }

The answer is what Dagster recorded, read back from the instance's event log (see `describe`).
"""

import base64
import io
import json
import logging
import os
import subprocess
import sys
import traceback
import warnings
from contextlib import contextmanager


def _redirect_stdout():
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return proto


PROTO = _redirect_stdout()

# Dagster's preview/beta notices (e.g. for PipesMessageReader.expected_writer_count) are noise here.
warnings.filterwarnings("ignore", message=".*is currently in (preview|beta).*")

# Dagster is imported after the redirect so that nothing it prints at import time reaches PROTO.
from dagster import (  # noqa: E402
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    DagsterEventType,
    DagsterInstance,
    DailyPartitionsDefinition,
    PipesEnvContextInjector,
    PipesSubprocessClient,
    PipesTempFileContextInjector,
    PipesTempFileMessageReader,
    RetryPolicy,
    StaticPartitionsDefinition,
    OpExecutionContext,
    job,
    materialize,
    multi_asset,
    op,
    open_pipes_session,
)
from dagster._core.pipes.client import PipesMessageReader  # noqa: E402
from dagster._core.pipes.utils import extract_message_or_forward_to_file  # noqa: E402
from dagster._serdes import serialize_value  # noqa: E402
try:  # the oldest supported Dagster's venv has only dagster and dagster-pipes
    from dagster_aws.pipes import PipesLambdaLogsMessageReader  # noqa: E402
except ImportError:  # pragma: no cover - reported when a Lambda scenario asks for it
    PipesLambdaLogsMessageReader = None

# Per-request state filled in by the asset body.
STATE = {}


def _recording(injector_cls):
    class Recording(injector_cls):
        @contextmanager
        def inject_context(self, context_data):
            STATE["contexts"].append(json.loads(json.dumps(context_data)))
            with super().inject_context(context_data) as params:
                yield params

    Recording.__name__ = injector_cls.__name__
    return Recording


INJECTORS = {
    "tempfile": _recording(PipesTempFileContextInjector),
    "env": _recording(PipesEnvContextInjector),
}


class StdioLineReader(PipesMessageReader):
    """Asks the program to write messages to its stdout/stderr (`stdio` / `buffered_stdio` keys of
    the default writer). The caller launches the program, captures the stream and feeds every line
    through Dagster's `extract_message_or_forward_to_file`, the helper Dagster's log-based readers
    (Lambda, CloudWatch) use to tell messages from ordinary output."""

    def __init__(self, key, stream):
        self.key = key
        self.stream = stream
        self.handler = None

    @contextmanager
    def read_messages(self, handler):
        self.handler = handler
        try:
            yield {self.key: self.stream}
        finally:
            self.handler = None

    def consume(self, text, forwarded):
        for line in text.splitlines():
            extract_message_or_forward_to_file(self.handler, line, forwarded)

    def no_messages_debug_text(self):
        return f"Attempted to read messages from the program's {self.stream} ({self.key})."


def _recording_reader(reader_cls):
    """Remembers Dagster's message handler, so custom messages can be read also after a failure
    (PipesSubprocessClient.run raises before it returns the invocation)."""

    class Recording(reader_cls):
        @contextmanager
        def read_messages(self, handler):
            STATE["handlers"].append(handler)
            with super().read_messages(handler) as params:
                yield params

    Recording.__name__ = reader_cls.__name__
    return Recording


def _make_reader(kind):
    if kind in (None, "", "tempfile"):
        return _recording_reader(PipesTempFileMessageReader)()
    if kind == "tempfile+stdio":
        return _recording_reader(PipesTempFileMessageReader)(include_stdio_in_messages=True)
    if kind == "lambda":
        if PipesLambdaLogsMessageReader is None:
            raise ImportError("the lambda reader needs dagster-aws, which this venv lacks")
        return _recording_reader(PipesLambdaLogsMessageReader)()
    key, _, stream = kind.partition(":")
    if key not in ("stdio", "buffered_stdio") or stream not in ("stdout", "stderr"):
        raise ValueError(f"unknown reader {kind!r}")
    return _recording_reader(StdioLineReader)(key, stream)


def _run_external(context, req):
    """Body of the asset: launch the program the way the request says, yield Dagster's results."""
    if req.get("lambda"):
        import lambdaext  # PipesLambdaClient on the Lambda emulator: see lambdaext.py (e2e/lambda_test.go)

        yield from lambdaext.run_external(context, req, sys.modules[__name__])
        return
    if any((req.get(k) or "").startswith("s3") for k in ("injector", "reader")):
        import s3ext  # dagster-aws S3 injector/reader on moto: see s3ext.py (e2e/s3_test.go)

        yield from s3ext.run_external(context, req, sys.modules[__name__])
        return
    if any((req.get(k) or "").startswith("gcs") for k in ("injector", "reader")):
        import gcsext  # dagster-gcp GCS injector/reader on fake-gcs-server: see gcsext.py (e2e/gcs_test.go)

        yield from gcsext.run_external(context, req, sys.modules[__name__])
        return
    if any((req.get(k) or "").startswith("azure") for k in ("injector", "reader")):
        import azureext  # dagster-azure injector/reader on Azurite: see azureext.py (e2e/azure_test.go)

        yield from azureext.run_external(context, req, sys.modules[__name__])
        return
    if (req.get("reader") or "").startswith("dbx"):
        import dbxext  # dagster-databricks on our loopback server: see dbxext.py (e2e/databricks_test.go)

        yield from dbxext.run_external(context, req, sys.modules[__name__])
        return
    injector = INJECTORS[req.get("injector") or "tempfile"]()
    reader = _make_reader(req.get("reader"))
    env = {**os.environ, **(req.get("env") or {})}
    extras = req.get("extras")
    if isinstance(reader, PipesTempFileMessageReader):
        client = PipesSubprocessClient(context_injector=injector, message_reader=reader)
        invocation = client.run(
            context=context, command=req["command"], env=req.get("env"), extras=extras
        )
        yield from invocation.get_results()
        return

    with open_pipes_session(
        context=context, context_injector=injector, message_reader=reader, extras=extras
    ) as session:
        proc = subprocess.run(
            req["command"],
            env={**env, **session.get_bootstrap_env_vars()},
            capture_output=True,
            text=True,
            check=False,
        )
        STATE["stdout"] = proc.stdout
        STATE["stderr"] = proc.stderr
        forwarded = io.StringIO()
        if PipesLambdaLogsMessageReader is not None and isinstance(
            reader, PipesLambdaLogsMessageReader
        ):
            reader.consume_lambda_logs(
                {"LogResult": base64.b64encode(proc.stderr.encode("utf-8")).decode("ascii")}
            )
        else:
            reader.consume(proc.stdout if reader.stream == "stdout" else proc.stderr, forwarded)
        STATE["forwarded"] = forwarded.getvalue().splitlines()
        if proc.returncode != 0:
            raise RuntimeError(f"External execution process failed with code {proc.returncode}")
    yield from session.get_results()


def _build_op_job(req):
    """A plain op (no asset): the step targets no asset."""

    @op(name="e2e_op")
    def e2e_op(context: OpExecutionContext):
        # An op yields no asset results; run the program and drop them.
        for _ in _run_external(context, req):
            pass

    @job(name="e2e_op_job")
    def e2e_op_job():
        e2e_op()

    return e2e_op_job


def _partitions(spec):
    if not spec:
        return None
    if spec["kind"] == "static":
        return StaticPartitionsDefinition(spec["keys"])
    if spec["kind"] == "daily":
        return DailyPartitionsDefinition(start_date=spec["start"])
    raise ValueError(f"unknown partitions kind {spec['kind']!r}")


def _build_assets(req):
    assets = req.get("assets") or [{"key": ["e2e_asset"]}]
    partitions_def = _partitions(req.get("partitions"))
    retry = RetryPolicy(max_retries=req["max_retries"]) if req.get("max_retries") else None
    check_specs = [
        AssetCheckSpec(name, asset=AssetKey(a["key"])) for a in assets for name in a.get("checks", [])
    ]

    def body(context: AssetExecutionContext):
        yield from _run_external(context, req)

    # Always a multi_asset: it accepts any asset key (an @asset derives its op name from the key,
    # and keys such as ["e2e", "we/ird"] are no valid op names). For Pipes the step is the same: it
    # targets the selected asset keys.
    # Output names are ours too, for the same reason.
    outs = {
        f"out_{i}": AssetOut(key=AssetKey(a["key"]), code_version=a.get("code_version"))
        for i, a in enumerate(assets)
    }
    return multi_asset(
        outs=outs,
        check_specs=check_specs or None,
        partitions_def=partitions_def,
        retry_policy=retry,
        name="e2e_step",
    )(body)


def _plain(value):
    """A JSON-able view of a value: Dagster objects in their serdes form."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    try:
        return json.loads(serialize_value(value))
    except Exception:
        if isinstance(value, tuple):
            return [_plain(v) for v in value]
        return repr(value)


def _metadata(md):
    return {
        name: {
            "type": type(v).__name__,
            "value": _plain(v.value),
            "serdes": json.loads(serialize_value(v)),
        }
        for name, v in (md or {}).items()
    }


def _error(err):
    if err is None:
        return None
    return {
        "cls_name": err.cls_name,
        "message": err.message,
        "stack": list(err.stack),
        "cause": _error(err.cause),
        "context": _error(err.context),
    }


def describe(instance, result):
    out = {
        "success": result.success,
        "materializations": [],
        "checks": [],
        "logs": [],
        "engine_errors": [],
        "step_failures": [],
        "step_retries": 0,
    }
    for entry in instance.all_logs(result.run_id):
        ev = entry.dagster_event
        if ev is None:
            out["logs"].append(
                {"level": logging.getLevelName(entry.level), "message": entry.user_message}
            )
            continue
        et = ev.event_type
        if et == DagsterEventType.ASSET_MATERIALIZATION:
            m = ev.event_specific_data.materialization
            out["materializations"].append(
                {
                    "asset_key": list(m.asset_key.path),
                    "metadata": _metadata(m.metadata),
                    "tags": dict(m.tags or {}),
                    "partition": m.partition,
                }
            )
        elif et == DagsterEventType.ASSET_CHECK_EVALUATION:
            c = ev.event_specific_data
            out["checks"].append(
                {
                    "asset_key": list(c.asset_key.path),
                    "check_name": c.check_name,
                    "passed": c.passed,
                    "severity": c.severity.value,
                    "metadata": _metadata(c.metadata),
                    "has_target_materialization": c.target_materialization_data is not None,
                }
            )
        elif et == DagsterEventType.ENGINE_EVENT:
            data = ev.event_specific_data
            if data is not None and data.error is not None:
                out["engine_errors"].append(
                    {"message": entry.user_message, "error": _error(data.error)}
                )
        elif et == DagsterEventType.STEP_FAILURE:
            out["step_failures"].append(_error(ev.event_specific_data.error))
        elif et == DagsterEventType.STEP_UP_FOR_RETRY:
            out["step_retries"] += 1
    return out


# Keep Dagster's console logger quiet: the event log (what we report) still gets every record.
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class Tee(io.TextIOBase):
    """Records what Dagster writes to sys.stdout / sys.stderr (log_external_stream text, lines
    its log-based readers forward) and passes it on."""

    def __init__(self, target):
        self.target = target
        self.parts = []

    def write(self, text):
        self.parts.append(text)
        return self.target.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self.target.flush()

    def text(self):
        return "".join(self.parts)


def handle(req):
    if req.get("definitions"):  # an example's own definitions.py: see examples_ext.py
        import examples_ext

        return examples_ext.handle(req, sys.modules[__name__])
    if req.get("values_messages"):  # the value class test: see valuesext.py
        import valuesext

        return valuesext.handle(req, sys.modules[__name__])
    STATE.clear()
    STATE.update(contexts=[], handlers=[])
    instance = DagsterInstance.ephemeral()
    run_config = RUN_CONFIG if not req.get("console") else None
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out_tee, err_tee = Tee(sys.stdout), Tee(sys.stderr)
    try:
        if req.get("op"):
            result = _build_op_job(req).execute_in_process(
                instance=instance, raise_on_error=False, run_config=run_config
            )
        else:
            result = materialize(
                [_build_assets(req)],
                instance=instance,
                partition_key=req.get("partition_key"),
                raise_on_error=False,
                run_config=run_config,
            )
    finally:
        sys.stdout, sys.stderr = saved
    out = describe(instance, result)
    out["run_id"] = result.run_id
    out["contexts"] = STATE["contexts"]
    # One list per attempt (a retried step opens a new session).
    out["custom_messages"] = [list(h.get_custom_messages()) for h in STATE["handlers"]]
    out["dagster_stdout"] = out_tee.text()
    out["dagster_stderr"] = err_tee.text()
    for k in ("stdout", "stderr", "forwarded"):
        if k in STATE:
            out[k] = STATE[k]
    return out


def main():
    PROTO.write(json.dumps({"ready": True}) + "\n")
    PROTO.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = handle(json.loads(line))
        except Exception:  # report, keep serving
            out = {"probe_error": traceback.format_exc()}
        PROTO.write(json.dumps(out) + "\n")
        PROTO.flush()


if __name__ == "__main__":
    main()
