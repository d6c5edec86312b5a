package pipes

// logWriter is implemented by a channel that encodes a log message straight
// into its own line buffer, under its own lock. A log message runs no user
// code while it is encoded, so this is safe, and it saves the params buffer
// and the copy of the params into the line: the log path of issue 16.
type logWriter interface {
	writeLog(level, msg, attrs string, extra []byte) error
}

// logEnvelope is the start of every log message's wire form, as
// Message.AppendJSON writes it for MethodLog.
const logEnvelope = `{"__dagster_pipes_version":"` + ProtocolVersion + `","method":"` + string(MethodLog) + `","params":`

// writeLog implements logWriter: the same bytes as WriteMessage with the
// params of appendLogParams, in one write call, with the same handling of a
// short write.
func (c *FileChannel) writeLog(level, msg, attrs string, extra []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return ErrClosed
	}
	line := append(c.startLine(), logEnvelope...)
	line = appendLogParams(line, level, msg, attrs, extra)
	c.line = append(line, '}', '\n')
	return c.writeLine(MethodLog)
}
