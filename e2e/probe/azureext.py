"""Azure Blob Storage scenarios of the probe (e2e/azure_test.go): dagster-azure's
PipesAzureBlobStorageContextInjector and PipesAzureBlobStorageMessageReader on Azurite, with
PipesSubprocessClient launching the program.

probe.py hands a request here when its injector or its reader starts with "azure":

    "injector": "azure"                      # PipesAzureBlobStorageContextInjector
              | "tempfile" | "env"           # probe.py's injectors
    "reader":   "azure"                      # PipesAzureBlobStorageMessageReader
              | "azure:stdio"                #   ... with include_stdio_in_messages=True
              | "tempfile"                   # Dagster's default temp-file reader
    "env": {
      "AZURE_STORAGE_CONNECTION_STRING": "...;BlobEndpoint=http://127.0.0.1:<port>/devstoreaccount1;",
      "PIPES_E2E_AZURE_CONTAINER": "<container>",      # must exist
      "PIPES_E2E_AZURE_INTERVAL": "1",                 # reader poll interval, seconds (default 1)
      "PIPES_E2E_AZURE_DAGSTER_CONNECTION_STRING": "...",  # optional: Dagster's side uses this one
    }                                                       # (the job's goes through a fault proxy)

The same env reaches the launched program (PipesSubprocessClient adds it to its environment), so
the Go job's client finds the same emulator. Azurite runs with --skipApiVersionCheck: this
azure-storage-blob sends an API version newer than Azurite knows.
"""

from azure.storage.blob import BlobServiceClient
from dagster_azure.pipes import (
    PipesAzureBlobStorageContextInjector,
    PipesAzureBlobStorageMessageReader,
)

import storeext


def run_external(context, req, probe):
    """Body of the asset for an Azure scenario; probe is the probe.py module (for its recording
    wrappers)."""
    env = req.get("env") or {}
    container = env["PIPES_E2E_AZURE_CONTAINER"]
    interval = float(env.get("PIPES_E2E_AZURE_INTERVAL", "1"))
    client = BlobServiceClient.from_connection_string(
        env.get("PIPES_E2E_AZURE_DAGSTER_CONNECTION_STRING")
        or env["AZURE_STORAGE_CONNECTION_STRING"]
    )

    def make_injector(arg):
        if arg:
            raise ValueError(f"unknown Azure injector option {arg!r}")
        return probe._recording(PipesAzureBlobStorageContextInjector)(
            container=container, client=client
        )

    def make_reader(include_stdio):
        return probe._recording_reader(PipesAzureBlobStorageMessageReader)(
            container=container,
            client=client,
            interval=interval,
            include_stdio_in_messages=include_stdio,
        )

    yield from storeext.run_store(context, req, probe, "azure", "Azure", make_injector, make_reader)
