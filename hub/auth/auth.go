// Package auth authenticates MQTT clients and decides what they may publish
// and subscribe to.
//
// Users and their bcrypt password hashes live in SQLite ([Store]); access
// rules come from the configuration ([ACL]); [Hook] plugs both into the
// mochi-mqtt broker. Anything no rule allows is denied.
package auth

import (
	"errors"
	"fmt"
)

// Role is what kind of client a user is. It selects built-in permissions
// and can be matched by ACL rules.
type Role string

// Roles. Admin and Service have built-in access to (nearly) everything;
// Device and Anonymous get only what ACL rules grant. Anonymous is never
// stored: it is the role of a client that connected without credentials.
const (
	RoleAdmin     Role = "admin"
	RoleService   Role = "service"
	RoleDevice    Role = "device"
	RoleAnonymous Role = "anonymous"
	// RoleOnboarding is a credential for devices being set up: it may
	// connect and publish discovery configurations only while the pairing
	// window is open (hubd pair --for 5m), and nothing else.
	RoleOnboarding Role = "onboarding"
)

// ParseRole parses the role of a stored user: "admin", "service",
// "onboarding" or
// "device". Anonymous is not a role a user can have.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleService, RoleDevice, RoleOnboarding:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want admin, service, device or onboarding)", s)
}

// privileged reports whether r has built-in access to all non-$ topics.
func (r Role) privileged() bool { return r == RoleAdmin || r == RoleService }

// Errors returned by Store; test with errors.Is.
var (
	// ErrNotFound means the named user does not exist.
	ErrNotFound = errors.New("user not found")
	// ErrExists means a user of that name already exists.
	ErrExists = errors.New("user already exists")
	// ErrBadPassword means the user is unknown or the password is wrong;
	// the two cases are deliberately indistinguishable.
	ErrBadPassword = errors.New("bad username or password")
)
