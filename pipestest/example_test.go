package pipestest_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/pipestest"
)

// ordersJob is the job under test: main calls pipes.Run(ctx, ordersJob).
func ordersJob(ctx context.Context, p *pipes.Context) error {
	var limit int
	if err := p.DecodeExtra("limit", &limit); err != nil {
		return err
	}
	p.Log().Info("loading orders", "limit", limit)
	return p.ReportAssetMaterialization(pipes.Materialization{
		Metadata: pipes.Metadata{"rows": limit},
	})
}

// A test of a job, as it sits in the job's _test.go file. (Examples get
// no *testing.T, so this one is compiled but not run; the same test runs
// in examples/quickstart.)
func ExampleRunJob() {
	testOrders := func(t *testing.T) {
		res := pipestest.RunJob(t, pipestest.Context{
			AssetKeys: []string{"orders"},
			Extras:    map[string]any{"limit": 3},
		}, ordersJob)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		m, _ := res.Materialization("orders")
		if rows, _ := m.Metadata["rows"].Int(); rows != 3 {
			t.Errorf("rows = %d, want 3", rows)
		}
	}
	_ = testOrders
}

// Code that calls pipes.Open itself (a main, say) runs with Session.Run;
// the session can pass the context in the bootstrap value and read the
// messages from stdout, as a Kubernetes-style launcher would.
func ExampleSession_Run() {
	testMain := func(t *testing.T) {
		s := pipestest.NewSession(t, pipestest.Context{PartitionKey: "2024-05-01"},
			pipestest.InjectContextByEnv(), pipestest.MessagesToStdout())
		res := s.Run(func() {
			p, err := pipes.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			key, _ := p.PartitionKey()
			p.Log().Info("processing " + key)
		})
		if got := res.LogMessages("INFO"); len(got) != 1 || got[0] != "processing 2024-05-01" {
			t.Errorf("logs = %q", got)
		}
	}
	_ = testMain
}

// A compiled program (in any language) is tested with RunCommand, as
// Dagster's PipesSubprocessClient would launch it.
func ExampleSession_RunCommand() {
	testBinary := func(t *testing.T) {
		cmd := exec.Command("./bin/orders-job")
		cmd.Stderr = os.Stderr
		res := pipestest.NewSession(t, pipestest.Context{AssetKeys: []string{"orders"}}).RunCommand(cmd)
		if res.Failed() {
			t.Fatalf("job failed: %v %v", res.Err, res.Exception)
		}
	}
	_ = testBinary
}

// A hand-written channel proves itself against the conformance checks.
func ExampleTestChannel() {
	testMyChannel := func(t *testing.T) {
		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
			path := t.TempDir() + "/messages"
			ch, err := pipes.NewFileChannel(path) // your channel here
			if err != nil {
				t.Fatal(err)
			}
			return pipestest.ChannelHarness{
				Channel:  ch,
				ReadBack: func() ([]byte, error) { return os.ReadFile(path) },
			}
		})
	}
	_ = testMyChannel
}
