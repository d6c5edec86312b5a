"""Lambda scenarios of the probe (e2e/lambda_test.go): dagster-aws's PipesLambdaClient, with a real
boto3 Lambda client pointed at the loopback emulator (internal/lambdaemu), invokes a Go function.

probe.py hands a request here when it has "lambda":

    "lambda": {
      "endpoint": "http://127.0.0.1:<port>",   # the emulator's Invoke API
      "function": "<name>",                    # FunctionName
      "event": {...},                          # PipesLambdaClient.run(event=...)
      "reader": "logs"                         # PipesLambdaLogsMessageReader (the client's default)
              | "s3",                          # PipesS3MessageReader on moto
      "s3": {                                  # for "s3": the moto server and the bucket
        "endpoint": "http://127.0.0.1:<port>", "bucket": "<bucket>", "interval": 1
      }
    }

The context goes in the event (PipesLambdaEventContextInjector, the client's default), recorded
by the probe like every other injector. The client's invoke response is not returned by
PipesLambdaClient.run; the Go test reads what the function returned from the emulator.
"""

import boto3
from botocore.config import Config
from dagster_aws.pipes import (
    PipesLambdaClient,
    PipesLambdaEventContextInjector,
    PipesLambdaLogsMessageReader,
    PipesS3MessageReader,
)

_CREDENTIALS = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def run_external(context, req, probe):
    """Body of the asset for a Lambda scenario; probe is the probe.py module."""
    spec = req["lambda"]
    lambda_client = boto3.client(
        "lambda",
        endpoint_url=spec["endpoint"],
        # One attempt: a retried Invoke would run the function twice.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=300),
        **_CREDENTIALS,
    )
    reader_kind = spec.get("reader") or "logs"
    if reader_kind == "logs":
        reader = probe._recording_reader(PipesLambdaLogsMessageReader)()
    elif reader_kind == "s3":
        s3 = spec["s3"]
        s3_client = boto3.client(
            "s3", endpoint_url=s3["endpoint"], config=Config(s3={"addressing_style": "path"}), **_CREDENTIALS
        )
        reader = probe._recording_reader(PipesS3MessageReader)(
            bucket=s3["bucket"], client=s3_client, interval=float(s3.get("interval", 1))
        )
    else:
        raise ValueError(f"unknown Lambda reader {reader_kind!r}")
    injector = probe._recording(PipesLambdaEventContextInjector)()
    client = PipesLambdaClient(client=lambda_client, context_injector=injector, message_reader=reader)
    invocation = client.run(function_name=spec["function"], event=spec.get("event") or {}, context=context)
    yield from invocation.get_results()
