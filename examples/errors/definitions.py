"""Dagster definitions for examples/errors: the Go step fails on purpose.
Dagster shows the Go error (message, wrapped causes, stack) in the event
"[pipes] external process pipes closed with exception" and fails the step
because the process exits non-zero.

    dagster dev -f examples/errors/definitions.py

The run config's `mode` ("error", "panic" or "ok") is passed to the Go side as
an extra. Runs `go run .` here, or the binary in PIPES_EXAMPLE_BINARY when set.
"""

import os
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def go_command() -> list[str]:
    binary = os.environ.get("PIPES_EXAMPLE_BINARY")
    return [binary] if binary else ["go", "run", "."]


class FragileConfig(dg.Config):
    mode: str = "error"


@dg.asset
def fragile(
    context: dg.AssetExecutionContext,
    config: FragileConfig,
    pipes_subprocess_client: dg.PipesSubprocessClient,
):
    yield from pipes_subprocess_client.run(
        command=go_command(), cwd=str(HERE), context=context, extras={"mode": config.mode}
    ).get_results()


defs = dg.Definitions(
    assets=[fragile],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
