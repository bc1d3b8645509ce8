package inbox

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Resolver returns a LookupTXT that asks only the DNS server at addr
// (HOST:PORT), over UDP with TCP fallback: --resolver.
func Resolver(addr string) (func(ctx context.Context, name string) ([]string, error), error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("resolver %q is not HOST:PORT", addr)
	}
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			return d.DialContext(ctx, network, addr)
		},
	}
	return r.LookupTXT, nil
}
