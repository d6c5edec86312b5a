package pipes

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordTexts collects the messages of the records a logger received.
type recordTexts struct {
	slog.Handler
	texts *[]string
	level *[]slog.Level
}

func (h recordTexts) Enabled(context.Context, slog.Level) bool { return true }

func (h recordTexts) Handle(_ context.Context, r slog.Record) error {
	*h.texts = append(*h.texts, r.Message)
	*h.level = append(*h.level, r.Level)
	return nil
}

func TestPrefectLogsMessageWriter(t *testing.T) {
	var texts []string
	var levels []slog.Level
	logger := slog.New(recordTexts{Handler: slog.DiscardHandler, texts: &texts, level: &levels})
	ch, err := PrefectLogsMessageWriter{Logger: logger}.Open(context.Background(), Params{"prefect_logs": true, "max_message_bytes": json.Number("300")})
	require.NoError(t, err)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
	big := `{"payload":"` + strings.Repeat("x", 400) + `"}`
	require.NoError(t, ch.WriteMessage(Message{Method: MethodReportCustomMessage, Params: []byte(big)}))
	exc := `{"exception":{"name":"*main.E","message":"` + strings.Repeat("y", 400) + `","stack":[],"cause":null,"context":null}}`
	require.NoError(t, ch.WriteMessage(Message{Method: MethodClosed, Params: []byte(exc)}))
	require.NoError(t, ch.Close())
	assert.ErrorIs(t, ch.WriteMessage(Message{Method: MethodLog}), ErrClosed)

	assert.Equal(t, []slog.Level{slog.LevelInfo, slog.LevelInfo, slog.LevelInfo}, levels)
	msgs := parseMessages(t, []byte(strings.Join(texts, "\n")))
	require.Len(t, msgs, 3)
	assert.Equal(t, "opened", msgs[0].Method)
	assert.Equal(t, "log", msgs[1].Method)
	assert.Equal(t, "ERROR", msgs[1].Params["level"])
	assert.Regexp(t, "^Dropped a `report_custom_message` Pipes message of \\d+ bytes, over the 300-byte limit for Prefect logs", msgs[1].Params["message"])
	assert.Equal(t, "closed", msgs[2].Method)
	e := msgs[2].Params["exception"].(map[string]any)
	assert.Equal(t, "*main.E", e["name"])
	assert.Contains(t, e["message"], "Dropped a `closed` Pipes message")
}

func TestPrefectLogsMessageWriterParams(t *testing.T) {
	_, err := PrefectLogsMessageWriter{}.Open(context.Background(), Params{})
	require.ErrorIs(t, err, ErrInvalidParams)
	assert.EqualError(t, err, "Invalid type for parameter `prefect_logs` passed from orchestration side to `PipesPrefectLogsMessageWriter`. Expected `<class 'bool'>`, got `<class 'NoneType'>`.")
	_, err = PrefectLogsMessageWriter{}.Open(context.Background(), Params{"prefect_logs": true, "max_message_bytes": "big"})
	require.ErrorIs(t, err, ErrInvalidParams)

	var buf bytes.Buffer
	ch, err := PrefectLogsMessageWriter{Logger: slog.New(slog.NewTextHandler(&buf, nil))}.Open(context.Background(), Params{"prefect_logs": true})
	require.NoError(t, err)
	require.NoError(t, ch.WriteMessage(Message{Method: MethodOpened, Params: []byte(`{"extras":{}}`)}))
	assert.Contains(t, buf.String(), `level=INFO msg="{\"__dagster_pipes_version\":\"0.1\",\"method\":\"opened\"`)
}
