package pipes_test

import (
	"fmt"
	"strings"

	"github.com/dagster-pipes-go/pipes"
)

// A value Dagster cannot read is refused before anything is sent: Dagster's
// MetadataValue.json takes an object, an array, a string or null.
func ExampleMetadataValue_MarshalJSON() {
	ok, _ := pipes.JSON([]int{1, 2}).MarshalJSON()
	fmt.Println(string(ok))
	_, err := pipes.JSON(3).MarshalJSON()
	fmt.Println(err)
	self := map[string]any{}
	self["self"] = self
	_, err = pipes.Infer(self).MarshalJSON()
	fmt.Println(err)
	// Output:
	// {"raw_value":[1,2],"type":"json"}
	// a json value must be a JSON object, array or string (a map, slice, struct or string) or nil, got 3
	// the value contains itself (a map, slice or pointer cycle): it cannot be sent as JSON
}

// DecodeParamLimit bounds what a bootstrap value may decompress to (a few
// kilobytes can expand a thousandfold); DecodeParam allows MaxContextSize.
func ExampleDecodeParamLimit() {
	enc, _ := pipes.EncodeParam(map[string]any{"data": strings.Repeat("x", 1000)})
	_, err := pipes.DecodeParamLimit(enc, 100)
	fmt.Println(err)
	v, _ := pipes.DecodeParamLimit(enc, 2000)
	fmt.Println(len(v.(map[string]any)["data"].(string)))
	// Output:
	// decode param: the value decompresses to more than 100 bytes: it is not a Pipes bootstrap value (or, if it is, decode it with DecodeParamLimit and a larger limit)
	// 1000
}
