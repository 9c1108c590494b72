package rules

import (
	"testing"
)

// FuzzParse feeds arbitrary bytes to the rule loader and, when they parse,
// to the compiler: neither may panic, whatever a rule file holds.
func FuzzParse(f *testing.F) {
	f.Add([]byte("id: A\ntitle: t\nseverity: high\ntypes: [object_storage.bucket]\ncheck: resource.public == false\n"))
	f.Add([]byte("id: B\ntitle: t\nseverity: low\ntypes: [network.firewall]\ncheck: '!resource.rules.exists(r, r.from_internet)'\n---\nid: C\n"))
	f.Add([]byte("id: [\n"))
	f.Add([]byte("severity: urgent\n"))
	c, err := NewCompiler(1000)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		_, _ = c.Compile(rs)
	})
}

// FuzzParseExceptions does the same for exceptions files.
func FuzzParseExceptions(f *testing.F) {
	f.Add([]byte("exceptions:\n  - rule: A*\n    resources: {id: 'x*'}\n    justification: j\n    owner: o\n    expires: 2027-01-01\n"))
	f.Add([]byte("exceptions: [{expires: tomorrow}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseExceptions("fuzz.yaml", data)
	})
}
