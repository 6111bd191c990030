package auth

import (
	"strconv"
	"strings"
	"testing"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/.

// FuzzValidatePattern checks that ValidatePattern never panics, that its
// errors quote the pattern, and that a valid pattern, once substituted,
// is a filter that the pattern's own rule lets a device subscribe to.
func FuzzValidatePattern(f *testing.F) {
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidatePattern(p)
		if err != nil {
			if len(p) <= maxTopicLen && !strings.HasPrefix(err.Error(), strconv.Quote(p)+": ") {
				t.Fatalf("error %q does not start with the quoted pattern", err)
			}
			return
		}
		a, err := NewACL([]Rule{{Topic: p, Access: AccessReadWrite}})
		if err != nil {
			t.Fatalf("ValidatePattern accepted %q but NewACL: %v", p, err)
		}
		s := Subject{Username: "u", Role: RoleDevice, ClientID: "c"}
		filter := substitute(p, s.Username, s.ClientID)
		if strings.HasPrefix(filter, "$SYS") {
			return
		}
		if !a.CanSubscribe(s, filter) {
			t.Fatalf("pattern %q does not cover its own filter %q", p, filter)
		}
		if !strings.ContainsAny(filter, "+#") {
			if !a.CanRead(s, filter) {
				t.Fatalf("pattern %q does not match its own topic %q", p, filter)
			}
			if want := filter[0] != '$'; a.CanPublish(s, filter) != want {
				t.Fatalf("CanPublish(%q) = %v under pattern %q", filter, !want, p)
			}
		}
	})
}

// FuzzCanSubscribe checks the ACL against a naive reference: with one
// allow and one deny rule, CanRead and CanPublish must agree with matching
// the substituted patterns by hand, and whatever CanSubscribe allows must
// only ever deliver topics that CanRead allows.
func FuzzCanSubscribe(f *testing.F) {
	f.Fuzz(func(t *testing.T, allow, deny, filter, topic, client string) {
		a, err := NewACL([]Rule{
			{Topic: allow, Access: AccessReadWrite},
			{Topic: deny, Access: AccessRead, Deny: true},
		})
		if err != nil {
			return
		}
		s := Subject{Username: "u", Role: RoleDevice, ClientID: client}
		topicOK := validTopicName(topic)

		allowApplies, allowSubst := refApply(allow, s)
		denyApplies, denySubst := refApply(deny, s)
		if topicOK {
			wantRead := !strings.HasPrefix(topic, "$SYS") &&
				!(denyApplies && refMatch(denySubst, topic)) &&
				allowApplies && refMatch(allowSubst, topic)
			if got := a.CanRead(s, topic); got != wantRead {
				t.Fatalf("CanRead(%q) = %v, want %v (allow %q, deny %q, client %q)", topic, got, wantRead, allow, deny, client)
			}
			wantPub := topic[0] != '$' && allowApplies && refMatch(allowSubst, topic)
			if got := a.CanPublish(s, topic); got != wantPub {
				t.Fatalf("CanPublish(%q) = %v, want %v (allow %q, client %q)", topic, got, wantPub, allow, client)
			}
		}

		stripped, ok := stripShare(filter)
		if !ok {
			if a.CanSubscribe(s, filter) {
				t.Fatalf("CanSubscribe(%q) = true for a malformed shared filter", filter)
			}
			return
		}
		levels, validFilter := splitFilter(stripped)
		if !validFilter {
			if a.CanSubscribe(s, filter) {
				t.Fatalf("CanSubscribe(%q) = true for an invalid filter", filter)
			}
			return
		}
		if !topicOK || !refMatch(stripped, topic) {
			return
		}
		if a.CanSubscribe(s, filter) && !a.CanRead(s, topic) {
			t.Fatalf("CanSubscribe(%q) = true but CanRead(%q) = false (allow %q, deny %q, client %q)",
				filter, topic, allow, deny, client)
		}
		// The filter algebra itself, against the reference.
		b := binding{s: &s}
		for _, c := range []struct {
			pattern, subst string
			applies        bool
		}{{allow, allowSubst, allowApplies}, {deny, denySubst, denyApplies}} {
			if !c.applies {
				continue
			}
			p, err := compilePattern(c.pattern)
			if err != nil {
				t.Fatal(err)
			}
			inPattern := refMatch(c.subst, topic)
			if got := p.matchTopic(topic, &b); got != inPattern {
				t.Fatalf("%q matches %q = %v, reference says %v", c.pattern, topic, got, inPattern)
			}
			if inPattern && !p.overlaps(levels, &b) {
				t.Fatalf("%q and filter %q both match %q but overlaps = false", c.pattern, stripped, topic)
			}
			if !inPattern && p.covers(levels, &b) {
				t.Fatalf("%q covers filter %q, which matches %q, which the pattern does not", c.pattern, stripped, topic)
			}
		}
	})
}

// refApply says whether a rule pattern applies to s and returns it with
// %u and %c replaced, following the documented rules rather than the code.
func refApply(pattern string, s Subject) (bool, string) {
	for _, pair := range []struct{ seq, val string }{{"%u", s.Username}, {"%c", s.ClientID}} {
		if !strings.Contains(pattern, pair.seq) {
			continue
		}
		if pair.val == "" || strings.ContainsAny(pair.val, "+#/\x00") {
			return false, ""
		}
	}
	subst := substitute(pattern, s.Username, s.ClientID)
	if (strings.HasPrefix(pattern, "%u") || strings.HasPrefix(pattern, "%c")) && strings.HasPrefix(subst, "$") {
		return false, ""
	}
	return true, subst
}

// substitute replaces %u and %c in one pass.
func substitute(p, user, client string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+1 < len(p) && (p[i+1] == 'u' || p[i+1] == 'c') {
			if p[i+1] == 'u' {
				b.WriteString(user)
			} else {
				b.WriteString(client)
			}
			i++
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// refMatch is a naive MQTT filter match of a topic name.
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true
		}
		if i >= len(ts) {
			return false
		}
		if f != "+" && f != ts[i] {
			return false
		}
	}
	return len(fs) == len(ts)
}

func TestRefMatch(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"#", "a", true},
		{"#", "$a", false},
		{"a/#", "a", true},
		{"a/+", "a", false},
		{"a/+", "a/", true},
		{"+/+", "/", true},
		{"a", "a/b", false},
		{"$a/#", "$a/b", true},
	} {
		if got := refMatch(tc.filter, tc.topic); got != tc.want {
			t.Errorf("refMatch(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}
