package pipes

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type embedded struct {
	Inner float64 `json:"inner"`
}

type record struct {
	embedded
	Name    string         `json:"name"`
	Count   int            `json:"count"`
	Ratio   float64        `json:"ratio"`
	Attrs   map[string]any `json:"attrs"`
	Skip    string         `json:"-"`
	Empty   string         `json:"empty,omitempty"`
	Zero    time.Time      `json:"zero,omitzero"`
	AsText  int            `json:"as_text,string"`
	Plain   bool
	private int
	Ptr     *float64 `json:"ptr"`
}

func TestStructsKeepFloatsAndFollowJSONTags(t *testing.T) {
	one := 2.0
	v := record{embedded: embedded{Inner: 3}, Name: "rec", Count: 3, Ratio: 1, Attrs: map[string]any{"f": 1.0},
		Skip: "x", AsText: 7, Plain: true, private: 1, Ptr: &one}
	raw, err := appendJSON(nil, v)
	require.NoError(t, err)
	assert.Equal(t, `{"inner":3.0,"name":"rec","count":3,"ratio":1.0,"attrs":{"f":1.0},"as_text":"7","Plain":true,"ptr":2.0}`, string(raw))

	// Same fields and values as encoding/json, floats aside.
	var ours, theirs map[string]any
	require.NoError(t, json.Unmarshal(raw, &ours))
	std, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(std, &theirs))
	assert.Equal(t, theirs, ours)

	_, err = appendJSON(nil, record{Ratio: math.NaN()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "field Ratio")
}

func TestNilCollectionsAreNull(t *testing.T) {
	for _, v := range []any{[]any(nil), []string(nil), map[string]string(nil), map[string]any(nil), []int(nil)} {
		raw, err := appendJSON(nil, v)
		require.NoError(t, err)
		assert.Equal(t, "null", string(raw), "%T", v)
	}
}
