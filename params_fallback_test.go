package pipes

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unsetEnv removes key for the duration of the test.
func unsetEnv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "") // restores the old value when the test ends
	require.NoError(t, os.Unsetenv(key))
}

// Without the env vars, the default loader takes the bootstrap values from
// the command line, as Dagster's Databricks clients pass them.
func TestEnvParamsLoaderFallsBackToArgs(t *testing.T) {
	unsetEnv(t, ContextEnvVar)
	unsetEnv(t, MessagesEnvVar)
	boot := bootstrap(t, map[string]any{"path": "/c"}, map[string]any{"path": "/m"})
	l := EnvParamsLoader{Args: []string{"--user-flag", "x", ContextFlag, boot[ContextEnvVar], MessagesFlag, boot[MessagesEnvVar]}}
	assert.True(t, l.IsDagsterPipesProcess())
	c, err := l.LoadContextParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/c"}, c)
	m, err := l.LoadMessagesParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/m"}, m)

	// Only the messages flag is missing: the error names the argument.
	l = EnvParamsLoader{Args: []string{ContextFlag, boot[ContextEnvVar]}}
	assert.True(t, l.IsDagsterPipesProcess())
	_, err = l.LoadMessagesParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "argument --dagster-pipes-messages is missing")

	// Neither source: not a Pipes process, and the error names the env var.
	l = EnvParamsLoader{Args: []string{"--other"}}
	assert.False(t, l.IsDagsterPipesProcess())
	_, err = l.LoadContextParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "environment variable DAGSTER_PIPES_CONTEXT is missing")
}

// The env vars win when both are there; a set context env var never
// mixes with a messages argument.
func TestEnvParamsLoaderPrefersEnv(t *testing.T) {
	env := bootstrap(t, map[string]any{"path": "/env-c"}, map[string]any{"path": "/env-m"})
	args := bootstrap(t, map[string]any{"path": "/arg-c"}, map[string]any{"path": "/arg-m"})
	t.Setenv(ContextEnvVar, env[ContextEnvVar])
	unsetEnv(t, MessagesEnvVar)
	l := EnvParamsLoader{Args: []string{ContextFlag, args[ContextEnvVar], MessagesFlag, args[MessagesEnvVar]}}
	c, err := l.LoadContextParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/env-c"}, c)
	_, err = l.LoadMessagesParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "environment variable DAGSTER_PIPES_MESSAGES is missing")
	t.Setenv(MessagesEnvVar, env[MessagesEnvVar])
	m, err := l.LoadMessagesParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/env-m"}, m)
}
