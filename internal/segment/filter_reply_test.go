package segment

import (
	"encoding/json"
	"net/netip"
	"testing"
)

// TestFilterReplyAfterSetRules: after a rule set is swapped in (here the
// same rules, through JSON as the agent receives them), the first packet of
// an established connection may be a reply; it must pass.
func TestFilterReplyAfterSetRules(t *testing.T) {
	c, err := NewCompiler(shopPolicy(t), shopInventory(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		node     NodeID
		first    []byte
		firstDir Direction
		reply    []byte
		replyDir Direction
	}{
		{"client side", webNode, pkt(web, pricelist, protoTCP, 40000, 8080, TCPSyn), Outbound, pkt(pricelist, web, protoTCP, 8080, 40000, TCPAck), Inbound},
		{"server side", priceNode, pkt(web, pricelist, protoTCP, 40000, 8080, TCPSyn), Inbound, pkt(pricelist, web, protoTCP, 8080, 40000, TCPAck), Outbound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, _ := c.RuleSet(tt.node)
			f := NewFilter(rs, FilterConfig{})
			if v := f.CheckPacket(tt.first, tt.firstDir); v != Allow {
				t.Fatalf("first packet: %s", v)
			}
			data, err := json.Marshal(rs)
			if err != nil {
				t.Fatal(err)
			}
			var again NodeRuleSet
			if err := json.Unmarshal(data, &again); err != nil {
				t.Fatal(err)
			}
			f.SetRules(&again)
			if v := f.CheckPacket(tt.reply, tt.replyDir); v != Allow {
				t.Fatalf("reply after SetRules: %s", v)
			}
		})
	}
}

// TestFilterRecheckByConnection: after the rule of an established
// connection is removed, its next packet (a reply first, then one in its own
// direction) is judged by the connection's own direction and port: in
// protect mode dropped, recorded and alerted as web -> pricelist:8080 (not
// as a flow to the client's ephemeral port), once; in learn mode passed as
// unlisted and recorded the same way.
func TestFilterRecheckByConnection(t *testing.T) {
	for _, tc := range []struct {
		mode       Mode
		want       Verdict
		wantAlerts int
	}{
		{Protect, Drop, 1},
		{Monitor, AllowUnlisted, 1},
		{Learn, AllowUnlisted, 0},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			p := shopPolicy(t)
			c, err := NewCompiler(p, shopInventory(t))
			if err != nil {
				t.Fatal(err)
			}
			rs, _ := c.RuleSet(priceNode)
			var alerts []Alert
			f := NewFilter(rs, FilterConfig{Alerts: func(a Alert) { alerts = append(alerts, a) }})
			if v := f.CheckPacket(pkt(web, pricelist, protoTCP, 40000, 8080, TCPSyn), Inbound); v != Allow {
				t.Fatalf("syn: %s", v)
			}
			f.Flows().Drain()
			q := *p
			q.Rules = append([]Rule(nil), p.Rules[1:]...) // without web-to-pricelist
			q.Segments = append([]Segment(nil), p.Segments...)
			for i := range q.Segments {
				q.Segments[i].Mode = tc.mode
			}
			q.Mode = tc.mode
			if _, err := c.Update(SetPolicy{&q}); err != nil {
				t.Fatal(err)
			}
			rs, _ = c.RuleSet(priceNode)
			f.SetRules(rs)
			reply := pkt(pricelist, web, protoTCP, 8080, 40000, TCPAck)
			for i := range 3 {
				if v := f.CheckPacket(reply, Outbound); v != tc.want {
					t.Fatalf("reply %d after the rule was removed: %s, want %s", i, v, tc.want)
				}
			}
			if v := f.CheckPacket(pkt(web, pricelist, protoTCP, 40000, 8080, TCPAck), Inbound); v != tc.want {
				t.Fatalf("the client's next packet: %s, want %s", v, tc.want)
			}
			recs, _ := f.Flows().Drain()
			// The node no longer has a rule naming web, so it records web by
			// address (the server names it).
			if len(recs) != 1 || recs[0].Port != 8080 || recs[0].Verdict != tc.want || recs[0].Dst != "pricelist" ||
				(recs[0].Src != "web" && recs[0].SrcAddr != netip.MustParseAddr(web)) {
				t.Fatalf("flow records %+v, want one web -> pricelist:8080 %s", recs, tc.want)
			}
			if len(alerts) != tc.wantAlerts {
				t.Fatalf("%d alerts, want %d: %+v", len(alerts), tc.wantAlerts, alerts)
			}
			if tc.wantAlerts > 0 && (alerts[0].DstPort != 8080 || alerts[0].Direction != Inbound || alerts[0].Mode != tc.mode) {
				t.Fatalf("alert %+v, want the connection's own direction and port 8080 in %s", alerts[0], tc.mode)
			}
		})
	}
}
