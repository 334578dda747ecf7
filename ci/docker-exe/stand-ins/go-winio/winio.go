// Package winio stands in for github.com/Microsoft/go-winio (not packaged in Debian 12) in
// dockvm's test build of the Windows docker CLI (ci/docker-exe/build). The CLI needs it only
// for npipe:// endpoints; this stand-in refuses them, so TCP and TLS endpoints work and a
// named pipe fails with a message that says why. Tests that need a real pipe build with the
// upstream source in shared/third-party instead.
package winio

import (
	"context"
	"fmt"
	"net"
	"time"
)

// DialPipe refuses: this build has no named pipes.
func DialPipe(path string, timeout *time.Duration) (net.Conn, error) {
	return nil, fmt.Errorf("named pipe %s: this docker.exe is dockvm's test build, whose go-winio stand-in has no named pipes; use a tcp:// endpoint", path)
}

// DialPipeContext refuses too (buildkit's client names it).
func DialPipeContext(ctx context.Context, path string) (net.Conn, error) {
	return DialPipe(path, nil)
}
