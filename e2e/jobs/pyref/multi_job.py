"""Python reference for the multi-asset scenario: the same calls as e2e/jobs/multi (Go)."""
from dagster_pipes import DagsterPipesError, open_dagster_pipes

with open_dagster_pipes() as pipes:
    report = {"asset_keys": pipes.asset_keys}

    def record(name, fn):
        try:
            fn()
            report[name] = None
        except DagsterPipesError as e:
            report[name] = {"error": str(e)}

    record("asset_key", lambda: pipes.asset_key)
    record("code_version", lambda: pipes.code_version)
    record("no_key", lambda: pipes.report_asset_materialization(metadata={"x": 1}))
    record("unknown_key", lambda: pipes.report_asset_materialization(asset_key="multi/unknown"))
    record("check_no_key", lambda: pipes.report_asset_check("b_check", passed=True))

    pipes.report_asset_materialization(asset_key="multi/a", metadata={"part": "a"})
    pipes.report_asset_materialization(asset_key="multi/b", data_version="vb", metadata={"part": "b"})
    pipes.report_asset_check("b_check", passed=True, asset_key="multi/b")
    pipes.report_custom_message(report)
