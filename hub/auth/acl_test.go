package auth

import (
	"strings"
	"testing"
)

func TestValidatePattern(t *testing.T) {
	for _, p := range []string{
		"#", "+", "a", "a/b/c", "a/+/c", "a/#", "+/+/#", "/", "a//b", "/a", "a/",
		"$SYS/#", "$SYS/broker/+", "$foo", "devices/%u/#", "clients/%c", "x/%u-%c/y",
		"pre%usuf", "%u", "%c/%u", "ü/ß", "$sharex/y", "$Share/g/t",
	} {
		if err := ValidatePattern(p); err != nil {
			t.Errorf("ValidatePattern(%q) = %v, want nil", p, err)
		}
	}
	for _, tc := range []struct{ p, want string }{
		{"", `"": pattern is empty`},
		{"a/#/b", `"a/#/b": "#" must be the last level`},
		{"#/a", `"#/a": "#" must be the last level`},
		{"a#", `"a#": "#" must be a whole level, not part of "a#"`},
		{"a/b#", `"a/b#": "#" must be a whole level, not part of "b#"`},
		{"a+/b", `"a+/b": "+" must be a whole level, not part of "a+"`},
		{"a/+b", `"a/+b": "+" must be a whole level, not part of "+b"`},
		{"%u+", `"%u+": "+" must be a whole level, not part of "%u+"`},
		{"a\x00b", `"a\x00b": contains a NUL byte`},
		{"a/%x", `"a/%x": unknown substitution "%x" (use %u or %c)`},
		{"a/%U", `"a/%U": unknown substitution "%U" (use %u or %c)`},
		{"a/%%", `"a/%%": unknown substitution "%%" (use %u or %c)`},
		{"a/%ü", `"a/%ü": unknown substitution "%ü" (use %u or %c)`},
		{"a/%", `"a/%": "%" at the end of a level (use %u or %c)`},
		{"a%/b", `"a%/b": "%" at the end of a level (use %u or %c)`},
		{"$share/g/t", `"$share/g/t": "$share/" (shared subscription) is not allowed in a pattern`},
		{"$share", `"$share": "$share/" (shared subscription) is not allowed in a pattern`},
		{"\xff", `"\xff": not valid UTF-8`},
	} {
		err := ValidatePattern(tc.p)
		if err == nil {
			t.Errorf("ValidatePattern(%q) = nil, want %s", tc.p, tc.want)
		} else if got := err.Error(); got != tc.want {
			t.Errorf("ValidatePattern(%q) = %s, want %s", tc.p, got, tc.want)
		}
	}
	if err := ValidatePattern(strings.Repeat("a", 65536)); err == nil {
		t.Error("ValidatePattern(65536 bytes) = nil")
	}
}

func TestParseAccess(t *testing.T) {
	for _, a := range []Access{AccessRead, AccessWrite, AccessReadWrite} {
		got, err := ParseAccess(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAccess(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := ParseAccess("rw"); err == nil || !strings.Contains(err.Error(), `"rw"`) {
		t.Errorf(`ParseAccess("rw") error = %v`, err)
	}
}

func TestNewACL(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		rules := []Rule{
			{Topic: "a/#", Access: AccessRead},
			{Role: RoleAnonymous, Topic: "public/#", Access: AccessRead},
			{User: "bob", Client: "bob-1", Topic: "b/%u/%c", Access: AccessReadWrite, Deny: true},
		}
		a, err := NewACL(rules)
		if err != nil {
			t.Fatal(err)
		}
		rules[0].Topic = "changed"
		if got := a.Rules()[0].Topic; got != "a/#" {
			t.Errorf("rules not copied: %q", got)
		}
	})
	for _, tc := range []struct {
		name string
		rule Rule
		want string
	}{
		{"ErrPattern", Rule{Topic: "a/#/b", Access: AccessRead, Source: "hubd.yaml:42"},
			`acl rule hubd.yaml:42: topic "a/#/b": "#" must be the last level`},
		{"ErrAccessUnset", Rule{Topic: "a", Source: "hubd.yaml:7"},
			`acl rule hubd.yaml:7: access not set (want read, write or readwrite)`},
		{"ErrAccess", Rule{Topic: "a", Access: 4, Source: "x:1"},
			`acl rule x:1: bad access 4 (want read, write or readwrite)`},
		{"ErrRole", Rule{Topic: "a", Access: AccessRead, Role: "root", Source: "x:2"},
			`acl rule x:2: unknown role "root" (want admin, service, device or anonymous)`},
		{"ErrUser", Rule{Topic: "a", Access: AccessRead, User: "a/b", Source: "x:3"},
			`acl rule x:3: user name "a/b" contains '/' (allowed: letters, digits, '.', '_', '-', '@')`},
		{"ErrNoSource", Rule{Topic: "", Access: AccessRead},
			`acl rule #2: topic "": pattern is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewACL([]Rule{{Topic: "ok", Access: AccessRead}, tc.rule})
			if err == nil {
				t.Fatalf("no error, want %s", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error = %s\nwant    %s", got, tc.want)
			}
		})
	}
}

func mustACL(tb testing.TB, rules ...Rule) *ACL {
	tb.Helper()
	a, err := NewACL(rules)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

var (
	admin   = Subject{Username: "root", Role: RoleAdmin, ClientID: "root-1"}
	service = Subject{Username: "automations", Role: RoleService, ClientID: "auto"}
	bob     = Subject{Username: "bob", Role: RoleDevice, ClientID: "bob-1"}
	carol   = Subject{Username: "carol", Role: RoleDevice, ClientID: "carol-1"}
	anon    = Subject{Role: RoleAnonymous, ClientID: "anon-1"}
)

// homeRules is a typical configuration.
func homeRules() []Rule {
	return []Rule{
		{Role: RoleDevice, Topic: "devices/%u/#", Access: AccessReadWrite, Source: "t:1"},
		{Role: RoleDevice, Topic: "clients/%c/+", Access: AccessWrite, Source: "t:2"},
		{Topic: "home/#", Access: AccessRead, Source: "t:3"},
		{User: "bob", Topic: "home/+/light/set", Access: AccessWrite, Source: "t:4"},
		{Topic: "home/secret/#", Access: AccessReadWrite, Deny: true, Source: "t:5"},
		{Client: "display", Topic: "$status/#", Access: AccessRead, Source: "t:6"},
		{Role: RoleAnonymous, Topic: "public/+", Access: AccessRead, Source: "t:7"},
		{User: "carol", Topic: "#", Access: AccessRead, Source: "t:8"},
		{User: "carol", Topic: "logs/%u", Access: AccessRead, Deny: true, Source: "t:9"},
		{Role: RoleService, Topic: "private/#", Access: AccessRead, Deny: true, Source: "t:10"},
	}
}

func TestACL_CanPublish(t *testing.T) {
	a := mustACL(t, homeRules()...)
	for _, tc := range []struct {
		s     Subject
		topic string
		want  bool
	}{
		{bob, "devices/bob/state", true},
		{bob, "devices/bob", true}, // "#" matches the parent level
		{bob, "devices/bob/a/b/c", true},
		{bob, "devices/carol/state", false},
		{bob, "devices/bobby/state", false},
		{bob, "clients/bob-1/x", true},
		{bob, "clients/bob-1/x/y", false},
		{bob, "clients/bob-2/x", false},
		{bob, "home/kitchen/light/set", true},
		{bob, "home/kitchen/light", false}, // read only
		{bob, "home/secret/light/set", false},
		{carol, "home/kitchen/light/set", false},
		{bob, "devices/bob/+", false}, // not a topic name
		{bob, "devices/bob/#", false},
		{bob, "", false},
		{bob, "devices/bob/\x00", false},
		{anon, "public/x", false},
		{admin, "anything/at/all", true},
		{admin, "home/secret/x", false}, // deny wins over built-ins
		{service, "anything", true},
		{service, "home/secret/x", false},
		{admin, "$SYS/broker/x", false}, // nobody publishes to "$"
		{service, "$SYS/x", false},
		{admin, "$status/x", false},
		{Subject{Username: "x", ClientID: "display"}, "$status/x", false},
	} {
		if got := a.CanPublish(tc.s, tc.topic); got != tc.want {
			t.Errorf("CanPublish(%s/%s, %q) = %v, want %v", tc.s.Username, tc.s.ClientID, tc.topic, got, tc.want)
		}
	}
}

func TestACL_CanRead(t *testing.T) {
	a := mustACL(t, homeRules()...)
	display := Subject{Username: "panel", Role: RoleDevice, ClientID: "display"}
	for _, tc := range []struct {
		s     Subject
		topic string
		want  bool
	}{
		{bob, "devices/bob/cmd", true},
		{bob, "devices/carol/cmd", false},
		{bob, "clients/bob-1/x", false}, // write only
		{bob, "home/kitchen/temp", true},
		{bob, "home", true},
		{bob, "home/secret", false},
		{bob, "home/secret/x", false},
		{bob, "homes/x", false},
		{anon, "home/x", true}, // rule with no user or role matches anyone
		{anon, "public/x", true},
		{anon, "public/x/y", false},
		{anon, "devices//x", false},
		{carol, "anything", true},
		{carol, "logs/carol", false},
		{carol, "logs/bob", true},
		{carol, "$SYS/broker/uptime", false}, // "#" never reaches "$"; $SYS is admin/service only
		{carol, "$status/x", false},
		{display, "$status/x", true},
		{display, "$SYS/x", false},
		{admin, "$SYS/broker/uptime", true},
		{admin, "$status/x", true},
		{admin, "home/secret/x", false},
		{service, "$SYS/broker/uptime", true},
		{service, "private/x", false},
		{service, "anything/else", true},
		{bob, "home/+", false},
		{bob, "", false},
	} {
		if got := a.CanRead(tc.s, tc.topic); got != tc.want {
			t.Errorf("CanRead(%s/%s, %q) = %v, want %v", tc.s.Username, tc.s.ClientID, tc.topic, got, tc.want)
		}
	}
	// Even a rule naming $SYS cannot open it to a device.
	b := mustACL(t, Rule{Topic: "$SYS/#", Access: AccessRead})
	if b.CanRead(bob, "$SYS/broker/uptime") || b.CanSubscribe(bob, "$SYS/#") {
		t.Error("device reads $SYS through a rule")
	}
	if b.CanRead(bob, "$SYSTEM/x") {
		t.Error(`device reads "$SYSTEM/x" (it starts with "$SYS")`)
	}
}

func TestACL_CanSubscribe(t *testing.T) {
	a := mustACL(t, homeRules()...)
	for _, tc := range []struct {
		s      Subject
		filter string
		want   bool
	}{
		{bob, "devices/bob/#", true},
		{bob, "devices/bob/+", true},
		{bob, "devices/bob", true},
		{bob, "devices/+/#", false}, // wider than the rule
		{bob, "devices/#", false},
		{bob, "home/#", false},      // overlaps home/secret/#
		{bob, "home/+/temp", false}, // home/secret/temp is denied
		{bob, "home/kitchen/+", true},
		{bob, "home/+", false}, // home/secret
		{bob, "home/kitchen/#", true},
		{bob, "home/secret/#", false},
		{bob, "home/+/x/#", false},
		{bob, "home/kitchen/x/#", true},
		{bob, "#", false},
		{bob, "+/kitchen", false},
		{bob, "$share/g/home/kitchen/temp", true},
		{bob, "$share/g/devices/bob/#", true},
		{bob, "$share/g/home/#", false},
		{bob, "$share/g", false},
		{bob, "$share//home/x", false},
		{bob, "$share/g+/home/x", false},
		{bob, "$share/g/", false},
		{bob, "home/#/x", false}, // malformed
		{bob, "home/x+", false},
		{bob, "", false},
		{anon, "public/+", true},
		{anon, "public/#", false},
		{carol, "#", false}, // overlaps logs/carol
		{carol, "+/bob", true},
		{carol, "logs/+", false},
		{carol, "logs/bob", true},
		{carol, "+", true},
		{carol, "+/+/#", false},
		{carol, "$SYS/#", false},
		{carol, "$status/#", false}, // "#" rule does not cover "$" topics
		{Subject{Username: "p", Role: RoleDevice, ClientID: "display"}, "$status/+", true},
		{admin, "#", false}, // a deny rule overlaps
		{admin, "$SYS/#", true},
		{admin, "kitchen/#", true},
		{service, "$SYS/broker/+", true},
		{service, "private/+", false},
		{service, "+/x", false}, // overlaps private/x
		{service, "devices/#", true},
	} {
		if got := a.CanSubscribe(tc.s, tc.filter); got != tc.want {
			t.Errorf("CanSubscribe(%s/%s, %q) = %v, want %v", tc.s.Username, tc.s.ClientID, tc.filter, got, tc.want)
		}
	}
}

// TestACL_Substitution checks that a username or client id cannot widen
// the rule it is substituted into.
func TestACL_Substitution(t *testing.T) {
	a := mustACL(t,
		Rule{Topic: "u/%u/#", Access: AccessReadWrite},
		Rule{Topic: "c/%c", Access: AccessReadWrite},
		Rule{Topic: "%c/x", Access: AccessReadWrite},
		Rule{Topic: "m/pre-%u-%c-suf", Access: AccessReadWrite},
	)
	s := func(user, client string) Subject { return Subject{Username: user, Role: RoleDevice, ClientID: client} }
	for _, tc := range []struct {
		s         Subject
		op, topic string
		want      bool
	}{
		{s("bob", "c1"), "pub", "u/bob/x", true},
		{s("bob", "c1"), "pub", "c/c1", true},
		{s("bob", "c1"), "pub", "c1/x", true},
		{s("bob", "c1"), "pub", "m/pre-bob-c1-suf", true},
		{s("bob", "c1"), "pub", "m/pre-bob-c1-su", false},
		{s("bob", "c1"), "pub", "m/pre-bobc1-suf", false},
		{s("bob", "c1"), "sub", "m/pre-bob-c1-suf", true},
		{s("bob", "c1"), "sub", "m/+", false},
		{s("bob", "c1"), "sub", "u/bob/#", true},
		{s("bob", "c1"), "sub", "u/+/#", false},
		{s("bob", "+"), "pub", "c/+", false},
		{s("bob", "+"), "sub", "c/+", false},
		{s("bob", "#"), "sub", "c/#", false},
		{s("bob", "#"), "sub", "#/x", false},
		{s("bob", "a/b"), "pub", "c/a/b", false},
		{s("bob", "a/b"), "pub", "a/b/x", false},
		{s("bob", ""), "pub", "c/", false},
		{s("bob", ""), "pub", "/x", false},
		{s("bob", "$SYS"), "sub", "$SYS/x", false},
		{s("bob", "$foo"), "read", "$foo/x", false}, // a leading %c must not reach "$" topics
		{s("bob", "$foo"), "read", "c/$foo", true},
		{s("", "c1"), "pub", "u//x", false},
		{s("a+b", "c1"), "pub", "u/a+b/x", false},
		{s("bob", "c1\x00"), "pub", "c/c1\x00", false},
	} {
		var got bool
		switch tc.op {
		case "pub":
			got = a.CanPublish(tc.s, tc.topic)
		case "sub":
			got = a.CanSubscribe(tc.s, tc.topic)
		case "read":
			got = a.CanRead(tc.s, tc.topic)
		}
		if got != tc.want {
			t.Errorf("%s(%q/%q, %q) = %v, want %v", tc.op, tc.s.Username, tc.s.ClientID, tc.topic, got, tc.want)
		}
	}

	// A deny rule with a bad substitution does not match either: it
	// neither blocks nor grants.
	d := mustACL(t,
		Rule{Topic: "x/#", Access: AccessRead},
		Rule{Topic: "x/%c", Access: AccessRead, Deny: true},
	)
	if !d.CanRead(s("bob", "a/b"), "x/a/b") {
		t.Error("deny rule with an unusable client id matched")
	}
	if d.CanRead(s("bob", "c1"), "x/c1") {
		t.Error("deny rule with a client id substitution did not match")
	}
}

func TestACL_Nil(t *testing.T) {
	var a *ACL
	if a.CanRead(bob, "x") || a.CanPublish(bob, "x") || a.CanSubscribe(bob, "x") {
		t.Error("nil ACL grants a device access")
	}
	if !a.CanRead(admin, "$SYS/x") || !a.CanPublish(service, "x") || !a.CanSubscribe(admin, "#") {
		t.Error("nil ACL takes built-in access away")
	}
	if a.Rules() != nil {
		t.Error("nil ACL has rules")
	}
}

// TestPattern_CoversOverlaps tests the filter algebra directly.
func TestPattern_CoversOverlaps(t *testing.T) {
	s := Subject{Username: "u", ClientID: "c"}
	for _, tc := range []struct {
		pattern, filter string
		covers, overlap bool
	}{
		{"#", "#", true, true},
		{"#", "a/b", true, true},
		{"#", "+/+", true, true},
		{"#", "$SYS/#", false, false},
		{"#", "$x", false, false},
		{"+/#", "$x/y", false, false},
		{"+", "$x", false, false},
		{"+", "+", true, true},
		{"$x/#", "#", false, false},
		{"$x/#", "+/y", false, false},
		{"$x/#", "$x", true, true},
		{"$x/+", "$x/#", false, true},
		{"a/#", "a", true, true},
		{"a/#", "a/#", true, true},
		{"a/#", "#", false, true},
		{"a/#", "+", false, true},
		{"a/#", "+/+/c", false, true},
		{"a/#", "b/#", false, false},
		{"a/+/c", "a/#", false, true},
		{"a/+/c", "a/b/c", true, true},
		{"a/+/c", "a/+/c", true, true},
		{"a/+/c", "a/+/d", false, false},
		{"a/+/c", "a/+", false, false},
		{"a/+/#", "a/+", true, true},
		{"a/+/#", "a/#", false, true},
		{"a", "a/#", false, true},
		{"a", "a/+", false, false},
		{"a/b", "a", false, false},
		{"a", "+", false, true},
		{"a//b", "a/+/b", false, true},
		{"a/+/b", "a//b", true, true},
		{"%u/%c", "u/c", true, true},
		{"%u/%c", "u/+", false, true},
		{"%u/%c", "+/#", false, true},
		{"%u/%c", "x/c", false, false},
		{"p%uq", "puq", true, true},
		{"p%uq", "pq", false, false},
		{"$%u", "$u", true, true},
		{"$%u", "+", false, false},
		{"$%u", "#", false, false},
	} {
		p, err := compilePattern(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := splitFilter(tc.filter)
		if !ok {
			t.Fatalf("bad filter %q", tc.filter)
		}
		b := binding{s: &s}
		if got := p.covers(f, &b); got != tc.covers {
			t.Errorf("%q covers %q = %v, want %v", tc.pattern, tc.filter, got, tc.covers)
		}
		if got := p.overlaps(f, &b); got != tc.overlap {
			t.Errorf("%q overlaps %q = %v, want %v", tc.pattern, tc.filter, got, tc.overlap)
		}
	}
}

func TestACL_CanReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	a := mustACL(t, homeRules()...)
	for _, topic := range []string{"devices/bob/cmd", "home/kitchen/temp", "nothing/here", "$SYS/x"} {
		if n := testing.AllocsPerRun(100, func() { a.CanRead(bob, topic) }); n != 0 {
			t.Errorf("CanRead(%q): %v allocations, want 0", topic, n)
		}
	}
}

func BenchmarkACL_CanRead(b *testing.B) {
	a := mustACL(b, homeRules()...)
	for b.Loop() {
		a.CanRead(bob, "home/kitchen/temperature")
	}
}
