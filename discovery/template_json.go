package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// JSON in and out of templates.

// parseJSONValue decodes a payload the way Home Assistant builds
// value_json: any JSON value, ints kept apart from floats.
func parseJSONValue(b []byte) (any, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, false
	}
	// Cheap reject for the common plain-text payloads ("ON", "21.5" is JSON).
	switch b[0] {
	case '{', '[', '"', '-', 't', 'f', 'n', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if dec.More() {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false
	}
	return convertJSON(v), true
}

func convertJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		return jsonNumber(x)
	case []any:
		for i, e := range x {
			x[i] = convertJSON(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = convertJSON(e)
		}
		return x
	}
	return v
}

// tplJSON writes v as JSON. python selects Python's json.dumps defaults
// (", " and ": " separators, sorted keys, ASCII only) as Jinja's tojson
// uses them; otherwise it is compact like Home Assistant's to_json.
func tplJSON(b *strings.Builder, v any, python bool, depth int) error {
	if depth > 64 || b.Len() > maxTplString {
		return errors.New("value too large or too deep for JSON")
	}
	comma, colon := ",", ":"
	if python {
		comma, colon = ", ", ": "
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("NaN")
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(x))
		}
	case string:
		jsonQuote(b, x, python)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(comma)
			}
			if err := tplJSON(b, e, python, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(comma)
			}
			jsonQuote(b, k, python)
			b.WriteString(colon)
			if err := tplJSON(b, x[k], python, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *tplDict:
		m := make(map[string]any, len(x.keys))
		for i, k := range x.keys {
			ks, ok := k.(string)
			if !ok {
				if k == nil {
					ks = "null"
				} else {
					ks = pyStr(k)
				}
			}
			m[ks] = x.vals[i]
		}
		return tplJSON(b, m, python, depth)
	case tplUndefined:
		return errors.New("object of type Undefined is not JSON serializable")
	default:
		return fmt.Errorf("object of type %T is not JSON serializable", v)
	}
	return nil
}

func jsonQuote(b *strings.Builder, s string, ascii bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		case ascii && (r == '<' || r == '>' || r == '&' || r == '\''):
			// Jinja's tojson makes the output safe inside HTML.
			fmt.Fprintf(b, `\u%04x`, r)
		case ascii && r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
