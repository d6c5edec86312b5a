package pipes

import (
	"context"
	"io"
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
