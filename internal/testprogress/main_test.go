package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goTestJSON runs the real go test -json on testdata/sample, whose results
// are known: in sample, TestPass passes, TestFail fails in its subtest
// "broken", TestSkip skips; in sample/slow, TestScenario/quickstart takes
// 300ms. The sample's go.mod is kept as go.mod.txt, so that the tree is not
// a module of its own inside the repository (go vet ./... and the workspace
// would trip on it); it is copied to a temporary directory to run.
func goTestJSON(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("testdata/sample")))
	require.NoError(t, os.Rename(filepath.Join(dir, "go.mod.txt"), filepath.Join(dir, "go.mod")))
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the sample has a failing test")
	return out
}

func TestRealGoTestOutput(t *testing.T) {
	var out, errOut bytes.Buffer
	status := run(bytes.NewReader(goTestJSON(t)), &out, &errOut, 200*time.Millisecond, 0, "example.com/sample/")
	assert.Equal(t, 1, status, "a failed test fails the run")
	assert.Empty(t, errOut.String())

	got := regexp.MustCompile(`\d+\.\d+s`).ReplaceAllString(out.String(), "T")
	want := `    sample_test.go:11: boom
--- FAIL: TestFail/broken (T)
--- FAIL: TestFail (T)
    SKIP  . TestSkip (T): sample_test.go:14: needs PIPES_E2E=1
FAIL
FAIL	example.com/sample	T
    PASS  slow TestScenario/quickstart (T)
    PASS  slow TestScenario (T)
ok  	example.com/sample/slow	T

=== Failed
=== FAIL: . TestFail/broken (T)
=== FAIL: . TestFail (T)

DONE 8 tests, 1 skipped, 2 failures in T
`
	// go test runs the two packages in parallel: compare each package's
	// lines in order, and the summary.
	lines := strings.SplitAfter(got, "\n")
	var sample, slow, rest []string
	for _, l := range lines {
		switch {
		case strings.Contains(l, "slow"):
			slow = append(slow, l)
		case strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "DONE") || l == "\n" || l == "":
			rest = append(rest, l)
		default:
			sample = append(sample, l)
		}
	}
	assert.Equal(t, want, strings.Join(sample, "")+strings.Join(slow, "")+strings.Join(rest, ""))
}

// The fast subtests and passing tests print nothing; a slow first-level
// subtest prints a line as soon as it ends, before its package's line.
func TestSlowScenarioAsItEnds(t *testing.T) {
	in := strings.Join([]string{
		`{"Time":"2026-01-01T00:00:00Z","Action":"start","Package":"m/e2e"}`,
		`{"Time":"2026-01-01T00:00:01Z","Action":"run","Package":"m/e2e","Test":"TestExamples"}`,
		`{"Time":"2026-01-01T00:00:01Z","Action":"output","Package":"m/e2e","Test":"TestExamples","Output":"=== RUN   TestExamples\n"}`,
		`{"Time":"2026-01-01T00:00:05Z","Action":"pass","Package":"m/e2e","Test":"TestExamples/quickstart","Elapsed":4}`,
		`{"Time":"2026-01-01T00:00:05Z","Action":"pass","Package":"m/e2e","Test":"TestExamples/quickstart/deep","Elapsed":4}`,
		`{"Time":"2026-01-01T00:00:05Z","Action":"pass","Package":"m/e2e","Test":"TestExamples/fast","Elapsed":0.1}`,
		`{"Time":"2026-01-01T00:00:09Z","Action":"pass","Package":"m/e2e","Test":"TestExamples","Elapsed":8.1}`,
		`{"Time":"2026-01-01T00:00:09Z","Action":"output","Package":"m/e2e","Output":"PASS\n"}`,
		`{"Time":"2026-01-01T00:00:10Z","Action":"output","Package":"m/e2e","Output":"ok  \tm/e2e\t9.000s\n"}`,
		`{"Time":"2026-01-01T00:00:10Z","Action":"pass","Package":"m/e2e","Elapsed":9}`,
	}, "\n")
	var out bytes.Buffer
	require.Equal(t, 0, run(strings.NewReader(in), &out, &bytes.Buffer{}, time.Second, 0, "m/"))
	assert.Equal(t, `    PASS  e2e TestExamples/quickstart (4.00s)
    PASS  e2e TestExamples (8.10s)
ok  	m/e2e	9.000s

DONE 4 tests in 10.000s
`, out.String())
}

// A test binary that crashes leaves its running test without an end: its
// output is printed when the package fails. Build errors and lines that are
// not JSON (go test's own errors) are printed as they are.
func TestCrashAndBuildErrors(t *testing.T) {
	in := strings.Join([]string{
		`go: warning: "./nothing/..." matched no packages`,
		`{"ImportPath":"m/broken [m/broken.test]","Action":"build-output","Output":"# m/broken\n"}`,
		`{"ImportPath":"m/broken [m/broken.test]","Action":"build-output","Output":"broken.go:3:1: syntax error\n"}`,
		`{"ImportPath":"m/broken [m/broken.test]","Action":"build-fail"}`,
		`{"Time":"2026-01-01T00:00:00Z","Action":"start","Package":"m/broken"}`,
		`{"Time":"2026-01-01T00:00:00Z","Action":"output","Package":"m/broken","Output":"FAIL\tm/broken [build failed]\n"}`,
		`{"Time":"2026-01-01T00:00:00Z","Action":"fail","Package":"m/broken","Elapsed":0}`,
		`{"Time":"2026-01-01T00:00:00Z","Action":"start","Package":"m/crash"}`,
		`{"Time":"2026-01-01T00:00:00Z","Action":"run","Package":"m/crash","Test":"TestBoom"}`,
		`{"Time":"2026-01-01T00:00:01Z","Action":"output","Package":"m/crash","Test":"TestBoom","Output":"panic: boom\n"}`,
		`{"Time":"2026-01-01T00:00:01Z","Action":"output","Package":"m/crash","Output":"FAIL\tm/crash\t1.000s\n"}`,
		`{"Time":"2026-01-01T00:00:01Z","Action":"fail","Package":"m/crash","Elapsed":1}`,
	}, "\n")
	var out bytes.Buffer
	assert.Equal(t, 1, run(strings.NewReader(in), &out, &bytes.Buffer{}, time.Second, 0, "m/"))
	assert.Equal(t, `go: warning: "./nothing/..." matched no packages
# m/broken
broken.go:3:1: syntax error
FAIL	m/broken [build failed]
FAIL	m/crash	1.000s
panic: boom

DONE 0 tests, 1 error in 1.000s
`, out.String())
}

// When nothing ends for a while, the packages still running are listed.
func TestStillRunning(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&out, time.Second, "m/")
	p.stillRunning(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p.line(`{"Time":"2026-01-01T00:00:00Z","Action":"start","Package":"m/e2e"}`)
	p.line(`{"Time":"2026-01-01T00:00:00Z","Action":"start","Package":"m"}`)
	p.stillRunning(time.Date(2026, 1, 1, 0, 0, 42, 0, time.UTC))
	assert.Equal(t, "    … building test binaries\n    … still running: . (42s), e2e (42s)\n", out.String())
}

func TestModulePrefix(t *testing.T) {
	assert.Equal(t, "example.com/sample/", modulePrefix("testdata/sample/go.mod.txt"))
	assert.Equal(t, "", modulePrefix("testdata/none/go.mod"))
}
