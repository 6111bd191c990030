package discovery

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// ErrUnsupported is wrapped by every error that says hubd cannot read or
// command part of an entity; ErrUnsupportedTemplate wraps it, so
// errors.Is(err, ErrUnsupported) catches both.
var ErrUnsupported = errors.New("unsupported")

// ErrUnsupportedTemplate is wrapped by the errors of templates hubd cannot
// translate.
var ErrUnsupportedTemplate = fmt.Errorf("%w template", ErrUnsupported)

// MaxTemplateLen is the longest template CompileTemplate accepts, in bytes.
const MaxTemplateLen = 4096

// maxTplCode bounds the size of a translated program.
const maxTplCode = 128 << 10

// Template is a Home Assistant (Jinja) template translated to an expr
// program, compiled once. It is safe for concurrent use.
//
// Supported: literal text around {{ expressions }}, {# comments #},
// whitespace control ("{{-", "-}}"), {% if %}/{% elif %}/{% else %}/
// {% endif %} and top-level {% set name = expression %}. Expressions:
// value, value_json and any variable passed to Render; attributes
// (value_json.x.y), subscripts (value_json['x-y'], value_json.x[0]);
// string, number, true/false/none, list and dict literals; + - * / // % **
// (with Python semantics, "%" also formats strings), ~, comparisons
// (chained too), in, not in, and, or, not, "a if c else b"; the tests
// defined, undefined, none, number, integer, float, string, mapping,
// boolean, true, false, even, odd, eq; the filters float, int, round
// (with method), lower, upper, title, capitalize, trim, string,
// default/d, is_defined, tojson, to_json, from_json, abs, length, count,
// replace, bool, iif, join, first, last, min, max, is_number, multiply and
// format; the methods lower, upper, title, capitalize, strip, lstrip,
// rstrip, split, replace, startswith, endswith, isdigit, get and keys; the
// functions float, int, bool, iif, is_number, min and max. Everything
// else ({% for %}, macros, states(), now(), unknown filters, keyword
// arguments, slices) is refused with ErrUnsupportedTemplate.
type Template struct {
	src      string
	prog     *vm.Program
	usesJSON bool
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

var (
	tplOptsOnce sync.Once
	tplOpts     []expr.Option
)

// tplEnv is the fixed type of every program's environment.
type tplEnv = map[string]any

func templateOptions() []expr.Option {
	tplOptsOnce.Do(func() {
		tplOpts = []expr.Option{
			expr.Env(tplEnv{"value": nil, "value_json": nil, "vars": nil}),
			expr.DisableAllBuiltins(),
			expr.Optimize(false),
		}
		names := make([]string, 0, len(tplCore))
		for name := range tplCore {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fn := tplCore[name]
			tplOpts = append(tplOpts, expr.Function(name, func(args ...any) (any, error) { return fn(intArgs(args)...) }))
		}
		for prefix, table := range map[string]map[string]tplFunc{"ff_": tplFilters, "ft_": tplTests, "fm_": tplMethods, "fg_": tplGlobals} {
			for name, f := range table {
				fn := f.fn
				tplOpts = append(tplOpts, expr.Function(prefix+name, func(args ...any) (any, error) { return fn(intArgs(args)) }))
			}
		}
	})
	return tplOpts
}

// intArgs turns expr's int literals into the int64 templates use.
func intArgs(args []any) []any {
	for i, a := range args {
		if n, ok := a.(int); ok {
			args[i] = int64(n)
		}
	}
	return args
}

// CompileTemplate translates a Home Assistant template. Its error wraps
// ErrUnsupportedTemplate and gives the reason and the template text.
func CompileTemplate(src string) (*Template, error) {
	fail := func(reason string) (*Template, error) {
		return nil, fmt.Errorf("%w: %s in %q", ErrUnsupportedTemplate, reason, truncate(src, 200))
	}
	if len(src) > MaxTemplateLen {
		return fail(fmt.Sprintf("template is %d bytes, more than %d", len(src), MaxTemplateLen))
	}
	nodes, err := parseTemplate(src)
	if err != nil {
		return fail(err.Error())
	}
	g := &tplGen{lets: map[string]string{}}
	code := g.nodes(nodes)
	if g.err != nil {
		return fail(g.err.Error())
	}
	code = g.prelude.String() + code
	if len(code) > maxTplCode {
		return fail("template is too complex")
	}
	prog, err := expr.Compile(code, templateOptions()...)
	if err != nil {
		msg := err.Error()
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return fail("cannot compile: " + msg)
	}
	return &Template{src: src, prog: prog, usesJSON: g.usesJSON}, nil
}

// Render evaluates the template for a message payload: value is the
// payload as a string and value_json the payload parsed as JSON, when it
// parses. vars adds variables (and may override value and value_json).
func (t *Template) Render(payload []byte, vars map[string]any) (string, error) {
	var norm map[string]any
	if len(vars) > 0 {
		norm = make(map[string]any, len(vars))
		for k, v := range vars {
			norm[k] = tplNormalize(v)
		}
	}
	var valueJSON any = undefinedValueJSON
	if t.usesJSON {
		if v, ok := parseJSONValue(payload); ok {
			valueJSON = v
		}
	}
	return t.render(string(payload), valueJSON, norm)
}

var undefinedValueJSON = tplUndefined{hint: "'value_json' is undefined (the payload is not JSON)"}

// render runs the program; vars must hold template values already.
func (t *Template) render(value, valueJSON any, vars map[string]any) (string, error) {
	env := tplEnv{"value": value, "value_json": valueJSON, "vars": vars}
	if v, ok := vars["value"]; ok {
		env["value"] = v
	}
	if v, ok := vars["value_json"]; ok {
		env["value_json"] = v
	}
	out, err := expr.Run(t.prog, env)
	if err != nil {
		msg := err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			msg = fe.Message
		}
		return "", fmt.Errorf("template %q: %s", truncate(t.src, 120), msg)
	}
	s, ok := out.(string)
	if !ok {
		s = pyStr(out)
	}
	if len(s) > maxTplString {
		return "", fmt.Errorf("template %q: output too long", truncate(t.src, 120))
	}
	return s, nil
}

// tplGen writes the expr program for a parsed template. The program is
// "let ...; f_cat(parts...)": sets become lets, text and {{ }} parts
// become arguments of f_cat, ifs become ternaries; every operator is a
// helper call with Python semantics.
type tplGen struct {
	prelude  strings.Builder
	lets     map[string]string
	nlets    int
	usesJSON bool
	size     int
	err      error
}

func (g *tplGen) nodes(ns []tNode) string {
	parts := make([]string, 0, len(ns))
	for _, n := range ns {
		if g.err != nil {
			return ""
		}
		switch n := n.(type) {
		case *tText:
			parts = append(parts, quoteExpr(n.s))
		case *tOut:
			parts = append(parts, "f_out("+g.expr(n.e, false)+")")
		case *tSet:
			code := g.expr(n.e, false)
			g.nlets++
			id := fmt.Sprintf("v_%s_%d", n.name, g.nlets)
			fmt.Fprintf(&g.prelude, "let %s = %s; ", id, code)
			g.lets[n.name] = id
		case *tIf:
			var b strings.Builder
			for i, c := range n.conds {
				fmt.Fprintf(&b, "(f_truthy(%s) ? %s : ", g.expr(c, true), g.nodes(n.bodies[i]))
			}
			b.WriteString(g.nodes(n.els))
			b.WriteString(strings.Repeat(")", len(n.conds)))
			parts = append(parts, b.String())
		}
	}
	if len(parts) == 0 {
		return `""`
	}
	code := "f_cat(" + strings.Join(parts, ", ") + ")"
	g.grow(len(code))
	return code
}

func (g *tplGen) grow(n int) {
	g.size += n
	if g.size > 4*maxTplCode && g.err == nil {
		g.err = errors.New("template is too complex")
	}
}

func quoteExpr(s string) string {
	return strconv.Quote(strings.ToValidUTF8(s, "\uFFFD"))
}

var binHelpers = map[string]string{
	"+": "f_add", "-": "f_sub", "*": "f_mul", "/": "f_div", "//": "f_fdiv", "%": "f_mod", "**": "f_pow",
	"~": "f_concat", "==": "f_eq", "!=": "f_ne", "<": "f_lt", "<=": "f_le", ">": "f_gt", ">=": "f_ge", "in": "f_in",
}

// expr translates one expression. In a boolean context (an if condition)
// "and" and "or" become && and ||; elsewhere they keep Python's value
// semantics (a or b is a when a is truthy).
func (g *tplGen) expr(e tExpr, boolCtx bool) string {
	if g.err != nil {
		return "nil"
	}
	var code string
	switch e := e.(type) {
	case *eLit:
		code = literalExpr(e.v)
	case *eName:
		switch e.name {
		case "value":
			code = "value"
		case "value_json":
			g.usesJSON = true
			code = "value_json"
		default:
			if id, ok := g.lets[e.name]; ok {
				code = id
			} else {
				code = "f_var(vars, " + quoteExpr(e.name) + ")"
			}
		}
	case *eAttr:
		code = "f_attr(" + g.expr(e.x, false) + ", " + quoteExpr(e.name) + ")"
	case *eItem:
		code = "f_item(" + g.expr(e.x, false) + ", " + g.expr(e.key, false) + ")"
	case *eUnary:
		fn := map[string]string{"-": "f_neg", "+": "f_pos", "not": "f_not"}[e.op]
		code = fn + "(" + g.expr(e.x, false) + ")"
	case *eBin:
		switch e.op {
		case "and", "or":
			code = g.logic(e, boolCtx)
		case "not in":
			code = "f_not(f_in(" + g.expr(e.l, false) + ", " + g.expr(e.r, false) + "))"
		default:
			code = binHelpers[e.op] + "(" + g.expr(e.l, false) + ", " + g.expr(e.r, false) + ")"
		}
	case *eCond:
		b := "f_undef()"
		if e.b != nil {
			b = g.expr(e.b, false)
		}
		code = "(f_truthy(" + g.expr(e.cond, true) + ") ? " + g.expr(e.a, false) + " : " + b + ")"
	case *eCall:
		prefix := map[string]string{"filter": "ff_", "test": "ft_", "method": "fm_", "global": "fg_"}[e.kind]
		args := make([]string, len(e.args))
		for i, a := range e.args {
			args[i] = g.expr(a, false)
		}
		code = prefix + e.name + "(" + strings.Join(args, ", ") + ")"
		if e.neg {
			code = "f_not(" + code + ")"
		}
	case *eList:
		items := make([]string, len(e.items))
		for i, a := range e.items {
			items[i] = g.expr(a, false)
		}
		code = "f_list(" + strings.Join(items, ", ") + ")"
	case *eDict:
		items := make([]string, 0, 2*len(e.keys))
		for i := range e.keys {
			items = append(items, g.expr(e.keys[i], false), g.expr(e.vals[i], false))
		}
		code = "f_dict(" + strings.Join(items, ", ") + ")"
	default:
		g.err = fmt.Errorf("internal: unknown node %T", e)
		return "nil"
	}
	g.grow(len(code))
	return code
}

// logic translates a chain of "and" or "or". The chain is flattened and
// nested to the right so each operand is written at most twice.
func (g *tplGen) logic(e *eBin, boolCtx bool) string {
	var ops []tExpr
	var flat func(x tExpr)
	flat = func(x tExpr) {
		if b, ok := x.(*eBin); ok && b.op == e.op {
			flat(b.l)
			flat(b.r)
			return
		}
		ops = append(ops, x)
	}
	flat(e)
	if boolCtx {
		join := " && "
		if e.op == "or" {
			join = " || "
		}
		parts := make([]string, len(ops))
		for i, o := range ops {
			parts[i] = "f_truthy(" + g.expr(o, true) + ")"
		}
		return "(" + strings.Join(parts, join) + ")"
	}
	code := g.expr(ops[len(ops)-1], false)
	for i := len(ops) - 2; i >= 0; i-- {
		x := g.expr(ops[i], false)
		if e.op == "or" {
			code = "(f_truthy(" + x + ") ? " + x + " : " + code + ")"
		} else {
			code = "(f_truthy(" + x + ") ? " + code + " : " + x + ")"
		}
	}
	return code
}

func literalExpr(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "f_neg(f_neg(f_div(1, 0)))"
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case string:
		return quoteExpr(x)
	}
	return "nil"
}
