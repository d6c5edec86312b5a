package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

type options struct {
	data      pipes.ContextData
	inject    orchestrator.Injection
	transport orchestrator.Transport
	bootstrap orchestrator.Bootstrap
	program   []string
	quiet     bool
	raw       bool
	keep      bool
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

const usageHead = `Usage: pipes run [flags] [--] program [args...]

Runs program as a Dagster Pipes external process, as Dagster's
PipesSubprocessClient would, and shows what it reports.

Context flags:
`

// readArg returns s, or the content of the file when s is @file.
func readArg(s string) ([]byte, error) {
	if name, ok := strings.CutPrefix(s, "@"); ok {
		return os.ReadFile(name)
	}
	return []byte(s), nil
}

// decodeJSON decodes JSON keeping numbers exact.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("pipes run", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		assets, codeVersions, extraKV listFlag
		partition, partRange, window  string
		runID, jobName, extras, ctxJS string
		retry                         int
		inject, messages, bootstrap   string
		o                             options
	)
	fs.Var(&assets, "asset", "asset `key` the step targets (repeatable; \"a/b\" for the key [\"a\", \"b\"])")
	fs.Var(&codeVersions, "code-version", "code version of an asset, as `key=version` (repeatable)")
	fs.StringVar(&partition, "partition", "", "partition `key` of the step")
	fs.StringVar(&partRange, "partition-range", "", "partition key range `start..end` (default key..key with --partition)")
	fs.StringVar(&window, "time-window", "", "partition time window `start,end` (RFC 3339 times)")
	fs.StringVar(&runID, "run-id", "", "run `id` (default: a random UUID)")
	fs.StringVar(&jobName, "job", "", "job `name` (default: null)")
	fs.IntVar(&retry, "retry", 0, "retry `number` of the run")
	fs.StringVar(&extras, "extras", "", "extras as a JSON object, or `@file` holding one")
	fs.Var(&extraKV, "extra", "one extra as `key=value`; value is JSON if it parses, else a string (repeatable)")
	fs.StringVar(&ctxJS, "context", "", "the whole context data as JSON or `@file` (the other context flags are then not allowed)")
	fs.StringVar(&inject, "inject", "file", "how the context is passed: `file` ({\"path\"}) or env ({\"data\"})")
	fs.StringVar(&messages, "messages", "file", "where the program writes messages: `file`, stdout or stderr")
	fs.StringVar(&bootstrap, "bootstrap", "env", "how the bootstrap values are passed: `env` (DAGSTER_PIPES_* variables) or args (--dagster-pipes-* flags)")
	fs.BoolVar(&o.quiet, "quiet", false, "show only the summary")
	fs.BoolVar(&o.raw, "raw", false, "also show each message's JSON")
	fs.BoolVar(&o.keep, "keep", false, "keep the context and messages files")
	fs.Usage = func() {
		fmt.Fprint(out, usageHead)
		fs.PrintDefaults()
		fmt.Fprint(out, "\nExit status: the program's, or 1 if it exited 0 without closing cleanly.\n")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.program = fs.Args()
	if len(o.program) == 0 {
		fs.Usage()
		return nil, errors.New("no program to run")
	}
	o.inject = orchestrator.Injection(inject)
	o.transport = orchestrator.Transport(messages)
	o.bootstrap = orchestrator.Bootstrap(bootstrap)

	if ctxJS != "" {
		set := false
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "asset", "code-version", "partition", "partition-range", "time-window", "run-id", "job", "retry", "extras", "extra":
				set = true
			}
		})
		if set {
			return nil, errors.New("--context cannot be combined with other context flags")
		}
		raw, err := readArg(ctxJS)
		if err != nil {
			return nil, err
		}
		d, err := pipes.ParseContextData(raw)
		if err != nil {
			return nil, fmt.Errorf("--context: %w", err)
		}
		o.data = *d
		if o.data.RunID == "" {
			o.data.RunID = orchestrator.NewRunID()
		}
		return &o, nil
	}

	step := orchestrator.Step{AssetKeys: assets, RunID: runID, JobName: jobName, RetryNumber: retry, PartitionKey: partition}
	for _, kv := range codeVersions {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--code-version %q: want key=version", kv)
		}
		if step.CodeVersions == nil {
			step.CodeVersions = map[string]string{}
		}
		step.CodeVersions[k] = v
	}
	if partRange != "" {
		s, e, ok := strings.Cut(partRange, "..")
		if !ok {
			return nil, fmt.Errorf("--partition-range %q: want start..end", partRange)
		}
		step.PartitionKeyRange = &pipes.PartitionKeyRange{Start: s, End: e}
	}
	if window != "" {
		s, e, ok := strings.Cut(window, ",")
		if !ok {
			return nil, fmt.Errorf("--time-window %q: want start,end", window)
		}
		var ts [2]time.Time
		for i, v := range []string{s, e} {
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("--time-window: %w", err)
			}
			ts[i] = t
		}
		step.PartitionTimeWindow = &pipes.TimeWindow{Start: ts[0], End: ts[1]}
	}
	step.Extras = map[string]any{}
	if extras != "" {
		raw, err := readArg(extras)
		if err != nil {
			return nil, err
		}
		if err := decodeJSON(raw, &step.Extras); err != nil {
			return nil, fmt.Errorf("--extras: want a JSON object: %w", err)
		}
		if step.Extras == nil {
			step.Extras = map[string]any{}
		}
	}
	for _, kv := range extraKV {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--extra %q: want key=value", kv)
		}
		var val any
		if err := decodeJSON([]byte(v), &val); err != nil {
			val = v
		}
		step.Extras[k] = val
	}
	o.data = step.ContextData()
	return &o, nil
}
