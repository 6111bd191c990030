// Package mdns advertises the hub on the LAN and lists devices that
// announce themselves over mDNS.
//
// A Service registers three DNS-SD services under one instance name
// ("hubd on <hostname>" by default): _mqtt._tcp on the MQTT port,
// _mqtts._tcp on the MQTT-over-TLS port when TLS is on, and _hubd._tcp,
// whose TXT records say version=, ui=http://<host>.local:<port>/ (when
// the hub serves HTTP), mqtt= and mqtts=. It also browses continuously
// for the device service types in Options.BrowseServices and keeps a
// table of what answered: a devices.Candidate per (service, instance),
// dropped once its TTL ran out or it has not been seen for
// Options.StaleAfter.
//
// Everything read from the network (instance and host names, TXT keys
// and values) is untrusted: it is unescaped, made valid UTF-8 without
// control characters, truncated (255 bytes a value, 64 TXT entries,
// Options.MaxCandidates entries in all) and kept as data only.
//
// # Wiring
//
// Not wired yet. cmd/hubd's Run is to build the Service once the hub's
// listeners are open, from the ports they actually got (so ":0" in tests
// advertises the real port), and Main.Close to close it before the
// listeners, so that the goodbye goes out while the hub still answers
// (the accessor names below are illustrative):
//
//	m.MDNS = mdns.New(mdns.Options{
//		MQTTPort: port(m.Hub.MQTTAddr()),
//		TLSPort:  port(m.Hub.TLSAddr()), // 0 when TLS is off
//		HTTPPort: port(m.HTTP.Addr()),
//		Version:  version,
//		Logger:   logger.With("component", "mdns"),
//	})
//	if err := m.MDNS.Start(ctx); err != nil {
//		return fmt.Errorf("mdns: %w", err)
//	}
//	...
//	m.MDNS.Close() // in Main.Close, before the listeners
//
// The ui.Server gets it as its devices.NetworkService: GET /api/network
// answers with Candidates(r.Context()). A Pi that boots without a usable
// network interface is fine: Start returns nil, logs once, and the
// Service starts advertising and browsing when an interface comes up; it
// re-advertises by itself when addresses change.
package mdns
