package pipestest_test

import (
	"context"
	"fmt"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// Code that calls pipes.Open itself (a main, say) runs with Session.Run; the
// session can pass the context in the bootstrap value and read the messages
// from stdout, as a Kubernetes-style launcher would. (t is the test's
// *testing.T; see the RunJob example for exampleT.)
func ExampleSession_Run() {
	t := &exampleT{}
	defer t.cleanup()

	s := pipestest.NewSession(t, pipestest.Context{PartitionKey: "2024-05-01"},
		pipestest.InjectContextByEnv(), pipestest.MessagesToStdout())
	res := s.Run(func() {
		p, err := pipes.Open(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		defer p.Close()
		key, _ := p.PartitionKey()
		p.Log().Info("processing " + key)
	})
	fmt.Println(res.LogMessages("INFO"), res.Failed())
	// Output:
	// [processing 2024-05-01] false
}
