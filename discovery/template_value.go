package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Template values follow Python and Jinja: nil is None, bool, int64, float64,
// string, []any (list), map[string]any (a JSON object), *tplDict (a dict
// literal, whose keys need not be strings) and tplUndefined.

// maxTplString bounds every string a template builds, so that no template
// can allocate without limit ('x' * 10**9, huge padding).
const maxTplString = 1 << 20

// tplUndefined is Jinja's Undefined: what a missing variable, key or
// attribute evaluates to. It renders as "" and is falsy, but using it in
// arithmetic or taking its attributes is an error.
type tplUndefined struct{ hint string }

func (u tplUndefined) err() error {
	if u.hint == "" {
		return errors.New("value is undefined")
	}
	return errors.New(u.hint)
}

// tplDict is a dict literal written in a template.
type tplDict struct {
	keys []any
	vals []any
}

func (d *tplDict) get(k any) (any, bool) {
	for i, key := range d.keys {
		if tplEqual(key, k) {
			return d.vals[i], true
		}
	}
	return nil, false
}

// tplNormalize turns Go values handed to Render into template values.
func tplNormalize(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, tplUndefined, *tplDict:
		return x
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	case json.Number:
		return jsonNumber(x)
	case []byte:
		return string(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = tplNormalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = tplNormalize(e)
		}
		return out
	default:
		return fmt.Sprint(x)
	}
}

// jsonNumber converts a JSON number as Python's json module would: an int
// when the literal has no fraction or exponent, a float otherwise.
func jsonNumber(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return s
	}
	return f
}

// pyFloat formats f as Python's repr(float) does.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e16 || a < 1e-4 {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyStr is Python's str(): what {{ x }} prints. Undefined prints "".
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return pyFloat(x)
	case tplUndefined:
		return ""
	default:
		var b strings.Builder
		pyRepr(&b, v, 0)
		return b.String()
	}
}

// pyRepr writes Python's repr() of v; map keys are sorted since Go maps
// have no order.
func pyRepr(b *strings.Builder, v any, depth int) {
	if depth > 32 || b.Len() > maxTplString {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case string:
		pyQuote(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			pyRepr(b, e, depth+1)
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
				b.WriteString(", ")
			}
			pyQuote(b, k)
			b.WriteString(": ")
			pyRepr(b, x[k], depth+1)
		}
		b.WriteByte('}')
	case *tplDict:
		b.WriteByte('{')
		for i := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			pyRepr(b, x.keys[i], depth+1)
			b.WriteString(": ")
			pyRepr(b, x.vals[i], depth+1)
		}
		b.WriteByte('}')
	case tplUndefined:
		b.WriteString("Undefined")
	case nil, bool, int64, float64:
		b.WriteString(pyStr(v))
	default:
		fmt.Fprint(b, v)
	}
}

func pyQuote(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

// tplTruthy is Python's bool().
func tplTruthy(v any) bool {
	switch x := v.(type) {
	case nil, tplUndefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case *tplDict:
		return len(x.keys) > 0
	}
	return true
}

// tplNumber reports v as a number, with bools counting as 0 and 1 as in
// Python.
func tplNumber(v any) (i int64, f float64, isInt, ok bool) {
	switch x := v.(type) {
	case int64:
		return x, float64(x), true, true
	case float64:
		return 0, x, false, true
	case bool:
		if x {
			return 1, 1, true, true
		}
		return 0, 0, true, true
	}
	return 0, 0, false, false
}

func tplEqual(a, b any) bool {
	ai, af, aInt, aNum := tplNumber(a)
	bi, bf, bInt, bNum := tplNumber(b)
	if aNum && bNum {
		if aInt && bInt {
			return ai == bi
		}
		return af == bf
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case tplUndefined:
		_, ok := b.(tplUndefined)
		return ok
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !tplEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !tplEqual(v, w) {
				return false
			}
		}
		return true
	case *tplDict:
		y, ok := b.(*tplDict)
		if !ok || len(x.keys) != len(y.keys) {
			return false
		}
		for i, k := range x.keys {
			w, ok := y.get(k)
			if !ok || !tplEqual(x.vals[i], w) {
				return false
			}
		}
		return true
	}
	return false
}

// tplCompare orders a and b as Python's < does; ok is false for types
// that cannot be ordered.
func tplCompare(a, b any) (int, error) {
	if u, ok := a.(tplUndefined); ok {
		return 0, u.err()
	}
	if u, ok := b.(tplUndefined); ok {
		return 0, u.err()
	}
	ai, af, aInt, aNum := tplNumber(a)
	bi, bf, bInt, bNum := tplNumber(b)
	if aNum && bNum {
		if aInt && bInt {
			return cmpInt(ai, bi), nil
		}
		switch {
		case af < bf:
			return -1, nil
		case af > bf:
			return 1, nil
		}
		return 0, nil
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	}
	if x, ok := a.([]any); ok {
		if y, ok := b.([]any); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				if tplEqual(x[i], y[i]) {
					continue
				}
				return tplCompare(x[i], y[i])
			}
			return cmpInt(int64(len(x)), int64(len(y))), nil
		}
	}
	return 0, fmt.Errorf("cannot compare %s with %s", tplType(a), tplType(b))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// tplType names v's type as Python would in an error message.
func tplType(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any, *tplDict:
		return "dict"
	case tplUndefined:
		return "Undefined"
	}
	return fmt.Sprintf("%T", v)
}

// pyParseFloat is Python's float(str).
func pyParseFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") ||
		strings.Contains(s, "__") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") {
		return 0, false
	}
	if strings.Contains(s, "_") {
		s = strings.ReplaceAll(s, "_", "")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// pyParseInt is Python's int(str, base).
func pyParseInt(s string, base int) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, "__") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") {
		return 0, false
	}
	s = strings.ReplaceAll(s, "_", "")
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	if base == 16 || base == 8 || base == 2 {
		p := map[int]string{16: "0x", 8: "0o", 2: "0b"}[base]
		if len(s) > 2 && strings.EqualFold(s[:2], p) {
			s = s[2:]
		}
	}
	i, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		i = -i
	}
	return i, true
}

// toFloat is Python's float(v).
func toFloat(v any) (float64, bool) {
	if _, f, _, ok := tplNumber(v); ok {
		return f, true
	}
	if s, ok := v.(string); ok {
		return pyParseFloat(s)
	}
	return 0, false
}

// toInt is Jinja's int filter without its default: strings parse in base,
// anything else goes through float and truncates.
func toInt(v any, base int) (int64, bool) {
	if s, ok := v.(string); ok {
		if i, ok := pyParseInt(s, base); ok {
			return i, true
		}
		f, ok := pyParseFloat(s)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 9.2e18 {
			return 0, false
		}
		return int64(f), true
	}
	i, f, isInt, ok := tplNumber(v)
	if !ok {
		return 0, false
	}
	if isInt {
		return i, true
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 9.2e18 {
		return 0, false
	}
	return int64(f), true
}

// pyRound rounds f to n decimals as Python's round() does (half to even
// on the exact binary value).
func pyRound(f float64, n int) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	if n > 15 {
		return f
	}
	if n < 0 {
		p := math.Pow(10, float64(-n))
		return math.RoundToEven(f/p) * p
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'f', n, 64), 64)
	if err != nil {
		return f
	}
	return r
}

// tplLen is len(v).
func tplLen(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		return int64(utf8.RuneCountInString(x)), nil
	case []any:
		return int64(len(x)), nil
	case map[string]any:
		return int64(len(x)), nil
	case *tplDict:
		return int64(len(x.keys)), nil
	case tplUndefined:
		return 0, nil
	}
	return 0, fmt.Errorf("object of type '%s' has no len()", tplType(v))
}
