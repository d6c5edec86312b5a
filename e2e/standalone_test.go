package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/dagster-pipes-go/pipes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Scenario 11: a program started outside Dagster runs, warns once and exits
// 0. It needs no Python, so it runs without the venv too.
func TestStartedOutsideDagster(t *testing.T) {
	cmd := exec.Command(jobPath(t, "standalone"))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DAGSTER_PIPES_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "exit status; stderr:\n%s", stderr.String())

	const warning = "This process was not launched by a Dagster orchestration process. " +
		"All calls to the `dagster-pipes` context or attempts to initialize `dagster-pipes` abstractions are no-ops."
	assert.Equal(t, warning, pipes.NotLaunchedWarning)
	assert.Equal(t, 1, strings.Count(stderr.String(), warning), "stderr:\n%s", stderr.String())
	assert.Equal(t, "DagsterPipesWarning: "+warning+"\n", stderr.String(), "nothing but the warning on stderr")
	assert.Equal(t, `standalone job ran: orchestrated=false run_id="" keys=[] keys_err=<nil>`+"\n", stdout.String(),
		"the no-op context answers with zero values and no errors (Python's MagicMock answers with mocks)")
}
