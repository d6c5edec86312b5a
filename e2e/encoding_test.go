package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
)

// The reference's decode_param reads what pipes.EncodeParam makes: the
// zlib stream of this package's own encoder (LZ77 with the fixed codes, or
// stored blocks for data that does not compress), in every shape.
func TestReferenceDecodesEncodeParam(t *testing.T) {
	requireDagster(t)
	var context strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&context, "warehouse/events/daily_%04d,", i%250)
	}
	random := make([]rune, 40000) // > 64 KB of UTF-8 that does not compress: stored blocks
	state := uint32(7)
	for i := range random {
		state = state*1664525 + 1013904223
		random[i] = rune(0x100 + state>>20%0x700)
	}
	values := []any{
		map[string]any{"path": "/tmp/dagster-pipes-abc/context.json"},
		map[string]any{},
		map[string]any{"asset_keys": []any{"a", "b"}, "extras": map[string]any{"n": 1, "f": 2.5, "s": context.String()}},
		strings.Repeat("a", 70000),
		string(random),
		"snow ☃ and 𝄞",
	}
	var in bytes.Buffer
	for _, v := range values {
		enc, err := pipes.EncodeParam(v)
		require.NoError(t, err)
		want, err := json.Marshal(v)
		require.NoError(t, err)
		line, err := json.Marshal(map[string]any{"encoded": enc, "want": string(want)})
		require.NoError(t, err)
		in.Write(append(line, '\n'))
	}
	const script = `
import json, sys
from dagster_pipes import decode_param
for n, line in enumerate(sys.stdin):
    req = json.loads(line)
    got = decode_param(req["encoded"])
    if got != json.loads(req["want"]):
        print(f"value {n}: decode_param gave something else", flush=True)
        sys.exit(1)
    print(f"value {n}: ok", flush=True)
`
	cmd := exec.Command(pythonPath(), "-c", script)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, len(values), strings.Count(string(out), ": ok"), "%s", out)
}
