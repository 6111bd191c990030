package mdns

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what is kept from the network.
const (
	maxLabel      = 63  // bytes in a DNS label: our instance name
	maxValue      = 255 // bytes in a name, TXT key or TXT value
	maxTXTEntries = 64
	maxAddrs      = 16
)

// modelKeys are the TXT keys that name a device's model, by service type,
// first present wins. Shelly Gen2+ says app=Plus1; ESPHome says
// board=esp32dev and platform=ESP32 (its version= is ESPHome's own);
// HomeKit says md=.
var modelKeys = map[string][]string{
	"_shelly._tcp":     {"app", "model"},
	"_esphomelib._tcp": {"board", "platform"},
	"_hap._tcp":        {"md"},
}

// otherModelKeys are tried for the other service types.
var otherModelKeys = []string{"model", "md", "product", "ty"}

// modelFrom returns the model named in txt for service, or "".
func modelFrom(service string, txt map[string]string) string {
	keys, ok := modelKeys[service]
	if !ok {
		keys = otherModelKeys
	}
	for _, k := range keys {
		if v := txt[k]; v != "" {
			return v
		}
	}
	return ""
}

// parseTXT turns TXT strings, as zeroconf gives them (in miekg/dns's
// escaped presentation form), into a map following RFC 6763 section 6:
// keys are case-insensitive (kept lowercase), the first occurrence of a
// key wins, a string without '=' is a key with an empty value, and one
// starting with '=' is ignored. At most maxTXTEntries strings are read,
// and keys and values are cleaned and cut to maxValue bytes. It returns
// nil when nothing is left.
func parseTXT(records []string) map[string]string {
	var m map[string]string
	for i, r := range records {
		if i >= maxTXTEntries {
			break
		}
		k, v, _ := strings.Cut(unescape(truncate(r, 4*maxValue)), "=")
		if k == "" {
			continue
		}
		k = strings.ToLower(clean(k, maxValue))
		if m == nil {
			m = make(map[string]string)
		}
		if _, dup := m[k]; !dup {
			m[k] = clean(v, maxValue)
		}
	}
	return m
}

// cleanName unescapes a name from zeroconf and cleans it.
func cleanName(s string) string {
	return clean(unescape(truncate(s, 4*maxValue)), maxValue)
}

// clean makes untrusted s safe to keep and show: valid UTF-8, control
// and bidirectional-override characters replaced by U+FFFD, at most n
// bytes.
func clean(s string, n int) string {
	s = truncate(s, 4*n)
	if !validUTF8(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.ContainsFunc(s, isControl) {
		s = strings.Map(func(r rune) rune {
			if isControl(r) {
				return utf8.RuneError
			}
			return r
		}, s)
	}
	return truncate(s, n)
}

func validUTF8(s string) bool { return utf8.ValidString(s) }

// isControl reports control characters and the invisible characters
// that reorder text.
func isControl(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// truncate cuts s to at most n bytes, not inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// unescape undoes miekg/dns's presentation escapes: \DDD (a decimal
// byte) and \X (X itself). A trailing lone backslash is kept.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v, _ := strconv.Atoi(s[i+1 : i+4]); v <= 255 {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// escapeLabel writes a label in the presentation form miekg/dns unpacks
// names to, so that zeroconf both packs it right and matches it against
// incoming questions.
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case strings.IndexByte(`.();@ "\`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteString(escapeDDD(c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeTXT writes a TXT string in miekg/dns's presentation form.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteString(escapeDDD(c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func escapeDDD(c byte) string {
	d := strconv.Itoa(int(c))
	return `\` + strings.Repeat("0", 3-len(d)) + d
}

// hostLabel returns the first label of a host name, keeping ASCII
// letters, digits and inner '-', at most maxLabel bytes.
func hostLabel(h string) string {
	h, _, _ = strings.Cut(h, ".")
	h = strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return r
		}
		return -1
	}, h)
	h = strings.Trim(truncate(h, maxLabel), "-")
	return h
}
