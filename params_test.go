package pipes

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMappingParamsLoader(t *testing.T) {
	boot := bootstrap(t, map[string]any{"path": "/c"}, map[string]any{"path": "/m"})
	l := MappingParamsLoader{Mapping: boot}
	assert.True(t, l.IsDagsterPipesProcess())
	c, err := l.LoadContextParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/c"}, c)
	m, err := l.LoadMessagesParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/m"}, m)

	assert.False(t, MappingParamsLoader{Mapping: map[string]string{MessagesEnvVar: "x"}}.IsDagsterPipesProcess())
	// Presence decides, whatever the value.
	assert.True(t, MappingParamsLoader{Mapping: map[string]string{ContextEnvVar: ""}}.IsDagsterPipesProcess())
}

func TestMappingParamsLoaderErrors(t *testing.T) {
	boot := bootstrap(t, map[string]any{"path": "/c"}, map[string]any{"path": "/m"})
	delete(boot, MessagesEnvVar)
	_, err := MappingParamsLoader{Mapping: boot}.LoadMessagesParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "DAGSTER_PIPES_MESSAGES is missing")

	_, err = MappingParamsLoader{Mapping: map[string]string{ContextEnvVar: "%%%"}}.LoadContextParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "not a valid Pipes bootstrap value")

	notObject, err := EncodeParam([]any{1})
	require.NoError(t, err)
	_, err = MappingParamsLoader{Mapping: map[string]string{ContextEnvVar: notObject}}.LoadContextParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "must decode to a JSON object, got <class 'list'>")
}

func TestEnvParamsLoader(t *testing.T) {
	boot := bootstrap(t, map[string]any{"data": map[string]any{}}, map[string]any{"stdio": "stderr"})
	t.Setenv(ContextEnvVar, boot[ContextEnvVar])
	t.Setenv(MessagesEnvVar, boot[MessagesEnvVar])
	l := EnvParamsLoader{}
	assert.True(t, l.IsDagsterPipesProcess())
	c, err := l.LoadContextParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"data": map[string]any{}}, c)
	m, err := l.LoadMessagesParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"stdio": "stderr"}, m)

	t.Setenv(MessagesEnvVar, "not base64 !")
	_, err = l.LoadMessagesParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "environment variable DAGSTER_PIPES_MESSAGES")
}

func TestCLIArgsParamsLoader(t *testing.T) {
	boot := bootstrap(t, map[string]any{"path": "/c"}, map[string]any{"path": "/m"})
	for name, args := range map[string][]string{
		"separate": {"job", "--verbose", ContextFlag, boot[ContextEnvVar], "-x", MessagesFlag, boot[MessagesEnvVar], "tail"},
		"equals":   {ContextFlag + "=" + boot[ContextEnvVar], "--other=1", MessagesFlag + "=" + boot[MessagesEnvVar]},
	} {
		t.Run(name, func(t *testing.T) {
			l := CLIArgsParamsLoader{Args: args}
			assert.True(t, l.IsDagsterPipesProcess())
			c, err := l.LoadContextParams()
			require.NoError(t, err)
			assert.Equal(t, Params{"path": "/c"}, c)
			m, err := l.LoadMessagesParams()
			require.NoError(t, err)
			assert.Equal(t, Params{"path": "/m"}, m)
		})
	}
	l := CLIArgsParamsLoader{Args: []string{"--dagster-pipes-contextual", "x"}}
	assert.False(t, l.IsDagsterPipesProcess())

	// A flag with no value is present but cannot be loaded.
	l = CLIArgsParamsLoader{Args: []string{ContextFlag}}
	assert.True(t, l.IsDagsterPipesProcess())
	_, err := l.LoadContextParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.Contains(t, err.Error(), "argument --dagster-pipes-context was given without a value")

	// Arguments after "--" belong to the program.
	l = CLIArgsParamsLoader{Args: []string{"--", ContextFlag, boot[ContextEnvVar]}}
	assert.False(t, l.IsDagsterPipesProcess())
}

func TestParamsTypeErrorsUseReferenceText(t *testing.T) {
	p := Params{"path": 3.0, "n": nil}
	_, err := p.String("path", "PipesX")
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `path` passed from orchestration side to `PipesX`. Expected `<class 'str'>`, got `<class 'float'>`.")
	_, err = p.String("missing", "PipesX")
	assert.EqualError(t, err, "Invalid type for parameter `missing` passed from orchestration side to `PipesX`. Expected `<class 'str'>`, got `<class 'NoneType'>`.")
	s, err := p.OptionalString("n", "PipesX")
	require.NoError(t, err)
	assert.Empty(t, s)
	_, err = Params{"k": []any{}}.OptionalString("k", "PipesX")
	assert.EqualError(t, err, "Invalid type for parameter `k` passed from orchestration side to `PipesX`. Expected `Optional[<class 'str'>]`, got `<class 'list'>`.")

	assert.True(t, Params{"b": true}.Truthy("b"))
	assert.False(t, Params{"b": false}.Truthy("b"))
	assert.False(t, Params{}.Truthy("b"))
	assert.True(t, Params{"b": "yes"}.Truthy("b"))
}
