package inventory

import (
	"fmt"
	"reflect"
	"testing"
)

// TestSlotsAsMaps checks that a resource keeping its attributes in slots
// answers as one keeping them in nested maps: after every step of a
// sequence of sets, the same Get for every path asked, the same
// attributes, and after Finalize the same value rules read.
func TestSlotsAsMaps(t *testing.T) {
	type set struct {
		path  string
		value any
	}
	tests := []struct {
		name string
		typ  string
		sets []set
		gets []string
	}{
		{"leaves", "object_storage.bucket", []set{
			{"public", true},
			{"encryption.at_rest.enabled", true},
			{"encryption.at_rest.key_manager", "customer"},
			{"replication.regions", []any{"eu-west-1"}},
		}, []string{"public", "public_access_block", "encryption", "encryption.at_rest", "encryption.at_rest.enabled", "encryption.in_transit", "encryption.in_transit.enforced", "replication.regions", "nothing", "public.below"}},
		{"set to nil", "object_storage.bucket", []set{
			{"public", nil},
			{"versioning.enabled", nil},
		}, []string{"public", "versioning", "versioning.enabled"}},
		{"a whole object", "object_storage.bucket", []set{
			{"encryption.at_rest.key_id", "k1"},
			{"encryption.at_rest", map[string]any{"enabled": true, "key_manager": "provider"}},
		}, []string{"encryption.at_rest", "encryption.at_rest.key_id", "encryption.at_rest.enabled", "encryption.at_rest.key_manager"}},
		{"an object set to a scalar", "object_storage.bucket", []set{
			{"versioning.enabled", true},
			{"versioning", "on"},
		}, []string{"versioning", "versioning.enabled"}},
		{"an object set to nil", "object_storage.bucket", []set{
			{"versioning.enabled", true},
			{"versioning", nil},
		}, []string{"versioning", "versioning.enabled"}},
		{"into a list of objects", "network.firewall", []set{
			{"rules", []any{map[string]any{"direction": "ingress", "port_from": int64(22)}}},
			{"rules.0", "x"},
		}, []string{"rules", "rules.0"}},
		{"undeclared", "compute.disk", []set{
			{"colour", "blue"},
			{"deep.er.value", int64(3)},
			{"encryption.foo", true},
			{"size_gb", int64(8)},
		}, []string{"colour", "deep", "deep.er.value", "encryption", "encryption.foo", "encryption.at_rest", "size_gb"}},
		{"overwritten", "compute.disk", []set{
			{"size_gb", int64(8)},
			{"size_gb", int64(16)},
			{"attached", true},
			{"attached", false},
		}, []string{"size_gb", "attached"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slots := &Resource{Type: tt.typ, ID: "r"}
			maps := &Resource{Type: tt.typ, ID: "r", Attrs: map[string]any{}}
			for i, s := range tt.sets {
				slots.Set(s.path, s.value)
				maps.Set(s.path, s.value)
				if i == 0 && !(slots.Layout() != nil) || (maps.Layout() != nil) {
					t.Fatalf("slots %v, maps %v: the resources do not keep their attributes as the test means", (slots.Layout() != nil), (maps.Layout() != nil))
				}
				step := fmt.Sprintf("after set %d (%s)", i, s.path)
				if got, want := slots.Attributes(), maps.Attributes(); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: attributes %v, want %v", step, got, want)
				}
				for _, p := range tt.gets {
					gv, gok := slots.Get(p)
					wv, wok := maps.Get(p)
					if gok != wok || !reflect.DeepEqual(gv, wv) {
						t.Errorf("%s: Get(%q) = %v, %v; want %v, %v", step, p, gv, gok, wv, wok)
					}
				}
			}
			e := &Estate{Resources: []*Resource{slots, maps}}
			e.Finalize()
			if got, want := slots.Value(), maps.Value(); !reflect.DeepEqual(got, want) {
				t.Errorf("finalized: value %v, want %v", got, want)
			}
			for _, p := range tt.gets {
				gv, gok := slots.Lookup(p)
				wv, wok := maps.Lookup(p)
				if gok != wok || !reflect.DeepEqual(gv, wv) {
					t.Errorf("finalized: Lookup(%q) = %v, %v; want %v, %v", p, gv, gok, wv, wok)
				}
			}
			gj, err := slots.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			wj, err := maps.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(gj) != string(wj) {
				t.Errorf("JSON\n%s\nwant\n%s", gj, wj)
			}
		})
	}
}

// TestSlotsFilled checks that Finalize gives every attribute of a
// resource with slots its zero value, as it does in a map.
func TestSlotsFilled(t *testing.T) {
	for typ := range Schemas {
		slots := &Resource{Type: typ, ID: "r"}
		maps := &Resource{Type: typ, ID: "r", Attrs: map[string]any{}}
		e := &Estate{Resources: []*Resource{slots, maps}}
		e.Finalize()
		if !(slots.Layout() != nil) {
			t.Fatalf("%s: no slots", typ)
		}
		if got, want := slots.Value(), maps.Value(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: value %v, want %v", typ, got, want)
		}
	}
}
