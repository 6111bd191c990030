package ui_test

import (
	"context"
	"time"

	"hubd/devices"
	"hubd/ui"
)

// Mocks: each method calls the function field of the same name, so a test
// sets only what it expects to be called (any other call panics, and the
// request fails).

var _ devices.DeviceService = (*DeviceService)(nil)

// DeviceService is a mock devices.DeviceService.
type DeviceService struct {
	FindDevicesFn  func(ctx context.Context, filter devices.DeviceFilter) ([]devices.Device, error)
	FindDeviceFn   func(ctx context.Context, id string) (devices.Device, error)
	PairFn         func(ctx context.Context, id string) (devices.Device, error)
	UnpairFn       func(ctx context.Context, id string) (devices.Device, error)
	IgnoreFn       func(ctx context.Context, id string) (devices.Device, error)
	DeleteDeviceFn func(ctx context.Context, id string) error
}

func (s *DeviceService) FindDevices(ctx context.Context, filter devices.DeviceFilter) ([]devices.Device, error) {
	return s.FindDevicesFn(ctx, filter)
}

func (s *DeviceService) FindDevice(ctx context.Context, id string) (devices.Device, error) {
	return s.FindDeviceFn(ctx, id)
}

func (s *DeviceService) Pair(ctx context.Context, id string) (devices.Device, error) {
	return s.PairFn(ctx, id)
}

func (s *DeviceService) Unpair(ctx context.Context, id string) (devices.Device, error) {
	return s.UnpairFn(ctx, id)
}

func (s *DeviceService) Ignore(ctx context.Context, id string) (devices.Device, error) {
	return s.IgnoreFn(ctx, id)
}

func (s *DeviceService) DeleteDevice(ctx context.Context, id string) error {
	return s.DeleteDeviceFn(ctx, id)
}

var _ devices.EntityService = (*EntityService)(nil)

// EntityService is a mock devices.EntityService.
type EntityService struct {
	FindEntitiesFn func(ctx context.Context) ([]devices.EntityView, error)
	FindEntityFn   func(ctx context.Context, id string) (devices.EntityView, error)
}

func (s *EntityService) FindEntities(ctx context.Context) ([]devices.EntityView, error) {
	return s.FindEntitiesFn(ctx)
}

func (s *EntityService) FindEntity(ctx context.Context, id string) (devices.EntityView, error) {
	return s.FindEntityFn(ctx, id)
}

var _ devices.CommandService = (*CommandService)(nil)

// CommandService is a mock devices.CommandService.
type CommandService struct {
	SendFn        func(ctx context.Context, entityID string, req devices.CommandRequest) (devices.Command, error)
	FindCommandFn func(ctx context.Context, id string) (devices.Command, error)
}

func (s *CommandService) Send(ctx context.Context, entityID string, req devices.CommandRequest) (devices.Command, error) {
	return s.SendFn(ctx, entityID, req)
}

func (s *CommandService) FindCommand(ctx context.Context, id string) (devices.Command, error) {
	return s.FindCommandFn(ctx, id)
}

var _ devices.NetworkService = (*NetworkService)(nil)

// NetworkService is a mock devices.NetworkService.
type NetworkService struct {
	CandidatesFn func(ctx context.Context) ([]devices.Candidate, error)
}

func (s *NetworkService) Candidates(ctx context.Context) ([]devices.Candidate, error) {
	return s.CandidatesFn(ctx)
}

var _ ui.PairingWindow = (*PairingWindow)(nil)

// PairingWindow is a mock ui.PairingWindow.
type PairingWindow struct {
	OpenPairingWindowFn func(ctx context.Context, d time.Duration) (time.Time, error)
}

func (p *PairingWindow) OpenPairingWindow(ctx context.Context, d time.Duration) (time.Time, error) {
	return p.OpenPairingWindowFn(ctx, d)
}

var _ ui.Authenticator = (*Authenticator)(nil)

// Authenticator is a mock ui.Authenticator.
type Authenticator struct {
	AuthenticateBasicFn func(ctx context.Context, user, password string) (ui.Principal, error)
	AuthenticateTokenFn func(ctx context.Context, token string) (ui.Principal, error)
}

func (a *Authenticator) AuthenticateBasic(ctx context.Context, user, password string) (ui.Principal, error) {
	return a.AuthenticateBasicFn(ctx, user, password)
}

func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (ui.Principal, error) {
	return a.AuthenticateTokenFn(ctx, token)
}
