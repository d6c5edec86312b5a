"""Dagster definitions that run the Go job of this directory on Databricks.

Two assets, one per dagster-databricks Pipes client:

* go_dbx_orders: PipesDatabricksClient on a new job cluster. Dagster writes the context to DBFS and
  reads the message chunks the Go job uploads there (PipesDbfsContextInjector and
  PipesDbfsMessageReader); the bootstrap values reach the job in spark_env_vars.
* go_dbx_orders_serverless: PipesDatabricksServerlessClient. Context and messages go through a
  Unity Catalog volume; the bootstrap values reach the job as command-line arguments.

The task is a spark_python_task running launcher.py, which execs the Go binary given as its first
parameter. Build the binary for the cluster (GOOS=linux GOARCH=amd64 go build -o orders-job .) and
upload it and launcher.py, e.g. with the Databricks CLI:

    databricks fs cp orders-job dbfs:/pipes/orders-job
    databricks fs cp launcher.py dbfs:/pipes/launcher.py

Environment (the WorkspaceClient reads DATABRICKS_HOST, DATABRICKS_TOKEN, profiles, OAuth...):
  PIPES_DBX_LAUNCHER   python_file of the task (default dbfs:/pipes/launcher.py)
  PIPES_DBX_BINARY     the Go binary as the cluster sees it (default /dbfs/pipes/orders-job)
  PIPES_DBX_VOLUME     the volume for the serverless client (default /Volumes/main/default/pipes)
  PIPES_DBX_INTERVAL   poll/upload interval in seconds (default 10)
  PIPES_DBX_SECRET_SCOPE  secret scope holding "host" and "token" for the job's own API calls
                          (default: pass the driver the values of this process's environment)

    dagster dev -f definitions.py
"""

import os

import dagster as dg
from dagster_databricks.pipes import (
    PipesDatabricksClient,
    PipesDatabricksServerlessClient,
    PipesDbfsMessageReader,
    PipesUnityCatalogVolumesMessageReader,
)
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs

LAUNCHER = os.environ.get("PIPES_DBX_LAUNCHER", "dbfs:/pipes/launcher.py")
BINARY = os.environ.get("PIPES_DBX_BINARY", "/dbfs/pipes/orders-job")
VOLUME = os.environ.get("PIPES_DBX_VOLUME", "/Volumes/main/default/pipes")
INTERVAL = float(os.environ.get("PIPES_DBX_INTERVAL", "10"))


def job_credentials() -> dict[str, str]:
    """How the Go job authenticates to the workspace: secrets on a real cluster."""
    scope = os.environ.get("PIPES_DBX_SECRET_SCOPE")
    if scope:
        return {
            "DATABRICKS_HOST": f"{{{{secrets/{scope}/host}}}}",
            "DATABRICKS_TOKEN": f"{{{{secrets/{scope}/token}}}}",
        }
    return {k: os.environ[k] for k in ("DATABRICKS_HOST", "DATABRICKS_TOKEN") if k in os.environ}


def task(store: str, **compute) -> jobs.SubmitTask:
    return jobs.SubmitTask.from_dict(
        {
            "task_key": "go_orders",
            "spark_python_task": {
                "python_file": LAUNCHER,
                "parameters": [BINARY, f"-store={store}", f"-upload-interval={INTERVAL}s"],
            },
            **compute,
        }
    )


@dg.asset(check_specs=[dg.AssetCheckSpec("has_orders", asset="go_dbx_orders")])
def go_dbx_orders(context: dg.AssetExecutionContext, pipes_databricks: PipesDatabricksClient):
    """Orders summed by the Go job on a Databricks job cluster (DBFS)."""
    new_cluster = {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "i3.xlarge",
        "num_workers": 0,
        "spark_env_vars": job_credentials(),
    }
    return pipes_databricks.run(
        context=context, task=task("dbfs", new_cluster=new_cluster), extras={"orders": 25}
    ).get_results()


@dg.asset(
    check_specs=[dg.AssetCheckSpec("has_orders", asset="go_dbx_orders_serverless")],
)
def go_dbx_orders_serverless(
    context: dg.AssetExecutionContext, pipes_databricks_serverless: PipesDatabricksServerlessClient
):
    """The same job on serverless compute (Unity Catalog volumes)."""
    return pipes_databricks_serverless.run(
        context=context,
        task=task("volumes", environment_key="go_env"),
        extras={"orders": 7},
        # A serverless Python task names its environment.
        submit_args={
            "environments": [
                jobs.JobEnvironment.from_dict({"environment_key": "go_env", "spec": {"client": "2"}})
            ]
        },
    ).get_results()


client = WorkspaceClient()

defs = dg.Definitions(
    assets=[go_dbx_orders, go_dbx_orders_serverless],
    resources={
        "pipes_databricks": PipesDatabricksClient(
            client=client,
            message_reader=PipesDbfsMessageReader(client=client, interval=INTERVAL),
            poll_interval_seconds=INTERVAL,
        ),
        "pipes_databricks_serverless": PipesDatabricksServerlessClient(
            client=client,
            volume_path=VOLUME,
            message_reader=PipesUnityCatalogVolumesMessageReader(
                client=client, volume_path=VOLUME, interval=INTERVAL
            ),
            poll_interval_seconds=INTERVAL,
        ),
    },
)
