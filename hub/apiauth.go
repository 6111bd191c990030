package hub

import (
	"context"
	"errors"

	"hubd/devices"
	"hubd/hub/auth"
	"hubd/ui"
)

// apiAuth checks HTTP API credentials against the user and token stores.
type apiAuth struct{ users *auth.Store }

func (a apiAuth) AuthenticateBasic(ctx context.Context, name, pw string) (ui.Principal, error) {
	u, err := a.users.Verify(ctx, name, pw)
	if errors.Is(err, auth.ErrBadPassword) {
		return ui.Principal{}, devices.Errorf(devices.EUNAUTHORIZED, "Invalid credentials.")
	} else if err != nil {
		return ui.Principal{}, err
	}
	return ui.Principal{Name: u.Name, Role: string(u.Role), Kind: ui.KindUser}, nil
}

func (a apiAuth) AuthenticateToken(ctx context.Context, secret string) (ui.Principal, error) {
	t, err := a.users.VerifyToken(ctx, secret)
	if errors.Is(err, auth.ErrBadPassword) {
		return ui.Principal{}, devices.Errorf(devices.EUNAUTHORIZED, "Invalid credentials.")
	} else if err != nil {
		return ui.Principal{}, err
	}
	return ui.Principal{Name: t.Name, Role: string(t.Role), Kind: ui.KindToken}, nil
}

// noNetwork is the NetworkService while mDNS is off.
type noNetwork struct{}

func (noNetwork) Candidates(context.Context) ([]devices.Candidate, error) {
	return []devices.Candidate{}, nil
}
