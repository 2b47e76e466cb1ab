//go:build !linux

package vpcd

import (
	"io"
	"net"
)

// quickAckReader returns conn: TCP_QUICKACK is Linux-only.
func quickAckReader(conn net.Conn) io.Reader { return conn }
