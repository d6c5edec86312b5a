package lambdapipes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dagster-pipes-go/pipes"
)

// Sizes of the log tail that Dagster's PipesLambdaLogsMessageReader reads.
const (
	// LogTailBytes is how much of an invocation's log Lambda returns to a
	// synchronous invoker that asks for it (LogType=Tail): the last 4 KB.
	LogTailBytes = 4096
	// LogTailBudget is how many of those bytes the buffered messages may
	// take: the rest is left for the lines that follow them in the log
	// (aws-lambda-go's error line for a failed invocation, Lambda's END
	// and REPORT lines).
	LogTailBudget = 3584
)

// TailChannel is the channel for Dagster's PipesLambdaLogsMessageReader
// (messages params {"buffered_stdio": "stderr"}): like
// [pipes.BufferedStreamChannel] it keeps the messages in memory and writes
// them, one per line, when it is closed, so that they end up at the tail of
// the invocation's log, the only part Dagster gets back. Two things make the
// most of that tail:
//
//   - the closed message's exception leaves out the stack frames of
//     aws-lambda-go and of the pipes packages, which are the same for
//     every invocation and would fill the tail;
//   - when the messages do not fit in [LogTailBudget] bytes, it writes the
//     opened message, then a WARNING log message that says how many
//     messages were dropped and that PipesS3MessageReader has no such
//     limit, then the newest messages that fit, ending with closed. The
//     messages dropped would not have reached Dagster anyway; this way
//     Dagster still sees the session open and close (with its error), and
//     says what was lost;
//   - the 4 KB cut lands in ASCII text: Dagster decodes the tail as UTF-8
//     and fails on a character cut in half, which would lose every
//     message. So the messages are written with non-ASCII characters
//     escaped (\u00e9, which Dagster reads as é), after a line of spaces
//     that makes the messages and the spaces at least LogTailBytes long:
//     whatever the job printed before cannot be where the cut falls.
type TailChannel struct {
	mu     sync.Mutex
	w      io.Writer
	lines  [][]byte
	closed bool
	budget int // negative: the whole log is read, messages go out as they are
}

// NewTailChannel returns a TailChannel that writes to w on Close.
func NewTailChannel(w io.Writer) *TailChannel {
	return &TailChannel{w: w, budget: LogTailBudget}
}

// WriteMessage implements [pipes.MessageWriterChannel].
func (c *TailChannel) WriteMessage(msg pipes.Message) error {
	if msg.Method == pipes.MethodClosed && c.budget >= 0 {
		msg.Params = trimClosed(msg.Params)
	}
	line := append(msg.AppendJSON(nil), '\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return pipes.ErrClosed
	}
	c.lines = append(c.lines, line)
	return nil
}

// Close writes the messages (those that fit, see TailChannel) in one write
// call; the stream stays open.
func (c *TailChannel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	block := fitTail(c.lines, c.budget)
	c.lines = nil
	if len(block) == 0 {
		return nil
	}
	if c.budget < 0 { // the whole log is read: write the messages as they are
		_, err := c.w.Write(block)
		return err
	}
	block = asciiOnly(block)
	var out []byte
	if pad := LogTailBytes - len(block); pad > 0 {
		out = make([]byte, 0, LogTailBytes+1)
		out = append(out, bytes.Repeat([]byte{' '}, pad)...)
		out = append(out, '\n')
	}
	_, err := c.w.Write(append(out, block...))
	return err
}

// asciiOnly escapes the non-ASCII characters of JSON lines as \uXXXX
// (UTF-16, as JSON spells them). In a message they can only be inside
// strings, where the escape means the same character.
func asciiOnly(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	out = append(out, b[:i]...)
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			out = appendU(appendU(out, hi), lo)
			continue
		}
		out = appendU(out, r)
	}
	return out
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
}

// fitTail joins lines, keeping the first and the newest ones within budget
// bytes when all of them do not fit, with a warning in place of the others.
func fitTail(lines [][]byte, budget int) []byte {
	total := 0
	for _, l := range lines {
		total += len(l)
	}
	if budget < 0 || total <= budget || len(lines) < 3 {
		return bytes.Join(lines, nil)
	}
	first := lines[0]
	// The warning's length depends on the numbers in it: reserve room for
	// the longest they can be.
	room := budget - len(first) - len(dropWarning(len(lines), total))
	keep := len(lines)
	used := 0
	for keep > 1 && used+len(lines[keep-1]) <= room {
		keep--
		used += len(lines[keep])
	}
	if keep == len(lines) {
		keep-- // the last message (closed) always goes out
	}
	dropped, droppedBytes := keep-1, 0
	for _, l := range lines[1:keep] {
		droppedBytes += len(l)
	}
	out := make([]byte, 0, budget+len(lines[len(lines)-1]))
	out = append(out, first...)
	out = append(out, dropWarning(dropped, droppedBytes)...)
	for _, l := range lines[keep:] {
		out = append(out, l...)
	}
	return out
}

// dropWarning is the log message that replaces the messages dropped.
func dropWarning(n, size int) []byte {
	text := fmt.Sprintf("[lambdapipes] %d messages (%d bytes) did not fit in the 4 KB log tail that "+
		"PipesLambdaLogsMessageReader reads, and were dropped: use PipesS3MessageReader on Dagster's side "+
		"(the function then writes its messages to S3, with no size limit)", n, size)
	params, _ := json.Marshal(map[string]string{"message": text, "level": "WARNING"})
	return append(pipes.Message{Method: pipes.MethodLog, Params: params}.AppendJSON(nil), '\n')
}

// libraryFrames are the functions whose frames trimClosed leaves out.
var libraryFrames = []string{
	"github.com/aws/aws-lambda-go/",
	"github.com/dagster-pipes-go/pipes.",
	"github.com/dagster-pipes-go/pipes/lambdapipes.",
}

// trimClosed returns the params of a closed message with the library's
// frames left out of every stack of its exception; params that cannot be
// read are returned as they are.
func trimClosed(params []byte) []byte {
	var p struct {
		Exception *pipes.Exception `json:"exception"`
	}
	if err := json.Unmarshal(params, &p); err != nil || p.Exception == nil {
		return params
	}
	trimException(p.Exception, 0)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return params
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func trimException(e *pipes.Exception, depth int) {
	if e == nil || depth > 64 {
		return
	}
	kept := e.Stack[:0]
	for _, frame := range e.Stack {
		if !isLibraryFrame(frame) {
			kept = append(kept, frame)
		}
	}
	if kept == nil {
		kept = []string{}
	}
	e.Stack = kept
	trimException(e.Cause, depth+1)
	trimException(e.Context, depth+1)
}

// isLibraryFrame reports whether a frame (`  File "…", line N, in fn` +
// "\n") is in one of libraryFrames.
func isLibraryFrame(frame string) bool {
	i := strings.LastIndex(frame, ", in ")
	if i < 0 {
		return false
	}
	fn := frame[i+len(", in "):]
	for _, prefix := range libraryFrames {
		if strings.HasPrefix(fn, prefix) {
			return true
		}
	}
	return false
}
