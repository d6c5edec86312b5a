// Command multi is an e2e job for a step that targets several assets: it
// materializes some of them by key, and reports what the library refused
// (no key, an unknown key) as a custom message. The Python job
// e2e/jobs/pyref/multi_job.py does the same.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		fmt.Fprintln(os.Stderr, "multi job failed:", err)
		os.Exit(1)
	}
}

func job(ctx context.Context, p *pipes.Context) error {
	keys, err := p.AssetKeys()
	if err != nil {
		return err
	}
	report := map[string]any{"asset_keys": keys}
	record := func(name string, err error) {
		if err == nil {
			report[name] = nil
			return
		}
		report[name] = map[string]any{
			"error":             err.Error(),
			"invalid_asset_key": errors.Is(err, pipes.ErrInvalidAssetKey),
			"undefined":         errors.Is(err, pipes.ErrUndefined),
		}
	}
	_, err = p.AssetKey()
	record("asset_key", err)
	_, err = p.CodeVersion()
	record("code_version", err)
	record("no_key", p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"x": 1}}))
	record("unknown_key", p.ReportAssetMaterialization(pipes.Materialization{AssetKey: "multi/unknown"}))
	record("check_no_key", p.ReportAssetCheck(pipes.AssetCheck{CheckName: "b_check", Passed: true}))

	// Per-key materializations; multi/c is left to Dagster's implicit one.
	if err := p.ReportAssetMaterialization(pipes.Materialization{AssetKey: "multi/a", Metadata: pipes.Metadata{"part": "a"}}); err != nil {
		return err
	}
	if err := p.ReportAssetMaterialization(pipes.Materialization{AssetKey: "multi/b", DataVersion: "vb", Metadata: pipes.Metadata{"part": "b"}}); err != nil {
		return err
	}
	if err := p.ReportAssetCheck(pipes.AssetCheck{AssetKey: "multi/b", CheckName: "b_check", Passed: true}); err != nil {
		return err
	}
	return p.ReportCustomMessage(report)
}
