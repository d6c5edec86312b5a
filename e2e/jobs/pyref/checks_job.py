"""Python reference for the asset-check scenario: the same checks as e2e/jobs/checks (Go)."""
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    key = pipes.asset_key
    pipes.report_asset_materialization()
    pipes.report_asset_check("passes", passed=True, asset_key=key,
                             metadata={"rows": 10, "ratio": {"raw_value": 0.5, "type": "float"}})
    pipes.report_asset_check("warns", passed=False, severity="WARN", asset_key=key,
                             metadata={"reason": {"raw_value": "too few rows", "type": "text"}, "threshold": 1.0})
    pipes.report_asset_check("errors", passed=False, severity="ERROR",
                             metadata={"details": {"raw_value": {"missing": ["a", "b"]}, "type": "json"}})
    pipes.report_asset_check("default_severity", passed=False)
    pipes.report_asset_check("passes_implicit", passed=True, severity="WARN")
