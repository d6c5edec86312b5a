package pipes_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/dagster-pipes-go/pipes"
)

// queueWriter is a MessageWriter for a transport the package does not ship:
// it sends each message to a queue named by Dagster's message reader. A
// real one would hold a queue client; this one prints what it would send.
type queueWriter struct{}

// Open reads the params Dagster's message reader sent ({"queue": …}).
func (queueWriter) Open(ctx context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	queue, err := params.String("queue", "messages")
	if err != nil {
		return nil, err // says which param is missing or of the wrong type
	}
	return &queueChannel{queue: queue}, nil
}

// queueChannel sends one message at a time: WriteMessage may be called from
// several goroutines, and must not keep msg.Params after it returns.
type queueChannel struct {
	mu     sync.Mutex
	queue  string
	closed bool
}

func (c *queueChannel) WriteMessage(msg pipes.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return pipes.ErrClosed
	}
	fmt.Printf("send to %s: %s\n", c.queue, msg.AppendJSON(nil))
	return nil
}

func (c *queueChannel) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// A custom MessageWriter, for a Dagster message reader of your own. The
// pipestest package checks one against the contract with TestMessageWriter.
func ExampleMessageWriter() {
	// Dagster's part: the context inline, and the params of its reader.
	contextParam, _ := pipes.EncodeParam(map[string]any{"data": map[string]any{"asset_keys": []string{"orders"}}})
	messagesParam, _ := pipes.EncodeParam(map[string]any{"queue": "run-0b1f"})
	bootstrap := pipes.WithParamsLoader(pipes.MappingParamsLoader{Mapping: map[string]string{
		pipes.ContextEnvVar: contextParam, pipes.MessagesEnvVar: messagesParam,
	}})

	p, err := pipes.New(context.Background(), bootstrap, pipes.WithMessageWriter(queueWriter{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = p.ReportAssetMaterialization(pipes.Materialization{Metadata: pipes.Metadata{"rows": 3}})
	_ = p.Close()
	// Output:
	// send to run-0b1f: {"__dagster_pipes_version":"0.1","method":"opened","params":{"extras":{}}}
	// send to run-0b1f: {"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"orders","data_version":null,"metadata":{"rows":{"raw_value":3,"type":"__infer__"}}}}
	// send to run-0b1f: {"__dagster_pipes_version":"0.1","method":"closed","params":{}}
}
