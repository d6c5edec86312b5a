package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

const prefix = "[pipes] "

// view prints the messages as they arrive, and the summary.
type view struct {
	mu   sync.Mutex
	w    io.Writer
	opts *options
}

func newView(w io.Writer, opts *options) *view { return &view{w: w, opts: opts} }

func (v *view) printf(format string, args ...any) {
	fmt.Fprintf(v.w, prefix+format+"\n", args...)
}

func (v *view) start(prep *orchestrator.Prepared) {
	if v.opts.quiet {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.opts.data
	desc := "run " + d.RunID
	if d.AssetKeys != nil {
		desc += ", assets " + strings.Join(d.AssetKeys, ", ")
	}
	if d.PartitionKey != nil {
		desc += ", partition " + *d.PartitionKey
	}
	where := "file " + prep.MessagesPath
	if prep.MessagesPath == "" {
		where = string(prep.Transport)
	}
	v.printf("launching %s (%s; messages via %s)", quoteCommand(v.opts.program), desc, where)
}

// event prints one message.
func (v *view) event(ev orchestrator.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.opts.quiet {
		if v.opts.raw {
			v.printf("raw %s", ev.Message.JSON)
		}
		switch m := ev.Value.(type) {
		case orchestrator.Opened:
			v.printf("opened")
		case orchestrator.Log:
			v.printf("%-8s %s", orchestrator.NormalizeLevel(m.Level), m.Message)
		case orchestrator.Materialization:
			line := "MATERIALIZED " + m.AssetKey
			if m.DataVersion != "" {
				line += " (data version " + m.DataVersion + ")"
			}
			v.printf("%s", line)
			v.metadata(m.Metadata)
		case orchestrator.Check:
			status := "PASSED"
			if !m.Passed {
				status = "FAILED"
			}
			v.printf("CHECK %s %s on %s (severity %s)", m.CheckName, status, m.AssetKey, m.Severity)
			v.metadata(m.Metadata)
		case orchestrator.CustomMessage:
			b, _ := json.Marshal(m.Payload)
			v.printf("CUSTOM %s", b)
		case orchestrator.StreamText:
			v.printf("%s: %s", m.Stream, strings.TrimRight(m.Text, "\n"))
		case orchestrator.Closed:
			if m.Exception != nil {
				v.printf("closed with exception: %s", describeException(m.Exception))
				for _, line := range m.Exception.Stack {
					for _, l := range strings.Split(strings.TrimRight(line, "\n"), "\n") {
						fmt.Fprintf(v.w, "%s    %s\n", prefix, l)
					}
				}
			} else {
				v.printf("closed")
			}
		}
	}
	for _, err := range ev.Errors {
		v.printf("PROTOCOL ERROR %v", err)
	}
}

func (v *view) metadata(md orchestrator.Metadata) {
	labels := make([]string, 0, len(md))
	width := 0
	for k := range md {
		labels = append(labels, k)
		width = max(width, len(k))
	}
	slices.Sort(labels)
	for _, k := range labels {
		e := md[k]
		typ := string(e.Effective())
		if e.Type == pipes.MetadataInfer {
			typ += " (inferred)"
		}
		val := e.String()
		if _, isText := e.Raw.(string); isText && strings.ContainsAny(val, "\n\r\t") {
			val = strconv.Quote(val)
		}
		if len(val) > 120 {
			val = val[:117] + "..."
		}
		if f, ok := e.Float(); ok && e.Type == pipes.MetadataTimestamp {
			sec, frac := math.Modf(f)
			val += " (" + time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.RFC3339) + ")"
		}
		fmt.Fprintf(v.w, "%s    %-*s  %-16s %s\n", prefix, width, k, typ, val)
	}
}

func describeException(e *pipes.Exception) string {
	s := e.Message
	if e.Name != "" {
		s = e.Name + ": " + s
	}
	return s
}

// summary prints the end-of-run summary.
func (v *view) summary(res *orchestrator.Result, code int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := v.w
	fmt.Fprintln(w, prefix+"---- summary ----")
	row := func(k, format string, args ...any) {
		fmt.Fprintf(w, "%s%-16s %s\n", prefix, k, fmt.Sprintf(format, args...))
	}
	row("program", "%s (exit status %d)", quoteCommand(v.opts.program), code)
	levels := map[string]int{}
	for _, l := range res.Logs {
		levels[orchestrator.NormalizeLevel(l.Level)]++
	}
	var lv []string
	for _, name := range []string{"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"} {
		if n := levels[name]; n > 0 {
			lv = append(lv, fmt.Sprintf("%d %s", n, name))
		}
	}
	row("logs", "%d%s", len(res.Logs), parens(strings.Join(lv, ", ")))
	var mats []string
	for _, m := range res.Materializations {
		mats = append(mats, fmt.Sprintf("%s (%d metadata)", m.AssetKey, len(m.Metadata)))
	}
	row("materialized", "%d%s", len(res.Materializations), parens(strings.Join(mats, ", ")))
	passed, failed := 0, []string{}
	for _, c := range res.Checks {
		if c.Passed {
			passed++
		} else {
			failed = append(failed, fmt.Sprintf("%s on %s [%s]", c.CheckName, c.AssetKey, c.Severity))
		}
	}
	row("checks", "%d passed, %d failed%s", passed, len(failed), parens(strings.Join(failed, ", ")))
	row("custom messages", "%d", len(res.CustomMessages))
	switch {
	case res.Exception != nil:
		row("closed", "with exception: %s", describeException(res.Exception))
	case res.Closed:
		row("closed", "yes")
	default:
		row("closed", "NO: the program never sent the closed message")
	}
	row("protocol errors", "%d", len(res.ProtocolErrors))
	for _, err := range res.ProtocolErrors {
		var pe *orchestrator.ProtocolError
		if asProtocol(err, &pe) && pe.Index == 0 {
			fmt.Fprintf(w, "%s    %v\n", prefix, err)
		}
	}
	if code == 0 && !res.Failed() {
		fmt.Fprintln(w, prefix+"result: SUCCESS")
		return
	}
	var why []string
	if code != 0 {
		why = append(why, fmt.Sprintf("exit status %d", code))
	}
	if res.Exception != nil {
		why = append(why, "closed with an exception")
	}
	if !res.Closed {
		why = append(why, "no closed message")
	}
	if len(res.ProtocolErrors) > 0 {
		why = append(why, "protocol errors")
	}
	fmt.Fprintf(w, "%sresult: FAILURE (%s)\n", prefix, strings.Join(why, ", "))
}

func asProtocol(err error, pe **orchestrator.ProtocolError) bool {
	p, ok := err.(*orchestrator.ProtocolError)
	if ok {
		*pe = p
	}
	return ok
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
