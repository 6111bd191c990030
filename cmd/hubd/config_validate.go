package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"hubd/hub/auth"
)

// Validate checks the values in c and returns every problem found, or
// nil. Each problem names the file and line that set the value when it
// came from ParseConfig unchanged, and no file otherwise (a default, or a
// value set since, such as by a flag). Validate reads the TLS files to
// check them.
func (c Config) Validate() ConfigErrors {
	v := &configValidator{src: c.src}

	if c.DataDir == "" {
		v.errorf("data_dir", c.DataDir, "", "missing (required)")
	}
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")

	m := c.MQTT
	mqttOK := v.addr("mqtt.addr", m.Addr)
	v.intRange("mqtt.max_packet_size", m.MaxPacketSize, 1, configMaxPacketSize)
	v.intRange("mqtt.max_queued_messages", m.MaxQueuedMessages, 1, configMaxUint16)
	v.intRange("mqtt.max_inflight", m.MaxInflight, 1, configMaxUint16)
	v.intRange("mqtt.max_keepalive", m.MaxKeepAlive, 0, configMaxUint16)
	if m.SysInterval < time.Second {
		v.errorf("mqtt.sys_interval", m.SysInterval, "", "%s is too short (at least 1s)", configQuote(m.SysInterval.String()))
	}
	if m.CommitInterval < 0 || m.CommitInterval > time.Second {
		v.errorf("mqtt.commit_interval", m.CommitInterval, "", "%s is out of range (0s to 1s)", configQuote(m.CommitInterval.String()))
	}

	ws := c.WebSocket
	wsOK := v.addr("websocket.addr", ws.Addr)
	if !strings.HasPrefix(ws.Path, "/") {
		v.errorf("websocket.path", ws.Path, "", `%s does not start with "/"`, configQuote(ws.Path))
	}
	for i, o := range ws.AllowedOrigins {
		if reason := configCheckOrigin(o); reason != "" {
			v.errorf(fmt.Sprintf("websocket.allowed_origins[%d]", i), o, "",
				`%s: %s (want "*" or scheme://host[:port] with scheme http or https)`, configQuote(o), reason)
		}
	}

	if d := c.Discovery; d.Prefix == "" || strings.ContainsAny(d.Prefix, "+#$") || strings.HasPrefix(d.Prefix, "/") || strings.HasSuffix(d.Prefix, "/") {
		v.errorf("discovery.prefix", d.Prefix, "", `%s is not a topic prefix (non-empty, no "+", "#" or "$", no leading or trailing "/")`, configQuote(d.Prefix))
	}
	if t := c.Discovery.CommandTimeout; t < 100*time.Millisecond || t > 10*time.Minute {
		v.errorf("discovery.command_timeout", t, "", "%s is out of range (100ms to 10m)", configQuote(t.String()))
	}

	tlsOK := v.addr("tls.addr", c.TLS.Addr)
	tlsOn := v.tls(c.TLS)
	httpOK := v.addr("http.addr", c.HTTP.Addr)

	// Two listeners cannot bind the same address (":0" picks a free port
	// each time, so it can be shared).
	type listener struct{ field, addr string }
	var ls []listener
	for _, l := range []struct {
		field, addr string
		on          bool
	}{
		{"mqtt.addr", m.Addr, mqttOK},
		{"websocket.addr", ws.Addr, wsOK},
		{"tls.addr", c.TLS.Addr, tlsOK && tlsOn},
		{"http.addr", c.HTTP.Addr, httpOK},
	} {
		if _, port, _ := net.SplitHostPort(l.addr); !l.on || l.addr == "" || port == "0" {
			continue
		}
		for _, prev := range ls {
			if prev.addr != l.addr {
				continue
			}
			// Blame the later listener unless only the earlier one
			// was set by the file.
			if v.src.line(l.field, l.addr) == 0 && v.src.line(prev.field, prev.addr) > 0 {
				v.errorf(prev.field, prev.addr, "", "%s is also used by %s", configQuote(l.addr), l.field)
			} else {
				v.errorf(l.field, l.addr, "", "%s is also used by %s", configQuote(l.addr), prev.field)
			}
			break
		}
		ls = append(ls, listener{l.field, l.addr})
	}

	for i, r := range c.ACL {
		entry := fmt.Sprintf("acl[%d]", i)
		if r.Topic == "" {
			v.errorf(entry+".topic", r.Topic, entry, "missing (every rule needs a topic)")
		} else if err := auth.ValidatePattern(r.Topic); err != nil {
			v.errorf(entry+".topic", r.Topic, entry, "%v", err) // err quotes the pattern
		}
		if r.Access == "" {
			v.errorf(entry+".access", r.Access, entry, "missing (every rule needs access: read, write or readwrite)")
		} else if _, err := auth.ParseAccess(r.Access); err != nil {
			v.errorf(entry+".access", r.Access, entry, "%s is not one of read, write, readwrite", configQuote(r.Access))
		}
		switch auth.Role(r.Role) {
		case "", auth.RoleAdmin, auth.RoleService, auth.RoleDevice, auth.RoleAnonymous:
		default:
			v.errorf(entry+".role", r.Role, entry, "%s is not one of %s, %s, %s, %s", configQuote(r.Role),
				auth.RoleAdmin, auth.RoleService, auth.RoleDevice, auth.RoleAnonymous)
		}
	}

	v.errs.sort()
	return v.errs
}

// configValidator collects the problems Validate finds.
type configValidator struct {
	src  *configSource
	errs ConfigErrors
}

// errorf records a problem with field, whose value is value. If the file
// did not set field, the problem is placed at fallback (the field path of
// an enclosing list entry) when that is non-empty.
func (v *configValidator) errorf(field string, value any, fallback, format string, args ...any) {
	line := v.src.line(field, value)
	if line == 0 && fallback != "" && v.src != nil {
		if p, ok := v.src.pos[fallback]; ok {
			line = p.line
		}
	}
	e := &ConfigError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	if line > 0 {
		e.File = v.src.file
	}
	v.errs = append(v.errs, e)
}

func (v *configValidator) oneOf(field, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.errorf(field, value, "", "%s is not one of %s", configQuote(value), strings.Join(allowed, ", "))
	}
}

func (v *configValidator) intRange(field string, value, lo, hi int) {
	if value < lo || value > hi {
		v.errorf(field, value, "", "%d is out of range (%d to %d)", value, lo, hi)
	}
}

// addr checks a listen address, reporting whether it is usable (empty
// counts: it disables the listener).
func (v *configValidator) addr(field, addr string) bool {
	if addr == "" {
		return true
	}
	if reason := configCheckAddr(addr); reason != "" {
		v.errorf(field, addr, "", "%s: %s", configQuote(addr), reason)
		return false
	}
	return true
}

// configCheckAddr returns why addr is not a valid host:port listen
// address, or "".
func configCheckAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return ae.Err
		}
		return err.Error()
	}
	if port == "" {
		return "missing port number"
	}
	p, err := strconv.ParseUint(port, 10, 64)
	if err != nil {
		if strings.Trim(port, "0123456789") == "" {
			return fmt.Sprintf("port %s is out of range (0 to 65535)", port)
		}
		return fmt.Sprintf("port %s is not a number", configQuote(port))
	}
	if p > configMaxUint16 {
		return fmt.Sprintf("port %d is out of range (0 to 65535)", p)
	}
	if host == "" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	valid := len(host) <= 253
	for _, label := range strings.Split(host, ".") {
		valid = valid && label != "" && len(label) <= 63
		for _, r := range label {
			valid = valid && (r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}
	}
	if !valid {
		return fmt.Sprintf("host %s is neither an IP address nor a host name", configQuote(host))
	}
	return ""
}

// configCheckOrigin returns why o is not a valid allowed origin, or "".
func configCheckOrigin(o string) string {
	if o == "*" {
		return ""
	}
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "scheme is not http or https"
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "missing host"
	case u.User != nil:
		return "has user info"
	case u.Path != "" || u.RawPath != "":
		return "has a path"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(o, "#"):
		return "has a query or fragment"
	}
	if port := u.Port(); port != "" {
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return "bad port"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "bad port"
	}
	return ""
}

// tls checks the TLS settings and files, reporting whether the TLS
// listener is enabled.
func (v *configValidator) tls(t TLSConfig) bool {
	on := t.CertFile != "" && t.KeyFile != ""
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.errorf("tls.cert_file", t.CertFile, "", "set without tls.key_file")
	case t.CertFile == "" && t.KeyFile != "":
		v.errorf("tls.key_file", t.KeyFile, "", "set without tls.cert_file")
	}
	var certPEM, keyPEM []byte
	if t.CertFile != "" {
		certPEM = v.readFile("tls.cert_file", t.CertFile)
	}
	if t.KeyFile != "" {
		keyPEM = v.readFile("tls.key_file", t.KeyFile)
	}
	if certPEM != nil && keyPEM != nil {
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			v.errorf("tls.cert_file", t.CertFile, "", "%s and tls.key_file %s do not load as a certificate and key: %v",
				configQuote(t.CertFile), configQuote(t.KeyFile), err)
		}
	}
	if t.ClientCAFile != "" {
		if data := v.readFile("tls.client_ca_file", t.ClientCAFile); data != nil {
			if reason := configCheckCAs(data); reason != "" {
				v.errorf("tls.client_ca_file", t.ClientCAFile, "", "%s: %s", configQuote(t.ClientCAFile), reason)
			}
		}
		if !on {
			v.errorf("tls.client_ca_file", t.ClientCAFile, "", "set, but TLS is off (set tls.cert_file and tls.key_file)")
		}
	} else {
		if t.RequireClientCert {
			v.errorf("tls.require_client_cert", t.RequireClientCert, "", "needs tls.client_ca_file")
		}
		if t.CNAsUsername {
			v.errorf("tls.cn_as_username", t.CNAsUsername, "", "needs tls.client_ca_file")
		}
	}
	return on
}

// readFile returns the contents of the regular file at path, or nil after
// recording why it cannot be read.
func (v *configValidator) readFile(field, path string) []byte {
	// Stat first: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err != nil {
		v.errorf(field, path, "", "cannot read %s: %v", configQuote(path), configPathErr(err))
		return nil
	}
	if !fi.Mode().IsRegular() {
		v.errorf(field, path, "", "%s is not a regular file", configQuote(path))
		return nil
	}
	if fi.Size() > configMaxPEMSize {
		v.errorf(field, path, "", "%s is larger than %d bytes", configQuote(path), configMaxPEMSize)
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		v.errorf(field, path, "", "cannot read %s: %v", configQuote(path), configPathErr(err))
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, configMaxPEMSize))
	if err != nil {
		v.errorf(field, path, "", "cannot read %s: %v", configQuote(path), configPathErr(err))
		return nil
	}
	return data
}

// configPathErr strips the operation and path from an *fs.PathError,
// which the caller names itself.
func configPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// configCheckCAs returns why data is not a list of PEM certificates, or "".
func configCheckCAs(data []byte) string {
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		n++
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Sprintf("certificate %d: %v", n, err)
		}
	}
	if n == 0 {
		return "no PEM certificates found"
	}
	return ""
}
