"""S3 scenarios of the probe (e2e/s3_test.go): dagster-aws's PipesS3ContextInjector and
PipesS3MessageReader on a moto S3 server, with PipesSubprocessClient launching the program.

probe.py hands a request here when its injector or its reader starts with "s3":

    "injector": "s3" | "s3:<key_prefix>"     # PipesS3ContextInjector(key_prefix=...)
              | "tempfile" | "env"           # probe.py's injectors
    "reader":   "s3"                         # PipesS3MessageReader
              | "s3:stdio"                   #   ... with include_stdio_in_messages=True
              | "tempfile"                   # Dagster's default temp-file reader
    "env": {
      "AWS_ENDPOINT_URL": "http://127.0.0.1:<port>",   # the moto server
      "AWS_ACCESS_KEY_ID": ..., "AWS_SECRET_ACCESS_KEY": ..., "AWS_REGION": ...,
      "PIPES_E2E_S3_BUCKET": "<bucket>",               # must exist
      "PIPES_E2E_S3_INTERVAL": "1",                    # reader poll interval, seconds (default 1)
    }

The same env reaches the launched program (PipesSubprocessClient adds it to its environment), so
the Go job's S3 client finds the same server.

What Dagster's message handler prints for `log_external_stream` is in the answer's
"dagster_stdout" / "dagster_stderr" (probe.py tees sys.stdout / sys.stderr during every run).
"""

import boto3
from botocore.config import Config
from dagster_aws.pipes import PipesS3ContextInjector, PipesS3MessageReader

import storeext


def _client(env):
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region_name=env.get("AWS_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}),
    )


def run_external(context, req, probe):
    """Body of the asset for an S3 scenario; probe is the probe.py module (for its recording
    wrappers and STATE)."""
    env = req.get("env") or {}
    bucket = env["PIPES_E2E_S3_BUCKET"]
    interval = float(env.get("PIPES_E2E_S3_INTERVAL", "1"))
    client = _client(env)

    def make_injector(arg):
        return probe._recording(PipesS3ContextInjector)(
            bucket=bucket, client=client, key_prefix=arg or None
        )

    def make_reader(include_stdio):
        return probe._recording_reader(PipesS3MessageReader)(
            bucket=bucket, client=client, interval=interval, include_stdio_in_messages=include_stdio
        )

    yield from storeext.run_store(context, req, probe, "s3", "S3", make_injector, make_reader)
