// Command checks is an e2e job: it materializes its asset and reports asset
// checks that pass and fail, with severity WARN and ERROR, with and without
// an explicit asset key, with and without metadata. The Python job
// e2e/jobs/pyref/checks_job.py reports the same.
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
		fmt.Fprintln(os.Stderr, "checks job failed:", err)
		os.Exit(1)
	}
}

func job(ctx context.Context, p *pipes.Context) error {
	key, err := p.AssetKey()
	if err != nil {
		return err
	}
	if err := p.ReportAssetMaterialization(pipes.Materialization{}); err != nil {
		return err
	}
	checks := []pipes.AssetCheck{
		{AssetKey: key, CheckName: "passes", Passed: true,
			Metadata: pipes.Metadata{"rows": 10, "ratio": pipes.Float(0.5)}},
		{AssetKey: key, CheckName: "warns", Passed: false, Severity: pipes.SeverityWarn,
			Metadata: pipes.Metadata{"reason": pipes.Text("too few rows"), "threshold": 1.0}},
		{CheckName: "errors", Passed: false, Severity: pipes.SeverityError,
			Metadata: pipes.Metadata{"details": pipes.JSON(map[string]any{"missing": []any{"a", "b"}})}},
		{CheckName: "default_severity", Passed: false},
		{CheckName: "passes_implicit", Passed: true, Severity: pipes.SeverityWarn},
	}
	for _, c := range checks {
		if err := p.ReportAssetCheck(c); err != nil {
			return fmt.Errorf("check %s: %w", c.CheckName, err)
		}
	}

	// Refused by the library before reaching Dagster (Dagster would reject
	// the message in its reader thread).
	report := map[string]any{}
	err = p.ReportAssetCheck(pipes.AssetCheck{CheckName: "passes", Passed: true, Severity: "INFO"})
	report["bad_severity_is_invalid_value"] = errors.Is(err, pipes.ErrInvalidValue)
	return p.ReportCustomMessage(report)
}
