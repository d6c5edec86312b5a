package pipes_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// exampleBootstrap plays Dagster's part for the examples: it injects the
// context inline and asks for messages on stdout, so that they show below.
func exampleBootstrap(assetKeys ...string) pipes.Option {
	keys := make([]any, len(assetKeys))
	for i, k := range assetKeys {
		keys[i] = k
	}
	ctxParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{
		"asset_keys": keys, "run_id": "0b1f", "job_name": "daily", "retry_number": 0,
		"extras": map[string]any{"limit": 100},
	}})
	msgParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	pipes.Set(nil) // each example starts a fresh process Context
	return pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar:  ctxParam,
		pipes.MessagesEnvVar: msgParam,
	}})
}

func ExampleRun() {
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		var limit int
		if err := p.DecodeExtra("limit", &limit); err != nil {
			return err
		}
		p.Log().Info("processing", "limit", limit)
		return p.ReportAssetMaterialization(pipes.Materialization{
			Metadata: pipes.Metadata{"rows": limit},
		})
	}, exampleBootstrap("orders"))
	if err != nil {
		os.Exit(1) // Dagster marks the step failed
	}
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"processing limit=100","level":"INFO"}}
	// {"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"orders","data_version":null,"metadata":{"rows":{"raw_value":100,"type":"__infer__"}}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleOpen() {
	ctx := context.Background()
	p, err := pipes.Open(ctx, exampleBootstrap("orders"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer p.Close()
	key, _ := p.AssetKey()
	fmt.Println("materializing", key, "for run", p.RunID())
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// materializing orders for run 0b1f
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleContext_ReportAssetMaterialization() {
	p, _ := pipes.Open(context.Background(), exampleBootstrap("raw/orders"))
	defer p.Close()
	err := p.ReportAssetMaterialization(pipes.Materialization{
		DataVersion: "2024-06-01",
		Metadata: pipes.Metadata{
			"rows":    1200,                                        // inferred: int
			"mean":    pipes.Float(3),                              // sent as 3.0
			"source":  pipes.URL("https://example.com/orders.csv"), // a link in Dagster
			"updated": pipes.Timestamp(time.Unix(1717200000, 0)),
		},
	})
	fmt.Println(err)
	// A second report of the same asset is refused before it reaches Dagster.
	err = p.ReportAssetMaterialization(pipes.Materialization{})
	fmt.Println(errors.Is(err, pipes.ErrAlreadyMaterialized))
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"raw/orders","data_version":"2024-06-01","metadata":{"mean":{"raw_value":3.0,"type":"float"},"rows":{"raw_value":1200,"type":"__infer__"},"source":{"raw_value":"https://example.com/orders.csv","type":"url"},"updated":{"raw_value":1717200000.0,"type":"timestamp"}}}}
	// <nil>
	// true
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleContext_ReportAssetCheck() {
	p, _ := pipes.Open(context.Background(), exampleBootstrap("orders"))
	defer p.Close()
	nulls := 3
	_ = p.ReportAssetCheck(pipes.AssetCheck{
		CheckName: "no_null_ids",
		Passed:    nulls == 0,
		Severity:  pipes.SeverityWarn,
		Metadata:  pipes.Metadata{"null_ids": nulls},
	})
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_asset_check","params":{"asset_key":"orders","check_name":"no_null_ids","passed":false,"metadata":{"null_ids":{"raw_value":3,"type":"__infer__"}},"severity":"WARN"}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleContext_ReportCustomMessage() {
	p, _ := pipes.Open(context.Background(), exampleBootstrap())
	defer p.Close()
	_ = p.ReportCustomMessage(map[string]any{"rows": 10, "ratio": 1.0, "tags": []string{"a"}})
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":{"ratio":1.0,"rows":10,"tags":["a"]}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleContext_Log() {
	p, _ := pipes.Open(context.Background(), exampleBootstrap())
	defer p.Close()
	p.Log().Warn("slow source", "seconds", 12)
	p.Log().Log(context.Background(), pipes.LevelCritical, "giving up")
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"slow source seconds=12","level":"WARNING"}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"giving up","level":"CRITICAL"}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleEncodeParam() {
	enc, _ := pipes.EncodeParam(map[string]any{"path": "/tmp/messages"})
	dec, _ := pipes.DecodeParam(enc)
	fmt.Println(dec)
	// Output:
	// map[path:/tmp/messages]
}
