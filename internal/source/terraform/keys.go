package terraform

import (
	"runtime"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// resolveKeyManagers turns key_manager "customer" into "external" for
// resources whose key, found in the same file, lives outside the provider's
// own key management: protection "external" (AWS external key store, Cloud
// EKM) or a custom key store the customer runs (AWS CloudHSM key store).
func resolveKeyManagers(rs []*inventory.Resource, t *targets) {
	// On every core: each resource's own attributes are written, the keys'
	// only read (a kms.key has no encryption.at_rest).
	parallel(min(runtime.GOMAXPROCS(0), max(1, len(rs)/4096)), len(rs), func(i int) {
		r := rs[i]
		if km, _ := r.Get("encryption.at_rest.key_manager"); km != "customer" {
			return
		}
		v, _ := r.Get("encryption.at_rest.key_id")
		id, _ := v.(string)
		key := t.key(id)
		if key != nil && externalKey(key) {
			r.Set("encryption.at_rest.key_manager", "external")
		}
	})
}

// key finds the kms.key a key id, ARN or Terraform address names.
func (t *targets) key(id string) *inventory.Resource {
	if id == "" {
		return nil
	}
	isKey := func(r *inventory.Resource) bool { return r != nil && r.Type == "kms.key" }
	if r := t.byAddr[id]; isKey(r) {
		return r
	}
	if l := t.byBlock[id]; len(l) == 1 && isKey(l[0]) {
		return l[0]
	}
	for _, v := range []string{id, id[strings.LastIndexByte(id, '/')+1:]} {
		for _, r := range t.byValue[valueKey{"kms.key", v}] {
			return r
		}
	}
	return nil
}

func externalKey(key *inventory.Resource) bool {
	if p, _ := key.Get("protection"); p == "external" {
		return true
	}
	s, _ := key.Native["custom_key_store_id"].(string)
	return s != ""
}
