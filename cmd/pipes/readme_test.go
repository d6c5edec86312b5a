//go:build unix

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's sample output blocks from a real run")

// samplePrefix starts the first line of a README block that shows a real
// run of pipes run.
const samplePrefix = "$ go run ./cmd/pipes run "

// readmeSample is one sample block: its command line and the output shown.
type readmeSample struct {
	command string
	output  []string
	start   int // index of the command line in the README's lines
	end     int // index of the closing fence
}

func readmeSamples(lines []string) []readmeSample {
	var out []readmeSample
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], samplePrefix) || i == 0 || lines[i-1] != "```" {
			continue
		}
		s := readmeSample{command: lines[i], start: i}
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == "```" {
				s.end = j
				break
			}
			s.output = append(s.output, lines[j])
		}
		out = append(out, s)
		i = s.end
	}
	return out
}

// The parts of a run's output that change from run to run.
var varying = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<run id>"},
	{regexp.MustCompile(`\S*/pipes-run-[0-9]+/`), "<dir>/"},
	{regexp.MustCompile(`[0-9]{10}(\.[0-9]+)? \([0-9-]{10}T[0-9:]{8}Z\)`), "<time>"},
}

// normalize replaces what varies, and puts the program's own output lines
// (not "[pipes] ", whose interleaving with the live view depends on timing)
// after the view's, sorted.
func normalize(lines []string) []string {
	var view, own []string
	for _, l := range lines {
		for _, v := range varying {
			l = v.re.ReplaceAllString(l, v.repl)
		}
		if strings.HasPrefix(l, prefix) {
			view = append(view, l)
		} else {
			own = append(own, l)
		}
	}
	slices.Sort(own)
	return append(view, own...)
}

// TestReadmeSamples runs every "$ go run ./cmd/pipes run …" block of the
// README from the repository root and checks that the output shown is what
// the command prints, up to run ids, temporary paths and times. With
// -update-readme it rewrites the blocks from the run instead.
func TestReadmeSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's commands (go run)")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	readme := filepath.Join(root, "README.md")
	raw, err := os.ReadFile(readme)
	require.NoError(t, err)
	lines := strings.Split(string(raw), "\n")
	samples := readmeSamples(lines)
	require.GreaterOrEqual(t, len(samples), 2, "the README shows pipes run with the quickstart and pipes exec with the shell example")
	t.Chdir(root)

	got := make([][]string, len(samples))
	for i, s := range samples {
		args := strings.Fields(strings.TrimPrefix(s.command, samplePrefix))
		require.NotContains(t, s.command, "'", "keep README sample commands free of quoting: %s", s.command)
		var out bytes.Buffer
		w := &lockedWriter{w: &out} // one lock for both streams, as a terminal has
		code := runCmd(args, w, w, false)
		require.Equal(t, 0, code, "%s\n%s", s.command, out.String())
		got[i] = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if !*updateReadme {
			assert.Equal(t, normalize(got[i]), normalize(s.output),
				"the README's output of\n%s\nhas drifted from what it prints; rerun with -update-readme", s.command)
		}
	}
	if *updateReadme {
		for i := len(samples) - 1; i >= 0; i-- {
			s := samples[i]
			lines = slices.Concat(lines[:s.start+1], got[i], lines[s.end:])
		}
		require.NoError(t, os.WriteFile(readme, []byte(strings.Join(lines, "\n")), 0o644))
	}
}

// The comparison sees a change in what the view prints.
func TestReadmeSampleNormalize(t *testing.T) {
	a := []string{"[pipes] launching x (run 6dd34fc0-d1ef-4191-ae92-33d6c845a4b8; messages via file /tmp/pipes-run-123/messages)",
		"own output", "[pipes]     at  timestamp  1795514200.7417161 (2026-11-24T09:56:40Z)"}
	b := []string{"[pipes] launching x (run 11111111-d1ef-4191-ae92-33d6c845a4b8; messages via file /var/x/pipes-run-9/messages)",
		"[pipes]     at  timestamp  1795514299 (2026-11-24T09:58:19Z)", "own output"}
	assert.Equal(t, normalize(a), normalize(b))
	c := slices.Clone(b)
	c[1] = "[pipes]     at  text  1795514299 (2026-11-24T09:58:19Z)"
	assert.NotEqual(t, normalize(a), normalize(c))
	assert.Len(t, readmeSamples([]string{"```", samplePrefix + "--asset a -- x", "[pipes] opened", "```"}), 1)
}
