package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Access is what a rule grants or denies: reading (subscribing and
// receiving), writing (publishing), or both.
type Access int

// Access values; AccessReadWrite is AccessRead|AccessWrite.
const (
	AccessRead      Access = 1
	AccessWrite     Access = 2
	AccessReadWrite Access = AccessRead | AccessWrite
)

// ParseAccess parses "read", "write" or "readwrite".
func ParseAccess(s string) (Access, error) {
	switch s {
	case "read":
		return AccessRead, nil
	case "write":
		return AccessWrite, nil
	case "readwrite":
		return AccessReadWrite, nil
	}
	return 0, fmt.Errorf("unknown access %q (want read, write or readwrite)", s)
}

// String returns the name ParseAccess accepts.
func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessReadWrite:
		return "readwrite"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Rule grants (or, with Deny, takes away) access to the topics matching
// Topic, for the clients matching User, Role and Client.
type Rule struct {
	User   string // match this username exactly ("" = any)
	Role   Role   // match this role ("" = any)
	Client string // match this client id exactly ("" = any)
	// Topic is an MQTT topic filter ("+" one level, "#" the rest) in which
	// %u stands for the username and %c for the client id. A rule whose
	// %u or %c would be empty or contain "+", "#" or "/" does not match.
	Topic  string
	Access Access
	Deny   bool   // a matching deny rule wins over allow rules
	Source string // where the rule came from, e.g. "hubd.yaml:42"
}

// Subject is who is asking: the authenticated user, its role and the
// client id it connected with.
type Subject struct {
	Username string
	Role     Role
	ClientID string
}

// ACL decides what a Subject may publish and subscribe to. It is immutable
// and safe for concurrent use. A nil *ACL has no rules: only the built-in
// permissions apply.
//
// Deny by default. On top of the rules: admin reads and writes everything;
// service reads everything and writes everything but "$" topics; nobody
// publishes to a topic starting with "$"; topics starting with "$SYS" are
// readable by admin and service only; a matching deny rule wins over
// everything else, built-in grants included.
type ACL struct {
	rules                 []Rule
	readAllow, readDeny   []*compiledRule
	writeAllow, writeDeny []*compiledRule
}

type compiledRule struct {
	Rule
	pat pattern
}

// NewACL checks and compiles rules. The error names the offending rule's
// Source (or its position when Source is empty).
func NewACL(rules []Rule) (*ACL, error) {
	a := &ACL{rules: append([]Rule(nil), rules...)}
	for i, r := range rules {
		src := r.Source
		if src == "" {
			src = fmt.Sprintf("#%d", i+1)
		}
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("acl rule %s: %w", src, err)
		}
		switch {
		case r.Deny:
			if r.Access&AccessRead != 0 {
				a.readDeny = append(a.readDeny, cr)
			}
			if r.Access&AccessWrite != 0 {
				a.writeDeny = append(a.writeDeny, cr)
			}
		default:
			if r.Access&AccessRead != 0 {
				a.readAllow = append(a.readAllow, cr)
			}
			if r.Access&AccessWrite != 0 {
				a.writeAllow = append(a.writeAllow, cr)
			}
		}
	}
	return a, nil
}

func compileRule(r Rule) (*compiledRule, error) {
	switch r.Access {
	case AccessRead, AccessWrite, AccessReadWrite:
	case 0:
		return nil, errors.New("access not set (want read, write or readwrite)")
	default:
		return nil, fmt.Errorf("bad access %d (want read, write or readwrite)", int(r.Access))
	}
	switch r.Role {
	case "", RoleAdmin, RoleService, RoleDevice, RoleAnonymous:
	default:
		return nil, fmt.Errorf("unknown role %q (want admin, service, device or anonymous)", r.Role)
	}
	if r.User != "" {
		if err := validateName(r.User); err != nil {
			return nil, err
		}
	}
	p, err := compilePattern(r.Topic)
	if err != nil {
		return nil, fmt.Errorf("topic %w", err)
	}
	return &compiledRule{Rule: r, pat: p}, nil
}

// Rules returns a copy of the rules the ACL was made from.
func (a *ACL) Rules() []Rule {
	if a == nil {
		return nil
	}
	return append([]Rule(nil), a.rules...)
}

// CanPublish reports whether s may publish to the topic name topic.
func (a *ACL) CanPublish(s Subject, topic string) bool {
	if !validTopicName(topic) || topic[0] == '$' {
		return false
	}
	var allow, deny []*compiledRule
	if a != nil {
		allow, deny = a.writeAllow, a.writeDeny
	}
	b := binding{s: &s}
	for _, r := range deny {
		if r.applies(&b) && r.pat.matchTopic(topic, &b) {
			return false
		}
	}
	if s.Role.privileged() {
		return true
	}
	for _, r := range allow {
		if r.applies(&b) && r.pat.matchTopic(topic, &b) {
			return true
		}
	}
	return false
}

// PrivatePrefix starts the topics the hub uses to talk to itself through
// the broker (its health check, discarded Wills). No client may read or
// write them, whatever its role.
const PrivatePrefix = "$hubd/"

// CanRead reports whether a message published to topic may be delivered
// to s. It runs for every delivery and does not allocate.
func (a *ACL) CanRead(s Subject, topic string) bool {
	if !validTopicName(topic) {
		return false
	}
	if strings.HasPrefix(topic, "$SYS") && !s.Role.privileged() || strings.HasPrefix(topic, PrivatePrefix) {
		return false
	}
	var allow, deny []*compiledRule
	if a != nil {
		allow, deny = a.readAllow, a.readDeny
	}
	b := binding{s: &s}
	for _, r := range deny {
		if r.applies(&b) && r.pat.matchTopic(topic, &b) {
			return false
		}
	}
	if s.Role.privileged() {
		return true
	}
	for _, r := range allow {
		if r.applies(&b) && r.pat.matchTopic(topic, &b) {
			return true
		}
	}
	return false
}

// CanSubscribe reports whether s may subscribe to filter, which may hold
// wildcards and a "$share/<group>/" prefix (stripped before checking). It
// is allowed only if a single allow rule covers every topic the filter
// matches and no deny rule matches any of them.
func (a *ACL) CanSubscribe(s Subject, filter string) bool {
	f, ok := stripShare(filter)
	if !ok {
		return false
	}
	levels, ok := splitFilter(f)
	if !ok {
		return false
	}
	if strings.HasPrefix(f, "$SYS") && !s.Role.privileged() || strings.HasPrefix(f, PrivatePrefix) {
		return false
	}
	var allow, deny []*compiledRule
	if a != nil {
		allow, deny = a.readAllow, a.readDeny
	}
	b := binding{s: &s}
	for _, r := range deny {
		if r.applies(&b) && r.pat.overlaps(levels, &b) {
			return false
		}
	}
	if s.Role.privileged() {
		return true
	}
	for _, r := range allow {
		if r.applies(&b) && r.pat.covers(levels, &b) {
			return true
		}
	}
	return false
}

// applies reports whether r is about the subject in b, including whether
// its %u and %c can be substituted safely.
func (r *compiledRule) applies(b *binding) bool {
	s := b.s
	if r.User != "" && r.User != s.Username {
		return false
	}
	if r.Role != "" && r.Role != s.Role {
		return false
	}
	if r.Client != "" && r.Client != s.ClientID {
		return false
	}
	if r.pat.vars&varUser != 0 && !b.ok(varUser) {
		return false
	}
	if r.pat.vars&varClient != 0 && !b.ok(varClient) {
		return false
	}
	// A substitution at the very start must not turn the pattern into a
	// "$" topic that wildcards could never reach.
	if r.pat.leadVar != 0 && b.value(r.pat.leadVar)[0] == '$' {
		return false
	}
	return true
}

// stripShare removes a "$share/<group>/" prefix. It reports false for a
// malformed shared subscription.
func stripShare(filter string) (string, bool) {
	rest, ok := strings.CutPrefix(filter, "$share/")
	if !ok {
		return filter, true
	}
	group, f, ok := strings.Cut(rest, "/")
	if !ok || group == "" || strings.ContainsAny(group, "+#") || f == "" {
		return "", false
	}
	return f, true
}

// isFilter reports whether topic is a subscription filter rather than a
// topic name.
func isFilter(topic string) bool {
	return strings.ContainsAny(topic, "+#") || strings.HasPrefix(topic, "$share/")
}
