package pipestest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/internal/orchestrator"
)

// ChannelHarness is one fresh channel under test and the way to read back
// what it delivered.
type ChannelHarness struct {
	// Channel is the channel under test, ready for WriteMessage.
	Channel pipes.MessageWriterChannel
	// ReadBack returns everything the channel delivered, in order, with
	// messages separated by newlines: the content of a file or stream as
	// is; for a chunked store, the chunks in index order joined by "\n".
	// It is called after Channel.Close has returned.
	ReadBack func() ([]byte, error)
}

// TestChannel checks a MessageWriterChannel against each sentence of the
// contract the pipes package relies on (see [pipes.MessageWriterChannel]),
// each check in its own subtest:
//
//   - "whole messages": every message arrives whole, byte for byte, one per
//     line (long lines, escapes and non-ASCII text included);
//   - "order": messages arrive in the order written;
//   - "params buffer reused": WriteMessage writes or queues the message
//     before it returns, so the caller may reuse the Params buffer then;
//   - "concurrent writes": concurrent writers never interleave, lose,
//     duplicate or reorder one another's messages;
//   - "close delivers everything": Close flushes what is queued;
//   - "write after close": a later WriteMessage fails with an error
//     matching pipes.ErrClosed, does not panic, and is not delivered.
//
// newHarness is called once per subtest and must return a new channel. For
// a channel that writes a file:
//
//	func TestFileChannel(t *testing.T) {
//		pipestest.TestChannel(t, func(t *testing.T) pipestest.ChannelHarness {
//			path := filepath.Join(t.TempDir(), "messages")
//			ch, err := pipes.NewFileChannel(path) // your channel here
//			if err != nil {
//				t.Fatal(err)
//			}
//			return pipestest.ChannelHarness{
//				Channel:  ch,
//				ReadBack: func() ([]byte, error) { return os.ReadFile(path) },
//			}
//		})
//	}
//
// (It takes a *testing.T, for its subtests, so it has no runnable example.)
func TestChannel(t *testing.T, newHarness func(t *testing.T) ChannelHarness) {
	t.Helper()
	for _, c := range channelChecks {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Channel == nil || h.ReadBack == nil {
				t.Fatal("pipestest: harness without Channel or ReadBack")
			}
			c.run(t, h)
		})
	}
}

// WriterHarness is one fresh MessageWriter under test, the params its
// Dagster-side reader would send, and the way to read back what it
// delivered.
type WriterHarness struct {
	// Writer is the writer under test.
	Writer pipes.MessageWriter
	// Params are the messages params for Writer.Open.
	Params pipes.Params
	// ReadBack is as in ChannelHarness: everything delivered, messages
	// separated by newlines; called after the channel is closed.
	ReadBack func() ([]byte, error)
}

// TestMessageWriter checks a MessageWriter: the channel it opens passes
// every check of TestChannel, OpenedExtras (if the writer implements
// pipes.OpenedExtrasProvider) returns extras that can be sent, and a whole
// Pipes session opened with pipes.New through the writer delivers messages
// that Dagster accepts (validated as pipestest validates every session).
//
// newHarness is called once per subtest and must return a new writer
// (and destination).
func TestMessageWriter(t *testing.T, newHarness func(t *testing.T) WriterHarness) {
	t.Helper()
	open := func(t *testing.T) ChannelHarness {
		h := newHarness(t)
		if h.Writer == nil || h.ReadBack == nil {
			t.Fatal("pipestest: harness without Writer or ReadBack")
		}
		ch, err := h.Writer.Open(t.Context(), h.Params)
		if err != nil {
			t.Fatalf("Open(%v): %v", h.Params, err)
		}
		if ch == nil {
			t.Fatalf("Open(%v) returned a nil channel and no error", h.Params)
		}
		return ChannelHarness{Channel: ch, ReadBack: h.ReadBack}
	}
	for _, c := range channelChecks {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
	t.Run("opened extras", func(t *testing.T) {
		h := newHarness(t)
		ep, ok := h.Writer.(pipes.OpenedExtrasProvider)
		if !ok {
			t.Skip("writer does not announce opened extras")
		}
		ch, err := h.Writer.Open(t.Context(), h.Params)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer ch.Close()
		extras, err := ep.OpenedExtras(t.Context())
		if err != nil {
			t.Fatalf("OpenedExtras: %v", err)
		}
		if _, err := json.Marshal(extras); err != nil {
			t.Errorf("OpenedExtras returned extras that are not JSON: %v", err)
		}
	})
	t.Run("session", func(t *testing.T) {
		h := newHarness(t)
		ctxParam, err := pipes.EncodeParam(map[string]any{pipes.ContextDataKey: json.RawMessage(`{"asset_keys":["a"],"run_id":"r","extras":{}}`)})
		if err != nil {
			t.Fatal(err)
		}
		msgParam, err := pipes.EncodeParam(map[string]any(h.Params))
		if err != nil {
			t.Fatal(err)
		}
		p, err := pipes.New(t.Context(),
			pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{pipes.ContextEnvVar: ctxParam, pipes.MessagesEnvVar: msgParam}}),
			pipes.WithMessageWriter(h.Writer))
		if err != nil {
			t.Fatalf("pipes.New with the writer: %v", err)
		}
		p.Log().Info("hello", "n", 1)
		if err := p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"rows": 3, "ok": pipes.Bool(true)}}); err != nil {
			t.Fatalf("ReportAssetMaterialization: %v", err)
		}
		if err := p.ReportAssetCheck(pipes.AssetCheck{CheckName: "c", Passed: true}); err != nil {
			t.Fatalf("ReportAssetCheck: %v", err)
		}
		if err := p.ReportCustomMessage(map[string]any{"k": "v"}); err != nil {
			t.Fatalf("ReportCustomMessage: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got, err := h.ReadBack()
		if err != nil {
			t.Fatalf("ReadBack: %v", err)
		}
		col := orchestrator.NewCollector([]string{"a"})
		for _, line := range splitLines(got) {
			col.Add([]byte(line))
		}
		res := newResult(col.Result())
		for _, err := range res.ProtocolErrors {
			t.Errorf("%v", err)
		}
		if want := []pipes.Method{pipes.MethodOpened, pipes.MethodLog, pipes.MethodReportAssetMaterialization,
			pipes.MethodReportAssetCheck, pipes.MethodReportCustomMessage, pipes.MethodClosed}; !reflect.DeepEqual(methods(res), want) {
			t.Errorf("methods delivered = %v, want %v", methods(res), want)
		}
	})
}

func methods(r *Result) []pipes.Method {
	var out []pipes.Method
	for _, m := range r.Messages {
		out = append(out, m.Method)
	}
	return out
}

// splitLines splits delivered content into messages: one per line, a
// trailing newline allowed.
func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

type channelCheck struct {
	name string
	run  func(t *testing.T, h ChannelHarness)
}

// testMessage is message i of a check: a log whose text says who wrote it.
func testMessage(writer, i int, text string) pipes.Message {
	params, _ := json.Marshal(map[string]any{"message": fmt.Sprintf("w%d-%d %s", writer, i, text), "level": "INFO"})
	return pipes.Message{Method: pipes.MethodLog, Params: params}
}

func wire(m pipes.Message) string { return string(m.AppendJSON(nil)) }

// readBack reads back after Close and checks the framing.
func readBack(t *testing.T, h ChannelHarness) []string {
	t.Helper()
	got, err := h.ReadBack()
	if err != nil {
		t.Fatalf("ReadBack: %v", err)
	}
	lines := splitLines(got)
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not a whole JSON message: %.200q", i+1, l)
		}
	}
	return lines
}

func writeAll(t *testing.T, ch pipes.MessageWriterChannel, msgs []pipes.Message) {
	t.Helper()
	for i, m := range msgs {
		if err := ch.WriteMessage(m); err != nil {
			t.Fatalf("WriteMessage #%d: %v", i+1, err)
		}
	}
}

func closeChannel(t *testing.T, ch pipes.MessageWriterChannel) {
	t.Helper()
	if err := ch.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func compareLines(t *testing.T, got []string, want []pipes.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("delivered %d messages, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if w := wire(want[i]); got[i] != w {
			t.Errorf("message %d:\n got %.300s\nwant %.300s", i+1, got[i], w)
		}
	}
}

var channelChecks = []channelCheck{
	{"whole messages", func(t *testing.T, h ChannelHarness) {
		msgs := []pipes.Message{
			{Method: pipes.MethodOpened, Params: []byte(`{"extras":{}}`)},
			testMessage(0, 1, "plain"),
			testMessage(0, 2, "unicode: héllo → 世界 \u2028 and escapes \" \\ \n \t"),
			testMessage(0, 3, strings.Repeat("long ", 40000)),
			{Method: pipes.MethodReportCustomMessage, Params: []byte(`{"payload":[1,2.5,null,{"a":true}]}`)},
			{Method: pipes.MethodClosed, Params: []byte(`{}`)},
		}
		writeAll(t, h.Channel, msgs)
		closeChannel(t, h.Channel)
		compareLines(t, readBack(t, h), msgs)
	}},
	{"order", func(t *testing.T, h ChannelHarness) {
		var msgs []pipes.Message
		for i := range 500 {
			msgs = append(msgs, testMessage(0, i, "in order"))
		}
		writeAll(t, h.Channel, msgs)
		closeChannel(t, h.Channel)
		compareLines(t, readBack(t, h), msgs)
	}},
	{"params buffer reused", func(t *testing.T, h ChannelHarness) {
		// Message.Params may point into a buffer that the caller reuses
		// once WriteMessage returns.
		buf := []byte(`{"message":"first","level":"INFO"}`)
		want := []pipes.Message{{Method: pipes.MethodLog, Params: bytes.Clone(buf)}}
		if err := h.Channel.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: buf}); err != nil {
			t.Fatalf("WriteMessage: %v", err)
		}
		copy(buf, `{"message":"XXXXX","level":"INFO"}`)
		second := []byte(`{"message":"second","level":"INFO"}`)
		want = append(want, pipes.Message{Method: pipes.MethodLog, Params: bytes.Clone(second)})
		if err := h.Channel.WriteMessage(pipes.Message{Method: pipes.MethodLog, Params: second}); err != nil {
			t.Fatalf("WriteMessage: %v", err)
		}
		copy(second, `{"message":"YYYYYY","level":"INFO"}`)
		closeChannel(t, h.Channel)
		compareLines(t, readBack(t, h), want)
	}},
	{"concurrent writes", func(t *testing.T, h ChannelHarness) {
		const writers, each = 8, 100
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := h.Channel.WriteMessage(testMessage(w, i, strings.Repeat("x", 1000*(i%5)))); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("WriteMessage: %v", err)
		}
		closeChannel(t, h.Channel)
		lines := readBack(t, h)
		if len(lines) != writers*each {
			t.Errorf("delivered %d messages, want %d", len(lines), writers*each)
		}
		next := make([]int, writers)
		for _, l := range lines {
			var m struct {
				Params struct{ Message string }
			}
			if json.Unmarshal([]byte(l), &m) != nil {
				continue // reported by readBack
			}
			id, _, _ := strings.Cut(strings.TrimPrefix(m.Params.Message, "w"), " ")
			ws, is, _ := strings.Cut(id, "-")
			w, err1 := strconv.Atoi(ws)
			i, err2 := strconv.Atoi(is)
			if err1 != nil || err2 != nil || w < 0 || w >= writers {
				t.Errorf("unexpected message %.100s", l)
				continue
			}
			if i != next[w] {
				t.Errorf("writer %d: got its message %d, want %d (lost, duplicated or reordered)", w, i, next[w])
			}
			next[w] = i + 1
		}
	}},
	{"close delivers everything", func(t *testing.T, h ChannelHarness) {
		msgs := []pipes.Message{testMessage(0, 0, "just before close"), {Method: pipes.MethodClosed, Params: []byte(`{}`)}}
		writeAll(t, h.Channel, msgs)
		closeChannel(t, h.Channel)
		compareLines(t, readBack(t, h), msgs)
	}},
	{"write after close", func(t *testing.T, h ChannelHarness) {
		msgs := []pipes.Message{{Method: pipes.MethodClosed, Params: []byte(`{}`)}}
		writeAll(t, h.Channel, msgs)
		closeChannel(t, h.Channel)
		var err error
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("WriteMessage after Close panicked: %v", v)
				}
			}()
			err = h.Channel.WriteMessage(testMessage(0, 1, "after close"))
		}()
		if !errors.Is(err, pipes.ErrClosed) {
			t.Errorf("WriteMessage after Close returned %v, want an error matching pipes.ErrClosed", err)
		}
		compareLines(t, readBack(t, h), msgs)
	}},
}

// ContextLoaderHarness stores context data where a ContextLoader under
// test reads it and returns the loader and its params.
type ContextLoaderHarness func(t *testing.T, data []byte) (pipes.ContextLoader, pipes.Params)

// TestContextLoader checks a ContextLoader: for each of several context
// documents (every field set, every field null, keys missing, escaped asset
// keys, large integers and nested extras), the harness stores the JSON
// where the loader reads it, and the loader must return what
// pipes.ParseContextData returns for the same JSON.
func TestContextLoader(t *testing.T, store ContextLoaderHarness) {
	t.Helper()
	docs := []struct{ name, json string }{
		{"full", `{"asset_keys":["orders","raw/orders"],"code_version_by_asset_key":{"orders":"v1","raw/orders":null},` +
			`"provenance_by_asset_key":{"orders":{"code_version":"v0","input_data_versions":{"raw/orders":"abc"},"is_user_provided":false},"raw/orders":null},` +
			`"partition_key":"2024-01-01","partition_key_range":{"start":"2024-01-01","end":"2024-01-01"},` +
			`"partition_time_window":{"start":"2024-01-01T00:00:00+00:00","end":"2024-01-02T00:00:00+00:00"},` +
			`"run_id":"8b2e6bd4-2f5e-4a53-9b5d-2d0c8a5f3c11","job_name":"__ASSET_JOB","retry_number":2,` +
			`"extras":{"big":1152921504606846977,"ratio":0.5,"nested":{"list":[1,"two",null,true]},"s":"é"}}`},
		{"nulls", `{"asset_keys":null,"code_version_by_asset_key":null,"provenance_by_asset_key":null,"partition_key":null,` +
			`"partition_key_range":null,"partition_time_window":null,"run_id":"r","job_name":null,"retry_number":0,"extras":{}}`},
		{"missing keys", `{"run_id":"r"}`},
		{"escaped keys", `{"asset_keys":["a\\/b/c","x"],"run_id":"r","extras":{}}`},
	}
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			want, err := pipes.ParseContextData([]byte(d.json))
			if err != nil {
				t.Fatalf("pipestest: ParseContextData: %v", err)
			}
			loader, params := store(t, []byte(d.json))
			got, err := loader.LoadContext(context.Background(), params)
			if err != nil {
				t.Fatalf("LoadContext(%v): %v", params, err)
			}
			if got == nil {
				t.Fatal("LoadContext returned nil data and no error")
			}
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Errorf("LoadContext:\n got %s\nwant %s", gj, wj)
			}
		})
	}
}
