package pipes_test

import (
	"context"
	"fmt"

	"github.com/dagster-pipes-go/pipes"
)

// A Lambda event as it arrives, with the bootstrap values that Dagster's
// PipesLambdaClient merged into it.
func ExampleMappingParamsLoaderFromJSON() {
	ctxParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"run_id": "r1", "extras": map[string]any{}}})
	msgParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
	event := fmt.Sprintf(`{"date": "2024-03-01", %q: %q, %q: %q}`,
		pipes.ContextEnvVar, ctxParam, pipes.MessagesEnvVar, msgParam)

	loader, err := pipes.MappingParamsLoaderFromJSON([]byte(event))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(loader.IsDagsterPipesProcess(), loader.Values["date"])
	p, err := pipes.New(context.Background(), pipes.WithParamsLoader(loader))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.RunID())
	_ = p.Close()
	// Output:
	// true 2024-03-01
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// r1
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}

// A value that is not the encoded string Dagster sends is refused.
func ExampleMappingParamsLoader_values() {
	loader := pipes.MappingParamsLoader{Values: map[string]any{pipes.ContextEnvVar: 42.0}}
	_, err := loader.LoadContextParams()
	fmt.Println(err)
	// Output:
	// DAGSTER_PIPES_CONTEXT must be a string (the encoded bootstrap value Dagster sends), got <class 'float'> 42
}

// Sessions that overlap in one process: each has its own Context from New,
// run and closed with Context.Run.
func ExampleContext_Run() {
	session := func(runID string) error {
		ctxParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"asset_keys": []string{"a"}, "run_id": runID, "extras": map[string]any{}}})
		msgParam, _ := pipes.EncodeParam(map[string]any{"stdio": "stdout"})
		p, err := pipes.New(context.Background(), pipes.WithParamsLoader(pipes.MappingParamsLoader{
			Mapping: map[string]string{pipes.ContextEnvVar: ctxParam, pipes.MessagesEnvVar: msgParam},
		}))
		if err != nil {
			return err
		}
		return p.Run(context.Background(), func(ctx context.Context, p *pipes.Context) error {
			return p.ReportCustomMessage(p.RunID())
		})
	}
	// Sequential here, so that the output is deterministic; each could run
	// in its own goroutine.
	for _, id := range []string{"first", "second"} {
		if err := session(id); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":"first"}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
	// {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// {"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":"second"}}
	// {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}
