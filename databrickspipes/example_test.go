package databrickspipes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/databricks/databricks-sdk-go"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/databrickspipes"
	"github.com/dagster-pipes-go/pipes/internal/dbxserver"
)

// A job that Dagster's PipesDatabricksClient launched: the context is a
// DBFS file, the messages go into a DBFS directory, both through the DBFS
// API. A loopback server stands in for the workspace, and the bootstrap
// values are given here as Dagster would pass them to a task on an
// existing cluster (as arguments).
func Example() {
	srv, err := dbxserver.Start(dbxserver.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	// What PipesDbfsContextInjector and PipesDbfsMessageReader prepare.
	_ = srv.WriteFile("/tmp/abc/context.json", []byte(`{"asset_keys":["orders"],"run_id":"r1","extras":{}}`))
	_ = srv.WriteFile("/tmp/msgs/.keep", nil)
	ctxArg, _ := pipes.EncodeParam(map[string]any{"path": "/tmp/abc/context.json"})
	msgArg, _ := pipes.EncodeParam(map[string]any{"path": "/tmp/msgs"})

	// In a real job: databrickspipes.NewWorkspaceClient() with the
	// cluster's DATABRICKS_HOST and DATABRICKS_TOKEN.
	w, err := databrickspipes.NewWorkspaceClient(&databricks.Config{Host: srv.URL, Token: "token"})
	if err != nil {
		panic(err)
	}
	err = pipes.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
		p.Log().Info("hello from Databricks")
		return p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"rows": 3}})
	},
		pipes.WithParamsLoader(pipes.EnvParamsLoader{Args: []string{"--dagster-pipes-context", ctxArg, "--dagster-pipes-messages", msgArg}}),
		pipes.WithContextLoader(databrickspipes.DBFSContextLoader{Workspace: w}),
		pipes.WithMessageWriter(databrickspipes.DBFSMessageWriter{Workspace: w}))
	if err != nil {
		panic(err)
	}

	// What PipesDbfsMessageReader reads: chunk 1.json (the messages fit
	// in one, as the job took less than the upload interval).
	chunk, _ := srv.ReadFile("/tmp/msgs/1.json")
	for _, line := range strings.Split(string(chunk), "\n") {
		var m struct{ Method string }
		_ = json.Unmarshal([]byte(line), &m)
		fmt.Println(m.Method)
	}
	// Output:
	// opened
	// log
	// report_asset_materialization
	// closed
}
