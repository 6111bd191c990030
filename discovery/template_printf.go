package discovery

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Python's %-formatting, for "fmt" % args and the format filter.

// pyPrintf is Python's "format % args" for the conversions templates use.
func pyPrintf(format string, arg any) (any, error) {
	args, isTuple := arg.([]any)
	if !isTuple {
		args = []any{arg}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return nil, errors.New("incomplete format")
		}
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if format[i] == '(' {
			return nil, errors.New("format requires a mapping")
		}
		start := i
		for i < len(format) && strings.IndexByte("-+ 0#", format[i]) >= 0 {
			i++
		}
		flags := format[start:i]
		width, prec := "", ""
		ws := i
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			i++
		}
		width = format[ws:i]
		if i < len(format) && format[i] == '.' {
			i++
			ps := i
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				i++
			}
			prec = format[ps:i]
			if prec == "" {
				prec = "0"
			}
		}
		if len(width) > 3 || len(prec) > 3 {
			return nil, errors.New("format width or precision too large")
		}
		if i >= len(format) {
			return nil, errors.New("incomplete format")
		}
		verb := format[i]
		if next >= len(args) {
			return nil, errors.New("not enough arguments for format string")
		}
		v := args[next]
		next++
		spec := "%" + flags + width
		if prec != "" {
			spec += "." + prec
		}
		switch verb {
		case 's', 'r':
			s := pyStr(v)
			if verb == 'r' {
				var rb strings.Builder
				pyRepr(&rb, v, 0)
				s = rb.String()
			}
			b.WriteString(fmt.Sprintf(spec+"s", s))
		case 'd', 'i', 'u':
			n, f, isInt, ok := tplNumber(v)
			if !ok {
				return nil, fmt.Errorf("%%%c format: a number is required, not %s", verb, tplType(v))
			}
			if !isInt {
				if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 9.2e18 {
					return nil, errors.New("cannot convert float to integer")
				}
				n = int64(f)
			}
			b.WriteString(fmt.Sprintf(spec+"d", n))
		case 'x', 'X', 'o':
			n, _, isInt, ok := tplNumber(v)
			if !ok || !isInt {
				return nil, fmt.Errorf("%%%c format: an integer is required, not %s", verb, tplType(v))
			}
			b.WriteString(fmt.Sprintf(spec+string(verb), n))
		case 'f', 'F', 'e', 'E', 'g', 'G':
			_, f, _, ok := tplNumber(v)
			if !ok {
				return nil, fmt.Errorf("must be real number, not %s", tplType(v))
			}
			if prec == "" && (verb == 'g' || verb == 'G') {
				spec += ".6"
			}
			if verb == 'F' {
				verb = 'f'
			}
			b.WriteString(fmt.Sprintf(spec+string(verb), f))
		case 'c':
			if n, _, isInt, ok := tplNumber(v); ok && isInt && n >= 0 && n <= unicode.MaxRune {
				b.WriteString(fmt.Sprintf(spec+"c", rune(n)))
			} else if s, ok := v.(string); ok && utf8.RuneCountInString(s) == 1 {
				b.WriteString(fmt.Sprintf(spec+"s", s))
			} else {
				return nil, errors.New("%c requires int or char")
			}
		default:
			return nil, fmt.Errorf("unsupported format character '%c'", verb)
		}
		if b.Len() > maxTplString {
			return nil, errors.New("string too long")
		}
	}
	if next < len(args) && isTuple {
		return nil, errors.New("not all arguments converted during string formatting")
	}
	if next == 0 && !isTuple {
		return nil, errors.New("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// formatNumber writes a number as Home Assistant prints a Python int or
// float: integral values of an int-ish source without ".0".
func formatNumber(f float64, asInt bool) string {
	if asInt && f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	return pyFloat(f)
}
