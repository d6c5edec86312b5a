// Command testprogress turns the output of `go test -json` into what a person
// wants to see during a long test run, for scripts/test.sh:
//
//   - each package's standard closing line as it finishes ("ok  \tpkg\t1.2s",
//     "FAIL\tpkg\t…", "?   \tpkg\t[no test files]"), exactly as go test prints it;
//   - each top-level test or first-level subtest that took at least -slow (the
//     end-to-end scenarios, which run for seconds under real Dagster) as it
//     finishes, and each skipped top-level test with the reason it gave;
//   - the whole output of every failing test, with go test's own "--- FAIL"
//     lines, and build errors;
//   - when nothing was printed for -quiet, the packages still running;
//   - at the end, the failed tests again and gotestsum's closing line
//     ("DONE 1520 tests, 3 skipped, 1 failure in 104.213s"), so that tools that
//     read go test's or gotestsum's summary still find it.
//
// Usage: go test -json ./... | go run ./internal/testprogress
//
// Lines that are not go test's JSON (go test's own errors) are printed as
// they are. It exits 1 when a test or a build failed, as go test does, and 2
// when it cannot read its input.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

func main() {
	slow := flag.Duration("slow", time.Second, "show passing tests (top-level and first-level subtests) that take at least this long")
	quiet := flag.Duration("quiet", 30*time.Second, "after this long without output, list the packages still running (0: never)")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr, *slow, *quiet, modulePrefix("go.mod")))
}

// run reads go test's JSON from in until EOF, prints to out, and returns the
// exit status.
func run(in io.Reader, out, errOut io.Writer, slow, quiet time.Duration, prefix string) int {
	p := newPrinter(out, slow, prefix)
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			lines <- sc.Text()
		}
		readErr <- sc.Err()
	}()

	var tick <-chan time.Time
	if quiet > 0 {
		t := time.NewTicker(quiet)
		defer t.Stop()
		tick = t.C
	}
	last := time.Now()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					fmt.Fprintln(errOut, "testprogress:", err)
					return 2
				}
				p.finish()
				if p.failed() {
					return 1
				}
				return 0
			}
			if p.line(line) {
				last = time.Now()
			}
		case now := <-tick:
			if now.Sub(last) >= quiet {
				p.stillRunning(now)
				last = now
			}
		}
	}
}

// modulePrefix returns "<module path>/" from the go.mod at path, so that
// package names print short; "" when there is none.
func modulePrefix(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(mod), `"`) + "/"
		}
	}
	return ""
}

// event is one line of `go test -json` (cmd/test2json's TestEvent).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string // build-output and build-fail
}

// printer holds what is known of the run so far. It is used by one
// goroutine.
type printer struct {
	w      io.Writer
	slow   float64 // seconds
	prefix string  // module path + "/", trimmed from package names

	first, latest time.Time
	// output of each running top-level test by package and name, printed if
	// it fails.
	output      map[string]*strings.Builder
	running     map[string]time.Time // packages started and not finished
	tests       int
	skipped     int
	fails       []string // "pkg TestName (1.2s)" of failed tests, in order
	pkgFail     bool     // a package or a build failed
	buildErrors int      // packages whose build failed
}

func newPrinter(w io.Writer, slow time.Duration, prefix string) *printer {
	return &printer{
		w: w, slow: slow.Seconds(), prefix: prefix,
		output: map[string]*strings.Builder{}, running: map[string]time.Time{},
	}
}

func (p *printer) failed() bool { return p.pkgFail || len(p.fails) > 0 }

// short is a package's name without the module prefix.
func (p *printer) short(pkg string) string {
	if pkg+"/" == p.prefix {
		return "."
	}
	return strings.TrimPrefix(pkg, p.prefix)
}

// line handles one line of input and reports whether it printed something.
func (p *printer) line(line string) bool {
	var e event
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
		// go test's own errors (a bad flag, no matching packages) are not
		// JSON: show them as they are.
		fmt.Fprintln(p.w, line)
		return true
	}
	if !e.Time.IsZero() {
		if p.first.IsZero() {
			p.first = e.Time
		}
		p.latest = e.Time
	}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(p.w, e.Output)
		return true
	case e.Action == "build-fail":
		p.pkgFail = true
		p.buildErrors++
		return false
	case e.Test == "":
		return p.packageEvent(e)
	default:
		return p.testEvent(e)
	}
}

// noise are go test's lines that its non-verbose output leaves out: the
// framing of -v and the end lines of subtests that did not fail.
var noise = regexp.MustCompile(`^(=== (RUN|PAUSE|CONT|NAME)\s|--- (PASS|SKIP): |PASS\n$|testing: warning: no tests to run\n$)`)

func (p *printer) packageEvent(e event) bool {
	switch e.Action {
	case "start":
		p.running[e.Package] = e.Time
	case "output":
		if noise.MatchString(e.Output) {
			return false
		}
		fmt.Fprint(p.w, e.Output)
		return true
	case "pass", "skip":
		delete(p.running, e.Package)
		p.flushUnfinished(e.Package, false)
	case "fail":
		delete(p.running, e.Package)
		p.pkgFail = true
		// A test binary that crashed or timed out leaves tests without an
		// end: their output says what happened.
		return p.flushUnfinished(e.Package, true)
	}
	return false
}

// flushUnfinished forgets the output of pkg's tests that never ended, and
// prints it first if print.
func (p *printer) flushUnfinished(pkg string, print bool) bool {
	printed := false
	for _, k := range slices.Sorted(maps.Keys(p.output)) {
		if !strings.HasPrefix(k, pkg+" ") {
			continue
		}
		if print {
			fmt.Fprint(p.w, p.output[k].String())
			printed = true
		}
		delete(p.output, k)
	}
	return printed
}

func (p *printer) testEvent(e event) bool {
	top, _, _ := strings.Cut(e.Test, "/")
	key := e.Package + " " + top
	depth := strings.Count(e.Test, "/")
	switch e.Action {
	case "output":
		if noise.MatchString(e.Output) {
			return false
		}
		b := p.output[key]
		if b == nil {
			b = &strings.Builder{}
			p.output[key] = b
		}
		b.WriteString(e.Output)
		return false
	case "pass", "skip", "fail":
	default:
		return false
	}

	p.tests++
	name := fmt.Sprintf("%s %s (%.2fs)", p.short(e.Package), e.Test, e.Elapsed)
	switch {
	case e.Action == "fail":
		p.fails = append(p.fails, name)
		if depth > 0 {
			return false // printed with its top-level test
		}
		fmt.Fprint(p.w, p.output[key].String())
		delete(p.output, key)
		return true
	case e.Action == "skip":
		p.skipped++
		if depth > 0 {
			return false
		}
		fmt.Fprintf(p.w, "    SKIP  %s%s\n", name, skipReason(p.output[key]))
		delete(p.output, key)
		return true
	case depth == 0:
		delete(p.output, key)
	}
	if depth <= 1 && e.Elapsed >= p.slow {
		fmt.Fprintf(p.w, "    PASS  %s\n", name)
		return true
	}
	return false
}

// skipReason is the last line a skipped test logged (its t.Skip message),
// as ": reason".
func skipReason(out *strings.Builder) string {
	if out == nil {
		return ""
	}
	var reason string
	for line := range strings.Lines(out.String()) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--- SKIP") {
			reason = line
		}
	}
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// stillRunning lists the packages that have started and not finished.
func (p *printer) stillRunning(now time.Time) {
	if len(p.running) == 0 {
		fmt.Fprintln(p.w, "    … building test binaries")
		return
	}
	names := make([]string, 0, len(p.running))
	for pkg, start := range p.running {
		names = append(names, fmt.Sprintf("%s (%ds)", p.short(pkg), int(now.Sub(start).Seconds())))
	}
	slices.Sort(names)
	fmt.Fprintf(p.w, "    … still running: %s\n", strings.Join(names, ", "))
}

// finish prints the failed tests again and gotestsum's closing line.
func (p *printer) finish() {
	if len(p.fails) > 0 {
		fmt.Fprintln(p.w, "\n=== Failed")
		for _, f := range p.fails {
			fmt.Fprintf(p.w, "=== FAIL: %s\n", f)
		}
	}
	fmt.Fprintf(p.w, "\nDONE %d tests%s%s%s in %.3fs\n", p.tests,
		count(p.skipped, "skipped", "skipped"),
		count(len(p.fails), "failure", "failures"),
		count(p.buildErrors, "error", "errors"),
		p.latest.Sub(p.first).Seconds())
}

// count is ", n things" for the closing line, "" for none.
func count(n int, one, many string) string {
	switch n {
	case 0:
		return ""
	case 1:
		return ", 1 " + one
	}
	return fmt.Sprintf(", %d %s", n, many)
}
