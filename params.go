package pipes

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Names of the two bootstrap values, as env vars (or mapping keys) and as
// command-line flags.
const (
	ContextEnvVar  = "DAGSTER_PIPES_CONTEXT"
	MessagesEnvVar = "DAGSTER_PIPES_MESSAGES"
	ContextFlag    = "--dagster-pipes-context"
	MessagesFlag   = "--dagster-pipes-messages"
)

// ProtocolVersion is the version of the Pipes protocol this package speaks,
// sent in every message.
const ProtocolVersion = "0.1"

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

// MappingParamsLoader reads the bootstrap values from any string map, such
// as the event of an AWS Lambda function launched by Dagster's Lambda client.
// The keys are [ContextEnvVar] and [MessagesEnvVar].
type MappingParamsLoader struct {
	Mapping map[string]string
}

// IsDagsterPipesProcess reports whether the mapping has the context key,
// whatever its value.
func (l MappingParamsLoader) IsDagsterPipesProcess() bool {
	_, ok := l.Mapping[ContextEnvVar]
	return ok
}

// LoadContextParams decodes the value under [ContextEnvVar].
func (l MappingParamsLoader) LoadContextParams() (Params, error) {
	v, ok := l.Mapping[ContextEnvVar]
	return decodeParams(ContextEnvVar, v, ok)
}

// LoadMessagesParams decodes the value under [MessagesEnvVar].
func (l MappingParamsLoader) LoadMessagesParams() (Params, error) {
	v, ok := l.Mapping[MessagesEnvVar]
	return decodeParams(MessagesEnvVar, v, ok)
}

// EnvParamsLoader reads the bootstrap values from the environment variables
// DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES. It is the default.
type EnvParamsLoader struct{}

// IsDagsterPipesProcess reports whether DAGSTER_PIPES_CONTEXT is set, even to
// the empty string.
func (EnvParamsLoader) IsDagsterPipesProcess() bool {
	_, ok := os.LookupEnv(ContextEnvVar)
	return ok
}

// LoadContextParams decodes DAGSTER_PIPES_CONTEXT.
func (EnvParamsLoader) LoadContextParams() (Params, error) {
	v, ok := os.LookupEnv(ContextEnvVar)
	return decodeParams("environment variable "+ContextEnvVar, v, ok)
}

// LoadMessagesParams decodes DAGSTER_PIPES_MESSAGES.
func (EnvParamsLoader) LoadMessagesParams() (Params, error) {
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
