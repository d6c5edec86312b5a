package pipes

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression (issue 10): a context download with a ctx without deadline was
// unbounded; ReadContextBlob bounds it by default.
func TestReadContextBlobDefaultDeadline(t *testing.T) {
	var deadline time.Time
	var has bool
	_, err := ReadContextBlob(context.Background(), "mem://x", func(ctx context.Context) (io.ReadCloser, error) {
		deadline, has = ctx.Deadline()
		return io.NopCloser(strings.NewReader(`{}`)), nil
	})
	require.NoError(t, err)
	require.True(t, has, "a ctx without deadline gets the default bound")
	assert.WithinDuration(t, time.Now().Add(DefaultContextLoadTimeout), deadline, time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	want, _ := ctx.Deadline()
	_, err = ReadContextBlob(ctx, "mem://x", func(ctx context.Context) (io.ReadCloser, error) {
		deadline, _ = ctx.Deadline()
		return io.NopCloser(strings.NewReader(`{}`)), nil
	})
	require.NoError(t, err)
	assert.Equal(t, want, deadline, "the caller's deadline is kept")
}

// zlibBomb returns a bootstrap value that expands to n bytes of JSON.
func zlibBomb(t *testing.T, n int) string {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	require.NoError(t, err)
	_, err = zw.Write([]byte(`{"data":"`))
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for written := 0; written < n; written += len(chunk) {
		_, err = zw.Write(chunk)
		require.NoError(t, err)
	}
	_, err = zw.Write([]byte(`"}`))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// Regression (issue 10): a 1.4 MB bootstrap value expanded to 1 GiB in
// memory; decompression is bounded, with a clear error.
func TestDecodeParamBounded(t *testing.T) {
	bomb := zlibBomb(t, MaxContextSize+(1<<20))
	assert.Less(t, len(bomb), 1<<20, "the value itself is small")
	_, err := DecodeParam(bomb)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decompresses to more than 67108864 bytes")
	// The limit is configurable.
	small := zlibBomb(t, 2<<20)
	_, err = DecodeParamLimit(small, 1<<20)
	require.Error(t, err)
	v, err := DecodeParamLimit(small, 4<<20)
	require.NoError(t, err)
	assert.Len(t, v.(map[string]any)["data"], 2<<20)
}

// Regression (issue 10): the context file was read whole, however large.
func TestContextFileBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "context.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"run_id":"`+strings.Repeat("r", 2000)+`"}`), 0o644))
	_, err := DefaultContextLoader{MaxSize: 1000}.LoadContext(context.Background(), Params{"path": path})
	require.ErrorIs(t, err, ErrInvalidContext)
	assert.Contains(t, err.Error(), "is larger than 1000 bytes")
	_, err = VolumesContextLoader{MaxSize: 1000}.LoadContext(context.Background(), Params{"path": path})
	require.ErrorIs(t, err, ErrInvalidContext)
	data, err := DefaultContextLoader{}.LoadContext(context.Background(), Params{"path": path})
	require.NoError(t, err, "the default limit is generous")
	assert.Len(t, data.RunID, 2000)
	// A file larger than the default limit (sparse: no disk used).
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(MaxContextSize+1))
	require.NoError(t, f.Close())
	_, err = DefaultContextLoader{}.LoadContext(context.Background(), Params{"path": path})
	require.ErrorIs(t, err, ErrInvalidContext)
	assert.Contains(t, err.Error(), "is larger than 67108864 bytes")
}

// Regression (issue 10): errors about bootstrap values that said the wrong
// thing.
func TestBootstrapErrorsSayWhatIsWrong(t *testing.T) {
	_, err := DecodeParam("!!!%%%")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `the value "!!!%%%" has no base64 characters`)
	assert.NotContains(t, err.Error(), "empty")

	_, err = DecodeParam(base64.StdEncoding.EncodeToString([]byte("plain json {}")))
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), "zlib"), err.Error())

	boot := bootstrap(t, map[string]any{"data": testData()}, map[string]any{"path": "/m"})
	// A flag without its value, at the end or before the other flag.
	for _, args := range [][]string{
		{MessagesFlag, boot[MessagesEnvVar], ContextFlag},
		{ContextFlag, MessagesFlag, boot[MessagesEnvVar]},
	} {
		_, err := CLIArgsParamsLoader{Args: args}.LoadContextParams()
		require.ErrorIs(t, err, ErrInvalidParams)
		assert.Contains(t, err.Error(), "argument --dagster-pipes-context was given without a value", args)
		assert.NotContains(t, err.Error(), "zlib", "the next flag is not read as the value")
	}
	m, err := CLIArgsParamsLoader{Args: []string{ContextFlag, MessagesFlag, boot[MessagesEnvVar]}}.LoadMessagesParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/m"}, m)
}

// The nesting limit is on what this package sends: a context Dagster sent
// with deeply nested extras still loads.
func TestDeepContextDataLoads(t *testing.T) {
	data := testData("a")
	data["extras"] = map[string]any{"deep": nested(300)}
	p, _ := newTestContext(t, data)
	v, err := p.Extra("deep")
	require.NoError(t, err)
	assert.NotNil(t, v)
	require.NoError(t, p.Close())
}
