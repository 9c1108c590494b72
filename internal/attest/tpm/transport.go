package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// tcpTPM speaks raw TPM 2.0 commands over one TCP connection, as swtpm's
// "--server type=tcp" socket does. go-tpm reads a response with a single
// Read, which a stream socket may split, so Read returns exactly one whole
// response, framed by the size in its header.
type tcpTPM struct {
	conn net.Conn
}

// maxTPMResponse is the largest response a TPM sends (TPM2_PT_MAX_RESPONSE_SIZE
// is 4096 on common TPMs; allow some slack).
const maxTPMResponse = 8192

func dialTCP(ctx context.Context, addr string) (*tcpTPM, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tcpTPM{conn: conn}, nil
}

func (t *tcpTPM) Write(p []byte) (int, error) { return t.conn.Write(p) }

func (t *tcpTPM) Read(p []byte) (int, error) {
	var hdr [10]byte // tag (2), size (4), response code (4)
	if _, err := io.ReadFull(t.conn, hdr[:]); err != nil {
		return 0, fmt.Errorf("reading TPM response header: %w", err)
	}
	size := int(binary.BigEndian.Uint32(hdr[2:6]))
	if size < len(hdr) || size > maxTPMResponse {
		return 0, fmt.Errorf("TPM response claims %d bytes", size)
	}
	if size > len(p) {
		return 0, errors.New("TPM response larger than the read buffer")
	}
	copy(p, hdr[:])
	if _, err := io.ReadFull(t.conn, p[len(hdr):size]); err != nil {
		return 0, fmt.Errorf("reading TPM response: %w", err)
	}
	return size, nil
}

func (t *tcpTPM) Close() error { return t.conn.Close() }

// deadlineFromContext makes TPM I/O on a network connection give up at ctx's
// deadline; device files block until the TPM answers. The returned function
// clears the deadline.
func deadlineFromContext(ctx context.Context, rw io.ReadWriter) func() {
	t, ok := rw.(*tcpTPM)
	if !ok {
		return func() {}
	}
	if d, ok := ctx.Deadline(); ok {
		t.conn.SetDeadline(d)
	}
	return func() { t.conn.SetDeadline(time.Time{}) }
}
