package pipes

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Names of the two bootstrap values, as env vars (or mapping keys) and as
// command-line flags.
const (
	ContextEnvVar  = "DAGSTER_PIPES_CONTEXT"
	MessagesEnvVar = "DAGSTER_PIPES_MESSAGES"
	ContextFlag    = "--dagster-pipes-context"
	MessagesFlag   = "--dagster-pipes-messages"
)

// Params is a decoded params object: what a context injector or message
// reader on the Dagster side handed over, for a [ContextLoader] or
// [MessageWriter] to use. Numbers are [json.Number].
type Params map[string]any

// String returns the string param key, or an error naming component (the
// loader or writer that needs it) if it is missing or not a string.
func (p Params) String(key, component string) (string, error) {
	v, ok := p[key].(string)
	if !ok {
		return "", newError(ErrInvalidParams,
			"Invalid type for parameter `%s` passed from orchestration side to `%s`. Expected `<class 'str'>`, got `%s`.",
			key, component, pyTypeRepr(p[key]))
	}
	return v, nil
}

// OptionalString is like [Params.String] but a missing or null param gives "".
func (p Params) OptionalString(key, component string) (string, error) {
	v, present := p[key]
	if !present || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", newError(ErrInvalidParams,
			"Invalid type for parameter `%s` passed from orchestration side to `%s`. Expected `Optional[<class 'str'>]`, got `%s`.",
			key, component, pyTypeRepr(v))
	}
	return s, nil
}

// Truthy reports whether param key is set to a value Python would call true
// (true, a non-zero number, a non-empty string, list or object).
func (p Params) Truthy(key string) bool {
	switch v := p[key].(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case json.Number:
		f, err := v.Float64()
		return err != nil || f != 0
	case float64:
		return v != 0
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

// pyTypeRepr names the Python type a decoded JSON value would have, for
// error texts that match the reference.
func pyTypeRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "<class 'NoneType'>"
	case string:
		return "<class 'str'>"
	case bool:
		return "<class 'bool'>"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "<class 'float'>"
		}
		return "<class 'int'>"
	case float64, float32:
		return "<class 'float'>"
	case int, int64, int32:
		return "<class 'int'>"
	case map[string]any, Params:
		return "<class 'dict'>"
	case []any:
		return "<class 'list'>"
	}
	return fmt.Sprintf("%T", v)
}

// ParamsLoader finds the two bootstrap values Dagster passed to this process.
//
// Implementations: [EnvParamsLoader] (the default), [CLIArgsParamsLoader],
// [MappingParamsLoader].
type ParamsLoader interface {
	// IsDagsterPipesProcess reports whether this process was launched by
	// Dagster, i.e. whether the context bootstrap value is present.
	IsDagsterPipesProcess() bool
	// LoadContextParams decodes the context bootstrap value.
	LoadContextParams() (Params, error)
	// LoadMessagesParams decodes the messages bootstrap value.
	LoadMessagesParams() (Params, error)
}

// MappingParamsLoader reads the bootstrap values from a map, such as the
// event of an AWS Lambda function launched by Dagster's PipesLambdaClient
// (its PipesLambdaEventContextInjector merges the two values into the
// event). The keys are [ContextEnvVar] and [MessagesEnvVar]; the values are
// the encoded strings Dagster sends.
//
// Mapping holds string values (an environment-like map, Databricks
// notebook widgets). Values holds a decoded JSON object as it comes, for
// example a Lambda event unmarshalled into map[string]any: the two
// bootstrap values must be strings there, and any other type is refused
// with a clear error matching [ErrInvalidParams]; the other keys of the
// event may hold anything. A key is looked up in Mapping first, then in
// Values. [MappingParamsLoaderFromJSON] builds the loader from the raw JSON
// of an event.
type MappingParamsLoader struct {
	Mapping map[string]string
	Values  map[string]any
}

// MappingParamsLoaderFromJSON returns a loader over the JSON object event
// (such as the raw payload of a Lambda invocation), with the object in
// Values. It is an error, matching [ErrInvalidParams], when event is not a
// JSON object.
func MappingParamsLoaderFromJSON(event []byte) (MappingParamsLoader, error) {
	v, err := decodeJSON(event)
	if err != nil {
		return MappingParamsLoader{}, wrapError(ErrInvalidParams, err,
			"the event is not valid JSON; the Pipes bootstrap values are read from a JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return MappingParamsLoader{}, newError(ErrInvalidParams,
			"the event must be a JSON object holding %s and %s, got %s", ContextEnvVar, MessagesEnvVar, pyTypeRepr(v))
	}
	return MappingParamsLoader{Values: m}, nil
}

// lookup returns the value under key and whether the key is present.
func (l MappingParamsLoader) lookup(key string) (string, bool, error) {
	if v, ok := l.Mapping[key]; ok {
		return v, true, nil
	}
	v, ok := l.Values[key]
	if !ok {
		return "", false, nil
	}
	s, isString := v.(string)
	if !isString {
		return "", true, newError(ErrInvalidParams,
			"%s must be a string (the encoded bootstrap value Dagster sends), got %s %s",
			key, pyTypeRepr(v), truncateRepr(pyRepr(v)))
	}
	return s, true, nil
}

// IsDagsterPipesProcess reports whether the mapping has the context key,
// whatever its value.
func (l MappingParamsLoader) IsDagsterPipesProcess() bool {
	_, ok, _ := l.lookup(ContextEnvVar)
	return ok
}

// LoadContextParams decodes the value under [ContextEnvVar].
func (l MappingParamsLoader) LoadContextParams() (Params, error) {
	return l.load(ContextEnvVar)
}

// LoadMessagesParams decodes the value under [MessagesEnvVar].
func (l MappingParamsLoader) LoadMessagesParams() (Params, error) {
	return l.load(MessagesEnvVar)
}

func (l MappingParamsLoader) load(key string) (Params, error) {
	v, ok, err := l.lookup(key)
	if err != nil {
		return nil, err
	}
	return decodeParams(key, v, ok)
}

// truncateRepr shortens a value's repr for an error text.
func truncateRepr(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// EnvParamsLoader reads the bootstrap values from the environment variables
// DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES. It is the default.
//
// When DAGSTER_PIPES_CONTEXT is not set but the command line has
// --dagster-pipes-context, it reads both values from the command line
// instead, as [CLIArgsParamsLoader] does: Dagster's Databricks clients pass
// them as task parameters (command-line arguments) to a task on an
// existing cluster or on serverless compute, so the same program works
// whichever way it is launched.
type EnvParamsLoader struct {
	// Args are the command-line arguments searched for the fallback; nil
	// means os.Args[1:].
	Args []string
}

// cli returns the command-line loader when the fallback applies.
func (l EnvParamsLoader) cli() (CLIArgsParamsLoader, bool) {
	if _, ok := os.LookupEnv(ContextEnvVar); ok {
		return CLIArgsParamsLoader{}, false
	}
	c := CLIArgsParamsLoader(l)
	return c, c.IsDagsterPipesProcess()
}

// IsDagsterPipesProcess reports whether DAGSTER_PIPES_CONTEXT is set, even to
// the empty string, or --dagster-pipes-context is on the command line.
func (l EnvParamsLoader) IsDagsterPipesProcess() bool {
	if _, ok := os.LookupEnv(ContextEnvVar); ok {
		return true
	}
	_, ok := l.cli()
	return ok
}

// LoadContextParams decodes DAGSTER_PIPES_CONTEXT (or the command line's
// --dagster-pipes-context, see [EnvParamsLoader]).
func (l EnvParamsLoader) LoadContextParams() (Params, error) {
	if c, ok := l.cli(); ok {
		return c.LoadContextParams()
	}
	v, ok := os.LookupEnv(ContextEnvVar)
	return decodeParams("environment variable "+ContextEnvVar, v, ok)
}

// LoadMessagesParams decodes DAGSTER_PIPES_MESSAGES (or the command line's
// --dagster-pipes-messages, see [EnvParamsLoader]).
func (l EnvParamsLoader) LoadMessagesParams() (Params, error) {
	if c, ok := l.cli(); ok {
		return c.LoadMessagesParams()
	}
	v, ok := os.LookupEnv(MessagesEnvVar)
	return decodeParams("environment variable "+MessagesEnvVar, v, ok)
}

// CLIArgsParamsLoader reads the bootstrap values from command-line arguments
// --dagster-pipes-context and --dagster-pipes-messages, in the form
// "--flag value" or "--flag=value"; other arguments are ignored. Dagster
// passes them this way to Databricks Python-wheel and Spark tasks, and any
// launcher can.
type CLIArgsParamsLoader struct {
	// Args are the arguments to search; nil means os.Args[1:].
	Args []string
}

func (l CLIArgsParamsLoader) args() []string {
	if l.Args == nil && len(os.Args) > 0 {
		return os.Args[1:]
	}
	return l.Args
}

// lookup finds flag's value. The second result says whether the flag was
// present; a flag at the very end without a value is present with ok=false
// for the value.
func (l CLIArgsParamsLoader) lookup(flag string) (value string, present, hasValue bool) {
	args := l.args()
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == flag {
			// The next argument is the value, unless it is the other
			// bootstrap flag: then this one was given without a value.
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--dagster-pipes-") {
				return args[i+1], true, true
			}
			return "", true, false
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true, true
		}
	}
	return "", false, false
}

// IsDagsterPipesProcess reports whether --dagster-pipes-context is among the
// arguments. Unlike the Python reference, the "--flag=value" form counts too.
func (l CLIArgsParamsLoader) IsDagsterPipesProcess() bool {
	_, present, _ := l.lookup(ContextFlag)
	return present
}

// LoadContextParams decodes the value of --dagster-pipes-context.
func (l CLIArgsParamsLoader) LoadContextParams() (Params, error) {
	return l.load(ContextFlag)
}

// LoadMessagesParams decodes the value of --dagster-pipes-messages.
func (l CLIArgsParamsLoader) LoadMessagesParams() (Params, error) {
	return l.load(MessagesFlag)
}

func (l CLIArgsParamsLoader) load(flag string) (Params, error) {
	v, present, ok := l.lookup(flag)
	if present && !ok {
		return nil, newError(ErrInvalidParams,
			"argument %s was given without a value: it must be followed by the encoded value (%s VALUE or %s=VALUE)", flag, flag, flag)
	}
	return decodeParams("argument "+flag, v, ok)
}

func decodeParams(source, value string, present bool) (Params, error) {
	if !present {
		return nil, newError(ErrInvalidParams,
			"%s is missing: Dagster passes both bootstrap values (context and messages) to a Pipes process; check how the process was launched", source)
	}
	v, err := DecodeParam(value)
	if err != nil {
		return nil, wrapError(ErrInvalidParams, err,
			"%s is not a valid Pipes bootstrap value (expected base64 of zlib-compressed JSON, as Dagster encodes it)", source)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, newError(ErrInvalidParams, "%s must decode to a JSON object, got %s", source, pyTypeRepr(v))
	}
	return Params(m), nil
}
