package pipes

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

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

// A Lambda event as it comes: the two bootstrap values are strings among
// values of any type.
func TestMappingParamsLoaderValues(t *testing.T) {
	boot := bootstrap(t, map[string]any{"path": "/c"}, map[string]any{"buffered_stdio": "stderr"})
	l := MappingParamsLoader{Values: map[string]any{
		ContextEnvVar:  boot[ContextEnvVar],
		MessagesEnvVar: boot[MessagesEnvVar],
		"rows":         42.0,
		"nested":       map[string]any{"a": []any{1.0}},
	}}
	assert.True(t, l.IsDagsterPipesProcess())
	c, err := l.LoadContextParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/c"}, c)
	m, err := l.LoadMessagesParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"buffered_stdio": "stderr"}, m)

	assert.False(t, MappingParamsLoader{Values: map[string]any{"rows": 1.0}}.IsDagsterPipesProcess())
	assert.True(t, MappingParamsLoader{Values: map[string]any{ContextEnvVar: nil}}.IsDagsterPipesProcess(),
		"presence decides, whatever the value")

	// Mapping wins over Values for the same key.
	both := MappingParamsLoader{Mapping: map[string]string{ContextEnvVar: boot[ContextEnvVar]}, Values: map[string]any{ContextEnvVar: 1.0}}
	c, err = both.LoadContextParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"path": "/c"}, c)
}

func TestMappingParamsLoaderValuesNotString(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  string
	}{
		{nil, "DAGSTER_PIPES_CONTEXT must be a string (the encoded bootstrap value Dagster sends), got <class 'NoneType'> None"},
		{json.Number("7"), "got <class 'int'> 7"},
		{3.5, "got <class 'float'> 3.5"},
		{map[string]any{"path": "/c"}, "got <class 'dict'> {'path': '/c'}"},
		{[]any{"x"}, "got <class 'list'> ['x']"},
		{true, "got <class 'bool'> True"},
		{strings.Repeat("é", 100) + "x", ""}, // a string: decoded, and fails as a bad value instead
	} {
		_, err := MappingParamsLoader{Values: map[string]any{ContextEnvVar: tc.value}}.LoadContextParams()
		require.ErrorIs(t, err, ErrInvalidParams, "%#v", tc.value)
		if tc.want != "" {
			assert.Contains(t, err.Error(), tc.want)
		} else {
			assert.Contains(t, err.Error(), "not a valid Pipes bootstrap value")
		}
	}
	long := map[string]any{"k": strings.Repeat("é", 100)}
	_, err := MappingParamsLoader{Values: map[string]any{MessagesEnvVar: long}}.LoadMessagesParams()
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.True(t, utf8.ValidString(err.Error()), "a long value is cut on a rune boundary")
	assert.Contains(t, err.Error(), "…")
}

func TestMappingParamsLoaderFromJSON(t *testing.T) {
	boot := bootstrap(t, map[string]any{"data": map[string]any{}}, map[string]any{"buffered_stdio": "stderr"})
	event := `{"DAGSTER_PIPES_CONTEXT": "` + boot[ContextEnvVar] + `", "DAGSTER_PIPES_MESSAGES": "` + boot[MessagesEnvVar] + `", "rows": 12345678901234567890}`
	l, err := MappingParamsLoaderFromJSON([]byte(event))
	require.NoError(t, err)
	assert.True(t, l.IsDagsterPipesProcess())
	assert.Equal(t, json.Number("12345678901234567890"), l.Values["rows"], "numbers stay exact")
	m, err := l.LoadMessagesParams()
	require.NoError(t, err)
	assert.Equal(t, Params{"buffered_stdio": "stderr"}, m)

	l, err = MappingParamsLoaderFromJSON([]byte(`{"hello": "world"}`))
	require.NoError(t, err)
	assert.False(t, l.IsDagsterPipesProcess())

	_, err = MappingParamsLoaderFromJSON([]byte(`{"DAGSTER_PIPES_CONTEXT": 5}`))
	require.NoError(t, err, "the type is checked when the value is loaded")

	for raw, want := range map[string]string{
		`[1, 2]`:  "the event must be a JSON object holding DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES, got <class 'list'>",
		`"text"`:  "got <class 'str'>",
		`null`:    "got <class 'NoneType'>",
		`{"a": 1`: "the event is not valid JSON",
		`{} {}`:   "the event is not valid JSON",
		``:        "the event is not valid JSON",
	} {
		_, err := MappingParamsLoaderFromJSON([]byte(raw))
		require.ErrorIs(t, err, ErrInvalidParams, raw)
		assert.Contains(t, err.Error(), want, raw)
	}
}
