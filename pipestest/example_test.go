package pipestest_test

import (
	"context"
	"fmt"
	"os"
	"slices"

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

// A test of a job, as it sits in the job's _test.go file. In a test, t is the
// test's *testing.T and the checks are t.Errorf calls; this example prints
// instead, with exampleT standing in for the *testing.T that examples do not
// get.
func ExampleRunJob() {
	t := &exampleT{}
	defer t.cleanup()

	res := pipestest.RunJob(t, pipestest.Context{
		AssetKeys: []string{"orders"},
		Extras:    map[string]any{"limit": 3},
	}, ordersJob)
	m, ok := res.Materialization("orders")
	rows, _ := m.Metadata["rows"].Int()
	fmt.Println("error:", res.Err)
	fmt.Println("materialized:", ok, "rows:", rows)
	fmt.Println("logs:", res.LogMessages("INFO"))
	// Output:
	// error: <nil>
	// materialized: true rows: 3
	// logs: [loading orders limit=3]
}

// exampleT is the part of *testing.T that pipestest uses (pipestest.TB), for
// examples, which get no *testing.T: failures are printed, and a fatal one
// panics.
type exampleT struct {
	cleanups []func()
}

func (*exampleT) Helper() {}

func (*exampleT) Errorf(format string, args ...any) { fmt.Printf("error: "+format+"\n", args...) }

func (*exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (t *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "pipestest-example")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *exampleT) Setenv(key, value string) {
	old, had := os.LookupEnv(key)
	os.Setenv(key, value)
	t.Cleanup(func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	})
}

func (t *exampleT) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (*exampleT) Context() context.Context { return context.Background() }

// cleanup runs the cleanups in reverse order, as the testing package does
// when a test ends.
func (t *exampleT) cleanup() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
}
