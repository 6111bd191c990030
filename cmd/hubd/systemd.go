package main

import (
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifier reports the service's state to systemd. Outside systemd (no
// NOTIFY_SOCKET) every call is a no-op.
type notifier struct {
	log *slog.Logger
}

func newNotifier(log *slog.Logger) *notifier { return &notifier{log: log} }

func (n *notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("systemd notify failed", "state", state, "error", err)
	}
}

func (n *notifier) ready(status string) { n.send(daemon.SdNotifyReady + "\nSTATUS=" + status) }
func (n *notifier) status(status string) {
	n.send("STATUS=" + status)
}
func (n *notifier) stopping() { n.send(daemon.SdNotifyStopping + "\nSTATUS=stopping") }
func (n *notifier) watchdog() { n.send(daemon.SdNotifyWatchdog) }

// watchdogInterval is half of systemd's WatchdogSec, or 0 when the
// watchdog is off.
func (n *notifier) watchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("systemd watchdog settings unreadable", "error", err)
		return 0
	}
	return d / 2
}
