package pipes

import "encoding/json"

// This file is the wire: the envelope every message travels in, the method
// names, and one encoder per message method. Every writer of messages (the
// report methods, opened and closed, stdio capture, the Prefect writer) goes
// through these encoders, so this is the one file to audit for exactness
// against the reference.
//
// Each encoder appends the params object of its method to dst and does no
// locking: callers encode before they take any lock, so that user code run
// by the encoding (a MarshalJSON, a TextMarshaler) can itself log or report.

// ProtocolVersion is the version of the Pipes protocol this package speaks,
// sent in every message.
const ProtocolVersion = "0.1"

// Method is the method name of a Pipes message.
type Method string

// The message methods of the protocol.
const (
	MethodOpened                     Method = "opened"
	MethodClosed                     Method = "closed"
	MethodLog                        Method = "log"
	MethodReportAssetMaterialization Method = "report_asset_materialization"
	MethodReportAssetCheck           Method = "report_asset_check"
	MethodReportCustomMessage        Method = "report_custom_message"
	MethodLogExternalStream          Method = "log_external_stream"
)

// Message is one Pipes message on its way to a channel.
type Message struct {
	Method Method
	// Params is the encoded JSON params object (or "null"). It may point
	// into a buffer that is reused once WriteMessage returns: a channel that
	// keeps the message must copy it (AppendJSON does).
	Params []byte
}

// AppendJSON appends the message's wire form, without a newline:
// {"__dagster_pipes_version":"0.1","method":…,"params":…}.
func (m Message) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"__dagster_pipes_version":"`+ProtocolVersion+`","method":`...)
	dst = appendString(dst, string(m.Method))
	dst = append(dst, `,"params":`...)
	if len(m.Params) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.Params...)
	}
	return append(dst, '}')
}

// appendOpenedParams encodes the params of an opened message:
// {"extras": {...}}, never null (Dagster's readers index "extras").
func appendOpenedParams(dst []byte, extras map[string]any) ([]byte, error) {
	if len(extras) == 0 {
		// Every writer but a few: no need for the encoder (whose first
		// call is a noticeable part of a small job's start-up).
		return append(dst, `{"extras":{}}`...), nil
	}
	dst, err := appendJSON(append(dst, `{"extras":`...), extras)
	if err != nil {
		return dst, wrapError(ErrInvalidValue, err, "opened extras cannot be sent as JSON")
	}
	return append(dst, '}'), nil
}

// appendClosedParams encodes the params of a closed message: {} for a
// success, {"exception": {...}} for a failure.
func appendClosedParams(dst []byte, exc *Exception) []byte {
	if exc == nil {
		return append(dst, "{}"...)
	}
	raw, err := json.Marshal(struct {
		Exception *Exception `json:"exception"`
	}{exc})
	if err != nil {
		// Cannot happen: Exception holds only strings.
		return append(dst, "{}"...)
	}
	return append(dst, raw...)
}

// appendDroppedClosedParams encodes a closed message that stands for one
// too large to send: an exception named like the original's (name is nil
// when it had none) whose message says why.
func appendDroppedClosedParams(dst []byte, name *string, text string) []byte {
	var n any
	if name != nil {
		n = *name
	}
	// Cannot fail: only strings, nil and an empty slice.
	dst, _ = appendJSON(dst, map[string]any{"exception": map[string]any{
		"message": text, "stack": []any{}, "name": n, "cause": nil, "context": nil,
	}})
	return dst
}

// appendLogParams encodes the params of a log message whose text is msg
// followed by attrs and then extra (both already escaped for the inside of
// a JSON string: the slog handler's formatted attributes). level is a Pipes
// level name.
func appendLogParams(dst []byte, level, msg, attrs string, extra []byte) []byte {
	dst = append(dst, `{"message":"`...)
	dst = appendStringContent(dst, msg)
	dst = append(dst, attrs...)
	dst = append(dst, extra...)
	dst = append(dst, `","level":"`...)
	dst = append(dst, level...)
	return append(dst, '"', '}')
}

// appendMaterializationParams encodes the params of a
// report_asset_materialization message for the resolved asset key.
func appendMaterializationParams(dst []byte, key, dataVersion string, md Metadata) ([]byte, error) {
	dst = append(dst, `{"asset_key":`...)
	dst = appendString(dst, key)
	dst = append(dst, `,"data_version":`...)
	if dataVersion == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, dataVersion)
	}
	dst = append(dst, `,"metadata":`...)
	dst, err := appendMetadata(dst, md, string(MethodReportAssetMaterialization))
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// appendAssetCheckParams encodes the params of a report_asset_check message
// for the resolved asset key and a validated severity.
func appendAssetCheckParams(dst []byte, key, checkName string, passed bool, severity Severity, md Metadata) ([]byte, error) {
	dst = append(dst, `{"asset_key":`...)
	dst = appendString(dst, key)
	dst = append(dst, `,"check_name":`...)
	dst = appendString(dst, checkName)
	dst = append(dst, `,"passed":`...)
	dst = appendBool(dst, passed)
	dst = append(dst, `,"metadata":`...)
	dst, err := appendMetadata(dst, md, string(MethodReportAssetCheck))
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"severity":`...)
	dst = appendString(dst, string(severity))
	return append(dst, '}'), nil
}

// appendCustomMessageParams encodes the params of a report_custom_message
// message.
func appendCustomMessageParams(dst []byte, payload any) ([]byte, error) {
	dst, err := appendJSON(append(dst, `{"payload":`...), payload)
	if err != nil {
		return dst, wrapError(ErrInvalidValue, err, "Invalid payload for `report_custom_message`: it cannot be sent as JSON")
	}
	return append(dst, '}'), nil
}

// appendExternalStreamParams encodes the params of a log_external_stream
// message; stream is StreamStdout or StreamStderr.
func appendExternalStreamParams[S ~string | ~[]byte](dst []byte, stream string, text S, extras map[string]any) ([]byte, error) {
	dst = append(dst, `{"stream":`...)
	dst = appendString(dst, stream)
	dst = append(dst, `,"text":"`...)
	dst = appendStringContent(dst, text)
	dst = append(dst, `","extras":`...)
	if extras == nil {
		dst = append(dst, "{}"...)
	} else {
		var err error
		if dst, err = appendStringMap(dst, extras); err != nil {
			return dst, wrapError(ErrInvalidValue, err, "Invalid extras for `log_external_stream`: they cannot be sent as JSON")
		}
	}
	return append(dst, '}'), nil
}
