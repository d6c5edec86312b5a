package pipes_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// Each example plays Dagster's part in its first lines: Dagster hands a
// program two encoded bootstrap values, the context (here inline, as
// PipesEnvContextInjector does) and where to write messages (here stdout,
// so that they show in the output). In production they arrive in the
// environment, where Run and Open look by default; the examples pass them in
// a map with MappingParamsLoader instead.

func ExampleRun() {
	// Dagster's part.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{
		"asset_keys": []string{"orders"}, "extras": map[string]any{"limit": 100},
	}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})
	pipes.Set(nil) // the examples share one process: start without a stored Context

	// The program: in main, pipes.Run(ctx, job) with no options.
	err := pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		var limit int
		if err := p.DecodeExtra("limit", &limit); err != nil {
			return err
		}
		p.Log().Info("processing", "limit", limit)
		return p.ReportAssetMaterialization(pipes.Materialization{
			Metadata: pipes.Metadata{"rows": limit},
		})
	}, bootstrap)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1) // Dagster marks the step failed
	}
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"processing limit=100","level":"INFO"}}
	// {"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"orders","data_version":null,"metadata":{"rows":{"raw_value":100,"type":"__infer__"}}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleOpen() {
	// Dagster's part.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{
		"asset_keys": []string{"orders"}, "run_id": "0b1f",
	}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})
	pipes.Set(nil) // the examples share one process: start without a stored Context

	// The program: in main, pipes.Open(ctx) with no options.
	p, err := pipes.Open(context.Background(), bootstrap)
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
	// Dagster's part.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"asset_keys": []string{"raw/orders"}}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	p, _ := pipes.New(context.Background(), bootstrap)
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
	// Dagster's part.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"asset_keys": []string{"orders"}}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	p, _ := pipes.New(context.Background(), bootstrap)
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
	// Dagster's part.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	p, _ := pipes.New(context.Background(), bootstrap)
	defer p.Close()
	_ = p.ReportCustomMessage(map[string]any{"rows": 10, "ratio": 1.0, "tags": []string{"a"}})
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":{"ratio":1.0,"rows":10,"tags":["a"]}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

func ExampleContext_Log() {
	// Dagster's part.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	p, _ := pipes.New(context.Background(), bootstrap)
	defer p.Close()
	p.Log().Warn("slow source", "seconds", 12)
	p.Log().Log(context.Background(), pipes.LevelCritical, "giving up")
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"slow source seconds=12","level":"WARNING"}}
	// {"__dagster_pipes_version":"0.1","method":"log","params":{"message":"giving up","level":"CRITICAL"}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

// Dagster passes the bootstrap values as command-line arguments to some
// launchers (Databricks Python-wheel and Spark tasks; any launcher can).
func ExampleCLIArgsParamsLoader() {
	// Dagster's part: the command line it would start the program with.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"asset_keys": []string{"orders"}}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	args := []string{"--date", "2024-06-01", "--dagster-pipes-context", contextParam, "--dagster-pipes-messages=" + messagesParam}

	// The program: CLIArgsParamsLoader{} reads os.Args[1:].
	p, err := pipes.New(context.Background(), pipes.WithParamsLoader(pipes.CLIArgsParamsLoader{Args: args}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer p.Close()
	key, _ := p.AssetKey()
	fmt.Println("asset:", key)
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// asset: orders
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

// A Go AWS Lambda function launched by Dagster's PipesLambdaClient finds the
// bootstrap values in its event, next to the event's own fields.
func ExampleMappingParamsLoader() {
	// Dagster's part: the event it would invoke the function with.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"asset_keys": []string{"orders"}}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	event := map[string]string{
		"bucket":             "raw-orders",
		pipes.ContextEnvVar:  contextParam,
		pipes.MessagesEnvVar: messagesParam,
	}

	// The program: in the Lambda handler, with the event it was given.
	p, err := pipes.New(context.Background(), pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: event}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	_ = p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{"bucket": pipes.Text(event["bucket"])},
	})
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"orders","data_version":null,"metadata":{"bucket":{"raw_value":"raw-orders","type":"text"}}}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

// When the message reader asks for it (include_stdio_in_messages, as
// PipesS3MessageReader(include_stdio_in_messages=True) does), what the
// program writes to its stdout and stderr also reaches Dagster, as
// log_external_stream messages. Open, New and Run set it up for every
// MessageWriter.
func ExampleCaptureStdio() {
	// Dagster's part: messages to a file, with stdout and stderr included.
	dir, _ := os.MkdirTemp("", "pipes-example")
	defer os.RemoveAll(dir)
	messages := filepath.Join(dir, "messages")
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"path": messages, "include_stdio_in_messages": true})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	// The program writes to stderr as usual (a child process's output
	// would be forwarded too).
	p, _ := pipes.New(context.Background(), bootstrap)
	fmt.Fprintln(os.Stderr, "loading 3 files")
	_ = p.Close()

	// What Dagster reads: the forwarded text between opened and closed.
	// (The stream is "stderr"; it is left out here because go test -json
	// points os.Stderr at stdout.)
	f, _ := os.Open(messages)
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var m struct {
			Method string
			Params struct{ Text string }
		}
		_ = json.Unmarshal(sc.Bytes(), &m)
		fmt.Printf("%s %q\n", m.Method, m.Params.Text)
	}
	// Output:
	// opened ""
	// log_external_stream "loading 3 files\n"
	// closed ""
}

func ExampleEncodeParam() {
	enc, _ := pipes.EncodeParam(map[string]any{"path": "/tmp/messages"})
	dec, _ := pipes.DecodeParam(enc)
	fmt.Println(dec)
	// Output:
	// map[path:/tmp/messages]
}
