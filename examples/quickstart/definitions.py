"""Dagster definitions for the Go quickstart job (examples/quickstart).

The asset `orders` runs the Go program through Dagster Pipes with
PipesSubprocessClient; the Go side logs, reports the materialization with its
metadata and the result of the `non_negative_totals` check.

    dagster dev -f examples/quickstart/definitions.py

By default the asset runs `go run .` in this directory (Go must be installed).
Set PIPES_EXAMPLE_BINARY to a compiled binary (`go build -o quickstart
./examples/quickstart`) to run that instead.
"""

import os
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def go_command() -> list[str]:
    binary = os.environ.get("PIPES_EXAMPLE_BINARY")
    return [binary] if binary else ["go", "run", "."]


@dg.asset(check_specs=[dg.AssetCheckSpec("non_negative_totals", asset="orders")])
def orders(context: dg.AssetExecutionContext, pipes_subprocess_client: dg.PipesSubprocessClient):
    yield from pipes_subprocess_client.run(
        command=go_command(),
        cwd=str(HERE),
        context=context,
        extras={"limit": 5},
    ).get_results()


defs = dg.Definitions(
    assets=[orders],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
