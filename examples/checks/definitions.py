"""Dagster definitions for examples/checks: an asset with three checks
evaluated by the Go step, with ERROR and WARN severities (one passes, two
fail; none is blocking, so the run succeeds).

    dagster dev -f examples/checks/definitions.py

Runs `go run .` here, or the binary in PIPES_EXAMPLE_BINARY when set.
"""

import os
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def go_command() -> list[str]:
    binary = os.environ.get("PIPES_EXAMPLE_BINARY")
    return [binary] if binary else ["go", "run", "."]


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("no_negative_stock", asset="inventory"),
        dg.AssetCheckSpec("few_backorders", asset="inventory"),
        dg.AssetCheckSpec("all_in_stock", asset="inventory"),
    ]
)
def inventory(context: dg.AssetExecutionContext, pipes_subprocess_client: dg.PipesSubprocessClient):
    yield from pipes_subprocess_client.run(
        command=go_command(), cwd=str(HERE), context=context
    ).get_results()


defs = dg.Definitions(
    assets=[inventory],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
