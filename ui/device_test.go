package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"hubd/devices"
)

func testDevice(id string, st devices.Status) devices.Device {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return devices.Device{
		ID: id, Identifiers: []string{"0x00158d0001"}, Name: "Kitchen plug", Manufacturer: "Acme",
		Status: st, Entities: []string{"switch.kitchen_plug"}, CreatedAt: now, UpdatedAt: now,
	}
}

func TestDeviceList(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		want := []devices.Device{testDevice("a", devices.StatusPaired), testDevice("b", devices.StatusPending)}
		s.Devices.FindDevicesFn = func(_ context.Context, f devices.DeviceFilter) ([]devices.Device, error) {
			if f.Status != nil {
				t.Errorf("filter status = %q, want none", *f.Status)
			}
			return want, nil
		}
		var got []devices.Device
		MustDecode(t, s.Call(t, "GET", "/api/devices", ""), http.StatusOK, &got)
		if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || got[0].Name != "Kitchen plug" ||
			!got[0].CreatedAt.Equal(want[0].CreatedAt) || got[0].Status != devices.StatusPaired {
			t.Errorf("devices = %+v", got)
		}
	})

	t.Run("OKStatus", func(t *testing.T) {
		s := MustOpenServer(t)
		for _, st := range []devices.Status{devices.StatusPending, devices.StatusPaired, devices.StatusIgnored} {
			s.Devices.FindDevicesFn = func(_ context.Context, f devices.DeviceFilter) ([]devices.Device, error) {
				if f.Status == nil || *f.Status != st {
					t.Errorf("filter status = %v, want %q", f.Status, st)
				}
				return []devices.Device{testDevice("a", st)}, nil
			}
			var got []devices.Device
			MustDecode(t, s.Call(t, "GET", "/api/devices?status="+string(st), ""), http.StatusOK, &got)
		}
	})

	t.Run("OKEmpty", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Devices.FindDevicesFn = func(context.Context, devices.DeviceFilter) ([]devices.Device, error) { return nil, nil }
		resp := s.Call(t, "GET", "/api/devices", "")
		if got, want := strings.TrimSpace(string(resp.Body)), "[]"; resp.Status != http.StatusOK || got != want {
			t.Errorf("status %d, body %s; want 200, %s", resp.Status, got, want)
		}
	})

	t.Run("ErrStatusInvalid", func(t *testing.T) {
		s := MustOpenServer(t) // FindDevices must not be reached
		for _, q := range []string{"status=", "status=PAIRED", "status=bogus"} {
			msg := MustError(t, s.Call(t, "GET", "/api/devices?"+q, ""), http.StatusBadRequest, devices.EINVALID)
			if !strings.Contains(msg, "pending, paired or ignored") {
				t.Errorf("%s: message %q does not name the statuses", q, msg)
			}
		}
	})

	t.Run("ErrInternal", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Devices.FindDevicesFn = func(context.Context, devices.DeviceFilter) ([]devices.Device, error) {
			return nil, context.DeadlineExceeded
		}
		MustError(t, s.Call(t, "GET", "/api/devices", ""), http.StatusInternalServerError, devices.EINTERNAL)
	})
}

func TestDeviceView(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Devices.FindDeviceFn = func(_ context.Context, id string) (devices.Device, error) {
			return testDevice(id, devices.StatusPending), nil
		}
		var got devices.Device
		MustDecode(t, s.Call(t, "GET", "/api/devices/zigbee_0x00158d0001", ""), http.StatusOK, &got)
		if got.ID != "zigbee_0x00158d0001" || got.Status != devices.StatusPending {
			t.Errorf("device = %+v", got)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Devices.FindDeviceFn = func(_ context.Context, id string) (devices.Device, error) {
			return devices.Device{}, devices.Errorf(devices.ENOTFOUND, "Device %q not found.", id)
		}
		if got, want := MustError(t, s.Call(t, "GET", "/api/devices/nope", ""), http.StatusNotFound, devices.ENOTFOUND), `Device "nope" not found.`; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	})
}

// TestDeviceChange covers pair, unpair and ignore.
func TestDeviceChange(t *testing.T) {
	for _, tc := range []struct {
		action string
		status devices.Status
		set    func(*DeviceService, func(context.Context, string) (devices.Device, error))
	}{
		{"pair", devices.StatusPaired, func(d *DeviceService, f func(context.Context, string) (devices.Device, error)) { d.PairFn = f }},
		{"unpair", devices.StatusPending, func(d *DeviceService, f func(context.Context, string) (devices.Device, error)) { d.UnpairFn = f }},
		{"ignore", devices.StatusIgnored, func(d *DeviceService, f func(context.Context, string) (devices.Device, error)) { d.IgnoreFn = f }},
	} {
		t.Run("OK_"+tc.action, func(t *testing.T) {
			s := MustOpenServer(t)
			tc.set(&s.Devices, func(_ context.Context, id string) (devices.Device, error) {
				if id != "plug_1" {
					t.Errorf("id = %q", id)
				}
				return testDevice(id, tc.status), nil
			})
			var got devices.Device
			MustDecode(t, s.Call(t, "POST", "/api/devices/plug_1/"+tc.action, ""), http.StatusOK, &got)
			if got.ID != "plug_1" || got.Status != tc.status {
				t.Errorf("device = %+v", got)
			}
			if logs := s.Logs.String(); !strings.Contains(logs, "device=plug_1") || !strings.Contains(logs, "by="+adminUser) {
				t.Errorf("change not audited:\n%s", logs)
			}
		})

		t.Run("ErrNotFound_"+tc.action, func(t *testing.T) {
			s := MustOpenServer(t)
			tc.set(&s.Devices, func(context.Context, string) (devices.Device, error) {
				return devices.Device{}, devices.Errorf(devices.ENOTFOUND, "Device not found.")
			})
			MustError(t, s.Call(t, "POST", "/api/devices/nope/"+tc.action, ""), http.StatusNotFound, devices.ENOTFOUND)
		})
	}

	t.Run("OKServiceToken", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Devices.PairFn = func(_ context.Context, id string) (devices.Device, error) {
			return testDevice(id, devices.StatusPaired), nil
		}
		req := s.Request(t, "POST", "/api/devices/plug_1/pair", "")
		req.Header.Set("Authorization", "Bearer "+serviceToken)
		var got devices.Device
		MustDecode(t, s.Do(t, req), http.StatusOK, &got)
		if logs := s.Logs.String(); !strings.Contains(logs, "by=ci by_kind=token") {
			t.Errorf("change not audited with the token:\n%s", logs)
		}
	})
}

func TestDeviceDelete(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpenServer(t)
		var deleted string
		s.Devices.DeleteDeviceFn = func(_ context.Context, id string) error {
			deleted = id
			return nil
		}
		resp := s.Call(t, "DELETE", "/api/devices/plug_1", "")
		if resp.Status != http.StatusNoContent || len(resp.Body) != 0 {
			t.Errorf("status %d, body %q; want 204, none", resp.Status, resp.Body)
		}
		if deleted != "plug_1" {
			t.Errorf("deleted %q", deleted)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := MustOpenServer(t)
		s.Devices.DeleteDeviceFn = func(context.Context, string) error {
			return devices.Errorf(devices.ENOTFOUND, "Device not found.")
		}
		MustError(t, s.Call(t, "DELETE", "/api/devices/nope", ""), http.StatusNotFound, devices.ENOTFOUND)
	})
}
