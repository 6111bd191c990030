package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// configDecoder walks a YAML node tree into a Config, collecting errors
// and the positions of the values it sets.
type configDecoder struct {
	file   string
	errs   ConfigErrors
	pos    map[string]configPos
	failed []string // fields whose values could not be decoded
}

func (d *configDecoder) errorf(line int, field, format string, args ...any) {
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// fail records that the value of field could not be decoded.
func (d *configDecoder) fail(line int, field, format string, args ...any) {
	d.errorf(line, field, format, args...)
	d.failed = append(d.failed, field)
}

// parse decodes data into a node tree. It returns the top-level node, nil
// for an empty document, and false after a syntax error.
func (d *configDecoder) parse(data []byte) (root *yaml.Node, ok bool) {
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		d.errorf(1, "", "the file is UTF-16 encoded; save it as UTF-8")
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := configDecodeNode(dec, &doc); err == io.EOF {
		return nil, true
	} else if err != nil {
		d.syntaxError(data, err)
		return nil, false
	}
	var next yaml.Node
	if err := configDecodeNode(dec, &next); err != io.EOF {
		if err != nil {
			d.syntaxError(data, err)
		} else {
			d.errorf(next.Line, "", "found a second YAML document; a configuration file holds one")
		}
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

// configDecodeNode decodes the next document, turning a panic inside the
// YAML parser into an error so that a parser bug cannot crash hubd.
func configDecodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: YAML parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// syntaxError records a yaml.v3 error as a ConfigError on the line it
// concerns.
func (d *configDecoder) syntaxError(data []byte, err error) {
	msg := configYAMLMessage(err)
	d.errorf(configLocateError(data, msg), "", "%s", msg)
}

// configYAMLMessage returns a yaml.v3 error's message without its "yaml: "
// and "line N: " prefixes.
func configYAMLMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, m, ok := strings.Cut(rest, ": "); ok {
			if _, err := strconv.Atoi(num); err == nil {
				return m
			}
		}
	}
	return msg
}

// configLocateError returns the line of data that yaml.v3 error message
// msg is about. yaml.v3 reports no line for some errors and, for others,
// the line where the enclosing construct starts (off by one for parser
// errors). Instead, find the fewest whole lines from the start of data that
// fail with the same message: the last of them holds the problem.
func configLocateError(data []byte, msg string) int {
	ends := configLineEnds(data)
	lo, hi := 1, len(ends)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if err := configCheckSyntax(data[:ends[mid-1]]); err != nil && configYAMLMessage(err) == msg {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// configCheckSyntax parses every document in data, returning the first
// error.
func configCheckSyntax(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := configDecodeNode(dec, &n); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// configLineEnds returns the offset just past each line of data, as YAML
// counts lines: CR, LF, CRLF, NEL, LS and PS end a line, and a final line
// break does not start another.
func configLineEnds(data []byte) []int {
	var ends []int
	lineOpen := false
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == '\r' && i+1 < len(data) && data[i+1] == '\n':
			size = 2
			fallthrough
		case r == '\r', r == '\n', r == 0x85, r == 0x2028, r == 0x2029:
			ends = append(ends, i+size)
			lineOpen = false
		default:
			lineOpen = true
		}
		i += size
	}
	if lineOpen {
		ends = append(ends, len(data))
	}
	return ends
}

// decodeRoot decodes the top-level node into c.
func (d *configDecoder) decodeRoot(n *yaml.Node, c *Config) {
	n = configResolve(n)
	if configIsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "", "%s at the top level; the configuration must be a mapping (key: value)", configDescribe(n))
		return
	}
	d.decode(n, reflect.ValueOf(c).Elem(), "")
}

// decode decodes n into v, the setting at path field.
func (d *configDecoder) decode(n *yaml.Node, v reflect.Value, field string) {
	switch {
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, field)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(n, v, field)
	default:
		d.decodeScalar(n, v, field)
	}
}

func (d *configDecoder) decodeStruct(n *yaml.Node, v reflect.Value, field string) {
	line := n.Line
	n = configResolve(n)
	if configIsNull(n) {
		return // an empty section keeps its defaults
	}
	if n.Kind != yaml.MappingNode {
		d.fail(line, field, "%s is not a mapping", configDescribe(n))
		return
	}
	t := v.Type()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := configResolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(n.Content[i].Line, field, "%s is not a valid key", configDescribe(k))
			continue
		}
		name := k.Value
		kf := configJoin(field, name)
		if first, dup := seen[name]; dup {
			d.errorf(n.Content[i].Line, kf, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[name] = n.Content[i].Line
		idx, keys := -1, make([]string, 0, t.NumField())
		for j := range t.NumField() {
			f := t.Field(j)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			if tag == name {
				idx = j
			}
			keys = append(keys, tag)
		}
		if idx < 0 {
			hint := configSuggest(name, keys)
			if name == "<<" && k.Tag == "!!merge" {
				hint = " (YAML merge keys are not supported)"
			}
			d.errorf(n.Content[i].Line, kf, "unknown key%s", hint)
			continue
		}
		d.decode(val, v.Field(idx), kf)
	}
}

func (d *configDecoder) decodeSlice(n *yaml.Node, v reflect.Value, field string) {
	line := n.Line
	n = configResolve(n)
	if configIsNull(n) {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(line, field, "%s is not a list", configDescribe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		ef := fmt.Sprintf("%s[%d]", field, i)
		d.decode(e, s.Index(i), ef)
		if _, ok := d.pos[ef]; !ok {
			d.pos[ef] = configPos{line: e.Line, value: fmt.Sprint(s.Index(i).Interface())}
		}
	}
	v.Set(s)
}

func (d *configDecoder) decodeScalar(n *yaml.Node, v reflect.Value, field string) {
	line := n.Line
	n = configResolve(n)
	isDuration := v.Type() == reflect.TypeFor[time.Duration]()
	var want string
	switch {
	case isDuration:
		want = "a duration"
	case v.Kind() == reflect.String:
		want = "a string"
	case v.Kind() == reflect.Bool:
		want = "a boolean"
	case v.Kind() == reflect.Int:
		want = "an integer"
	default:
		panic("config: unsupported field type " + v.Type().String())
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(line, field, "%s is not %s", configDescribe(n), want)
		return
	}
	if configIsNull(n) {
		if v.Kind() == reflect.String {
			d.fail(line, field, `missing value (write "" for an empty string)`)
		} else {
			d.fail(line, field, "missing value")
		}
		return
	}
	s, err := configExpandEnv(n.Value)
	if err != nil {
		d.fail(line, field, "%v", err)
		return
	}
	quoted := configQuote(s)
	if s != n.Value {
		quoted += " (from " + configQuote(n.Value) + ")"
	}
	switch {
	case isDuration:
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(line, field, `%s is not a duration (such as "10s" or "500ms")`, quoted)
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(line, field, "%s is not a boolean (true or false)", quoted)
			return
		}
	case v.Kind() == reflect.Int:
		i, err := strconv.ParseInt(s, 10, 0)
		if errors.Is(err, strconv.ErrRange) {
			d.fail(line, field, "%s is out of range", quoted)
			return
		} else if err != nil {
			d.fail(line, field, "%s is not an integer", quoted)
			return
		}
		v.SetInt(i)
	}
	d.pos[field] = configPos{line: line, value: fmt.Sprint(v.Interface())}
}

// configResolve follows an alias to the node it names.
func configResolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// configIsNull reports whether n is an empty value ("", "~" or "null").
func configIsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// configDescribe names n in an error message: its quoted value, or the
// kind of collection.
func configDescribe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return configQuote(n.Value)
	}
	return "a YAML node of unknown kind"
}

// configQuote quotes s for an error message, shortening long values.
func configQuote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// configJoin appends key to the field path parent.
func configJoin(parent, key string) string {
	simple := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			simple = false
			break
		}
	}
	if !simple {
		key = configQuote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// configSuggest returns ` (did you mean "x"?)` for the known key closest
// to name, if one is close enough to be a likely typo.
func configSuggest(name string, keys []string) string {
	limit := min(2, (len(name)+1)/3) + 1 // distances below limit qualify
	best, bestDist := "", limit
	lname := strings.ToLower(name)
	for _, k := range keys {
		if d := configEditDistance(lname, k, bestDist); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// configEditDistance returns the number of single-byte insertions,
// deletions, substitutions and swaps of neighbours that turn a into b, or
// limit if that is limit or more.
func configEditDistance(a, b string, limit int) int {
	if len(a) > 64 || len(a)-len(b) >= limit || len(b)-len(a) >= limit {
		return limit
	}
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return min(d[len(a)][len(b)], limit)
}

// configExpandEnv replaces ${NAME} and $NAME in s by the value of the
// environment variable NAME, and $$ by "$". A "$" followed by anything
// else stays as it is.
func configExpandEnv(s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	isStart := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isName := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		var name string
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i += 2
			continue
		case next == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf(`%s: "${" without a closing "}"`, configQuote(s))
			}
			name = s[i+2 : i+2+end]
			i += 2 + end + 1
			valid := name != "" && isStart(name[0])
			for j := 1; valid && j < len(name); j++ {
				valid = isName(name[j])
			}
			if !valid {
				return "", fmt.Errorf("%s: %s is not a valid environment variable name", configQuote(s), configQuote(name))
			}
		case isStart(next):
			j := i + 2
			for j < len(s) && isName(s[j]) {
				j++
			}
			name = s[i+1 : j]
			i = j
		default:
			b.WriteByte('$')
			i++
			continue
		}
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set (write $$ for a literal \"$\")", name)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}
