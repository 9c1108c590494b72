package inventory

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestConform(t *testing.T) {
	s := Schemas["network.firewall"]
	tests := []struct {
		name    string
		attrs   map[string]any
		wantErr string
	}{
		{"ints from yaml and json", map[string]any{"rules": []any{map[string]any{"port_from": 22, "port_to": float64(22), "sources": []any{"0.0.0.0/0"}}}}, ""},
		{"unknown attribute", map[string]any{"ruless": []any{}}, `no attribute "ruless"`},
		{"wrong kind", map[string]any{"default": "yes"}, "default must be bool"},
		{"fraction is not an int", map[string]any{"rules": []any{map[string]any{"port_from": 2.5}}}, "rules[0].port_from must be int"},
		{"enum", map[string]any{"rules": []any{map[string]any{"direction": "inbound"}}}, `want one of [ingress egress]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Conform(tt.attrs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				r := tt.attrs["rules"].([]any)[0].(map[string]any)
				if _, ok := r["port_to"].(int64); !ok {
					t.Fatalf("port_to is %T, want int64", r["port_to"])
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestNativeJSON(t *testing.T) {
	r := &Resource{Type: "object_storage.bucket", ID: "b", Address: "aws_s3_bucket.b", NativeJSON: []byte(`{"bucket":"b","tags":{"a":"1"}}`)}
	e := &Estate{Resources: []*Resource{r}}
	e.Finalize()
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n, _ := back["native"].(map[string]any); n["bucket"] != "b" {
		t.Fatalf("native not written from its JSON: %s", out)
	}
	if err := r.EnsureNative(); err != nil {
		t.Fatal(err)
	}
	if v := r.Value()["native"].(map[string]any)["bucket"]; v != "b" {
		t.Fatalf("resource.native.bucket = %v after EnsureNative", v)
	}
}
