// Command metadata is an e2e job: it materializes its asset with a data
// version and metadata of every type of the protocol (typed constructors and
// plain values sent as __infer__), then tries to materialize it again. The
// Python job e2e/jobs/pyref/metadata_job.py sends the same input; the test
// compares what Dagster recorded for both.
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		fmt.Fprintln(os.Stderr, "metadata job failed:", err)
		os.Exit(1)
	}
}

func metadata() pipes.Metadata {
	return pipes.Metadata{
		"text":        pipes.Text("hello ✓"),
		"url":         pipes.URL("https://dagster.io/docs?a=1&b=2"),
		"path":        pipes.Path("/data/out/part-0001.parquet"),
		"notebook":    pipes.Notebook("/notebooks/analysis.ipynb"),
		"md":          pipes.Markdown("# Title\n\n*bold* and `code`"),
		"json_obj":    pipes.JSON(map[string]any{"a": 1, "b": []any{1.5, nil, "x", 2.0}, "c": map[string]any{"d": true}}),
		"json_arr":    pipes.JSON([]any{1, 2.0, "three", []any{}}),
		"float":       pipes.Float(3.25),
		"float_whole": pipes.Float(2),
		"float_neg":   pipes.Float(-1e-9),
		"int":         pipes.Int(42),
		"int_max":     pipes.Int(math.MaxInt64),
		"int_neg":     pipes.Int(-5),
		"bool_true":   pipes.Bool(true),
		"bool_false":  pipes.Bool(false),
		"dagster_run": pipes.DagsterRun("a1b2c3d4-0000-4000-8000-000000000001"),
		"asset":       pipes.Asset("upstream/table"),
		"null":        pipes.Null(),
		"timestamp":   pipes.Timestamp(time.Date(2024, 3, 5, 12, 30, 45, 500_000_000, time.UTC)),
		"timestamp_s": pipes.Timestamp(time.Unix(1_700_000_000, 0)),
		"table": pipes.TableValue(pipes.Table{
			Records: []map[string]any{
				{"name": "alice", "age": 30, "score": 1.5, "active": true, "note": nil},
				{"name": "bob", "age": 25, "score": 2.0, "active": false, "note": "x"},
			},
			Schema: columns(),
		}),
		"table_schema": pipes.TableSchemaValue(pipes.TableSchema{Columns: columns()}),
		"lineage": pipes.ColumnLineage(pipes.TableColumnLineage{DepsByColumn: map[string][]pipes.TableColumnDep{
			"name":  {{AssetKey: "upstream/table", ColumnName: "first_name"}, {AssetKey: "upstream/table", ColumnName: "last_name"}},
			"score": {{AssetKey: "scores", ColumnName: "raw"}},
		}}),

		// Plain values: Dagster infers the type. Whole floats stay floats.
		"infer_str":         "plain",
		"infer_int":         7,
		"infer_int64":       int64(1 << 40),
		"infer_uint8":       uint8(200),
		"infer_float":       1.5,
		"infer_float_whole": float64(3),
		"infer_float32":     float32(0.5),
		"infer_bool":        true,
		"infer_nil":         nil,
		"infer_list":        []any{1, "a", 2.5},
		"infer_strings":     []string{"x", "y"},
		"infer_map":         map[string]any{"k": "v", "n": 1.0},
		"infer_explicit":    pipes.Infer(2.5),
	}
}

func columns() []pipes.TableColumn {
	return []pipes.TableColumn{
		{Name: "name", Type: "string", Description: "the name", Tags: map[string]string{"pii": "yes"},
			Constraints: &pipes.TableColumnConstraints{Nullable: false, Unique: true, Other: []string{"non-empty"}}},
		{Name: "age", Type: "int"},
		{Name: "score", Type: "float", Constraints: &pipes.TableColumnConstraints{Nullable: true}},
		{Name: "active", Type: "bool"},
		{Name: "note", Type: "string"},
	}
}

func job(ctx context.Context, p *pipes.Context) error {
	report := map[string]any{}

	// Invalid metadata is refused before anything is written, and does not
	// count as the asset's materialization.
	err := p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"bad": math.NaN()}})
	report["nan_is_invalid_metadata"] = errors.Is(err, pipes.ErrInvalidMetadata)

	if err := p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: "v-e2e-1",
		Metadata:    metadata(),
	}); err != nil {
		return err
	}

	// A second materialization of the same key is refused by the library.
	err = p.ReportAssetMaterialization(pipes.Materialization{DataVersion: "v-e2e-2"})
	report["second_is_already_materialized"] = errors.Is(err, pipes.ErrAlreadyMaterialized)
	if err != nil {
		report["second_error"] = err.Error()
	}
	return p.ReportCustomMessage(report)
}
