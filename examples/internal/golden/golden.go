// Package golden compares the messages an example job sends with its
// golden file, testdata/golden/<name>.jsonl at the repository root, byte
// for byte, so that any change on the wire shows up in review.
//
// Run the tests with -update to rewrite the files after an intended change:
//
//	go test ./examples/... -run Golden -update
package golden

import (
	"bytes"
	"flag"
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/dagster-pipes-go/pipes/pipestest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// RunID is the run id the golden runs use, so that a job that logs it sends
// the same bytes each time.
const RunID = "00000000-0000-4000-8000-000000000000"

// Option adjusts what Check normalises.
type Option func(*config)

type config struct {
	unordered bool
	varying   []string
}

// Varying normalises the raw value of the metadata entries labelled label,
// a number the job measures (a duration): only its type is compared.
func Varying(label string) Option {
	return func(c *config) { c.varying = append(c.varying, label) }
}

// Unordered sorts the messages between opened and closed before comparing:
// for a job whose goroutines report in an order that varies from run to
// run. The set of messages, each byte for byte, is still compared.
func Unordered() Option { return func(c *config) { c.unordered = true } }

// Check compares the messages of res with testdata/golden/<name>.jsonl.
//
// Only what varies from run to run or machine to machine, or with edits
// that do not touch the example, is normalised: the raw value of a
// timestamp metadata entry (the job's clock), the repository's absolute
// path in stack frames ($REPO), and the line numbers of frames outside the
// examples (the Go distribution's, $GOROOT, move between Go releases; the
// library's move with unrelated edits). The examples' own frames keep
// their line numbers.
func Check(t *testing.T, name string, res *pipestest.Result, opts ...Option) {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	lines := make([]string, len(res.Messages))
	for i, m := range res.Messages {
		lines[i] = normalise(string(m.JSON))
		for _, label := range c.varying {
			re := regexp.MustCompile(regexp.QuoteMeta(`"`+label+`":{"raw_value":`) + `-?[0-9][0-9.eE+-]*,`)
			lines[i] = re.ReplaceAllString(lines[i], `"`+label+`":{"raw_value":"$$VARIES",`)
		}
	}
	if c.unordered && len(lines) > 2 {
		slices.Sort(lines[1 : len(lines)-1])
	}
	got := []byte(strings.Join(lines, "\n") + "\n")
	path := filepath.Join(repoRoot(t), "testdata", "golden", name+".jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the messages differ from %s (if the change is intended, run the test with -update and review the diff):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

var (
	timestampValue = regexp.MustCompile(`\{"raw_value":-?[0-9][0-9.eE+-]*,"type":"timestamp"\}`)
	repoFrame      = regexp.MustCompile(`File \\"\$REPO/([^"\\]*)\\", line \d+`)
	gorootFrame    = regexp.MustCompile(`File \\"` + regexp.QuoteMeta(filepath.ToSlash(build.Default.GOROOT)) + `/([^"\\]*)\\", line \d+`)
)

func normalise(line string) string {
	line = timestampValue.ReplaceAllString(line, `{"raw_value":"$$TIMESTAMP","type":"timestamp"}`)
	line = gorootFrame.ReplaceAllString(line, `File \"$$GOROOT/$1\", line N`)
	if root := repoRootPath(); root != "" {
		line = strings.ReplaceAll(line, `File \"`+root+"/", `File \"$REPO/`)
	}
	return repoFrame.ReplaceAllStringFunc(line, func(frame string) string {
		path := repoFrame.FindStringSubmatch(frame)[1]
		if strings.HasPrefix(path, "examples/") {
			return frame
		}
		return `File \"$REPO/` + path + `\", line N`
	})
}

// repoRootPath is the repository root: the directory above the examples
// module, found from this file's path.
func repoRootPath() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.ToSlash(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(file)))))
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root := repoRootPath()
	if root == "" {
		t.Fatal("golden: cannot find the repository root")
	}
	return filepath.FromSlash(root)
}
