package pipestest

import "github.com/dagster-pipes-go/pipes/internal/orchestrator"

// Result is what the code under test reported in one session:
//
//	Opened, OpenedExtras      the opened message and its extras
//	Materializations          []Materialization, in order
//	Checks                    []Check, in order
//	Logs                      []Log{Level, Message}, in order
//	CustomMessages            []any, payloads of report_custom_message
//	ExternalStreams           []StreamText, log_external_stream messages
//	Closed, Exception         the closed message and the *pipes.Exception it carried
//	Messages                  []RawMessage, every message as it arrived
//	ProtocolErrors            []error, every protocol violation found
//	Err                       the job's error (RunJob) or the program's exit error (RunCommand)
//	Stdout, Stderr            captured output other than messages
//
// Methods: Materialization(assetKey), Check(assetKey, checkName),
// LogMessages(level), Failed().
type Result = orchestrator.Result

// Materialization is a reported asset materialization: AssetKey,
// DataVersion ("" for none) and Metadata.
type Materialization = orchestrator.Materialization

// Check is a reported asset check result: AssetKey, CheckName, Passed,
// Severity and Metadata.
type Check = orchestrator.Check

// Log is a log message: Level ("DEBUG", "INFO", "WARNING", "ERROR",
// "CRITICAL") and Message.
type Log = orchestrator.Log

// StreamText is a log_external_stream message: Stream ("stdout" or
// "stderr") and Text.
type StreamText = orchestrator.StreamText

// Metadata maps metadata labels to entries.
type Metadata = orchestrator.Metadata

// MetadataEntry is one metadata value as Dagster receives it: Type (the
// type string sent), Raw (the decoded raw_value; numbers are json.Number)
// and RawJSON (the raw_value as sent). Effective() gives the type Dagster
// ends up with (it resolves "__infer__"); Text(), Int(), Float() and
// Bool() return the value when it has that JSON type.
type MetadataEntry = orchestrator.MetadataEntry

// RawMessage is one message as it arrived: Index (from 1), Method, Params
// and the whole JSON.
type RawMessage = orchestrator.RawMessage

// ProtocolError is one protocol violation: the message's Index and
// Method, and what is wrong.
type ProtocolError = orchestrator.ProtocolError
