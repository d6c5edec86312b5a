// Command standalone is an e2e job meant to be started outside Dagster: it
// uses the whole API on the no-op Context and must exit 0 after one warning.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		again, err := pipes.Open(ctx) // the same (no-op) Context, no second warning
		if err != nil {
			return err
		}
		if again != p {
			return errors.New("pipes.Open returned a different Context")
		}
		p.Log().Info("not sent anywhere")
		if err := p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"n": 1}}); err != nil {
			return fmt.Errorf("materialization: %w", err)
		}
		if err := p.ReportAssetCheck(pipes.AssetCheck{CheckName: "c", Passed: true}); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		if err := p.ReportCustomMessage(map[string]any{"x": 1}); err != nil {
			return fmt.Errorf("custom message: %w", err)
		}
		keys, err := p.AssetKeys()
		fmt.Printf("standalone job ran: orchestrated=%v run_id=%q keys=%v keys_err=%v\n", p.IsOrchestrated(), p.RunID(), keys, err)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "standalone job failed:", err)
		os.Exit(1)
	}
}
