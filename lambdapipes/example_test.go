package lambdapipes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/lambdapipes"
)

type Order struct {
	Date string `json:"date"`
}

type Summary struct {
	Rows int `json:"rows"`
}

func ExampleHandler() {
	// In the function's main: lambda.Start(handler).
	handler := lambdapipes.Handler(func(ctx context.Context, p *pipes.Context, ev Order) (Summary, error) {
		p.Log().Info("loading", "date", ev.Date)
		return Summary{Rows: 3}, p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"rows": 3}})
	},
		// Here the messages go to stdout, to show them; in Lambda they go
		// to stderr, where PipesLambdaLogsMessageReader reads them.
		lambdapipes.WithOutput(nil, os.Stdout))

	// The event as Dagster's PipesLambdaClient sends it: the user's event
	// plus the two bootstrap values.
	ctxParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{
		"asset_keys": []string{"orders"}, "run_id": "r1", "extras": map[string]any{}}})
	msgParam, _ := pipes.EncodeParam(map[string]any{"buffered_stdio": "stderr"})
	event, _ := json.Marshal(map[string]any{"date": "2024-03-01",
		pipes.ContextEnvVar: ctxParam, pipes.MessagesEnvVar: msgParam})

	result, err := handler.Invoke(context.Background(), event)
	fmt.Println(string(result), err)
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"loading date=2024-03-01","level":"INFO"}}
	// {"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"orders","data_version":null,"metadata":{"rows":{"raw_value":3,"type":"__infer__"}}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
	// {"rows":3} <nil>
}
