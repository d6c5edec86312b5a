"""Dagster definitions that launch the Go job of this directory through S3.

PipesS3ContextInjector uploads the context to the bucket, PipesS3MessageReader
reads the message chunks the Go job uploads there. Both the Go job and boto3
take their configuration from the environment, so AWS_ENDPOINT_URL (MinIO,
LocalStack, moto), AWS_REGION and the credentials apply to both sides.

Environment:
  PIPES_S3_BUCKET  the bucket to use (default "dagster-pipes"; it must exist)
  PIPES_S3_JOB     path of the built Go job; by default it runs `go run .` here
  PIPES_S3_INTERVAL  upload/poll interval in seconds (default 10)

    go build -o s3job . && PIPES_S3_JOB=./s3job dagster dev -f definitions.py
"""

import os
from pathlib import Path

import boto3
import dagster as dg
from dagster_aws.pipes import PipesS3ContextInjector, PipesS3MessageReader

HERE = Path(__file__).resolve().parent
BUCKET = os.environ.get("PIPES_S3_BUCKET", "dagster-pipes")
INTERVAL = float(os.environ.get("PIPES_S3_INTERVAL", "10"))


def job_command() -> list[str]:
    job = os.environ.get("PIPES_S3_JOB")
    base = [job] if job else ["go", "run", str(HERE)]
    return [*base, f"-upload-interval={INTERVAL}s"]


@dg.asset
def go_s3_rows(
    context: dg.AssetExecutionContext, pipes_s3_client: dg.PipesSubprocessClient
) -> dg.MaterializeResult:
    """Rows computed by the Go job, reported back through S3."""
    return pipes_s3_client.run(
        command=job_command(),
        context=context,
        extras={"rows": 5000},
        cwd=str(HERE),
    ).get_materialize_result()


s3 = boto3.client("s3")  # honours AWS_ENDPOINT_URL, like the Go job

defs = dg.Definitions(
    assets=[go_s3_rows],
    resources={
        "pipes_s3_client": dg.PipesSubprocessClient(
            context_injector=PipesS3ContextInjector(bucket=BUCKET, client=s3),
            message_reader=PipesS3MessageReader(bucket=BUCKET, client=s3, interval=INTERVAL),
        )
    },
)
