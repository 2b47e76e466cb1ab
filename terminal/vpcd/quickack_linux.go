package vpcd

import (
	"io"
	"net"
	"syscall"
)

// quickAckReader returns a reader of conn that sets TCP_QUICKACK before each
// read, or conn itself when it is not a TCP connection. Linux clears the
// option on its own after a while, hence once per read rather than once.
func quickAckReader(conn net.Conn) io.Reader {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return conn
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return conn
	}
	return &quickAck{conn: conn, raw: raw}
}

type quickAck struct {
	conn net.Conn
	raw  syscall.RawConn
}

func (q *quickAck) Read(p []byte) (int, error) {
	// Best effort: without it the protocol still works, only slower.
	_ = q.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return q.conn.Read(p)
}
