package testserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWaitReadyWhenTheProcessExits(t *testing.T) {
	p, err := Start(exec.Command("sh", "-c", "echo no module here; exit 3"))
	require.NoError(t, err)
	defer p.Stop(0)
	err = p.WaitReady("http://127.0.0.1:1/", 10*time.Second)
	require.ErrorIs(t, err, ErrExited)
	assert.Contains(t, err.Error(), "no module here")
	assert.Contains(t, p.Output(), "no module here")
}

func TestWaitReadyAndStop(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	p, err := Start(exec.Command("sleep", "60"))
	require.NoError(t, err)
	require.NoError(t, p.WaitReady(srv.URL, 10*time.Second), "any HTTP answer means ready")
	p.Stop(5 * time.Second) // SIGTERM ends sleep
	p.Stop(0)               // again: nothing to do
	select {
	case <-p.exited:
	default:
		t.Fatal("Stop returned before the process exited")
	}
}

func TestLaunchAndKind(t *testing.T) {
	unavailable := errors.New("unavailable")
	calls := 0
	_, err := Launch(unavailable, func() (int, error) { calls++; return 0, errors.New("port taken") })
	require.Error(t, err)
	assert.Equal(t, 3, calls, "a lost port is retried")
	calls = 0
	_, err = Launch(unavailable, func() (int, error) { calls++; return 0, unavailable })
	require.ErrorIs(t, err, unavailable)
	assert.Equal(t, 1, calls, "a missing server is not")

	var stopped []string
	launches := 0
	k := &Kind[*fake]{Name: "fake", Unavailable: unavailable, Launch: func() (*fake, error) {
		launches++
		return &fake{stopped: &stopped}, nil
	}}
	k.StopShared()
	assert.Empty(t, stopped, "nothing launched, nothing stopped")
	a, b := k.Shared(t), k.Shared(t)
	assert.Same(t, a, b)
	assert.Equal(t, 1, launches, "launched once")
	k.StopShared()
	assert.Equal(t, []string{"stopped"}, stopped)

	t.Run("start", func(t *testing.T) {
		k.Start(t)
		assert.Equal(t, 2, launches)
	})
	assert.Len(t, stopped, 2, "Start's server is stopped when its test ends")
}

type fake struct{ stopped *[]string }

func (f *fake) Stop() { *f.stopped = append(*f.stopped, "stopped") }

func TestKindSkipsWhenUnavailable(t *testing.T) {
	t.Setenv("PIPES_E2E", "")
	unavailable := errors.New("unavailable")
	k := &Kind[*fake]{Name: "fake", Unavailable: unavailable, Hint: "install it",
		Launch: func() (*fake, error) { return nil, fmt.Errorf("%w: no binary", unavailable) }}
	var skipped bool
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		k.Shared(t)
		t.Error("Shared returned without a server")
	})
	assert.True(t, skipped, "a server that is not installed skips the test")
}
