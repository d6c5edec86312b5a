// Command newcomer is an e2e job that makes the mistakes of the README's
// troubleshooting section, so that its texts are checked against what real
// Dagster records. Its argument picks the mistake:
//
//	orders   reports the asset "orders", whatever the step targets
//	twice    reports the step's asset twice
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		switch mode {
		case "orders":
			return p.ReportAssetMaterialization(pipes.Materialization{AssetKey: "orders"})
		case "twice":
			if err := p.ReportAssetMaterialization(pipes.Materialization{}); err != nil {
				return err
			}
			return p.ReportAssetMaterialization(pipes.Materialization{})
		}
		return fmt.Errorf("unknown mode %q", mode)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "newcomer:", err)
		os.Exit(1)
	}
}
