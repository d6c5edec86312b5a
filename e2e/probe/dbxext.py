"""Databricks scenarios of the probe (e2e/databricks_test.go): dagster-databricks'
PipesDatabricksClient and PipesDatabricksServerlessClient, with the real Python databricks-sdk,
on our loopback Databricks server (internal/dbxserver), which runs the submitted task (a Python
launcher that execs the Go job) on this machine.

probe.py hands a request here when its reader starts with "dbx":

    "reader": "dbx:classic"      # PipesDatabricksClient, new cluster: bootstrap in spark_env_vars,
                                 #   PipesDbfsContextInjector + PipesDbfsMessageReader
            | "dbx:existing"     # ... on an existing cluster: bootstrap as CLI parameters
            | "dbx:logs"         # classic, the new cluster delivers its logs to DBFS: Dagster's
                                 #   PipesDbfsLogReader forwards the driver's stdout/stderr
            | "dbx:serverless"   # PipesDatabricksServerlessClient: Unity Catalog volumes
                                 #   injector/reader (stdio in messages), CLI parameters
            | "dbx:no-path"      # classic, but the injector hands over params without "path"
            | "dbx:bad-context"  # classic, but the injector names a context file that is not there
    "command": [go_binary, args...]   # the parameters of the launcher
    "env": {
      "PIPES_E2E_DBX_LAUNCHER": ".../e2e/jobs/databricks/launcher.py",   # the task's python_file
      "DATABRICKS_HOST": "http://127.0.0.1:<port>", "DATABRICKS_TOKEN": "...",
      "PIPES_E2E_DBX_CLUSTER": "<existing cluster id>",        # dbx:existing
      "PIPES_E2E_DBX_VOLUME": "/Volumes/main/default/pipes",   # dbx:serverless
    }

The answer's "forwarded" holds the run's life-cycle log lines; Dagster's failure text of a failed
Databricks run is in the step failure.
"""

import contextlib
import sys

from dagster import PipesContextInjector
from dagster_databricks.pipes import (
    PipesDatabricksClient,
    PipesDatabricksServerlessClient,
    PipesDbfsContextInjector,
    PipesDbfsLogReader,
    PipesDbfsMessageReader,
    PipesUnityCatalogVolumesContextInjector,
    PipesUnityCatalogVolumesMessageReader,
)
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs

# Poll often: a run takes a few seconds on the loopback server.
POLL = 0.5


class _BrokenInjector(PipesContextInjector):
    """Hands the job context params that the Go loader must refuse with a clear error."""

    def __init__(self, params):
        self.params = params

    @contextlib.contextmanager
    def inject_context(self, context_data):
        yield self.params

    def no_messages_debug_text(self):
        return "broken injector of the e2e tests"


def run_external(context, req, probe):
    env = req.get("env") or {}
    client = WorkspaceClient(host=env["DATABRICKS_HOST"], token=env["DATABRICKS_TOKEN"])
    kind = (req.get("reader") or "").partition(":")[2]
    # The launcher is the task's python_file; the Go program and its arguments are its parameters.
    spark_python_task = {
        "python_file": env["PIPES_E2E_DBX_LAUNCHER"],
        "parameters": list(req["command"]),
    }
    extras = req.get("extras")

    if kind == "serverless":
        volume = env["PIPES_E2E_DBX_VOLUME"]
        injector = probe._recording(PipesUnityCatalogVolumesContextInjector)(
            client=client, volume_path=volume
        )
        reader = probe._recording_reader(PipesUnityCatalogVolumesMessageReader)(
            client=client, volume_path=volume, interval=POLL
        )
        pipes_client = PipesDatabricksServerlessClient(
            client=client,
            volume_path=volume,
            context_injector=injector,
            message_reader=reader,
            poll_interval_seconds=POLL,
        )
        task = jobs.SubmitTask.from_dict(
            {"task_key": "go", "environment_key": "go_env", "spark_python_task": spark_python_task}
        )
        invocation = pipes_client.run(context=context, task=task, extras=extras)
        yield from invocation.get_results()
        return

    log_readers = None
    task_dict = {"task_key": "go", "spark_python_task": spark_python_task}
    if kind == "existing":
        task_dict["existing_cluster_id"] = env["PIPES_E2E_DBX_CLUSTER"]
    else:
        new_cluster = {"spark_version": "15.4.x-scala2.12", "num_workers": 0, "spark_env_vars": {}}
        if kind == "logs":
            new_cluster["cluster_log_conf"] = {"dbfs": {"destination": "dbfs:/cluster-logs"}}
            # What PipesDatabricksClient's default reader adds for such a cluster, polling faster.
            log_readers = [
                PipesDbfsLogReader(
                    client=client, remote_log_name=name, target_stream=stream, interval=POLL
                )
                for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr))
            ]
        task_dict["new_cluster"] = new_cluster

    if kind == "no-path":
        injector = _BrokenInjector({"bucket": "not-dbfs"})
    elif kind == "bad-context":
        injector = _BrokenInjector({"path": "/tmp/no-such-dir/context.json"})
    else:
        injector = probe._recording(PipesDbfsContextInjector)(client=client)
    reader = probe._recording_reader(PipesDbfsMessageReader)(
        client=client, interval=POLL, log_readers=log_readers
    )
    pipes_client = PipesDatabricksClient(
        client=client,
        context_injector=injector,
        message_reader=reader,
        poll_interval_seconds=POLL,
    )
    task = jobs.SubmitTask.from_dict(task_dict)
    # With log readers, Dagster keeps reading the logs 10 s after the run (for late delivery).
    invocation = pipes_client.run(context=context, task=task, extras=extras)
    yield from invocation.get_results()
