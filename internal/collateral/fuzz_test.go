package collateral

import (
	"testing"

	"github.com/google/go-tdx-guest/testing/testdata"
)

// FuzzDescribe feeds arbitrary bodies and issuer-chain headers to the
// checks Import and fetched responses go through: no panic, and whatever
// is accepted has a kind.
func FuzzDescribe(f *testing.F) {
	f.Add(testdata.TcbInfoBody, "")
	f.Add(testdata.RootCrlBody, "")
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"), "-----BEGIN%20CERTIFICATE-----%0A")
	f.Fuzz(func(t *testing.T, body []byte, chain string) {
		var h map[string][]string
		if chain != "" {
			h = map[string][]string{"Tcb-Info-Issuer-Chain": {chain}}
		}
		m, err := describe("https://example.test/x", h, body)
		if err == nil && m.Kind == "" {
			t.Fatal("accepted without a kind")
		}
	})
}
