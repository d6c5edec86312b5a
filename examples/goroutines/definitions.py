"""Dagster definitions for examples/goroutines: a long Go step whose workers
log from goroutines while it runs (watch the logs arrive in the Dagster UI),
then report one custom message per worker and the materialization.
Terminating the run from the UI sends SIGINT; the Go job stops its workers and
reports the interruption.

    dagster dev -f examples/goroutines/definitions.py

The run config sets the number of workers and steps and the duration of one
step; they reach the Go side as extras. Runs `go run .` here, or the binary in
PIPES_EXAMPLE_BINARY when set.
"""

import os
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def go_command() -> list[str]:
    binary = os.environ.get("PIPES_EXAMPLE_BINARY")
    return [binary] if binary else ["go", "run", "."]


class CrunchConfig(dg.Config):
    workers: int = 4
    steps: int = 20
    step_ms: int = 100


@dg.asset
def crunched(
    context: dg.AssetExecutionContext,
    config: CrunchConfig,
    pipes_subprocess_client: dg.PipesSubprocessClient,
):
    invocation = pipes_subprocess_client.run(
        command=go_command(),
        cwd=str(HERE),
        context=context,
        extras={"workers": config.workers, "steps": config.steps, "step_ms": config.step_ms},
    )
    for message in invocation.get_custom_messages():
        context.log.info(f"worker finished: {message}")
    yield from invocation.get_results()


defs = dg.Definitions(
    assets=[crunched],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
