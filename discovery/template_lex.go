package discovery

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The template level: text, tags and the tokens inside them.

type tokKind int

const (
	tkEOF tokKind = iota
	tkName
	tkInt
	tkFloat
	tkString
	tkOp
)

type token struct {
	kind tokKind
	s    string // name, operator or string value
	i    int64
	f    float64
	pos  int
}

// lexTag tokenizes src from i up to the closing delimiter of an
// expression ("}}") or statement ("%}") tag. It returns the tokens, the
// index after the delimiter and whether the delimiter had "-".
func lexTag(src string, i int, closer string) ([]token, int, bool, error) {
	var toks []token
	depth := 0
	for {
		for i < len(src) && strings.IndexByte(" \t\r\n", src[i]) >= 0 {
			i++
		}
		if i >= len(src) {
			return nil, 0, false, unsupportedf("unterminated tag: missing %q", closer)
		}
		rest := src[i:]
		if depth == 0 {
			if strings.HasPrefix(rest, closer) {
				return toks, i + len(closer), false, nil
			}
			if strings.HasPrefix(rest, "-"+closer) {
				return toks, i + 1 + len(closer), true, nil
			}
		}
		c := src[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{kind: tkName, s: src[i:j], pos: i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			isFloat := false
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '_') {
				j++
			}
			if j < len(src) && src[j] == '.' && j+1 < len(src) && src[j+1] >= '0' && src[j+1] <= '9' {
				isFloat = true
				j++
				for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '_') {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					isFloat = true
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			lit := strings.ReplaceAll(src[i:j], "_", "")
			if isFloat {
				f, err := strconv.ParseFloat(lit, 64)
				if err != nil {
					return nil, 0, false, unsupportedf("bad number %q", src[i:j])
				}
				toks = append(toks, token{kind: tkFloat, f: f, pos: i})
			} else {
				n, err := strconv.ParseInt(lit, 10, 64)
				if err != nil {
					f, ferr := strconv.ParseFloat(lit, 64)
					if ferr != nil {
						return nil, 0, false, unsupportedf("bad number %q", src[i:j])
					}
					toks = append(toks, token{kind: tkFloat, f: f, pos: i})
				} else {
					toks = append(toks, token{kind: tkInt, i: n, pos: i})
				}
			}
			i = j
		case c == '\'' || c == '"':
			s, j, err := lexString(src, i)
			if err != nil {
				return nil, 0, false, err
			}
			toks = append(toks, token{kind: tkString, s: s, pos: i})
			i = j
		default:
			op := ""
			for _, o := range []string{"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}"} {
				if strings.HasPrefix(rest, o) {
					op = o
					break
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(rest)
				return nil, 0, false, unsupportedf("unexpected character %q at offset %d", r, i)
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
				if depth < 0 {
					return nil, 0, false, unsupportedf("unbalanced %q at offset %d", op, i)
				}
			}
			toks = append(toks, token{kind: tkOp, s: op, pos: i})
			i += len(op)
		}
	}
}

// lexString reads a Python string literal starting at src[i].
func lexString(src string, i int) (string, int, error) {
	q := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == q:
			return b.String(), j + 1, nil
		case c == '\\' && j+1 < len(src):
			j++
			switch e := src[j]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'u', 'x':
				n := 4
				if e == 'x' {
					n = 2
				}
				if j+n >= len(src) {
					return "", 0, unsupportedf("bad escape in string at offset %d", j)
				}
				v, err := strconv.ParseUint(src[j+1:j+1+n], 16, 32)
				if err != nil {
					return "", 0, unsupportedf("bad escape in string at offset %d", j)
				}
				b.WriteRune(rune(v))
				j += n
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			j++
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, unsupportedf("unterminated string at offset %d", i)
}

// parseTemplate parses a whole template into nodes.
func parseTemplate(src string) ([]tNode, error) {
	type frame struct {
		ifn   *tIf
		inEls bool
	}
	var (
		root      []tNode
		stack     []*frame
		stripNext bool
	)
	add := func(n tNode) {
		if len(stack) == 0 {
			root = append(root, n)
			return
		}
		f := stack[len(stack)-1]
		if f.inEls {
			f.ifn.els = append(f.ifn.els, n)
		} else {
			f.ifn.bodies[len(f.ifn.bodies)-1] = append(f.ifn.bodies[len(f.ifn.bodies)-1], n)
		}
	}
	i := 0
	for i < len(src) {
		j := i
		for {
			k := strings.IndexByte(src[j:], '{')
			if k < 0 {
				j = len(src)
				break
			}
			j += k
			if j+1 < len(src) && strings.IndexByte("{%#", src[j+1]) >= 0 {
				break
			}
			j++
		}
		text := src[i:j]
		if stripNext {
			text = strings.TrimLeft(text, " \t\r\n")
		}
		stripNext = false
		if j >= len(src) {
			if text != "" {
				add(&tText{s: text})
			}
			break
		}
		open := src[j+1]
		start := j + 2
		if start < len(src) && src[start] == '-' {
			text = strings.TrimRight(text, " \t\r\n")
			start++
		}
		if text != "" {
			add(&tText{s: text})
		}
		switch open {
		case '#':
			k := strings.Index(src[start:], "#}")
			if k < 0 {
				return nil, unsupportedf("unterminated comment at offset %d", j)
			}
			stripNext = k > 0 && src[start+k-1] == '-'
			i = start + k + 2
		case '{':
			toks, next, strip, err := lexTag(src, start, "}}")
			if err != nil {
				return nil, err
			}
			p := &exprParser{toks: toks}
			e, err := p.parseFull()
			if err != nil {
				return nil, err
			}
			add(&tOut{e: e})
			stripNext, i = strip, next
		case '%':
			toks, next, strip, err := lexTag(src, start, "%}")
			if err != nil {
				return nil, err
			}
			stripNext, i = strip, next
			if len(toks) == 0 || toks[0].kind != tkName {
				return nil, unsupportedf("empty or malformed {%% %%} tag at offset %d", j)
			}
			p := &exprParser{toks: toks[1:]}
			switch kw := toks[0].s; kw {
			case "if":
				if len(stack) >= maxTplDepth {
					return nil, unsupportedf("{%% if %%} nested too deeply")
				}
				c, err := p.parseFull()
				if err != nil {
					return nil, err
				}
				n := &tIf{conds: []tExpr{c}, bodies: [][]tNode{nil}}
				add(n)
				stack = append(stack, &frame{ifn: n})
			case "elif", "else", "endif":
				if len(stack) == 0 {
					return nil, unsupportedf("{%% %s %%} without {%% if %%}", kw)
				}
				f := stack[len(stack)-1]
				switch kw {
				case "elif":
					if f.inEls {
						return nil, unsupportedf("{%% elif %%} after {%% else %%}")
					}
					c, err := p.parseFull()
					if err != nil {
						return nil, err
					}
					f.ifn.conds = append(f.ifn.conds, c)
					f.ifn.bodies = append(f.ifn.bodies, nil)
				case "else":
					if f.inEls || len(p.toks) > 0 {
						return nil, unsupportedf("malformed {%% else %%}")
					}
					f.inEls = true
				case "endif":
					if len(p.toks) > 0 {
						return nil, unsupportedf("malformed {%% endif %%}")
					}
					stack = stack[:len(stack)-1]
				}
			case "set":
				if len(stack) > 0 {
					return nil, unsupportedf("{%% set %%} inside {%% if %%} is not supported")
				}
				if len(p.toks) < 3 || p.toks[0].kind != tkName || p.toks[1].kind != tkOp || p.toks[1].s != "=" {
					return nil, unsupportedf("only {%% set name = expression %%} is supported")
				}
				name := p.toks[0].s
				if reservedName(name) {
					return nil, unsupportedf("cannot {%% set %%} %q", name)
				}
				p.toks = p.toks[2:]
				e, err := p.parseFull()
				if err != nil {
					return nil, err
				}
				add(&tSet{name: name, e: e})
			default:
				return nil, unsupportedf("{%% %s %%} is not supported", kw)
			}
		}
	}
	if len(stack) > 0 {
		return nil, unsupportedf("{%% if %%} without {%% endif %%}")
	}
	return root, nil
}

func reservedName(s string) bool {
	switch s {
	case "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else":
		return true
	}
	return false
}
