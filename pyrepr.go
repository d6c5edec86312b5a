package pipes

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The reference's error texts embed Python reprs of values (a list of asset
// keys, the params it received). These helpers write the same text for the
// values a decoded JSON document holds.

func pyStrRepr(s string) string {
	quote := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

func pyStrListItems(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = pyStrRepr(s)
	}
	return strings.Join(quoted, ", ")
}

func pyStrListRepr(items []string) string { return "[" + pyStrListItems(items) + "]" }

func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return pyStrRepr(x)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		return string(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return pyDictRepr(x)
	case Params:
		return pyDictRepr(x)
	}
	return fmt.Sprint(v)
}

// pyDictRepr writes a map as Python would; Python keeps insertion order,
// which a Go map does not have, so keys are sorted.
func pyDictRepr(m map[string]any) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, pyStrRepr(k)+": "+pyRepr(m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
