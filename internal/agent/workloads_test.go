package agent

import (
	"reflect"
	"testing"

	"github.com/hoheit/hoheit/internal/api"
)

func TestParseWorkloads(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []api.Workload
		bad      bool
	}{
		{"empty file", "", []api.Workload{}, false},
		{"two", "- name: billing-0\n  labels: {app: billing}\n  addresses: [10.88.0.5/32]\n- name: web-0\n  addresses: [10.88.0.6, 2001:db8::6]\n",
			[]api.Workload{{Name: "billing-0", Labels: map[string]string{"app": "billing"}, Addresses: []string{"10.88.0.5/32"}},
				{Name: "web-0", Addresses: []string{"10.88.0.6", "2001:db8::6"}}}, false},
		{"no name", "- addresses: [10.0.0.1]\n", nil, true},
		{"twice", "- {name: a, addresses: [10.0.0.1]}\n- {name: a, addresses: [10.0.0.2]}\n", nil, true},
		{"no addresses", "- {name: a}\n", nil, true},
		{"bad address", "- {name: a, addresses: [10.0.0.300]}\n", nil, true},
		// The server's rules apply here already: no wide range, no loopback.
		{"too wide", "- {name: a, addresses: [10.0.0.0/8]}\n", nil, true},
		{"loopback", "- {name: a, addresses: [127.0.0.1]}\n", nil, true},
		{"unknown field", "- {name: a, addresses: [10.0.0.1], node: x}\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWorkloads([]byte(tc.in))
			if (err != nil) != tc.bad {
				t.Fatalf("error %v, want error %v", err, tc.bad)
			}
			if !tc.bad && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
