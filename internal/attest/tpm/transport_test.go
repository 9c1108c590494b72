package tpm

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
)

// TestTCPTPMReadsWholeResponse: a response split across TCP segments is
// returned whole by one Read, as go-tpm expects.
func TestTCPTPMReadsWholeResponse(t *testing.T) {
	body := bytes.Repeat([]byte{0xab}, 300)
	resp := make([]byte, 10, 10+len(body))
	binary.BigEndian.PutUint16(resp[0:], 0x8001)
	binary.BigEndian.PutUint32(resp[2:], uint32(10+len(body)))
	resp = append(resp, body...)

	cases := []struct {
		name    string
		resp    []byte
		wantErr bool
	}{
		{"split response", resp, false},
		{"size larger than any TPM response", func() []byte {
			r := bytes.Clone(resp)
			binary.BigEndian.PutUint32(r[2:], 1<<20)
			return r
		}(), true},
		{"size smaller than the header", func() []byte {
			r := bytes.Clone(resp)
			binary.BigEndian.PutUint32(r[2:], 4)
			return r
		}(), true},
		{"truncated", resp[:200], true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				cmd := make([]byte, 12)
				if _, err := server.Read(cmd); err != nil {
					return
				}
				// Three writes: part of the header, the rest, the body.
				for _, part := range [][]byte{c.resp[:4], c.resp[4:min(10, len(c.resp))], c.resp[min(10, len(c.resp)):]} {
					if _, err := server.Write(part); err != nil {
						return
					}
				}
			}()
			tt := &tcpTPM{conn: client}
			defer tt.Close()
			if _, err := tt.Write([]byte("command 12by")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			n, err := tt.Read(buf)
			if c.wantErr {
				if err == nil {
					t.Fatalf("Read returned %d bytes, want an error", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], c.resp) {
				t.Fatalf("Read returned %d bytes, want the %d-byte response", n, len(c.resp))
			}
		})
	}
}
