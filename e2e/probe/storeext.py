"""What the blob-store extensions of the probe share (s3ext.py, gcsext.py, azureext.py): the
choice of injector and reader for a request, and the run under PipesSubprocessClient.

A request's "injector" is "<name>" or "<name>:<arg>" for the store's injector, else one of
probe.INJECTORS; its "reader" is "<name>", "<name>:stdio" (include_stdio_in_messages=True) or
"tempfile".
"""

from dagster import PipesSubprocessClient


def run_store(context, req, probe, name, label, make_injector, make_reader):
    """Run the request's program with the store's injector and reader where the request names
    the store (name, e.g. "s3"; label, e.g. "S3", for errors). make_injector(arg) returns the
    recording injector for "<name>:<arg>"; make_reader(include_stdio) the recording reader."""
    env = req.get("env") or {}
    kind, _, arg = (req.get("injector") or "tempfile").partition(":")
    if kind == name:
        injector = make_injector(arg)
    else:
        injector = probe.INJECTORS[kind]()

    kind, _, arg = (req.get("reader") or "tempfile").partition(":")
    if kind == name:
        if arg not in ("", "stdio"):
            raise ValueError(f"unknown {label} reader option {arg!r}")
        reader = make_reader(arg == "stdio")
    elif kind == "tempfile":
        reader = probe._make_reader(kind)
    else:
        raise ValueError(f"reader {kind!r} is not supported with {label} (use {name} or tempfile)")

    pipes_client = PipesSubprocessClient(context_injector=injector, message_reader=reader)
    invocation = pipes_client.run(
        context=context, command=req["command"], env=env, extras=req.get("extras")
    )
    yield from invocation.get_results()
