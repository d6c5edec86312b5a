// Command checks is a Dagster Pipes job that reports asset checks with both
// severities: a failed ERROR check and a failed WARN check are shown
// differently by Dagster, and neither fails the run unless the check is
// blocking.
//
// Dagster launches it with definitions.py; without Dagster:
//
//	go run ./cmd/pipes run --asset inventory -- go run ./examples/checks
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
		fmt.Fprintln(os.Stderr, "checks:", err)
		os.Exit(1)
	}
}

// item is one row of the inventory.
type item struct {
	SKU        string
	Stock      int
	Backorders int
}

// inventory stands in for the data the job builds.
var inventory = []item{
	{"A-1", 10, 0}, {"B-2", 0, 4}, {"C-3", 7, 1}, {"D-4", 3, 6},
}

func job(ctx context.Context, p *pipes.Context) error {
	negative, backorders := 0, 0
	for _, it := range inventory {
		if it.Stock < 0 {
			negative++
		}
		backorders += it.Backorders
	}
	if err := p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{"skus": len(inventory), "backorders": backorders},
	}); err != nil {
		return err
	}
	checks := []pipes.AssetCheck{
		{ // a hard rule: ERROR severity (the default)
			CheckName: "no_negative_stock",
			Passed:    negative == 0,
			Metadata:  pipes.Metadata{"negative_rows": negative},
		},
		{ // a soft rule: WARN severity, fails with this data
			CheckName: "few_backorders",
			Passed:    backorders <= 5,
			Severity:  pipes.SeverityWarn,
			Metadata:  pipes.Metadata{"backorders": backorders, "threshold": 5},
		},
		{ // a hard rule that fails: Dagster shows it as an error
			CheckName: "all_in_stock",
			Passed:    allInStock(),
			Severity:  pipes.SeverityError,
			Metadata:  pipes.Metadata{"out_of_stock": pipes.JSON(outOfStock())},
		},
	}
	for _, c := range checks {
		if !c.Passed {
			p.Log().Warn("check failed", "check", c.CheckName, "severity", string(severityOf(c)))
		}
		if err := p.ReportAssetCheck(c); err != nil {
			return err
		}
	}
	return nil
}

func severityOf(c pipes.AssetCheck) pipes.Severity {
	if c.Severity == "" {
		return pipes.SeverityError
	}
	return c.Severity
}

func outOfStock() []string {
	out := []string{}
	for _, it := range inventory {
		if it.Stock == 0 {
			out = append(out, it.SKU)
		}
	}
	return out
}

func allInStock() bool { return len(outOfStock()) == 0 }
