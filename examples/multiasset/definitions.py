"""Dagster definitions for examples/multiasset: one Go step materializes two
assets of a multi_asset, each reported under its own key.

    dagster dev -f examples/multiasset/definitions.py

Runs `go run .` here, or the binary in PIPES_EXAMPLE_BINARY when set.
"""

import os
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def go_command() -> list[str]:
    binary = os.environ.get("PIPES_EXAMPLE_BINARY")
    return [binary] if binary else ["go", "run", "."]


@dg.multi_asset(
    specs=[dg.AssetSpec("customers", code_version="1"), dg.AssetSpec("orders", code_version="2")],
    can_subset=True,
)
def customers_and_orders(
    context: dg.AssetExecutionContext, pipes_subprocess_client: dg.PipesSubprocessClient
):
    yield from pipes_subprocess_client.run(
        command=go_command(), cwd=str(HERE), context=context
    ).get_results()


defs = dg.Definitions(
    assets=[customers_and_orders],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
