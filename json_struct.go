package pipes

import (
	"reflect"
	"strings"
)

// appendStruct encodes a struct the way encoding/json does — exported
// fields, `json` tag names, "-", omitempty, omitzero, the string option,
// embedded structs promoted — but through appendJSON, so that floats in
// struct fields keep their decimal point and NaN is an error naming the
// field. (Where two embedded structs promote the same name, every field is
// written; encoding/json would apply its precedence rules.)
func appendStruct(dst []byte, rv reflect.Value, depth int) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	var err error
	dst, err = appendStructFields(dst, rv, &first, 0, depth)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

const maxEmbedDepth = 10

// appendStructFields appends the fields of rv; depth counts embedded
// structs, nesting how deep the struct is in the value being encoded.
func appendStructFields(dst []byte, rv reflect.Value, first *bool, depth, nesting int) ([]byte, error) {
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := rv.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && depth < maxEmbedDepth {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue
					}
					fv = fv.Elem()
				}
				var err error
				if dst, err = appendStructFields(dst, fv, first, depth+1, nesting); err != nil {
					return dst, err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if hasOption(opts, "omitempty") && isEmptyJSONValue(fv) || hasOption(opts, "omitzero") && fv.IsZero() {
			continue
		}
		if !*first {
			dst = append(dst, ',')
		}
		*first = false
		dst = appendString(dst, name)
		dst = append(dst, ':')
		var err error
		if hasOption(opts, "string") && isQuotableKind(fv.Kind()) {
			var inner []byte
			if inner, err = encodeValue(nil, fv.Interface(), nesting+1); err == nil {
				dst = appendString(dst, string(inner))
			}
		} else {
			dst, err = encodeValue(dst, fv.Interface(), nesting+1)
		}
		if err != nil {
			return dst, wrapPath("field "+f.Name, err)
		}
	}
	return dst, nil
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// isEmptyJSONValue is encoding/json's definition of empty for omitempty.
func isEmptyJSONValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func isQuotableKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return false
}
