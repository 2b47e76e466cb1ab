package loadtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"tappos/ledger"
)

// A benchConn is one terminal's keep-alive HTTP/1.1 connection for the
// benchmark. net/http's client costs about as much CPU per request as the
// server it measures (two goroutines per connection, a handoff each way);
// the load generator shares the two cores with the ledger, so it speaks
// the few lines of HTTP a POST needs itself, like wrk or ab would.
type benchConn struct {
	c    net.Conn
	r    *bufio.Reader
	head []byte // the request's fixed header lines
	buf  []byte
}

func dialBench(baseURL, key string) (*benchConn, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	head := "POST /v1/authorizations HTTP/1.1\r\nHost: " + u.Host +
		"\r\nAuthorization: Bearer " + key + "\r\nContent-Type: application/json\r\n"
	return &benchConn{c: c, r: bufio.NewReaderSize(c, 4096), head: []byte(head)}, nil
}

// authorize posts a JSON-encoded authorization and returns the result.
func (b *benchConn) authorize(idemKey string, body []byte) (ledger.Result, error) {
	b.buf = append(b.buf[:0], b.head...)
	b.buf = append(b.buf, "Idempotency-Key: "...)
	b.buf = append(b.buf, idemKey...)
	b.buf = append(b.buf, "\r\nContent-Length: "...)
	b.buf = strconv.AppendInt(b.buf, int64(len(body)), 10)
	b.buf = append(b.buf, "\r\n\r\n"...)
	b.buf = append(b.buf, body...)
	if _, err := b.c.Write(b.buf); err != nil {
		return ledger.Result{}, err
	}
	status, n, err := b.readHead()
	if err != nil {
		return ledger.Result{}, err
	}
	b.buf = slices.Grow(b.buf[:0], n)[:n]
	if _, err := io.ReadFull(b.r, b.buf); err != nil {
		return ledger.Result{}, fmt.Errorf("reading response body: %w", err)
	}
	if status != http.StatusOK {
		return ledger.Result{}, fmt.Errorf("status %d: %s", status, b.buf)
	}
	var res ledger.Result
	if err := json.Unmarshal(b.buf, &res); err != nil {
		return ledger.Result{}, fmt.Errorf("decoding response: %w", err)
	}
	return res, nil
}

// readHead reads a response's status line and headers, returning the
// status and the body's length.
func (b *benchConn) readHead() (status, length int, err error) {
	length = -1
	for first := true; ; first = false {
		line, err := b.r.ReadSlice('\n')
		if err != nil {
			return 0, 0, fmt.Errorf("reading response: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case first:
			// HTTP/1.1 200 OK
			if len(line) < 12 {
				return 0, 0, fmt.Errorf("bad status line %q", line)
			}
			if status, err = strconv.Atoi(string(line[9:12])); err != nil {
				return 0, 0, fmt.Errorf("bad status line %q", line)
			}
		case len(line) == 0:
			if length < 0 {
				return 0, 0, errors.New("response without Content-Length")
			}
			return status, length, nil
		default:
			name, value, ok := bytes.Cut(line, []byte(":"))
			if ok && bytes.EqualFold(name, []byte("Content-Length")) {
				if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
					return 0, 0, fmt.Errorf("bad Content-Length %q", value)
				}
			}
		}
	}
}

func (b *benchConn) Close() error { return b.c.Close() }
