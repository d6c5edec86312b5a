// The small job of bench/gojob (open, one materialization with 10 metadata
// entries, one asset check, close) through the Rust Pipes port.
use dagster_pipes_rust::{open_dagster_pipes, AssetCheckSeverity, PipesMetadataValue};
use serde_json::json;
use std::collections::HashMap;

// The port does not export its raw-value and type enums; its metadata value
// deserializes from the wire form.
fn value(raw: serde_json::Value, typ: &str) -> PipesMetadataValue {
    serde_json::from_value(json!({"raw_value": raw, "type": typ})).expect("metadata value")
}

fn main() {
    let mut pipes = open_dagster_pipes().expect("open_dagster_pipes");
    let metadata = HashMap::from([
        ("row_count", value(json!(1234567), "int")),
        ("size_mb", value(json!(12.5), "float")),
        ("path", value(json!("/data/out/part-0001.parquet"), "path")),
        ("url", value(json!("https://example.com/dashboards/42"), "url")),
        ("description", value(json!("# Daily load\nAll **good**."), "md")),
        ("ok", value(json!(true), "bool")),
        ("owner", value(json!("data-team"), "text")),
        ("updated_at", value(json!(1700000000.0), "timestamp")),
        ("partitions", value(json!(42), "int")),
        ("source", value(json!("warehouse.events"), "text")),
    ]);
    pipes
        .report_asset_materialization("bench_asset", metadata, Some("v1"))
        .expect("materialization");
    let check = HashMap::from([("rows", value(json!(1234567), "int"))]);
    pipes
        .report_asset_check("row_count_positive", true, "bench_asset", &AssetCheckSeverity::Error, check)
        .expect("asset check");
    // Dropping the context sends closed.
}
