"""Example scenarios of the probe (e2e/examples_test.go): load an example's own definitions.py
(examples/<name>/definitions.py, unchanged), take its `defs` and materialize its assets with its
resources on an ephemeral instance.

probe.py hands a request here when it has "definitions":

    {
      "name": "quickstart",                      # for the failure messages only
      "definitions": "/abs/path/definitions.py",
      "env": {"PIPES_EXAMPLE_BINARY": "..."},    # set in os.environ while the module is loaded
                                                 # and the run lasts (the definitions read it;
                                                 # PipesSubprocessClient passes os.environ on)
      "select": ["orders"] | null,               # asset selection (default: all of defs' assets)
      "partition_key": "2024-03-01" | null,
      "run_config": {"ops": {...}} | null        # merged with probe.RUN_CONFIG (quiet console)
    }

The answer is probe.describe's, as for every other scenario, with "run_id", "dagster_stdout" and
"dagster_stderr". The definitions use their own Pipes clients, so the probe records no injected
context and no custom messages: "contexts" and "custom_messages" are empty.
"""

import importlib.util
import itertools
import os
import sys

from dagster import DagsterInstance, materialize

_SEQ = itertools.count()


def _load(path):
    """Imports definitions.py as a fresh module (its module-level code reads the environment)."""
    name = f"pipes_example_{next(_SEQ)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # for anything that looks its classes up by module name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return name, module


def handle(req, probe):
    saved_env = dict(os.environ)
    os.environ.update(req.get("env") or {})
    name = None
    try:
        name, module = _load(req["definitions"])
        defs = module.defs
        run_config = dict(probe.RUN_CONFIG)
        run_config.update(req.get("run_config") or {})
        instance = DagsterInstance.ephemeral()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out_tee, err_tee = probe.Tee(sys.stdout), probe.Tee(sys.stderr)
        try:
            result = materialize(
                list(defs.assets or []) + list(defs.asset_checks or []),
                resources=defs.resources,
                selection=req.get("select"),
                partition_key=req.get("partition_key"),
                instance=instance,
                raise_on_error=False,
                run_config=run_config,
            )
        finally:
            sys.stdout, sys.stderr = saved
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        if name is not None:
            sys.modules.pop(name, None)
    out = probe.describe(instance, result)
    out["run_id"] = result.run_id
    out["contexts"] = []
    out["custom_messages"] = []
    out["dagster_stdout"] = out_tee.text()
    out["dagster_stderr"] = err_tee.text()
    return out
