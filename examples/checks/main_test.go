package main

import (
	"testing"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

func TestChecks(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"inventory"}}, job)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, want := range []struct {
		name     string
		passed   bool
		severity pipes.Severity
	}{
		{"no_negative_stock", true, pipes.SeverityError},
		{"few_backorders", false, pipes.SeverityWarn},
		{"all_in_stock", false, pipes.SeverityError},
	} {
		c, ok := res.Check("inventory", want.name)
		if !ok {
			t.Errorf("check %s not reported", want.name)
			continue
		}
		if c.Passed != want.passed || c.Severity != want.severity {
			t.Errorf("check %s = passed %v, severity %s; want %v, %s", want.name, c.Passed, c.Severity, want.passed, want.severity)
		}
	}
	c, _ := res.Check("inventory", "all_in_stock")
	if got := string(c.Metadata["out_of_stock"].RawJSON); got != `["B-2"]` {
		t.Errorf("out_of_stock = %s", got)
	}
	if n := len(res.LogMessages("WARNING")); n != 2 {
		t.Errorf("%d warnings, want one per failed check", n)
	}
}
