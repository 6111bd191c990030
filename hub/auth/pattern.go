package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxTopicLen is the longest MQTT topic: its length is a 16-bit field.
const maxTopicLen = 65535

// ValidatePattern checks an ACL topic pattern: MQTT filter syntax ("+" is
// one whole level, "#" the whole last level) plus the substitutions %u
// (username) and %c (client id) anywhere within a level. It refuses empty
// patterns, NUL bytes, other "%" sequences and "$share/" prefixes; "$SYS/…"
// and other "$" patterns are allowed. Errors read like
// `"a/#/b": "#" must be the last level`.
func ValidatePattern(p string) error {
	_, err := compilePattern(p)
	return err
}

type levelKind uint8

const (
	levelLiteral  levelKind = iota // compare as is
	levelPlus                      // "+": any one level
	levelHash                      // "#": this level and all below, or none
	levelTemplate                  // literal text with %u / %c
)

// Substitution variables, as bits of pattern.vars and as segment.v.
const (
	varUser   uint8 = 1 << 0 // %u
	varClient uint8 = 1 << 1 // %c
)

// segment is one piece of a template level: literal text, or a variable
// when v is non-zero.
type segment struct {
	lit string
	v   uint8
}

type level struct {
	kind levelKind
	lit  string    // levelLiteral
	segs []segment // levelTemplate
	// dollar: the level starts with a literal "$", so a first-level
	// wildcard cannot meet it.
	dollar bool
}

// pattern is a compiled rule topic, split into levels once so that
// matching needs no allocation.
type pattern struct {
	raw     string
	levels  []level
	vars    uint8 // variables used anywhere
	leadVar uint8 // variable that starts the first level, if any
}

func patternError(p, format string, args ...any) error {
	return fmt.Errorf("%q: %s", p, fmt.Sprintf(format, args...))
}

func compilePattern(p string) (pattern, error) {
	switch {
	case p == "":
		return pattern{}, errors.New(`"": pattern is empty`)
	case len(p) > maxTopicLen:
		return pattern{}, patternError(p[:32]+"…", "longer than %d bytes", maxTopicLen)
	case !utf8.ValidString(p):
		return pattern{}, patternError(p, "not valid UTF-8")
	case strings.IndexByte(p, 0) >= 0:
		return pattern{}, patternError(p, "contains a NUL byte")
	case p == "$share" || strings.HasPrefix(p, "$share/"):
		return pattern{}, patternError(p, `"$share/" (shared subscription) is not allowed in a pattern`)
	}
	parts := strings.Split(p, "/")
	pat := pattern{raw: p, levels: make([]level, len(parts))}
	for i, part := range parts {
		l := &pat.levels[i]
		switch {
		case part == "#":
			if i != len(parts)-1 {
				return pattern{}, patternError(p, `"#" must be the last level`)
			}
			l.kind = levelHash
			continue
		case strings.IndexByte(part, '#') >= 0:
			return pattern{}, patternError(p, `"#" must be a whole level, not part of %q`, part)
		case part == "+":
			l.kind = levelPlus
			continue
		case strings.IndexByte(part, '+') >= 0:
			return pattern{}, patternError(p, `"+" must be a whole level, not part of %q`, part)
		}
		l.dollar = strings.HasPrefix(part, "$")
		if strings.IndexByte(part, '%') < 0 {
			l.kind, l.lit = levelLiteral, part
			continue
		}
		l.kind = levelTemplate
		rest := part
		for rest != "" {
			j := strings.IndexByte(rest, '%')
			if j < 0 {
				l.segs = append(l.segs, segment{lit: rest})
				break
			}
			if j > 0 {
				l.segs = append(l.segs, segment{lit: rest[:j]})
			}
			if j+1 >= len(rest) {
				return pattern{}, patternError(p, `"%%" at the end of a level (use %%u or %%c)`)
			}
			var v uint8
			switch rest[j+1] {
			case 'u':
				v = varUser
			case 'c':
				v = varClient
			default:
				_, size := utf8.DecodeRuneInString(rest[j+1:])
				return pattern{}, patternError(p, "unknown substitution %q (use %%u or %%c)", rest[j:j+1+size])
			}
			l.segs = append(l.segs, segment{v: v})
			pat.vars |= v
			if i == 0 && len(l.segs) == 1 {
				pat.leadVar = v
			}
			rest = rest[j+2:]
		}
	}
	return pat, nil
}

// binding supplies %u and %c for one check, validating each at most once.
type binding struct {
	s          *Subject
	uDone, uOK bool
	cDone, cOK bool
}

func (b *binding) value(v uint8) string {
	if v == varUser {
		return b.s.Username
	}
	return b.s.ClientID
}

// ok reports whether variable v may be substituted: it must be non-empty
// and hold no "+", "#", "/" or NUL, or it could widen the rule.
func (b *binding) ok(v uint8) bool {
	if v == varUser {
		if !b.uDone {
			b.uDone, b.uOK = true, safeValue(b.s.Username)
		}
		return b.uOK
	}
	if !b.cDone {
		b.cDone, b.cOK = true, safeValue(b.s.ClientID)
	}
	return b.cOK
}

func safeValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '+', '#', '/', 0:
			return false
		}
	}
	return true
}

// matchTemplate reports whether the topic level t equals l with its
// variables substituted, without building the substituted string.
func (l *level) matchTemplate(t string, b *binding) bool {
	for _, sg := range l.segs {
		x := sg.lit
		if sg.v != 0 {
			x = b.value(sg.v)
		}
		if !strings.HasPrefix(t, x) {
			return false
		}
		t = t[len(x):]
	}
	return t == ""
}

// matchLiteral reports whether a literal topic or filter level t at depth
// i is matched by l.
func (l *level) matchLiteral(i int, t string, b *binding) bool {
	switch l.kind {
	case levelHash, levelPlus:
		return i > 0 || !strings.HasPrefix(t, "$")
	case levelLiteral:
		return l.lit == t
	default:
		return l.matchTemplate(t, b)
	}
}

// matchTopic reports whether the pattern matches the topic name topic.
func (p *pattern) matchTopic(topic string, b *binding) bool {
	dollar := topic[0] == '$'
	i := 0
	for {
		t, rest, more := strings.Cut(topic, "/")
		if i == len(p.levels) {
			return false
		}
		l := &p.levels[i]
		switch l.kind {
		case levelHash:
			return i > 0 || !dollar
		case levelPlus:
			if i == 0 && dollar {
				return false
			}
		case levelLiteral:
			if l.lit != t {
				return false
			}
		default:
			if !l.matchTemplate(t, b) {
				return false
			}
		}
		i++
		if !more {
			break
		}
		topic = rest
	}
	// "a/#" also matches "a".
	return i == len(p.levels) || (i == len(p.levels)-1 && p.levels[i].kind == levelHash)
}

// covers reports whether every topic that the filter f (split into levels)
// matches is matched by the pattern.
func (p *pattern) covers(f []string, b *binding) bool {
	for i, fl := range f {
		if i == len(p.levels) {
			return false
		}
		l := &p.levels[i]
		if l.kind == levelHash {
			// A first-level wildcard filter never matches "$" topics.
			return i > 0 || fl == "#" || fl == "+" || !strings.HasPrefix(fl, "$")
		}
		switch fl {
		case "#":
			return false
		case "+":
			if l.kind != levelPlus {
				return false
			}
		default:
			if !l.matchLiteral(i, fl, b) {
				return false
			}
		}
	}
	n := len(f)
	return n == len(p.levels) || (n == len(p.levels)-1 && p.levels[n].kind == levelHash)
}

// overlaps reports whether some topic is matched by both the pattern and
// the filter f (split into levels).
func (p *pattern) overlaps(f []string, b *binding) bool {
	for i, fl := range f {
		if i == len(p.levels) {
			return fl == "#" // "a/#" matches "a"
		}
		l := &p.levels[i]
		fWild := fl == "#" || fl == "+"
		if l.kind == levelHash || fl == "#" {
			if i > 0 {
				return true
			}
			// At the first level a wildcard cannot meet a "$" literal.
			switch {
			case l.kind == levelHash && !fWild:
				return !strings.HasPrefix(fl, "$")
			case l.kind == levelHash, l.kind == levelPlus:
				return true
			default: // fl == "#" against a literal or template level
				return !l.dollar
			}
		}
		switch {
		case fl == "+":
			if i == 0 && l.kind != levelPlus && l.dollar {
				return false
			}
		default:
			if !l.matchLiteral(i, fl, b) {
				return false
			}
		}
	}
	n := len(f)
	return n == len(p.levels) || (n == len(p.levels)-1 && p.levels[n].kind == levelHash)
}

// validTopicName reports whether topic can be published to: non-empty, at
// most 65535 bytes, no wildcards and no NUL.
func validTopicName(topic string) bool {
	if topic == "" || len(topic) > maxTopicLen {
		return false
	}
	for i := 0; i < len(topic); i++ {
		switch topic[i] {
		case '+', '#', 0:
			return false
		}
	}
	return true
}

// splitFilter checks a subscription filter and splits it into levels.
func splitFilter(f string) ([]string, bool) {
	if f == "" || len(f) > maxTopicLen || !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
		return nil, false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#":
			if i != len(levels)-1 {
				return nil, false
			}
		case l == "+":
		case strings.ContainsAny(l, "+#"):
			return nil, false
		}
	}
	return levels, true
}
