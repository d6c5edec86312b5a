// Command multiasset is a Dagster Pipes job that materializes several
// assets in one step (a Dagster multi_asset), reporting each asset under its
// own key with its own metadata, and a data version derived from its code
// version.
//
// Dagster launches it with definitions.py; without Dagster:
//
//	go run ./cmd/pipes run --asset customers --asset orders --code-version customers=1 --code-version orders=2 -- go run ./examples/multiasset
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		// pipes.Run has sent the error to Dagster (the closed message); say
		// it on stderr too, for whoever runs the program by hand.
		fmt.Fprintln(os.Stderr, "multiasset:", err)
		os.Exit(1)
	}
}

// rowCounts stands in for the real work of building each asset.
var rowCounts = map[string]int{"customers": 120, "orders": 3400}

func job(ctx context.Context, p *pipes.Context) error {
	// The step targets a subset of the multi-asset's keys; report each one
	// it targets, and only those.
	keys, err := p.AssetKeys()
	if err != nil {
		return err
	}
	versions, err := p.CodeVersionByAssetKey()
	if err != nil {
		return err
	}
	for _, key := range keys {
		rows, ok := rowCounts[key]
		if !ok {
			return fmt.Errorf("do not know how to build %q", key)
		}
		p.Log().Info("built asset", "asset", key, "rows", rows)
		if err := p.ReportAssetMaterialization(pipes.Materialization{
			AssetKey:    key, // required: the step targets several assets
			DataVersion: fmt.Sprintf("%s-%d", versions[key], rows),
			Metadata: pipes.Metadata{
				"rows":         pipes.Int(int64(rows)),
				"code_version": versions[key],
			},
		}); err != nil {
			return err
		}
	}
	return nil
}
