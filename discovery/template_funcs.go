package discovery

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// tplFunc is a filter, test, method or global function a template may
// call. For filters, tests and methods args[0] is the value it applies to
// and min/max count the arguments after it; for globals they count all.
type tplFunc struct {
	min, max int // max < 0: any number
	fn       func(args []any) (any, error)
}

// Everything a template may call. A name missing here makes the template
// unsupported at compile time rather than wrong at run time.
var (
	tplFilters map[string]tplFunc
	tplTests   map[string]tplFunc
	tplMethods map[string]tplFunc
	tplGlobals map[string]tplFunc
)

func init() {
	tplFilters = map[string]tplFunc{
		"float":      {0, 1, filterFloat},
		"int":        {0, 2, filterInt},
		"round":      {0, 3, filterRound},
		"lower":      {0, 0, strFunc(strings.ToLower)},
		"upper":      {0, 0, strFunc(strings.ToUpper)},
		"title":      {0, 0, strFunc(pyTitle)},
		"capitalize": {0, 0, strFunc(pyCapitalize)},
		"trim":       {0, 1, filterTrim},
		"string":     {0, 0, func(a []any) (any, error) { return pyStr(a[0]), nil }},
		"default":    {0, 2, filterDefault},
		"d":          {0, 2, filterDefault},
		"is_defined": {0, 0, filterIsDefined},
		"tojson":     {0, 0, func(a []any) (any, error) { return toJSON(a[0], true) }},
		"to_json":    {0, 0, func(a []any) (any, error) { return toJSON(a[0], false) }},
		"from_json":  {0, 0, filterFromJSON},
		"abs":        {0, 0, filterAbs},
		"length":     {0, 0, func(a []any) (any, error) { return tplLen(a[0]) }},
		"count":      {0, 0, func(a []any) (any, error) { return tplLen(a[0]) }},
		"replace":    {2, 3, methodReplace},
		"bool":       {0, 1, filterBool},
		"iif":        {0, 3, filterIif},
		"join":       {0, 1, filterJoin},
		"first":      {0, 0, func(a []any) (any, error) { return seqEnd(a[0], true) }},
		"last":       {0, 0, func(a []any) (any, error) { return seqEnd(a[0], false) }},
		"min":        {0, 0, func(a []any) (any, error) { return seqMinMax(a[0], -1) }},
		"max":        {0, 0, func(a []any) (any, error) { return seqMinMax(a[0], 1) }},
		"is_number":  {0, 0, func(a []any) (any, error) { return isNumber(a[0]), nil }},
		"multiply":   {1, 2, filterMultiply},
		"format":     {0, -1, filterFormat},
	}
	tplTests = map[string]tplFunc{
		"defined":   {0, 0, func(a []any) (any, error) { _, u := a[0].(tplUndefined); return !u, nil }},
		"undefined": {0, 0, func(a []any) (any, error) { _, u := a[0].(tplUndefined); return u, nil }},
		"none":      {0, 0, func(a []any) (any, error) { return a[0] == nil, nil }},
		"number":    {0, 0, testKind("number")},
		"integer":   {0, 0, testKind("int")},
		"float":     {0, 0, testKind("float")},
		"string":    {0, 0, testKind("str")},
		"mapping":   {0, 0, testKind("dict")},
		"boolean":   {0, 0, testKind("bool")},
		"true":      {0, 0, func(a []any) (any, error) { return a[0] == true, nil }},
		"false":     {0, 0, func(a []any) (any, error) { return a[0] == false, nil }},
		"even":      {0, 0, testParity(0)},
		"odd":       {0, 0, testParity(1)},
		"eq":        {1, 1, func(a []any) (any, error) { return tplEqual(a[0], a[1]), nil }},
	}
	tplMethods = map[string]tplFunc{
		"lower":      {0, 0, strMethod(strings.ToLower)},
		"upper":      {0, 0, strMethod(strings.ToUpper)},
		"title":      {0, 0, strMethod(pyTitle)},
		"capitalize": {0, 0, strMethod(pyCapitalize)},
		"strip":      {0, 1, methodStrip(0)},
		"lstrip":     {0, 1, methodStrip(-1)},
		"rstrip":     {0, 1, methodStrip(1)},
		"split":      {0, 2, methodSplit},
		"replace":    {2, 3, methodReplace},
		"startswith": {1, 1, methodAffix(strings.HasPrefix)},
		"endswith":   {1, 1, methodAffix(strings.HasSuffix)},
		"isdigit":    {0, 0, methodIsDigit},
		"get":        {1, 2, methodGet},
		"keys":       {0, 0, methodKeys},
	}
	tplGlobals = map[string]tplFunc{
		"float":     {1, 2, filterFloat},
		"int":       {1, 3, filterInt},
		"bool":      {1, 2, filterBool},
		"iif":       {1, 4, filterIif},
		"is_number": {1, 1, func(a []any) (any, error) { return isNumber(a[0]), nil }},
		"min":       {1, -1, globalMinMax(-1)},
		"max":       {1, -1, globalMinMax(1)},
	}
}

// The core helpers the translated programs call. Their names start with
// "f_"; filters, tests, methods and globals get "ff_", "ft_", "fm_" and
// "fg_" before their names.
var tplCore = map[string]func(args ...any) (any, error){
	"f_cat":    coreCat,
	"f_out":    func(a ...any) (any, error) { return pyStr(a[0]), nil },
	"f_var":    coreVar,
	"f_attr":   coreAttr,
	"f_item":   coreItem,
	"f_truthy": func(a ...any) (any, error) { return tplTruthy(a[0]), nil },
	"f_not":    func(a ...any) (any, error) { return !tplTruthy(a[0]), nil },
	"f_neg":    coreNeg,
	"f_pos":    corePos,
	"f_add":    coreAdd,
	"f_sub":    coreSub,
	"f_mul":    coreMul,
	"f_div":    coreDiv,
	"f_fdiv":   coreFloorDiv,
	"f_mod":    coreMod,
	"f_pow":    corePow,
	"f_concat": coreConcat,
	"f_eq":     func(a ...any) (any, error) { return tplEqual(a[0], a[1]), nil },
	"f_ne":     func(a ...any) (any, error) { return !tplEqual(a[0], a[1]), nil },
	"f_lt":     coreCmp(func(c int) bool { return c < 0 }),
	"f_le":     coreCmp(func(c int) bool { return c <= 0 }),
	"f_gt":     coreCmp(func(c int) bool { return c > 0 }),
	"f_ge":     coreCmp(func(c int) bool { return c >= 0 }),
	"f_in":     coreIn,
	"f_list":   func(a ...any) (any, error) { return append([]any(nil), a...), nil },
	"f_dict":   coreDict,
	"f_undef": func(a ...any) (any, error) {
		return tplUndefined{hint: "the condition of an inline if was false and there is no else"}, nil
	},
}

func coreCat(a ...any) (any, error) {
	var b strings.Builder
	for _, p := range a {
		s, ok := p.(string)
		if !ok {
			s = pyStr(p)
		}
		if b.Len()+len(s) > maxTplString {
			return nil, errors.New("template output too long")
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func coreVar(a ...any) (any, error) {
	name, _ := a[1].(string)
	if m, ok := a[0].(map[string]any); ok {
		if v, ok := m[name]; ok {
			return v, nil
		}
	}
	return tplUndefined{hint: fmt.Sprintf("'%s' is undefined", name)}, nil
}

func coreAttr(a ...any) (any, error) {
	name, _ := a[1].(string)
	switch x := a[0].(type) {
	case tplUndefined:
		return nil, x.err()
	case map[string]any:
		if v, ok := x[name]; ok {
			return v, nil
		}
	case *tplDict:
		if v, ok := x.get(name); ok {
			return v, nil
		}
	}
	return tplUndefined{hint: fmt.Sprintf("'%s object' has no attribute '%s'", tplType(a[0]), name)}, nil
}

func coreItem(a ...any) (any, error) {
	key := a[1]
	switch x := a[0].(type) {
	case tplUndefined:
		return nil, x.err()
	case map[string]any:
		if k, ok := key.(string); ok {
			if v, ok := x[k]; ok {
				return v, nil
			}
		}
	case *tplDict:
		if v, ok := x.get(key); ok {
			return v, nil
		}
	case []any:
		if i, _, isInt, ok := tplNumber(key); ok && isInt {
			if i < 0 {
				i += int64(len(x))
			}
			if i >= 0 && i < int64(len(x)) {
				return x[i], nil
			}
		}
	case string:
		if i, _, isInt, ok := tplNumber(key); ok && isInt {
			n := int64(utf8.RuneCountInString(x))
			if i < 0 {
				i += n
			}
			if i >= 0 && i < n {
				return string([]rune(x)[i]), nil
			}
		}
	}
	var b strings.Builder
	pyRepr(&b, key, 0)
	return tplUndefined{hint: fmt.Sprintf("'%s object' has no attribute %s", tplType(a[0]), b.String())}, nil
}

func coreDict(a ...any) (any, error) {
	d := &tplDict{}
	for i := 0; i+1 < len(a); i += 2 {
		if _, ok := d.get(a[i]); ok {
			for j, k := range d.keys {
				if tplEqual(k, a[i]) {
					d.vals[j] = a[i+1]
				}
			}
			continue
		}
		switch a[i].(type) {
		case []any, map[string]any, *tplDict, tplUndefined:
			return nil, fmt.Errorf("unhashable type: '%s'", tplType(a[i]))
		}
		d.keys = append(d.keys, a[i])
		d.vals = append(d.vals, a[i+1])
	}
	return d, nil
}

func operandErr(op string, a, b any) error {
	if u, ok := a.(tplUndefined); ok {
		return u.err()
	}
	if u, ok := b.(tplUndefined); ok {
		return u.err()
	}
	return fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, tplType(a), tplType(b))
}

func coreNeg(a ...any) (any, error) {
	i, f, isInt, ok := tplNumber(a[0])
	if !ok {
		if u, ok := a[0].(tplUndefined); ok {
			return nil, u.err()
		}
		return nil, fmt.Errorf("bad operand type for unary -: '%s'", tplType(a[0]))
	}
	if isInt {
		if i == math.MinInt64 {
			return -float64(i), nil
		}
		return -i, nil
	}
	return -f, nil
}

func corePos(a ...any) (any, error) {
	i, f, isInt, ok := tplNumber(a[0])
	if !ok {
		if u, ok := a[0].(tplUndefined); ok {
			return nil, u.err()
		}
		return nil, fmt.Errorf("bad operand type for unary +: '%s'", tplType(a[0]))
	}
	if isInt {
		return i, nil
	}
	return f, nil
}

func coreAdd(a ...any) (any, error) {
	ai, af, aInt, aNum := tplNumber(a[0])
	bi, bf, bInt, bNum := tplNumber(a[1])
	if aNum && bNum {
		if aInt && bInt {
			s := ai + bi
			if (s > ai) == (bi > 0) {
				return s, nil
			}
			return af + bf, nil
		}
		return af + bf, nil
	}
	switch x := a[0].(type) {
	case string:
		if y, ok := a[1].(string); ok {
			if len(x)+len(y) > maxTplString {
				return nil, errors.New("string too long")
			}
			return x + y, nil
		}
	case []any:
		if y, ok := a[1].([]any); ok {
			return append(append([]any(nil), x...), y...), nil
		}
	}
	return nil, operandErr("+", a[0], a[1])
}

func coreSub(a ...any) (any, error) {
	ai, af, aInt, aNum := tplNumber(a[0])
	bi, bf, bInt, bNum := tplNumber(a[1])
	if !aNum || !bNum {
		return nil, operandErr("-", a[0], a[1])
	}
	if aInt && bInt {
		s := ai - bi
		if (s < ai) == (bi > 0) {
			return s, nil
		}
	}
	return af - bf, nil
}

func coreMul(a ...any) (any, error) {
	ai, af, aInt, aNum := tplNumber(a[0])
	bi, bf, bInt, bNum := tplNumber(a[1])
	if aNum && bNum {
		if aInt && bInt {
			hi, lo := bits.Mul64(uint64(absInt(ai)), uint64(absInt(bi)))
			if hi == 0 && lo <= math.MaxInt64 && ai != math.MinInt64 && bi != math.MinInt64 {
				p := int64(lo)
				if (ai < 0) != (bi < 0) {
					p = -p
				}
				return p, nil
			}
		}
		return af * bf, nil
	}
	s, n := a[0], a[1]
	if _, ok := s.(string); !ok {
		s, n = n, s
	}
	if str, ok := s.(string); ok {
		if i, _, isInt, ok := tplNumber(n); ok && isInt {
			if i <= 0 {
				return "", nil
			}
			if int64(len(str))*i > maxTplString {
				return nil, errors.New("string too long")
			}
			return strings.Repeat(str, int(i)), nil
		}
	}
	return nil, operandErr("*", a[0], a[1])
}

func absInt(i int64) int64 {
	if i < 0 {
		return -i
	}
	return i
}

func coreDiv(a ...any) (any, error) {
	_, af, _, aNum := tplNumber(a[0])
	_, bf, _, bNum := tplNumber(a[1])
	if !aNum || !bNum {
		return nil, operandErr("/", a[0], a[1])
	}
	if bf == 0 {
		return nil, errors.New("division by zero")
	}
	return af / bf, nil
}

func coreFloorDiv(a ...any) (any, error) {
	ai, af, aInt, aNum := tplNumber(a[0])
	bi, bf, bInt, bNum := tplNumber(a[1])
	if !aNum || !bNum {
		return nil, operandErr("//", a[0], a[1])
	}
	if bf == 0 {
		return nil, errors.New("integer division or modulo by zero")
	}
	if aInt && bInt {
		if ai == math.MinInt64 && bi == -1 {
			return -float64(ai), nil
		}
		q := ai / bi
		if (ai%bi != 0) && ((ai < 0) != (bi < 0)) {
			q--
		}
		return q, nil
	}
	return math.Floor(af / bf), nil
}

func coreMod(a ...any) (any, error) {
	if s, ok := a[0].(string); ok {
		return pyPrintf(s, a[1])
	}
	ai, af, aInt, aNum := tplNumber(a[0])
	bi, bf, bInt, bNum := tplNumber(a[1])
	if !aNum || !bNum {
		return nil, operandErr("%", a[0], a[1])
	}
	if bf == 0 {
		return nil, errors.New("integer division or modulo by zero")
	}
	if aInt && bInt {
		if bi == -1 {
			return int64(0), nil
		}
		m := ai % bi
		if m != 0 && (m < 0) != (bi < 0) {
			m += bi
		}
		return m, nil
	}
	m := math.Mod(af, bf)
	if m != 0 && (m < 0) != (bf < 0) {
		m += bf
	}
	return m, nil
}

func corePow(a ...any) (any, error) {
	ai, af, aInt, aNum := tplNumber(a[0])
	bi, bf, bInt, bNum := tplNumber(a[1])
	if !aNum || !bNum {
		return nil, operandErr("**", a[0], a[1])
	}
	if aInt && bInt && bi >= 0 {
		r := int64(1)
		for k := int64(0); k < bi; k++ {
			hi, lo := bits.Mul64(uint64(absInt(r)), uint64(absInt(ai)))
			if hi != 0 || lo > math.MaxInt64 || ai == math.MinInt64 {
				return math.Pow(af, bf), nil
			}
			neg := (r < 0) != (ai < 0)
			r = int64(lo)
			if neg {
				r = -r
			}
			if r == 0 || r == 1 && ai == 1 {
				break
			}
		}
		return r, nil
	}
	if af == 0 && bf < 0 {
		return nil, errors.New("0.0 cannot be raised to a negative power")
	}
	return math.Pow(af, bf), nil
}

func coreConcat(a ...any) (any, error) {
	s := pyStr(a[0]) + pyStr(a[1])
	if len(s) > maxTplString {
		return nil, errors.New("string too long")
	}
	return s, nil
}

func coreCmp(ok func(int) bool) func(a ...any) (any, error) {
	return func(a ...any) (any, error) {
		c, err := tplCompare(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return ok(c), nil
	}
}

func coreIn(a ...any) (any, error) {
	switch c := a[1].(type) {
	case string:
		s, ok := a[0].(string)
		if !ok {
			return nil, fmt.Errorf("'in <string>' requires string as left operand, not %s", tplType(a[0]))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, e := range c {
			if tplEqual(e, a[0]) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		s, ok := a[0].(string)
		if !ok {
			return false, nil
		}
		_, found := c[s]
		return found, nil
	case *tplDict:
		_, found := c.get(a[0])
		return found, nil
	case tplUndefined:
		return false, nil
	}
	return nil, fmt.Errorf("argument of type '%s' is not iterable", tplType(a[1]))
}
