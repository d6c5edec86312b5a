// Command lambda is a Go AWS Lambda function that Dagster invokes with
// PipesLambdaClient (dagster-aws); see definitions.py beside this file.
//
// lambdapipes.Handler makes each invocation a Pipes session: it reads the
// bootstrap values Dagster put in the event, gives the job the rest of the
// event, and writes the messages where Dagster reads them (by default the
// tail of the invocation's log). Build it for the provided.al2023 runtime:
//
//	GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -o bootstrap .
//	zip function.zip bootstrap
//
// The job itself is an ordinary function of a *pipes.Context and the event,
// tested with pipestest in main_test.go.
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/lambdapipes"
)

// Event is what definitions.py passes as PipesLambdaClient.run(event=...).
type Event struct {
	Date  string `json:"date"`
	Limit int    `json:"limit"`
}

// Summary is the function's result (what a plain invoker gets back).
type Summary struct {
	Date   string  `json:"date"`
	Orders int     `json:"orders"`
	Total  float64 `json:"total"`
}

// dailyOrders computes the day's orders and reports them to Dagster.
func dailyOrders(ctx context.Context, p *pipes.Context, ev Event) (Summary, error) {
	if ev.Date == "" {
		return Summary{}, fmt.Errorf("the event has no date")
	}
	if ev.Limit <= 0 {
		ev.Limit = 10
	}
	p.Log().Info("loading orders", "date", ev.Date, "limit", ev.Limit)
	s := Summary{Date: ev.Date}
	for i := range ev.Limit {
		if err := ctx.Err(); err != nil { // the invocation's deadline
			return s, err
		}
		s.Orders++
		s.Total += 12.5 + float64(i)
	}
	err := p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: ev.Date,
		Metadata: pipes.Metadata{
			"orders": s.Orders,
			"total":  pipes.Float(s.Total),
			"date":   pipes.Text(ev.Date),
		},
	})
	if err != nil {
		return s, err
	}
	return s, p.ReportAssetCheck(pipes.AssetCheck{
		CheckName: "orders_present",
		Passed:    s.Orders > 0,
		Metadata:  pipes.Metadata{"orders": s.Orders},
	})
}

func main() {
	lambda.Start(lambdapipes.Handler(dailyOrders))
}
