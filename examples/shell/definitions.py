"""Dagster definitions for examples/shell: a bash script (job.sh) as a Dagster asset, with no
Python or Go in the script: `pipes exec` runs it as the Pipes external process and the script
reports with `pipes materialize`, `pipes check` and `pipes log`.

    dagster dev -f examples/shell/definitions.py

The `pipes` binary is the one in PIPES_BINARY, else the one on PATH, else this repository's
(`go run`, Go must be installed). In a container image, install it next to your script (see the
README's "Pipes for any program").
"""

import os
import shutil
from pathlib import Path

import dagster as dg

HERE = Path(__file__).resolve().parent


def pipes_command() -> list[str]:
    binary = os.environ.get("PIPES_BINARY") or shutil.which("pipes")
    return [binary] if binary else ["go", "run", "github.com/dagster-pipes-go/pipes/cmd/pipes"]


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("enough_rows", asset="daily_report"),
        dg.AssetCheckSpec("every_region_busy", asset="daily_report"),
    ]
)
def daily_report(
    context: dg.AssetExecutionContext, pipes_subprocess_client: dg.PipesSubprocessClient
):
    yield from pipes_subprocess_client.run(
        command=[*pipes_command(), "exec", "--", "bash", "job.sh"],
        cwd=str(HERE),
        context=context,
        extras={"min_rows": 3},
    ).get_results()


defs = dg.Definitions(
    assets=[daily_report],
    resources={"pipes_subprocess_client": dg.PipesSubprocessClient()},
)
