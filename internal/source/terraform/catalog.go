package terraform

import (
	"sort"

	"github.com/hoheit/hoheit/internal/inventory"
)

// Mapping says which normalized type a native Terraform type becomes, or
// which one it is joined onto.
type Mapping struct {
	Provider   string // hoheit's provider: aws, azure, gcp, openstack, otc
	NativeType string
	Type       string
	// Joined is true for a resource that configures another (a split
	// setting such as aws_s3_bucket_versioning), false for a resource of its
	// own.
	Joined bool
}

// Catalog lists every native type the reader understands, for
// documentation and for `--show-unsupported`. Each mapper is asked once
// with empty values to learn its normalized type.
func Catalog() []Mapping {
	ms, js := registry()
	var out []Mapping
	for nt, m := range ms {
		if r := probe(nt, m); r != nil {
			out = append(out, Mapping{Provider: r.Provider, NativeType: nt, Type: r.Type})
		}
	}
	for nt, j := range js {
		out = append(out, Mapping{Provider: providerOf(nt), NativeType: nt, Type: j.Target, Joined: true})
	}
	for nt, b := range backRefRegistry() {
		out = append(out, Mapping{Provider: providerOf(nt), NativeType: nt, Type: b.Target, Joined: true})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].NativeType < out[j].NativeType
	})
	return out
}

func probe(nativeType string, m mapper) (r *inventory.Resource) {
	defer func() {
		if recover() != nil {
			r = nil
		}
	}()
	n := &native{Address: nativeType + ".probe", Type: nativeType, Name: "probe", Provider: providerShort(nativeType),
		Values: map[string]any{}, Unknown: map[string]any{}, Config: map[string]any{}}
	r = m(n)
	if r != nil && r.Provider == "" {
		r.Provider = providerOf(nativeType)
	}
	return r
}

// providerShort is the Terraform provider a native type belongs to, from
// its prefix.
func providerShort(nativeType string) string {
	best := ""
	for short := range providerNames {
		if len(nativeType) > len(short) && nativeType[:len(short)+1] == short+"_" && len(short) > len(best) {
			best = short
		}
	}
	return best
}

func providerOf(nativeType string) string { return providerNames[providerShort(nativeType)] }
