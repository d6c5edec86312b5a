// Command context is an e2e job: it reports everything it read from the
// Pipes context as one custom message, so that the test can compare it with
// what Dagster injected, then materializes each asset of the step.
//
// It also prints a plain line to stdout and one to stderr before reporting
// (the stdio writer tests check that Dagster forwards them and does not take
// them for messages; the stdio capture test that they arrive as
// log_external_stream).
// With E2E_FAIL_FIRST_ATTEMPT=1 the first attempt (retry number 0) fails, so
// that the test sees a retried step.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

func main() {
	if err := pipes.Run(context.Background(), job); err != nil {
		fmt.Fprintln(os.Stderr, "context job failed:", err)
		os.Exit(1)
	}
}

// errText is the error's text, or nil: the test checks both.
func errText(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func record(seen map[string]any, name string, v any, err error) {
	seen[name+"_error"] = errText(err)
	if err == nil {
		seen[name] = v
	} else {
		seen[name] = nil
	}
}

func job(ctx context.Context, p *pipes.Context) error {
	seen := map[string]any{
		"is_orchestrated":   p.IsOrchestrated(),
		"run_id":            p.RunID(),
		"job_name":          p.JobName(),
		"retry_number":      p.RetryNumber(),
		"is_asset_step":     p.IsAssetStep(),
		"is_partition_step": p.IsPartitionStep(),
		"extras":            p.Extras(),
	}

	// A value is recorded only without error (else null), so that it can be
	// compared with what Dagster injected (null for a step without assets).
	keys, err := p.AssetKeys()
	record(seen, "asset_keys", keys, err)
	key, err := p.AssetKey()
	record(seen, "asset_key", key, err)
	cvs, err := p.CodeVersionByAssetKey()
	record(seen, "code_version_by_asset_key", cvs, err)
	prov, err := p.ProvenanceByAssetKey()
	record(seen, "provenance_by_asset_key", prov, err)

	pk, err := p.PartitionKey()
	seen["partition_key"], seen["partition_key_error"] = pk, errText(err)
	if r, err := p.PartitionKeyRange(); err != nil {
		seen["partition_key_range_error"] = errText(err)
	} else {
		seen["partition_key_range"] = map[string]any{"start": r.Start, "end": r.End}
	}
	if tw, err := p.PartitionTimeWindow(); err != nil {
		seen["partition_time_window_error"] = errText(err)
	} else if tw != nil {
		seen["partition_time_window"] = map[string]any{
			"start":      tw.Start.Format(time.RFC3339Nano),
			"end":        tw.End.Format(time.RFC3339Nano),
			"start_unix": tw.Start.Unix(),
			"end_unix":   tw.End.Unix(),
		}
	} else {
		seen["partition_time_window"] = nil
	}

	// Typed access to extras: a struct decoded from one extra.
	var typed struct {
		Name   string  `json:"name"`
		Count  int64   `json:"count"`
		Ratio  float64 `json:"ratio"`
		Nested struct {
			List []any `json:"list"`
		} `json:"nested"`
	}
	if _, err := p.Extra("typed"); err == nil {
		if err := p.DecodeExtra("typed", &typed); err != nil {
			return fmt.Errorf("decoding extra typed: %w", err)
		}
		seen["typed"] = typed
	}
	_, err = p.Extra("no-such-extra")
	seen["missing_extra_error"] = errText(err)
	seen["missing_extra_is_undefined"] = errors.Is(err, pipes.ErrUndefined)

	fmt.Println("plain stdout line from the context job")
	fmt.Fprintln(os.Stderr, "plain stderr line from the context job")

	if os.Getenv("E2E_FAIL_FIRST_ATTEMPT") == "1" && p.RetryNumber() == 0 {
		if err := p.ReportCustomMessage(seen); err != nil {
			return err
		}
		return errors.New("first attempt fails on purpose")
	}

	if err := p.ReportCustomMessage(seen); err != nil {
		return err
	}
	p.Log().Info("context job done", "keys", len(keys))
	for _, k := range keys {
		if err := p.ReportAssetMaterialization(pipes.Materialization{
			AssetKey: k,
			Metadata: pipes.Metadata{"reported_key": k},
		}); err != nil {
			return err
		}
	}
	return nil
}
