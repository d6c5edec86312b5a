"""GCS scenarios of the probe (e2e/gcs_test.go): dagster-gcp's PipesGCSContextInjector and
PipesGCSMessageReader on fake-gcs-server, with PipesSubprocessClient launching the program.

probe.py hands a request here when its injector or its reader starts with "gcs":

    "injector": "gcs" | "gcs:<key_prefix>"   # PipesGCSContextInjector(key_prefix=...)
              | "tempfile" | "env"           # probe.py's injectors
    "reader":   "gcs"                        # PipesGCSMessageReader
              | "gcs:stdio"                  #   ... with include_stdio_in_messages=True
              | "tempfile"                   # Dagster's default temp-file reader
    "env": {
      "STORAGE_EMULATOR_HOST": "http://127.0.0.1:<port>",   # the server (scheme included:
                                                           # the Python client needs it)
      "PIPES_E2E_GCS_BUCKET": "<bucket>",                  # must exist
      "PIPES_E2E_GCS_INTERVAL": "1",                       # reader poll interval, seconds
      "PIPES_E2E_GCS_READER_HOST": "http://127.0.0.1:<p>",  # optional: where Dagster's side
                                                           # reaches the server, when the job
                                                           # goes through a fault proxy
    }

The same env reaches the launched program (PipesSubprocessClient adds it to its environment), so
the Go job's storage client finds the same server.
"""

from dagster_gcp.pipes import PipesGCSContextInjector, PipesGCSMessageReader
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

import storeext


def _client(env):
    # The endpoint is passed explicitly: the probe's own environment has no STORAGE_EMULATOR_HOST
    # (it is per request), and the project is a placeholder (nothing here is project-scoped).
    host = env.get("PIPES_E2E_GCS_READER_HOST") or env["STORAGE_EMULATOR_HOST"]
    return storage.Client(
        project="pipes-e2e",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": host},
    )


def run_external(context, req, probe):
    """Body of the asset for a GCS scenario; probe is the probe.py module (for its recording
    wrappers and STATE)."""
    env = req.get("env") or {}
    bucket = env["PIPES_E2E_GCS_BUCKET"]
    interval = float(env.get("PIPES_E2E_GCS_INTERVAL", "1"))
    client = _client(env)

    def make_injector(arg):
        return probe._recording(PipesGCSContextInjector)(
            bucket=bucket, client=client, key_prefix=arg or None
        )

    def make_reader(include_stdio):
        return probe._recording_reader(PipesGCSMessageReader)(
            bucket=bucket, client=client, interval=interval, include_stdio_in_messages=include_stdio
        )

    yield from storeext.run_store(context, req, probe, "gcs", "GCS", make_injector, make_reader)
