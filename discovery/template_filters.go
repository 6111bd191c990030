package discovery

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The filters, tests, methods and globals templates may call.

// noDefault is Home Assistant's error for a filter that cannot convert its
// input and was given no default.
func noDefault(name string, v any) error {
	return fmt.Errorf("%s got invalid input '%s' but no default was specified", name, pyStr(v))
}

func filterFloat(a []any) (any, error) {
	if f, ok := toFloat(a[0]); ok {
		return f, nil
	}
	if len(a) > 1 {
		return a[1], nil
	}
	return nil, noDefault("float", a[0])
}

func filterInt(a []any) (any, error) {
	base := 10
	if len(a) > 2 {
		b, _, isInt, ok := tplNumber(a[2])
		if !ok || !isInt || (b != 0 && (b < 2 || b > 36)) {
			return nil, errors.New("int() base must be >= 2 and <= 36, or 0")
		}
		base = int(b)
	}
	if i, ok := toInt(a[0], base); ok {
		return i, nil
	}
	if len(a) > 1 {
		return a[1], nil
	}
	return nil, noDefault("int", a[0])
}

func filterRound(a []any) (any, error) {
	prec := int64(0)
	if len(a) > 1 {
		p, _, isInt, ok := tplNumber(a[1])
		if !ok || !isInt {
			return nil, fmt.Errorf("round precision must be an int, got %s", tplType(a[1]))
		}
		prec = p
	}
	method := "common"
	if len(a) > 2 {
		method, _ = a[2].(string)
	}
	f, ok := toFloat(a[0])
	if !ok || prec > 100 || prec < -100 {
		if len(a) > 3 {
			return a[3], nil
		}
		return nil, noDefault("round", a[0])
	}
	mult := math.Pow(10, float64(prec))
	switch method {
	case "ceil":
		f = math.Ceil(f*mult) / mult
	case "floor":
		f = math.Floor(f*mult) / mult
	case "half":
		f = math.RoundToEven(f*2) / 2
	default:
		f = pyRound(f, int(prec))
	}
	if prec == 0 {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 9.2e18 {
			return nil, noDefault("round", a[0])
		}
		return int64(f), nil
	}
	return f, nil
}

func strFunc(fn func(string) string) func([]any) (any, error) {
	return func(a []any) (any, error) { return fn(pyStr(a[0])), nil }
}

func strMethod(fn func(string) string) func([]any) (any, error) {
	return func(a []any) (any, error) {
		s, err := methodString(a[0])
		if err != nil {
			return nil, err
		}
		return fn(s), nil
	}
}

func methodString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case tplUndefined:
		return "", x.err()
	}
	return "", fmt.Errorf("'%s' object has no such string method", tplType(v))
}

func pyTitle(s string) string {
	prev := false
	return strings.Map(func(r rune) rune {
		l := unicode.IsLetter(r)
		defer func() { prev = l }()
		if l && !prev {
			return unicode.ToUpper(r)
		}
		return unicode.ToLower(r)
	}, s)
}

func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

func methodStrip(side int) func([]any) (any, error) {
	return func(a []any) (any, error) {
		s, err := methodString(a[0])
		if err != nil {
			return nil, err
		}
		cut := " \t\n\r\v\f"
		if len(a) > 1 && a[1] != nil {
			c, ok := a[1].(string)
			if !ok {
				return nil, errors.New("strip arg must be None or str")
			}
			cut = c
		}
		switch side {
		case -1:
			return strings.TrimLeft(s, cut), nil
		case 1:
			return strings.TrimRight(s, cut), nil
		}
		return strings.Trim(s, cut), nil
	}
}

// filterTrim is Jinja's trim: str() first, so Undefined trims to "".
func filterTrim(a []any) (any, error) {
	return methodStrip(0)(append([]any{pyStr(a[0])}, a[1:]...))
}

func methodSplit(a []any) (any, error) {
	s, err := methodString(a[0])
	if err != nil {
		return nil, err
	}
	n := -1
	if len(a) > 2 {
		m, _, isInt, ok := tplNumber(a[2])
		if !ok || !isInt {
			return nil, errors.New("split maxsplit must be an int")
		}
		if m >= 0 && m < math.MaxInt32 {
			n = int(m) + 1
		}
	}
	var parts []string
	if len(a) < 2 || a[1] == nil {
		if n < 0 {
			parts = strings.Fields(s)
		} else {
			parts = strings.Fields(s)
			if len(parts) > n {
				// Rejoin the tail as Python does (approximately: single spaces).
				parts = append(parts[:n-1], strings.Join(parts[n-1:], " "))
			}
		}
	} else {
		sep, ok := a[1].(string)
		if !ok || sep == "" {
			return nil, errors.New("split separator must be a non-empty str")
		}
		parts = strings.SplitN(s, sep, n)
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func methodReplace(a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		if u, isU := a[0].(tplUndefined); isU {
			return nil, u.err()
		}
		s = pyStr(a[0])
	}
	old, ok1 := a[1].(string)
	repl, ok2 := a[2].(string)
	if !ok1 || !ok2 {
		return nil, errors.New("replace arguments must be strings")
	}
	n := -1
	if len(a) > 3 {
		c, _, isInt, ok := tplNumber(a[3])
		if !ok || !isInt {
			return nil, errors.New("replace count must be an int")
		}
		if c >= 0 && c < math.MaxInt32 {
			n = int(c)
		}
	}
	count := strings.Count(s, old)
	if old == "" {
		count = utf8.RuneCountInString(s) + 1
	}
	if n >= 0 && n < count {
		count = n
	}
	if len(s)+count*(len(repl)-len(old)) > maxTplString {
		return nil, errors.New("string too long")
	}
	return strings.Replace(s, old, repl, n), nil
}

func methodAffix(fn func(string, string) bool) func([]any) (any, error) {
	return func(a []any) (any, error) {
		s, err := methodString(a[0])
		if err != nil {
			return nil, err
		}
		switch x := a[1].(type) {
		case string:
			return fn(s, x), nil
		case []any:
			for _, e := range x {
				if p, ok := e.(string); ok && fn(s, p) {
					return true, nil
				}
			}
			return false, nil
		}
		return nil, errors.New("startswith/endswith argument must be a str")
	}
}

func methodIsDigit(a []any) (any, error) {
	s, err := methodString(a[0])
	if err != nil {
		return nil, err
	}
	if s == "" {
		return false, nil
	}
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false, nil
		}
	}
	return true, nil
}

func methodGet(a []any) (any, error) {
	var def any
	if len(a) > 2 {
		def = a[2]
	}
	switch x := a[0].(type) {
	case map[string]any:
		if k, ok := a[1].(string); ok {
			if v, ok := x[k]; ok {
				return v, nil
			}
		}
		return def, nil
	case *tplDict:
		if v, ok := x.get(a[1]); ok {
			return v, nil
		}
		return def, nil
	case tplUndefined:
		return nil, x.err()
	}
	return nil, fmt.Errorf("'%s' object has no attribute 'get'", tplType(a[0]))
}

func methodKeys(a []any) (any, error) {
	switch x := a[0].(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case *tplDict:
		return append([]any(nil), x.keys...), nil
	case tplUndefined:
		return nil, x.err()
	}
	return nil, fmt.Errorf("'%s' object has no attribute 'keys'", tplType(a[0]))
}

func filterDefault(a []any) (any, error) {
	def := any("")
	if len(a) > 1 {
		def = a[1]
	}
	if _, u := a[0].(tplUndefined); u {
		return def, nil
	}
	if len(a) > 2 && tplTruthy(a[2]) && !tplTruthy(a[0]) {
		return def, nil
	}
	return a[0], nil
}

func filterIsDefined(a []any) (any, error) {
	if u, ok := a[0].(tplUndefined); ok {
		return nil, u.err()
	}
	return a[0], nil
}

func toJSON(v any, python bool) (any, error) {
	var b strings.Builder
	if err := tplJSON(&b, v, python, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

func filterFromJSON(a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("from_json needs a str, got %s", tplType(a[0]))
	}
	v, ok := parseJSONValue([]byte(s))
	if !ok {
		return nil, fmt.Errorf("from_json: invalid JSON %q", truncate(s, 40))
	}
	return v, nil
}

func filterAbs(a []any) (any, error) {
	i, f, isInt, ok := tplNumber(a[0])
	if !ok {
		return nil, fmt.Errorf("bad operand type for abs(): '%s'", tplType(a[0]))
	}
	if isInt {
		if i == math.MinInt64 {
			return -float64(i), nil
		}
		return absInt(i), nil
	}
	return math.Abs(f), nil
}

// filterBool is Home Assistant's forgiving boolean.
func filterBool(a []any) (any, error) {
	switch x := a[0].(type) {
	case bool:
		return x, nil
	case int64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "1", "true", "yes", "on", "enable":
			return true, nil
		case "0", "false", "no", "off", "disable":
			return false, nil
		}
	}
	if len(a) > 1 {
		return a[1], nil
	}
	return nil, noDefault("bool", a[0])
}

func filterIif(a []any) (any, error) {
	t, f := any(true), any(false)
	if len(a) > 1 {
		t = a[1]
	}
	if len(a) > 2 {
		f = a[2]
	}
	if a[0] == nil && len(a) > 3 {
		return a[3], nil
	}
	if tplTruthy(a[0]) {
		return t, nil
	}
	return f, nil
}

func filterJoin(a []any) (any, error) {
	sep := ""
	if len(a) > 1 {
		sep = pyStr(a[1])
	}
	var parts []string
	switch x := a[0].(type) {
	case []any:
		for _, e := range x {
			parts = append(parts, pyStr(e))
		}
	case string:
		for _, r := range x {
			parts = append(parts, string(r))
		}
	case tplUndefined:
		return "", nil
	default:
		return nil, fmt.Errorf("'%s' object is not iterable", tplType(a[0]))
	}
	n := 0
	for _, p := range parts {
		n += len(p) + len(sep)
	}
	if n > maxTplString {
		return nil, errors.New("string too long")
	}
	return strings.Join(parts, sep), nil
}

func seqEnd(v any, first bool) (any, error) {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return tplUndefined{hint: "No first item, sequence was empty."}, nil
		}
		if first {
			return x[0], nil
		}
		return x[len(x)-1], nil
	case string:
		if x == "" {
			return tplUndefined{hint: "No first item, sequence was empty."}, nil
		}
		r := []rune(x)
		if first {
			return string(r[0]), nil
		}
		return string(r[len(r)-1]), nil
	case tplUndefined:
		return nil, x.err()
	}
	return nil, fmt.Errorf("'%s' object is not a sequence", tplType(v))
}

func seqMinMax(v any, sign int) (any, error) {
	x, ok := v.([]any)
	if !ok {
		if s, isStr := v.(string); isStr {
			for _, r := range s {
				x = append(x, string(r))
			}
		} else {
			return nil, fmt.Errorf("'%s' object is not iterable", tplType(v))
		}
	}
	if len(x) == 0 {
		return tplUndefined{hint: "No aggregated item, sequence was empty."}, nil
	}
	best := x[0]
	for _, e := range x[1:] {
		c, err := tplCompare(e, best)
		if err != nil {
			return nil, err
		}
		if c*sign > 0 {
			best = e
		}
	}
	return best, nil
}

func globalMinMax(sign int) func([]any) (any, error) {
	return func(a []any) (any, error) {
		if len(a) == 1 {
			return seqMinMax(a[0], sign)
		}
		return seqMinMax(append([]any(nil), a...), sign)
	}
}

func isNumber(v any) bool {
	switch v.(type) {
	case bool, nil, tplUndefined:
		return false
	}
	f, ok := toFloat(v)
	return ok && !math.IsNaN(f) && !math.IsInf(f, 0)
}

func filterMultiply(a []any) (any, error) {
	f, ok := toFloat(a[0])
	m, ok2 := toFloat(a[1])
	if !ok || !ok2 {
		if len(a) > 2 {
			return a[2], nil
		}
		return nil, noDefault("multiply", a[0])
	}
	return f * m, nil
}

func filterFormat(a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("format needs a str, got %s", tplType(a[0]))
	}
	if len(a) == 2 {
		return pyPrintf(s, []any{a[1]})
	}
	return pyPrintf(s, append([]any(nil), a[1:]...))
}

func testKind(kind string) func([]any) (any, error) {
	return func(a []any) (any, error) {
		switch kind {
		case "number":
			_, _, _, ok := tplNumber(a[0])
			_, isBool := a[0].(bool)
			return ok && !isBool, nil
		}
		return tplType(a[0]) == kind, nil
	}
}

func testParity(rem int64) func([]any) (any, error) {
	return func(a []any) (any, error) {
		i, _, isInt, ok := tplNumber(a[0])
		if !ok || !isInt {
			return nil, fmt.Errorf("even/odd need an int, got %s", tplType(a[0]))
		}
		return absInt(i%2) == rem, nil
	}
}
