"""Dagster definitions that launch the Go job of this directory through GCS.

PipesGCSContextInjector uploads the context to the bucket, PipesGCSMessageReader
reads the message chunks the Go job uploads there. Both the Go job and
google-cloud-storage take their configuration from the environment:
Application Default Credentials, or STORAGE_EMULATOR_HOST for an emulator
(with the scheme, e.g. http://127.0.0.1:4443: the Python client needs it).

Environment:
  PIPES_GCS_BUCKET    the bucket to use (default "dagster-pipes"; it must exist)
  PIPES_GCS_JOB       path of the built Go job; by default it runs `go run .` here
  PIPES_GCS_INTERVAL  upload/poll interval in seconds (default 10)

    go build -o gcsjob . && PIPES_GCS_JOB=./gcsjob dagster dev -f definitions.py
"""

import os
from pathlib import Path

import dagster as dg
from dagster_gcp.pipes import PipesGCSContextInjector, PipesGCSMessageReader
from google.cloud import storage

HERE = Path(__file__).resolve().parent
BUCKET = os.environ.get("PIPES_GCS_BUCKET", "dagster-pipes")
INTERVAL = float(os.environ.get("PIPES_GCS_INTERVAL", "10"))


def job_command() -> list[str]:
    job = os.environ.get("PIPES_GCS_JOB")
    base = [job] if job else ["go", "run", str(HERE)]
    return [*base, f"-upload-interval={INTERVAL}s"]


@dg.asset(check_specs=[dg.AssetCheckSpec("has_rows", asset="go_gcs_rows")])
def go_gcs_rows(context: dg.AssetExecutionContext, pipes_gcs_client: dg.PipesSubprocessClient):
    """Rows computed by the Go job, reported back through GCS."""
    yield from pipes_gcs_client.run(
        command=job_command(),
        context=context,
        extras={"rows": 5000},
        cwd=str(HERE),
    ).get_results()


gcs = storage.Client()  # honours STORAGE_EMULATOR_HOST, like the Go job

defs = dg.Definitions(
    assets=[go_gcs_rows],
    resources={
        "pipes_gcs_client": dg.PipesSubprocessClient(
            context_injector=PipesGCSContextInjector(bucket=BUCKET, client=gcs),
            message_reader=PipesGCSMessageReader(bucket=BUCKET, client=gcs, interval=INTERVAL),
        )
    },
)
