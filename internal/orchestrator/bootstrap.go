package orchestrator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dagster-pipes-go/pipes"
)

// Injection says how the context data reaches the external process.
type Injection string

// The context injections, named after Dagster's injectors.
const (
	// InjectFile writes the context to a file and passes {"path": file}, as
	// Dagster's default PipesTempFileContextInjector does.
	InjectFile Injection = "file"
	// InjectEnv puts the context inside the bootstrap value, {"data": …}, as
	// PipesEnvContextInjector does.
	InjectEnv Injection = "env"
)

// Transport says where the external process writes its messages.
type Transport string

// The message transports, named after the params of the default writer.
const (
	// TransportFile passes {"path": file} (Dagster's default
	// PipesTempFileMessageReader); every line of the file is a message.
	TransportFile Transport = "file"
	// TransportStdout passes {"stdio": "stdout"}: messages are mixed with
	// the program's own output, as log-scraping readers see them.
	TransportStdout Transport = "stdout"
	// TransportStderr passes {"stdio": "stderr"}.
	TransportStderr Transport = "stderr"
)

// Bootstrap says how the two bootstrap values are handed over.
type Bootstrap string

// The bootstrap forms of the protocol.
const (
	// BootstrapEnv sets DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES.
	BootstrapEnv Bootstrap = "env"
	// BootstrapArgs appends --dagster-pipes-context VALUE
	// --dagster-pipes-messages VALUE to the command line.
	BootstrapArgs Bootstrap = "args"
)

// Config describes one session.
type Config struct {
	// Data is the context the external process sees. A nil Extras is sent
	// as {} as Dagster does.
	Data pipes.ContextData
	// Injection defaults to InjectFile.
	Injection Injection
	// Transport defaults to TransportFile.
	Transport Transport
	// Bootstrap defaults to BootstrapEnv.
	Bootstrap Bootstrap
	// Dir holds the context and messages files; it must exist when a file
	// is used.
	Dir string
}

// Prepared is a session ready to launch: what to give the external process
// and where its messages will be.
type Prepared struct {
	// ContextParams and MessagesParams are the decoded bootstrap values.
	ContextParams, MessagesParams map[string]any
	// Encoded holds the two encoded values keyed by env-var name
	// (pipes.ContextEnvVar and pipes.MessagesEnvVar).
	Encoded map[string]string
	// Env is "NAME=value" for BootstrapEnv, empty otherwise.
	Env []string
	// Args are the flags for BootstrapArgs, empty otherwise.
	Args []string
	// ContextPath is the context file for InjectFile.
	ContextPath string
	// MessagesPath is the (created, empty) messages file for TransportFile.
	MessagesPath string
	// Transport is the resolved transport.
	Transport Transport
}

// ContextJSON encodes data as Dagster's context injectors do: every key
// present, null for what is unset, extras {} when empty.
func ContextJSON(data pipes.ContextData) ([]byte, error) {
	if data.Extras == nil {
		data.Extras = map[string]any{}
	}
	return json.Marshal(data)
}

// NewRunID returns a random run id shaped like Dagster's (a UUID4).
func NewRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Prepare writes the context file (for InjectFile), creates the empty
// messages file (for TransportFile) and encodes the bootstrap values.
func Prepare(cfg Config) (*Prepared, error) {
	if cfg.Injection == "" {
		cfg.Injection = InjectFile
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportFile
	}
	if cfg.Bootstrap == "" {
		cfg.Bootstrap = BootstrapEnv
	}
	raw, err := ContextJSON(cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("encoding the context data: %w", err)
	}
	p := &Prepared{Transport: cfg.Transport}
	switch cfg.Injection {
	case InjectFile:
		p.ContextPath = filepath.Join(cfg.Dir, "context")
		if err := os.WriteFile(p.ContextPath, raw, 0o600); err != nil {
			return nil, err
		}
		p.ContextParams = map[string]any{pipes.ContextPathKey: p.ContextPath}
	case InjectEnv:
		p.ContextParams = map[string]any{pipes.ContextDataKey: json.RawMessage(raw)}
	default:
		return nil, fmt.Errorf("unknown context injection %q (want %q or %q)", cfg.Injection, InjectFile, InjectEnv)
	}
	switch cfg.Transport {
	case TransportFile:
		p.MessagesPath = filepath.Join(cfg.Dir, "messages")
		if err := os.WriteFile(p.MessagesPath, nil, 0o600); err != nil {
			return nil, err
		}
		p.MessagesParams = map[string]any{pipes.MessagesPathKey: p.MessagesPath, pipes.IncludeStdioInMessages: false}
	case TransportStdout, TransportStderr:
		p.MessagesParams = map[string]any{pipes.MessagesStdioKey: string(cfg.Transport)}
	default:
		return nil, fmt.Errorf("unknown message transport %q (want %q, %q or %q)", cfg.Transport, TransportFile, TransportStdout, TransportStderr)
	}
	ctxVal, err := pipes.EncodeParam(p.ContextParams)
	if err != nil {
		return nil, err
	}
	msgVal, err := pipes.EncodeParam(p.MessagesParams)
	if err != nil {
		return nil, err
	}
	p.Encoded = map[string]string{pipes.ContextEnvVar: ctxVal, pipes.MessagesEnvVar: msgVal}
	switch cfg.Bootstrap {
	case BootstrapEnv:
		p.Env = []string{pipes.ContextEnvVar + "=" + ctxVal, pipes.MessagesEnvVar + "=" + msgVal}
	case BootstrapArgs:
		p.Args = []string{pipes.ContextFlag, ctxVal, pipes.MessagesFlag, msgVal}
	default:
		return nil, fmt.Errorf("unknown bootstrap %q (want %q or %q)", cfg.Bootstrap, BootstrapEnv, BootstrapArgs)
	}
	return p, nil
}
