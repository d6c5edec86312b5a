"""Dagster definitions that launch the Go job of this directory through Azure Blob Storage.

PipesAzureBlobStorageContextInjector uploads the context to the container,
PipesAzureBlobStorageMessageReader reads the message chunks the Go job uploads there. Both the Go
job and the Python client read the connection string from AZURE_STORAGE_CONNECTION_STRING, so
one variable serves both sides (Azurite included: give it an explicit BlobEndpoint).

Environment:
  AZURE_STORAGE_CONNECTION_STRING  the storage account (required)
  PIPES_AZURE_CONTAINER  the container to use (default "dagster-pipes"; it must exist)
  PIPES_AZURE_JOB        path of the built Go job; by default it runs `go run .` here
  PIPES_AZURE_INTERVAL   upload/poll interval in seconds (default 10)

    go build -o azurejob . && PIPES_AZURE_JOB=./azurejob dagster dev -f definitions.py
"""

import os
from pathlib import Path

import dagster as dg
from azure.storage.blob import BlobServiceClient
from dagster_azure.pipes import (
    PipesAzureBlobStorageContextInjector,
    PipesAzureBlobStorageMessageReader,
)

HERE = Path(__file__).resolve().parent
CONTAINER = os.environ.get("PIPES_AZURE_CONTAINER", "dagster-pipes")
INTERVAL = float(os.environ.get("PIPES_AZURE_INTERVAL", "10"))


def job_command() -> list[str]:
    job = os.environ.get("PIPES_AZURE_JOB")
    base = [job] if job else ["go", "run", str(HERE)]
    return [*base, f"-upload-interval={INTERVAL}s"]


@dg.asset
def go_azure_rows(
    context: dg.AssetExecutionContext, pipes_azure_client: dg.PipesSubprocessClient
) -> dg.MaterializeResult:
    """Rows computed by the Go job, reported back through Azure Blob Storage."""
    return pipes_azure_client.run(
        command=job_command(),
        context=context,
        extras={"rows": 5000},
        cwd=str(HERE),
    ).get_materialize_result()


blob_service = BlobServiceClient.from_connection_string(
    os.environ["AZURE_STORAGE_CONNECTION_STRING"]
)

defs = dg.Definitions(
    assets=[go_azure_rows],
    resources={
        "pipes_azure_client": dg.PipesSubprocessClient(
            context_injector=PipesAzureBlobStorageContextInjector(
                container=CONTAINER, client=blob_service
            ),
            message_reader=PipesAzureBlobStorageMessageReader(
                container=CONTAINER, client=blob_service, interval=INTERVAL
            ),
        )
    },
)
