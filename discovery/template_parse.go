package discovery

import (
	"fmt"
)

// This file parses the Jinja subset hubd translates: text, {{ expr }},
// {# comments #}, {% if %}/{% elif %}/{% else %}/{% endif %} and top-level
// {% set name = expr %}, with "-" whitespace control. Expressions follow
// Jinja's grammar and precedence.

// Template AST nodes.
type (
	tNode interface{}
	tText struct{ s string }
	tOut  struct{ e tExpr }
	tIf   struct {
		conds  []tExpr
		bodies [][]tNode
		els    []tNode
	}
	tSet struct {
		name string
		e    tExpr
	}

	tExpr interface{}
	eLit  struct{ v any }
	eName struct{ name string }
	eAttr struct {
		x    tExpr
		name string
	}
	eItem  struct{ x, key tExpr }
	eUnary struct {
		op string
		x  tExpr
	}
	eBin struct {
		op   string
		l, r tExpr
	}
	eCond struct{ cond, a, b tExpr } // b nil: no else
	eCall struct {
		kind string // "filter", "test", "method", "global"
		name string
		args []tExpr // the subject first for filters, tests and methods
		neg  bool    // "is not"
	}
	eList struct{ items []tExpr }
	eDict struct{ keys, vals []tExpr }
)

// unsupported is a reason a template cannot be translated.
type unsupported struct{ reason string }

func (u *unsupported) Error() string { return u.reason }

func unsupportedf(format string, args ...any) *unsupported {
	return &unsupported{reason: fmt.Sprintf(format, args...)}
}

const maxTplDepth = 48

type exprParser struct {
	toks  []token
	pos   int
	depth int
}

func (p *exprParser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{kind: tkEOF}
}

func (p *exprParser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tkOp && t.s == s
}

func (p *exprParser) isName(s string) bool {
	t := p.peek()
	return t.kind == tkName && t.s == s
}

func (p *exprParser) expectOp(s string) error {
	if !p.isOp(s) {
		return p.errExpected(fmt.Sprintf("%q", s))
	}
	p.pos++
	return nil
}

func (p *exprParser) errExpected(what string) error {
	t := p.peek()
	switch t.kind {
	case tkEOF:
		return unsupportedf("expected %s, got end of expression", what)
	case tkName, tkOp:
		return unsupportedf("expected %s, got %q at offset %d", what, t.s, t.pos)
	}
	return unsupportedf("expected %s at offset %d", what, t.pos)
}

func (p *exprParser) parseFull() (tExpr, error) {
	if len(p.toks) == 0 {
		return nil, unsupportedf("empty expression")
	}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.errExpected("end of expression")
	}
	return e, nil
}

func (p *exprParser) enter() error {
	p.depth++
	if p.depth > maxTplDepth {
		return unsupportedf("expression nested too deeply")
	}
	return nil
}

// parseExpr parses a conditional expression: a [if c [else b]].
func (p *exprParser) parseExpr() (tExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	a, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		p.pos++
		c, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var b tExpr
		if p.isName("else") {
			p.pos++
			if b, err = p.parseExpr(); err != nil {
				return nil, err
			}
		}
		a = &eCond{cond: c, a: a, b: b}
	}
	return a, nil
}

func (p *exprParser) parseOr() (tExpr, error) {
	l, err := p.parseAnd()
	for err == nil && p.isName("or") {
		p.pos++
		var r tExpr
		if r, err = p.parseAnd(); err == nil {
			l = &eBin{op: "or", l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) parseAnd() (tExpr, error) {
	l, err := p.parseNot()
	for err == nil && p.isName("and") {
		p.pos++
		var r tExpr
		if r, err = p.parseNot(); err == nil {
			l = &eBin{op: "and", l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) parseNot() (tExpr, error) {
	if p.isName("not") {
		p.pos++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &eUnary{op: "not", x: x}, nil
	}
	return p.parseCompare()
}

func (p *exprParser) parseCompare() (tExpr, error) {
	l, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var chain tExpr
	for {
		op := ""
		t := p.peek()
		switch {
		case t.kind == tkOp && (t.s == "==" || t.s == "!=" || t.s == "<" || t.s == "<=" || t.s == ">" || t.s == ">="):
			op = t.s
			p.pos++
		case t.kind == tkName && t.s == "in":
			op = "in"
			p.pos++
		case t.kind == tkName && t.s == "not" && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tkName && p.toks[p.pos+1].s == "in":
			op = "not in"
			p.pos += 2
		}
		if op == "" {
			break
		}
		r, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		cmp := &eBin{op: op, l: l, r: r}
		if chain == nil {
			chain = cmp
		} else {
			chain = &eBin{op: "and", l: chain, r: cmp}
		}
		l = r
	}
	if chain == nil {
		return l, nil
	}
	return chain, nil
}

func (p *exprParser) parseMath1() (tExpr, error) {
	l, err := p.parseConcat()
	for err == nil && (p.isOp("+") || p.isOp("-")) {
		op := p.peek().s
		p.pos++
		var r tExpr
		if r, err = p.parseConcat(); err == nil {
			l = &eBin{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) parseConcat() (tExpr, error) {
	l, err := p.parseMath2()
	for err == nil && p.isOp("~") {
		p.pos++
		var r tExpr
		if r, err = p.parseMath2(); err == nil {
			l = &eBin{op: "~", l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) parseMath2() (tExpr, error) {
	l, err := p.parsePow()
	for err == nil && (p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%")) {
		op := p.peek().s
		p.pos++
		var r tExpr
		if r, err = p.parsePow(); err == nil {
			l = &eBin{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) parsePow() (tExpr, error) {
	l, err := p.parseUnary(true)
	for err == nil && p.isOp("**") {
		p.pos++
		var r tExpr
		if r, err = p.parseUnary(true); err == nil {
			l = &eBin{op: "**", l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) parseUnary(withFilter bool) (tExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var (
		x   tExpr
		err error
	)
	switch {
	case p.isOp("-") || p.isOp("+"):
		op := p.peek().s
		p.pos++
		y, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		x = &eUnary{op: op, x: y}
	default:
		if x, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	if x, err = p.parsePostfix(x); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilters(x)
	}
	return x, nil
}

func (p *exprParser) parsePrimary() (tExpr, error) {
	t := p.peek()
	switch t.kind {
	case tkName:
		p.pos++
		switch t.s {
		case "true", "True":
			return &eLit{v: true}, nil
		case "false", "False":
			return &eLit{v: false}, nil
		case "none", "None":
			return &eLit{v: nil}, nil
		}
		if reservedName(t.s) {
			return nil, unsupportedf("unexpected %q at offset %d", t.s, t.pos)
		}
		if p.isOp("(") {
			args, err := p.parseArgs()
			if err != nil {
				return nil, err
			}
			return p.call("global", t.s, args)
		}
		return &eName{name: t.s}, nil
	case tkInt:
		p.pos++
		return &eLit{v: t.i}, nil
	case tkFloat:
		p.pos++
		return &eLit{v: t.f}, nil
	case tkString:
		p.pos++
		s := t.s
		for p.peek().kind == tkString { // implicit concatenation
			s += p.peek().s
			p.pos++
		}
		return &eLit{v: s}, nil
	case tkOp:
		switch t.s {
		case "(":
			p.pos++
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				return nil, unsupportedf("tuples are not supported")
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		case "[":
			p.pos++
			l := &eList{}
			for !p.isOp("]") {
				e, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, e)
				if !p.isOp(",") {
					break
				}
				p.pos++
			}
			return l, p.expectOp("]")
		case "{":
			p.pos++
			d := &eDict{}
			for !p.isOp("}") {
				k, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
				if !p.isOp(",") {
					break
				}
				p.pos++
			}
			return d, p.expectOp("}")
		}
	}
	return nil, p.errExpected("a value")
}

func (p *exprParser) parsePostfix(x tExpr) (tExpr, error) {
	for {
		switch {
		case p.isOp("."):
			p.pos++
			t := p.peek()
			if t.kind == tkInt { // value_json.list.0
				p.pos++
				x = &eItem{x: x, key: &eLit{v: t.i}}
				continue
			}
			if t.kind != tkName {
				return nil, p.errExpected("an attribute name")
			}
			p.pos++
			if p.isOp("(") {
				args, err := p.parseArgs()
				if err != nil {
					return nil, err
				}
				c, err := p.call("method", t.s, append([]tExpr{x}, args...))
				if err != nil {
					return nil, err
				}
				x = c
				continue
			}
			x = &eAttr{x: x, name: t.s}
		case p.isOp("["):
			p.pos++
			if p.isOp(":") {
				return nil, unsupportedf("slices are not supported")
			}
			k, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.isOp(":") {
				return nil, unsupportedf("slices are not supported")
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = &eItem{x: x, key: k}
		case p.isOp("("):
			return nil, unsupportedf("calling this value is not supported")
		default:
			return x, nil
		}
	}
}

func (p *exprParser) parseFilters(x tExpr) (tExpr, error) {
	for {
		switch {
		case p.isOp("|"):
			p.pos++
			t := p.peek()
			if t.kind != tkName {
				return nil, p.errExpected("a filter name")
			}
			p.pos++
			var args []tExpr
			if p.isOp("(") {
				var err error
				if args, err = p.parseArgs(); err != nil {
					return nil, err
				}
			}
			c, err := p.call("filter", t.s, append([]tExpr{x}, args...))
			if err != nil {
				return nil, err
			}
			x = c
		case p.isName("is"):
			p.pos++
			neg := false
			if p.isName("not") {
				p.pos++
				neg = true
			}
			t := p.peek()
			if t.kind != tkName {
				return nil, p.errExpected("a test name")
			}
			p.pos++
			var args []tExpr
			switch {
			case p.isOp("("):
				var err error
				if args, err = p.parseArgs(); err != nil {
					return nil, err
				}
			case p.peek().kind == tkInt || p.peek().kind == tkFloat || p.peek().kind == tkString:
				a, err := p.parsePrimary()
				if err != nil {
					return nil, err
				}
				args = []tExpr{a}
			}
			c, err := p.call("test", t.s, append([]tExpr{x}, args...))
			if err != nil {
				return nil, err
			}
			c.(*eCall).neg = neg
			x = c
		default:
			return x, nil
		}
	}
}

// parseArgs parses "(a, b, ...)"; keyword arguments are not supported.
func (p *exprParser) parseArgs() ([]tExpr, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var args []tExpr
	for !p.isOp(")") {
		if p.peek().kind == tkName && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tkOp && p.toks[p.pos+1].s == "=" {
			return nil, unsupportedf("keyword argument %q is not supported", p.peek().s)
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
		if !p.isOp(",") {
			break
		}
		p.pos++
	}
	return args, p.expectOp(")")
}

// call checks that name is a known filter, test, method or global and
// takes that many arguments.
func (p *exprParser) call(kind, name string, args []tExpr) (tExpr, error) {
	var (
		table map[string]tplFunc
		n     = len(args)
	)
	switch kind {
	case "filter":
		table, n = tplFilters, n-1
	case "test":
		table, n = tplTests, n-1
	case "method":
		table, n = tplMethods, n-1
	default:
		table = tplGlobals
	}
	f, ok := table[name]
	if !ok {
		switch kind {
		case "global":
			return nil, unsupportedf("function %s() is not supported (templates cannot read other entities, time or state)", name)
		case "method":
			return nil, unsupportedf("method .%s() is not supported", name)
		}
		return nil, unsupportedf("%s %q is not supported", kind, name)
	}
	if n < f.min || f.max >= 0 && n > f.max {
		return nil, unsupportedf("%s %q takes %d to %d arguments, got %d", kind, name, f.min, f.max, n)
	}
	return &eCall{kind: kind, name: name, args: args}, nil
}
