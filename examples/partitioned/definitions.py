"""Dagster definitions for examples/partitioned: a daily-partitioned asset
whose Go step reads its partition key and time window.

    dagster dev -f examples/partitioned/definitions.py

Runs `go run .` here, or the binary in PIPES_EXAMPLE_BINARY when set.
"""

import os
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def go_command() -> list[str]:
    binary = os.environ.get("PIPES_EXAMPLE_BINARY")
    return [binary] if binary else ["go", "run", "."]


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"))
def events(context: dg.AssetExecutionContext, pipes_subprocess_client: dg.PipesSubprocessClient):
    yield from pipes_subprocess_client.run(
        command=go_command(), cwd=str(HERE), context=context
    ).get_results()


defs = dg.Definitions(
    assets=[events],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
