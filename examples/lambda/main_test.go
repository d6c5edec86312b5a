package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/lambdapipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// The job is tested as any Pipes job, without Lambda: pipestest plays
// Dagster's part.
func TestDailyOrders(t *testing.T) {
	var got Summary
	res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"daily_orders"}},
		func(ctx context.Context, p *pipes.Context) (err error) {
			got, err = dailyOrders(ctx, p, Event{Date: "2024-03-01", Limit: 4})
			return err
		})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got != (Summary{Date: "2024-03-01", Orders: 4, Total: 56}) {
		t.Errorf("summary = %+v", got)
	}
	m, ok := res.Materialization("daily_orders")
	if !ok {
		t.Fatal("daily_orders was not materialized")
	}
	if n, _ := m.Metadata["orders"].Int(); n != 4 {
		t.Errorf("orders = %d, want 4", n)
	}
	if total, _ := m.Metadata["total"].Float(); total != 56 {
		t.Errorf("total = %v, want 56", total)
	}
	if c, ok := res.Check("daily_orders", "orders_present"); !ok || !c.Passed {
		t.Errorf("check orders_present = %+v, want passed", c)
	}
}

// A bad event fails the job, and so the Dagster step.
func TestDailyOrdersWithoutDate(t *testing.T) {
	res := pipestest.RunJob(t, pipestest.Context{AssetKeys: []string{"daily_orders"}},
		func(ctx context.Context, p *pipes.Context) error {
			_, err := dailyOrders(ctx, p, Event{})
			return err
		})
	if res.Err == nil || res.Exception == nil || res.Exception.Message != "the event has no date" {
		t.Fatalf("err = %v, exception = %+v", res.Err, res.Exception)
	}
}

// Outside Dagster (a test event in the Lambda console) the handler still
// works and returns the summary.
func TestHandlerWithoutDagster(t *testing.T) {
	h := lambdapipes.Handler(dailyOrders, lambdapipes.WithOutput(nil, discard{}))
	out, err := h.Invoke(t.Context(), []byte(`{"date": "2024-03-02", "limit": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(out, &s); err != nil || s.Orders != 2 || s.Date != "2024-03-02" {
		t.Fatalf("result %s (%v)", out, err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
