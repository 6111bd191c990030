package mdns

import (
	"maps"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParseTXT(t *testing.T) {
	many := make([]string, 100)
	for i := range many {
		many[i] = "k" + strings.Repeat("x", i) + "=v"
	}
	for _, tt := range []struct {
		name string
		in   []string
		want map[string]string
	}{
		{"OK", []string{"gen=2", "app=Plus1", "ver=1.0.0"}, map[string]string{"gen": "2", "app": "Plus1", "ver": "1.0.0"}},
		{"Empty", []string{""}, nil},
		{"Nil", nil, nil},
		{"KeyCaseFolded", []string{"MD=Eve Energy"}, map[string]string{"md": "Eve Energy"}},
		{"FirstWins", []string{"app=Plus1", "APP=Evil"}, map[string]string{"app": "Plus1"}},
		{"BooleanAttribute", []string{"secure", "empty="}, map[string]string{"secure": "", "empty": ""}},
		{"NoKeyIgnored", []string{"=value", "a=b"}, map[string]string{"a": "b"}},
		{"ValueKeepsEquals", []string{"url=http://x/?a=b"}, map[string]string{"url": "http://x/?a=b"}},
		{"Escapes", []string{`name=Caf\195\169 \"Z\"`, `path=a\\b`}, map[string]string{"name": `Café "Z"`, "path": `a\b`}},
		{"ControlReplaced", []string{`x=a\027[31mb\010`}, map[string]string{"x": "a\uFFFD[31mb\uFFFD"}},
		{"InvalidUTF8Replaced", []string{`x=a\255b`}, map[string]string{"x": "a\uFFFDb"}},
		{"BidiOverrideReplaced", []string{"x=a\u202eb"}, map[string]string{"x": "a\uFFFDb"}},
		{"ValueTruncated", []string{"x=" + strings.Repeat("é", 200)}, map[string]string{"x": strings.Repeat("é", 127)}},
		{"KeyTruncated", []string{strings.Repeat("k", 300) + "=v"}, map[string]string{strings.Repeat("k", 255): "v"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := parseTXT(tt.in), tt.want; !maps.Equal(got, want) {
				t.Errorf("parseTXT(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
	t.Run("AtMost64Entries", func(t *testing.T) {
		got := parseTXT(many)
		if len(got) != maxTXTEntries {
			t.Fatalf("got %d entries, want %d", len(got), maxTXTEntries)
		}
		if _, ok := got["k"+strings.Repeat("x", 64)+""]; ok {
			t.Error("kept the 65th entry")
		}
	})
}

func TestModelFrom(t *testing.T) {
	for _, tt := range []struct {
		service string
		txt     map[string]string
		want    string
	}{
		{"_shelly._tcp", map[string]string{"gen": "2", "app": "Plus1"}, "Plus1"},
		{"_shelly._tcp", map[string]string{"model": "SNSW-001X16EU"}, "SNSW-001X16EU"},
		{"_shelly._tcp", map[string]string{"app": "Pro4PM", "model": "SPSW-104PE16EU"}, "Pro4PM"},
		{"_esphomelib._tcp", map[string]string{"board": "esp32dev", "platform": "ESP32", "version": "2024.6.0"}, "esp32dev"},
		{"_esphomelib._tcp", map[string]string{"platform": "ESP8266"}, "ESP8266"},
		{"_hap._tcp", map[string]string{"md": "Eve Energy", "ci": "7"}, "Eve Energy"},
		{"_hap._tcp", map[string]string{"model": "ignored for HAP"}, ""},
		{"_http._tcp", map[string]string{"model": "X"}, "X"},
		{"_ipp._tcp", map[string]string{"ty": "Brother HL-L2350DW"}, "Brother HL-L2350DW"},
		{"_http._tcp", nil, ""},
	} {
		if got := modelFrom(tt.service, tt.txt); got != tt.want {
			t.Errorf("modelFrom(%q, %v) = %q, want %q", tt.service, tt.txt, got, tt.want)
		}
	}
}

// TestEscapeRoundTrip checks our escaping against miekg/dns, which
// zeroconf uses to pack what we register and to unpack what it hears.
func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"hubd on pi", "a.b (c); @\"d\\", "Café ☕", "tab\there", ""} {
		t.Run("Label/"+s, func(t *testing.T) {
			if s == "" {
				t.Skip("no empty labels")
			}
			name := escapeLabel(s) + "._hubd._tcp.local."
			msg := new(dns.Msg)
			msg.SetQuestion(name, dns.TypeSRV)
			buf, err := msg.Pack()
			if err != nil {
				t.Fatal(err)
			}
			var back dns.Msg
			if err := back.Unpack(buf); err != nil {
				t.Fatal(err)
			}
			// zeroconf matches questions by string: ours must be what
			// miekg/dns unpacks.
			if got, want := back.Question[0].Name, name; got != want {
				t.Errorf("unpacked %q, want %q", got, want)
			}
			if got, want := unescape(strings.TrimSuffix(back.Question[0].Name, "._hubd._tcp.local.")), s; got != want {
				t.Errorf("unescape = %q, want %q", got, want)
			}
		})
		t.Run("TXT/"+s, func(t *testing.T) {
			rr := &dns.TXT{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{escapeTXT("k=" + s)}}
			msg := new(dns.Msg)
			msg.Answer = []dns.RR{rr}
			buf, err := msg.Pack()
			if err != nil {
				t.Fatal(err)
			}
			var back dns.Msg
			if err := back.Unpack(buf); err != nil {
				t.Fatal(err)
			}
			got := parseTXT(back.Answer[0].(*dns.TXT).Txt)["k"]
			if want := clean(s, maxValue); got != want {
				t.Errorf("round trip = %q, want %q", got, want)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`plain`, `plain`},
		{`a\ b\.c`, `a b.c`},
		{`\065\066`, `AB`},
		{`\256`, `256`}, // not a byte: the digits stand for themselves
		{`\12`, `12`},
		{`end\`, `end\`},
		{`\\\\`, `\\`},
	} {
		if got := unescape(tt.in); got != tt.want {
			t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHostLabel(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"raspberrypi", "raspberrypi"},
		{"pi.lan", "pi"},
		{"My Pi!", "MyPi"},
		{"-hub-", "hub"},
		{"ünï", "n"},
		{"...", ""},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
	} {
		if got := hostLabel(tt.in); got != tt.want {
			t.Errorf("hostLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"},
		{"éé", 3, "é"},
	} {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
