package discovery

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplate_Render(t *testing.T) {
	for _, tt := range []struct {
		src, payload, want string
		vars               map[string]any
	}{
		// The forms devices use.
		{src: "{{ value }}", payload: "21.5", want: "21.5"},
		{src: "{{value_json.POWER}}", payload: `{"POWER":"ON"}`, want: "ON"},
		{src: "{{ value_json.x }}", payload: `{"x": 25}`, want: "25"},
		{src: "{{ value_json.x }}", payload: `{"x": 25.0}`, want: "25.0"},
		{src: "{{ value_json.x.y }}", payload: `{"x": {"y": "deep"}}`, want: "deep"},
		{src: "{{ value_json['x'] }}", payload: `{"x": 1}`, want: "1"},
		{src: `{{ value_json["x-y"] }}`, payload: `{"x-y": 2}`, want: "2"},
		{src: "{{ value_json['AM2301'].Temperature }}", payload: `{"AM2301":{"Temperature":21.4}}`, want: "21.4"},
		{src: "{{ value_json.x[0] }}", payload: `{"x": [7, 8]}`, want: "7"},
		{src: "{{ value_json.x[-1] }}", payload: `{"x": [7, 8]}`, want: "8"},
		{src: "{{ value_json.x.1 }}", payload: `{"x": [7, 8]}`, want: "8"},
		{src: "{{ value | float }}", payload: "21", want: "21.0"},
		{src: "{{ value | float(0) }}", payload: "n/a", want: "0"},
		{src: "{{ value | int }}", payload: "42.9", want: "42"},
		{src: "{{ value | int(0) }}", payload: "n/a", want: "0"},
		{src: "{{ value | int(0, 16) }}", payload: "ff", want: "255"},
		{src: "{{ value | round(1) }}", payload: "21.449", want: "21.4"},
		{src: "{{ value | round }}", payload: "2.5", want: "2"},
		{src: "{{ value | round(0, 'ceil') }}", payload: "2.1", want: "3"},
		{src: "{{ value | round(1, 'floor') }}", payload: "2.19", want: "2.1"},
		{src: "{{ value | lower }}", payload: "ON", want: "on"},
		{src: "{{ value | upper }}", payload: "on", want: "ON"},
		{src: "{{ value_json.n | string }}", payload: `{"n": 3}`, want: "3"},
		{src: "{{ value_json.missing | default('none') }}", payload: `{}`, want: "none"},
		{src: "{{ value_json.empty | default('d', true) }}", payload: `{"empty": ""}`, want: "d"},
		{src: "{{ value_json.x | is_defined }}", payload: `{"x": "here"}`, want: "here"},
		{src: "{{ value | float * 10 }}", payload: "2.5", want: "25.0"},
		{src: "{{ value | int / 100 }}", payload: "2150", want: "21.5"},
		{src: "{{ value_json.x / 100 }}", payload: `{"x": 200}`, want: "2.0"},
		{src: "{{ value_json.x // 3 }}", payload: `{"x": -7}`, want: "-3"},
		{src: "{{ value_json.x % 3 }}", payload: `{"x": -7}`, want: "2"},
		{src: "{{ 2 ** 10 }}", want: "1024"},
		{src: "{{ value_json.t * 1.8 + 32 }}", payload: `{"t": 20}`, want: "68.0"},
		{src: "{{ 0.1 + 0.2 }}", want: "0.30000000000000004"},
		{src: "{{ 1e20 }}", want: "1e+20"},
		{src: "{{ -value_json.x }}", payload: `{"x": 5}`, want: "-5"},
		{src: "{{ value_json.a > 5 }}", payload: `{"a": 7}`, want: "True"},
		{src: "{{ value_json.a == 7.0 }}", payload: `{"a": 7}`, want: "True"},
		{src: "{{ 1 < value_json.a < 10 }}", payload: `{"a": 7}`, want: "True"},
		{src: "{{ 'ON' if value_json.state == 'on' else 'OFF' }}", payload: `{"state": "on"}`, want: "ON"},
		{src: "{{ 'ON' if value_json.state == 'on' else 'OFF' }}", payload: `{"state": "off"}`, want: "OFF"},
		{src: "{{ 'ON' if value_json.output else 'OFF' }}", payload: `{"output": true}`, want: "ON"},
		{src: "{{ 'yes' if value_json.x }}", payload: `{"x": 0}`, want: ""},
		{src: "{{ value_json.x | tojson }}", payload: `{"x": {"b": [1, 2.5], "a": "é<"}}`, want: `{"a": "\u00e9\u003c", "b": [1, 2.5]}`},
		{src: "{{ value_json.x | to_json }}", payload: `{"x": {"b": 1, "a": "é"}}`, want: `{"a":"é","b":1}`},
		{src: "{{ (value | from_json).a }}", payload: `{"a": 3}`, want: "3"},
		{src: "{{ value_json.t }}°C", payload: `{"t": 21.5}`, want: "21.5°C"},
		{src: "T={{ value }} ({{ value | length }} chars)", payload: "abc", want: "T=abc (3 chars)"},
		{src: "{ \"position\": {{ position }} }", vars: map[string]any{"position": 40}, want: `{ "position": 40 }`},
		{src: "pos,{{ position }}", vars: map[string]any{"position": int64(25)}, want: "pos,25"},
		{src: "{{ value }}", payload: "ignored", vars: map[string]any{"value": 128}, want: "128"},
		{src: "{{ value_json }}", payload: `{"a": [1, "x", null, true]}`, want: "{'a': [1, 'x', None, True]}"},
		{src: "{{ value_json.a }}", payload: `{"a": null}`, want: "None"},
		{src: "{{ value_json.x is defined }}", payload: `{}`, want: "False"},
		{src: "{{ value_json.x is not defined }}", payload: `{}`, want: "True"},
		{src: "{{ value_json.x is none }}", payload: `{"x": null}`, want: "True"},
		{src: "{{ value_json.x is number }}", payload: `{"x": 1.5}`, want: "True"},
		{src: "{{ value_json.x is defined and value_json.x > 5 }}", payload: `{}`, want: "False"},
		{src: "{{ value_json.x or 'n/a' }}", payload: `{}`, want: "n/a"},
		{src: "{{ value_json.x or value_json.y or 'z' }}", payload: `{"y": "why"}`, want: "why"},
		{src: "{{ value_json.a and value_json.b }}", payload: `{"a": 1, "b": 2}`, want: "2"},
		{src: "{{ not value_json.a }}", payload: `{"a": 0}`, want: "True"},
		{src: "{{ 'x' in value }}", payload: "xyz", want: "True"},
		{src: "{{ 'k' in value_json }}", payload: `{"k": 1}`, want: "True"},
		{src: "{{ 3 not in value_json.l }}", payload: `{"l": [1, 2]}`, want: "True"},
		{src: "{{ value ~ '!' ~ 1 }}", payload: "hi", want: "hi!1"},
		{src: "{{ '%.1f' | format(value | float) }}", payload: "21.456", want: "21.5"},
		{src: "{{ '%d%%' % value_json.p }}", payload: `{"p": 42.9}`, want: "42%"},
		{src: "{{ '%s/%s' % [1, 'b'] }}", want: "1/b"},
		{src: "{{ value.split(',')[1] | float }}", payload: "1,2.5,3", want: "2.5"},
		{src: "{{ value.strip().lower() }}", payload: "  ON \n", want: "on"},
		{src: "{{ value_json.get('x', 'dflt') }}", payload: `{}`, want: "dflt"},
		{src: "{{ value | replace('_', ' ') | title }}", payload: "fan_only", want: "Fan Only"},
		{src: "{{ value_json.l | join(',') }}", payload: `{"l": [1, "a"]}`, want: "1,a"},
		{src: "{{ value_json.l | first }}-{{ value_json.l | last }}", payload: `{"l": [1, 2, 3]}`, want: "1-3"},
		{src: "{{ value_json.l | max }}", payload: `{"l": [1, 9, 3]}`, want: "9"},
		{src: "{{ max(1, value | int, 3) }}", payload: "7", want: "7"},
		{src: "{{ value | bool }}", payload: "on", want: "True"},
		{src: "{{ value | is_number }}", payload: "1e3", want: "True"},
		{src: "{{ value | iif('open', 'closed') }}", payload: "1", want: "open"},
		{src: "{{ value | multiply(2) }}", payload: "1.5", want: "3.0"},
		{src: "{{ [1, 2][value | int] }}", payload: "1", want: "2"},
		{src: "{{ {'a': 1}[value] }}", payload: "a", want: "1"},
		{src: "{% set values = {None:None,'idle':'idle','heat':'heating'} %}{{ values[value_json.running_state] }}", payload: `{"running_state": "heat"}`, want: "heating"},
		{src: "{% set x = value | int %}{% set x = x * 2 %}{{ x }}", payload: "21", want: "42"},
		{src: "{% if value == 'a' %}A{% elif value == 'b' %}B{% else %}C{% endif %}", payload: "b", want: "B"},
		{src: "{% if value_json.x is defined and value_json.x > 1 %}big{% endif %}", payload: `{}`, want: ""},
		{src: "{%- if value | int > 0 -%}\n  on\n{%- else -%}\n  off\n{%- endif -%}", payload: "3", want: "on"},
		{src: "a {# a comment #}b", want: "a b"},
		{src: "{{- value -}}  x  {{- value }}", payload: "v", want: "vxv"},
		{src: "no expressions", want: "no expressions"},
		{src: "", want: ""},
		{src: "{{ '}}' }}", want: "}}"},
		{src: "{{ {'a': {'b': 1}}['a']['b'] }}", want: "1"},
		{src: "{{ entity_id }}", vars: map[string]any{"entity_id": "light.x"}, want: "light.x"},
		{src: "{{ unknown }}", want: ""},
	} {
		tp, err := CompileTemplate(tt.src)
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		got, err := tp.Render([]byte(tt.payload), tt.vars)
		if err != nil {
			t.Errorf("%q on %q: %v", tt.src, tt.payload, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%q on %q = %q, want %q", tt.src, tt.payload, got, tt.want)
		}
		if tp.String() != tt.src {
			t.Errorf("String() = %q", tp.String())
		}
	}
}

func TestTemplate_RenderErrors(t *testing.T) {
	for _, tt := range []struct {
		src, payload, want string
	}{
		{"{{ value_json.x }}", "not json", "'value_json' is undefined"},
		{"{{ value_json.a.b }}", `{}`, "has no attribute 'a'"},
		{"{{ value | float }}", "abc", "float got invalid input 'abc'"},
		{"{{ value | int }}", "abc", "int got invalid input"},
		{"{{ value_json.x | is_defined }}", `{}`, "has no attribute 'x'"},
		{"{{ value_json.x + 1 }}", `{"x": "a"}`, "unsupported operand type(s) for +: 'str' and 'int'"},
		{"{{ 1 / 0 }}", "", "division by zero"},
		{"{{ value_json.a < 'x' }}", `{"a": 1}`, "cannot compare int with str"},
		{"{{ 'x' * 10000000 }}", "", "too long"},
		{"{{ '%d' % 'a' }}", "", "a number is required"},
		{"{{ '%1000000d' % 1 }}", "", "too large"},
		{"{{ value_json | tojson }}", "not json", "not JSON serializable"},
	} {
		tp, err := CompileTemplate(tt.src)
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		_, err = tp.Render([]byte(tt.payload), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q on %q: err = %v, want %q", tt.src, tt.payload, err, tt.want)
		}
	}
}

func TestCompileTemplate_Unsupported(t *testing.T) {
	for _, tt := range []struct {
		src, reason string
	}{
		{"{% for x in value_json.l %}{{ x }}{% endfor %}", "{% for %} is not supported"},
		{"{% macro m() %}x{% endmacro %}", "{% macro %} is not supported"},
		{"{{ states('sensor.outside') }}", "function states() is not supported"},
		{"{{ now() }}", "function now() is not supported"},
		{"{{ is_state('light.x', 'on') }}", "function is_state() is not supported"},
		{"{{ value | timestamp_custom('%H:%M') }}", `filter "timestamp_custom" is not supported`},
		{"{{ value | regex_replace('a', 'b') }}", `filter "regex_replace" is not supported`},
		{"{{ value.format(1) }}", "method .format() is not supported"},
		{"{{ value is divisibleby 3 }}", `test "divisibleby" is not supported`},
		{"{{ value | round(precision=1) }}", `keyword argument "precision"`},
		{"{{ value[1:3] }}", "slices are not supported"},
		{"{{ (1, 2) }}", "tuples are not supported"},
		{"{{ value | float(1, 2, 3) }}", "takes 0 to 1 arguments, got 3"},
		{"{{ value ", `missing "}}"`},
		{"{% if value %}x", "without {% endif %}"},
		{"{% endif %}", "without {% if %}"},
		{"{% if a %}{% set x = 1 %}{% endif %}", "{% set %} inside {% if %}"},
		{"{{ value @ 2 }}", "unexpected character"},
		{"{{ 'unterminated }}", "unterminated string"},
		{"{{ }}", "empty expression"},
		{"{{ 1 2 }}", "expected end of expression"},
		{"{# never closed", "unterminated comment"},
		{"{{ " + strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100) + " }}", "nested too deeply"},
		{strings.Repeat("x", MaxTemplateLen+1), "more than 4096"},
	} {
		tp, err := CompileTemplate(tt.src)
		if err == nil {
			t.Errorf("CompileTemplate(%q) succeeded", tt.src)
			continue
		}
		if tp != nil {
			t.Errorf("CompileTemplate(%q) returned a template with its error", tt.src)
		}
		if !errors.Is(err, ErrUnsupportedTemplate) || !errors.Is(err, ErrUnsupported) {
			t.Errorf("CompileTemplate(%q) error %v does not wrap ErrUnsupportedTemplate", tt.src, err)
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("CompileTemplate(%q) error %q lacks %q", tt.src, err, tt.reason)
		}
		if !strings.Contains(err.Error(), truncate(tt.src, 30)[:min(len(tt.src), 10)]) {
			t.Errorf("CompileTemplate(%q) error %q does not quote the template", tt.src, err)
		}
	}
}

func TestTemplate_OrChainStaysSmall(t *testing.T) {
	// A long chain of "or" must translate linearly, not exponentially.
	src := "{{ " + strings.Repeat("value_json.a or ", 200) + "'end' }}"
	tp, err := CompileTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tp.Render([]byte(`{}`), nil)
	if err != nil || got != "end" {
		t.Fatalf("got %q, %v", got, err)
	}
	// Alternating nesting is refused as too complex rather than exploding.
	nested := "value_json.a"
	for range 30 {
		nested = "((" + nested + ") or 1) and 2"
	}
	if _, err := CompileTemplate("{{ " + nested + " }}"); err != nil && !errors.Is(err, ErrUnsupportedTemplate) {
		t.Fatal(err)
	}
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1.0", 21.5: "21.5", 0.1: "0.1", 1e16: "1e+16", 9999999999999998: "9999999999999998.0",
		0.0001: "0.0001", 0.00001: "1e-05", -2.5: "-2.5", 123456789.125: "123456789.125",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
	for f, want := range map[float64]float64{2.675: 2.67, 0.125: 0.12, 0.375: 0.38, 2.5: 2, 3.5: 4} {
		n := 2
		if f == 2.5 || f == 3.5 {
			n = 0
		}
		if got := pyRound(f, n); got != want {
			t.Errorf("pyRound(%v, %d) = %v, want %v", f, n, got, want)
		}
	}
}
