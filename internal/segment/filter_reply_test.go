package segment

import (
	"encoding/json"
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
