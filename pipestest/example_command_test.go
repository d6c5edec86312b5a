package pipestest_test

import (
	"fmt"
	"os/exec"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

// A program in any language is tested with RunCommand, launched as Dagster's
// PipesSubprocessClient launches it: a Go job built with go build, a Python
// script, or this shell script, which writes its messages to stdout. (t is
// the test's *testing.T; see the RunJob example for exampleT.)
func ExampleSession_RunCommand() {
	t := &exampleT{}
	defer t.cleanup()

	script := `
echo '{"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}'
echo "hello from $0"
echo '{"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"orders","data_version":null,"metadata":{"rows":{"raw_value":3,"type":"__infer__"}}}}'
echo '{"__dagster_pipes_version":"0.1","method":"closed","params":{}}'
`
	s := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"orders"}}, pipestest.MessagesToStdout())
	res := s.RunCommand(exec.Command("sh", "-c", script, "orders-job"))
	m, _ := res.Materialization("orders")
	rows, _ := m.Metadata["rows"].Int()
	fmt.Println("failed:", res.Failed())
	fmt.Println("rows:", rows)
	fmt.Printf("other output: %q\n", res.Stdout)
	// Output:
	// failed: false
	// rows: 3
	// other output: "hello from orders-job\n"
}
