// Command quickstart is a Dagster Pipes job in Go: it logs, reports a
// materialization of the asset "orders" with several kinds of metadata, and
// the result of an asset check on it.
//
// Dagster launches it with definitions.py (next to this file). Without
// Dagster, run it with the local runner from the repository root:
//
//	go run ./cmd/pipes run -- go run ./examples/quickstart
//
// Its test, main_test.go, runs it with pipestest.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// asset is the key of the asset this job materializes; definitions.py
// declares it.
const asset = "orders"

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		// pipes.Run has sent the error to Dagster (the closed message); say
		// it on stderr too, for whoever runs the program by hand.
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// order is one row of the asset.
type order struct {
	ID       int
	Customer string
	Total    float64
}

// job is the work: Dagster runs it through pipes.Run in main, tests run it
// through pipestest.
func job(ctx context.Context, p *pipes.Context) error {
	// Extras come from the Dagster side (extras={"limit": 5} in
	// definitions.py); a default keeps the job runnable without them.
	limit := 5
	if err := p.DecodeExtra("limit", &limit); err != nil && !errors.Is(err, pipes.ErrUndefined) {
		return err
	}
	p.Log().Info("computing orders", "limit", limit, "run_id", p.RunID())

	orders := make([]order, limit)
	var total float64
	for i := range orders {
		orders[i] = order{ID: i + 1, Customer: fmt.Sprintf("customer-%d", i%3), Total: float64(10*(i+1)) + 0.5}
		total += orders[i].Total
	}
	if limit > 100 {
		p.Log().Warn("large batch", "rows", limit)
	}

	preview := "| id | customer | total |\n|---|---|---|\n"
	for _, o := range orders[:min(3, len(orders))] {
		preview += fmt.Sprintf("| %d | %s | %.2f |\n", o.ID, o.Customer, o.Total)
	}
	if err := p.ReportAssetMaterialization(pipes.Materialization{
		AssetKey:    asset,
		DataVersion: fmt.Sprintf("rows-%d", len(orders)),
		Metadata: pipes.Metadata{
			"rows":        len(orders),             // a plain value: Dagster infers int
			"total":       pipes.Float(total),      // typed: always a float
			"preview":     pipes.Markdown(preview), // rendered as Markdown
			"source":      pipes.URL("https://example.com/orders"),
			"computed_at": pipes.Timestamp(time.Now()),
			"schema": pipes.TableSchemaValue(pipes.TableSchema{Columns: []pipes.TableColumn{
				{Name: "id", Type: "int"}, {Name: "customer", Type: "string"}, {Name: "total", Type: "float"},
			}}),
		},
	}); err != nil {
		return err
	}

	negative := 0
	for _, o := range orders {
		if o.Total < 0 {
			negative++
		}
	}
	return p.ReportAssetCheck(pipes.AssetCheck{
		AssetKey:  asset,
		CheckName: "non_negative_totals",
		Passed:    negative == 0,
		Metadata:  pipes.Metadata{"negative_rows": negative},
	})
}
