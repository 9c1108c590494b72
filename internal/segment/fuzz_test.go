package segment

import (
	"testing"
)

// FuzzParsePolicy: ParsePolicy never panics, and whatever it accepts can be
// tested, formatted and read back.
func FuzzParsePolicy(f *testing.F) {
	f.Add(mustRead(f, "../../examples/segment/shop.yaml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		p.RunTests()
		out, err := p.Format()
		if err != nil {
			t.Fatalf("Format: %v", err)
		}
		if _, err := ParsePolicy(out); err != nil {
			t.Fatalf("formatted policy does not parse: %v\n%s", err, out)
		}
	})
}

// FuzzParsePacket: ParsePacket never panics, and a filter given any packet
// returns a verdict.
func FuzzParsePacket(f *testing.F) {
	f.Add(pkt(web, pricelist, protoTCP, 40000, 8080, TCPSyn))
	f.Add(pkt("10.0.0.1", "10.0.0.2", protoUDP, 53, 53, 0))
	f.Add(pkt("10.0.0.1", "10.0.0.2", protoICMP, 8, 1, 0))
	flt := NewFilter(&NodeRuleSet{Node: "fuzz", DefaultMode: Learn}, FilterConfig{MaxConns: 64, MaxFlows: 64})
	f.Fuzz(func(t *testing.T, data []byte) {
		pi, err := ParsePacket(data)
		if err != nil {
			if flt.CheckPacket(data, Inbound) != Drop {
				t.Fatal("malformed packet passed")
			}
			return
		}
		if pi.Length > len(data) {
			t.Fatalf("length %d beyond %d bytes", pi.Length, len(data))
		}
		flt.Check(pi, Inbound)
		flt.Check(pi, Outbound)
	})
}
