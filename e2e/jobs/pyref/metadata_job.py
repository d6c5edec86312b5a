"""Python reference for the metadata scenario: the same input as e2e/jobs/metadata (Go)."""
from dagster_pipes import DagsterPipesError, open_dagster_pipes


def columns():
    return [
        {"name": "name", "type": "string", "description": "the name", "tags": {"pii": "yes"},
         "constraints": {"nullable": False, "unique": True, "other": ["non-empty"]}},
        {"name": "age", "type": "int"},
        {"name": "score", "type": "float", "constraints": {"nullable": True, "unique": False, "other": []}},
        {"name": "active", "type": "bool"},
        {"name": "note", "type": "string"},
    ]


def typed(t, v):
    return {"raw_value": v, "type": t}


METADATA = {
    "text": typed("text", "hello ✓"),
    "url": typed("url", "https://dagster.io/docs?a=1&b=2"),
    "path": typed("path", "/data/out/part-0001.parquet"),
    "notebook": typed("notebook", "/notebooks/analysis.ipynb"),
    "md": typed("md", "# Title\n\n*bold* and `code`"),
    "json_obj": typed("json", {"a": 1, "b": [1.5, None, "x", 2.0], "c": {"d": True}}),
    "json_arr": typed("json", [1, 2.0, "three", []]),
    "float": typed("float", 3.25),
    "float_whole": typed("float", 2.0),
    "float_neg": typed("float", -1e-9),
    "int": typed("int", 42),
    "int_max": typed("int", 9223372036854775807),
    "int_neg": typed("int", -5),
    "bool_true": typed("bool", True),
    "bool_false": typed("bool", False),
    "dagster_run": typed("dagster_run", "a1b2c3d4-0000-4000-8000-000000000001"),
    "asset": typed("asset", "upstream/table"),
    "null": typed("null", None),
    "timestamp": typed("timestamp", 1709641845.5),
    "timestamp_s": typed("timestamp", 1700000000.0),
    "table": typed("table", {
        "records": [
            {"name": "alice", "age": 30, "score": 1.5, "active": True, "note": None},
            {"name": "bob", "age": 25, "score": 2.0, "active": False, "note": "x"},
        ],
        "schema": columns(),
    }),
    "table_schema": typed("table_schema", {"columns": columns()}),
    "lineage": typed("table_column_lineage", {"deps_by_column": {
        "name": [{"asset_key": ["upstream", "table"], "column_name": "first_name"},
                 {"asset_key": ["upstream", "table"], "column_name": "last_name"}],
        "score": [{"asset_key": ["scores"], "column_name": "raw"}],
    }}),
    "infer_str": "plain",
    "infer_int": 7,
    "infer_int64": 1 << 40,
    "infer_uint8": 200,
    "infer_float": 1.5,
    "infer_float_whole": 3.0,
    "infer_float32": 0.5,
    "infer_bool": True,
    "infer_nil": None,
    "infer_list": [1, "a", 2.5],
    "infer_strings": ["x", "y"],
    # A dict cannot be passed raw to the Python library; it must be wrapped.
    "infer_map": typed("__infer__", {"k": "v", "n": 1.0}),
    "infer_explicit": typed("__infer__", 2.5),
}

with open_dagster_pipes() as pipes:
    report = {}
    # No NaN attempt here: the reference would write the non-standard JSON token NaN, Dagster
    # would record it, and the asset would count as materialized (the Go library refuses NaN).
    pipes.report_asset_materialization(data_version="v-e2e-1", metadata=METADATA)
    try:
        pipes.report_asset_materialization(data_version="v-e2e-2")
        report["second_is_already_materialized"] = False
    except DagsterPipesError as e:
        report["second_is_already_materialized"] = True
        report["second_error"] = str(e)
    pipes.report_custom_message(report)
