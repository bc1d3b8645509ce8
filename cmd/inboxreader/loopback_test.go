package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// listeners returns the listening TCP sockets and bound UDP sockets of
// this machine that are not on a loopback address, from /proc/net.
func listeners(tb testing.TB) map[string]bool {
	out := map[string]bool{}
	for _, f := range []struct{ path, state string }{
		{"/proc/net/tcp", "0A"}, {"/proc/net/tcp6", "0A"}, {"/proc/net/udp", "07"}, {"/proc/net/udp6", "07"},
	} {
		fh, err := os.Open(f.path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != f.state {
				continue
			}
			addr, _, _ := strings.Cut(fields[1], ":")
			loopback := strings.HasSuffix(addr, "7F") && len(addr) == 8 || // 127.x.x.x, little-endian
				addr == "00000000000000000000000001000000" || // ::1
				strings.HasPrefix(addr, "0000000000000000FFFF0000") && strings.HasSuffix(addr, "7F") // ::ffff:127.x
			if !loopback {
				out[f.path+" "+fields[1]] = true
			}
		}
		fh.Close()
	}
	return out
}

// TestServersBindLoopbackOnly: once the chain runs (cognito-local, dovecot,
// aws-lambda-rie, moto, local-kms, the DNS server, the bootstrap), no
// listener beyond those that were there before binds a non-loopback address.
func TestServersBindLoopbackOnly(t *testing.T) {
	needChain(t)
	for l := range listeners(t) {
		if !listenersBefore[l] {
			t.Errorf("a server listens on a non-loopback address: %s", l)
		}
	}
}

var listenersBefore = map[string]bool{}
