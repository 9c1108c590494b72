package terraform

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

func parseFile(t *testing.T, name string) *inventory.Estate {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	est, err := Parse(name, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return est
}

func resourceAt(t *testing.T, est *inventory.Estate, address string) *inventory.Resource {
	t.Helper()
	for _, r := range est.Resources {
		if r.Address == address {
			return r
		}
	}
	t.Fatalf("no resource %s in the estate", address)
	return nil
}

// TestSplitBucketsPassBaseline checks that buckets configured only through
// split resources come out as a baseline rule set expects them, whether the
// split resources name the bucket by a known value (logs) or only by a
// reference because the name is unknown until apply (data): no finding.
func TestSplitBucketsPassBaseline(t *testing.T) {
	est := parseFile(t, "s3_split.plan.json")
	want := map[string]any{
		"encryption.at_rest.enabled": true,
		"versioning.enabled":         true,
		"logging.enabled":            true,
		"public_access_block":        true,
		"public":                     false,
	}
	for _, addr := range []string{"aws_s3_bucket.logs", "aws_s3_bucket.data"} {
		t.Run(addr, func(t *testing.T) {
			r := resourceAt(t, est, addr)
			for path, v := range want {
				got, _ := r.Get(path)
				if got != v {
					t.Errorf("%s = %v, want %v", path, got, v)
				}
				if path != "public" && r.IsUnknown(path) {
					t.Errorf("%s is marked unknown", path)
				}
			}
			if km, _ := r.Get("encryption.at_rest.key_manager"); km != "customer" && km != "provider" {
				t.Errorf("key_manager = %v, want customer or provider", km)
			}
		})
	}
	logs := resourceAt(t, est, "aws_s3_bucket.logs")
	if km, _ := logs.Get("encryption.at_rest.key_manager"); km != "customer" {
		t.Errorf("logs key_manager = %v, want customer (the key is aws_kms_key.logs)", km)
	}
	if v, _ := logs.Get("encryption.in_transit.enforced"); v != true {
		t.Errorf("logs in_transit.enforced = %v, want true from the bucket policy", v)
	}
	// The data bucket's policy is unknown until apply: no verdict, not false.
	data := resourceAt(t, est, "aws_s3_bucket.data")
	for _, p := range []string{"public", "encryption.in_transit.enforced"} {
		if !data.IsUnknown(p) {
			t.Errorf("data %s not marked unknown", p)
		}
	}
}

func TestUnknownsMarked(t *testing.T) {
	est := parseFile(t, "aws_core.plan.json")
	r := resourceAt(t, est, "aws_instance.legacy")
	for _, p := range []string{"metadata_service.token_required", "public_ip"} {
		if !r.IsUnknown(p) {
			t.Errorf("aws_instance.legacy %s not marked unknown", p)
		}
	}
	// The root volume's encryption is computed; the account's EBS
	// encryption by default, in the same plan, decides it.
	if on, _ := r.Get("encryption.at_rest.enabled"); on != true || r.IsUnknown("encryption.at_rest.enabled") {
		t.Errorf("aws_instance.legacy encryption = %v (unknown %v), want true from aws_ebs_encryption_by_default", on, r.Unknown)
	}
	if b := resourceAt(t, est, "aws_s3_bucket.artifacts"); b.Attributes()["public_access_block"] != true {
		t.Errorf("aws_s3_bucket.artifacts public_access_block = %v, want true from the account's block", b.Attributes()["public_access_block"])
	}
	// A computed value the configuration does not set is the service's
	// default, not unknown.
	if r.IsUnknown("confidential_computing") || r.IsUnknown("monitoring.enabled") {
		t.Errorf("defaults marked unknown: %v", r.Unknown)
	}
}

func TestModulesJoinWithinInstance(t *testing.T) {
	est := parseFile(t, "modules.plan.json")
	for addr, want := range map[string]bool{
		"module.store[0].aws_s3_bucket.this": true,
		"module.store[1].aws_s3_bucket.this": false,
	} {
		if got, _ := resourceAt(t, est, addr).Get("versioning.enabled"); got != want {
			t.Errorf("%s versioning = %v, want %v", addr, got, want)
		}
	}
	for addr, want := range map[string]bool{`aws_s3_bucket.team["a"]`: true, `aws_s3_bucket.team["b"]`: false} {
		if got, _ := resourceAt(t, est, addr).Get("public_access_block"); got != want {
			t.Errorf("%s public_access_block = %v, want %v", addr, got, want)
		}
	}
	if r := resourceAt(t, est, "aws_s3_bucket.us"); r.Region != "us-east-1" {
		t.Errorf("aliased provider region = %q, want us-east-1", r.Region)
	}
	if r := resourceAt(t, est, "module.store[1].aws_s3_bucket.this"); r.Region != "eu-central-1" {
		t.Errorf("region from var.region = %q, want eu-central-1", r.Region)
	}
}

func TestUnsupportedCounted(t *testing.T) {
	est := parseFile(t, "aws_core.plan.json")
	got := map[string]int{}
	for _, u := range est.Unsupported {
		got[u.Provider+"/"+u.NativeType] = u.Count
	}
	if got["aws/aws_sqs_queue"] != 2 || got["random/random_id"] != 1 {
		t.Errorf("unsupported = %v, want aws_sqs_queue 2 and random_id 1", got)
	}
	for _, u := range est.Unsupported {
		if strings.HasPrefix(u.NativeType, "aws_s3_bucket_") || strings.HasPrefix(u.NativeType, "aws_iam_") {
			t.Errorf("split resource %s counted as unsupported", u.NativeType)
		}
	}
}

func TestParseErrors(t *testing.T) {
	deep := `{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"mode":"managed","type":"aws_s3_bucket","address":"aws_s3_bucket.x","values":{"x":` +
		strings.Repeat("[", MaxDepth+10) + strings.Repeat("]", MaxDepth+10) + `}}]}}}`
	tests := []struct {
		name, input string
		want        []string
	}{
		{"truncated", "{\n  \"format_version\": \"1.2\",\n  \"planned_values\": {\"root_module\": {", []string{"bad.json", "bad.json:3:", "unexpected end"}},
		{"garbage", `{"format_version": "1.2", "planned_values": x}`, []string{"bad.json", "bad.json:1:45:", "invalid character 'x'"}},
		{"bad value in a resource", `{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"mode":"managed","type":"aws_s3_bucket","address":"a.b","values":{"a":tru}}]}}}`, []string{"bad.json", "bad.json:1:142:", "invalid literal, want true"}},
		{"trailing data", `{"format_version":"1.2","values":{}} {}`, []string{"after top-level value"}},
		{"too deep", deep, []string{"bad.json", "nested deeper than 512"}},
		{"deep outside resources", `{"format_version":"1.2","prior_state":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, []string{"nested deeper than 512"}},
		{"format 2", `{"format_version":"2.0","planned_values":{}}`, []string{"unsupported format_version \"2.0\""}},
		{"not terraform", `{"apiVersion":"v1","kind":"Pod"}`, []string{"neither a plan nor a state"}},
		{"not an object", `[1,2]`, []string{"bad.json", "want '{'"}},
		{"empty", ``, []string{"unexpected end of JSON input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.json", []byte(tt.input))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, input, kind string
		ok                bool
	}{
		{"plan", `{"format_version":"1.2","terraform_version":"1.9.8","variables":{"a":{"value":1}},"planned_values":{}}`, KindPlan, true},
		{"state", `{"format_version":"1.0","terraform_version":"1.9.8","values":{"root_module":{}}}`, KindState, true},
		{"empty state", `{"format_version":"1.0","terraform_version":"1.9.8"}`, KindState, true},
		{"bom", "\xef\xbb\xbf{\"format_version\":\"1.2\",\"resource_changes\":[]}", KindPlan, true},
		{"helm values", `{"values":{"replicas":3}}`, "", false},
		{"kubernetes", `{"apiVersion":"v1","kind":"List","items":[]}`, "", false},
		{"not json", `resource "aws_s3_bucket" "x" {}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, ok := Detect([]byte(tt.input))
			if kind != tt.kind || ok != tt.ok {
				t.Errorf("Detect = %q, %v; want %q, %v", kind, ok, tt.kind, tt.ok)
			}
		})
	}
	for _, f := range []string{"s3_split.plan.json", "modules.plan.json"} {
		data, _ := os.ReadFile("testdata/" + f)
		if kind, _ := Detect(data); kind != KindPlan {
			t.Errorf("Detect(%s) = %q, want %q", f, kind, KindPlan)
		}
	}
	data, _ := os.ReadFile("testdata/aws.state.json")
	if kind, _ := Detect(data); kind != KindState {
		t.Errorf("Detect(aws.state.json) = %q, want %q", kind, KindState)
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		addr, module, resource, config, block, index string
	}{
		{"aws_s3_bucket.logs", "", "aws_s3_bucket.logs", "aws_s3_bucket.logs", "aws_s3_bucket.logs", ""},
		{"aws_s3_bucket.logs[0]", "", "aws_s3_bucket.logs[0]", "aws_s3_bucket.logs", "aws_s3_bucket.logs", "[0]"},
		{`module.a["x.y]"].module.b[2].aws_vpc.main["k.[1]"]`, `module.a["x.y]"].module.b[2]`, `aws_vpc.main["k.[1]"]`, "module.a.module.b.aws_vpc.main", `module.a["x.y]"].module.b[2].aws_vpc.main`, `["k.[1]"]`},
		{`module.m.data.aws_iam_policy_document.p`, "module.m", "data.aws_iam_policy_document.p", "module.m.data.aws_iam_policy_document.p", "module.m.data.aws_iam_policy_document.p", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			m, r := splitAddress(tt.addr)
			if m != tt.module || r != tt.resource {
				t.Errorf("splitAddress = %q, %q; want %q, %q", m, r, tt.module, tt.resource)
			}
			if c := configAddress(tt.addr); c != tt.config {
				t.Errorf("configAddress = %q, want %q", c, tt.config)
			}
			if b, i := cutIndex(tt.addr); b != tt.block || i != tt.index {
				t.Errorf("cutIndex = %q, %q; want %q, %q", b, i, tt.block, tt.index)
			}
		})
	}
	refs := map[string][3]string{
		"aws_s3_bucket.logs.id":      {"aws_s3_bucket.logs", "", "ok"},
		`aws_s3_bucket.logs["a"].id`: {"aws_s3_bucket.logs", `["a"]`, "ok"},
		"var.bucket":                 {"", "", ""},
		"module.store.bucket_id":     {"", "", ""},
		"data.aws_caller_identity.c": {"", "", ""},
	}
	for ref, want := range refs {
		b, i, ok := refResource(ref)
		if b != want[0] || i != want[1] || ok != (want[2] == "ok") {
			t.Errorf("refResource(%q) = %q, %q, %v; want %v", ref, b, i, ok, want)
		}
	}
}

func TestRegionsAndAccounts(t *testing.T) {
	zones := map[string]string{"eu-central-1a": "eu-central-1", "europe-west3-b": "europe-west3", "eu-de-01": "eu-de", "nova": "", "": ""}
	for z, want := range zones {
		if got := zoneRegion(z); got != want {
			t.Errorf("zoneRegion(%q) = %q, want %q", z, got, want)
		}
	}
	if got := normalizeRegion("West Europe"); got != "westeurope" {
		t.Errorf("normalizeRegion = %q", got)
	}
	n := &native{Values: map[string]any{"id": "/subscriptions/0000-1111/resourceGroups/rg/providers/x/y"}}
	if got := nativeAccount(n); got != "0000-1111" {
		t.Errorf("azure account = %q", got)
	}
	n = &native{Values: map[string]any{"arn": "arn:aws:iam::123456789012:role/x"}}
	if got := nativeAccount(n); got != "123456789012" {
		t.Errorf("aws account = %q", got)
	}
}

// TestKeyOrderDoesNotMatter parses a plan whose top-level keys are sorted
// (configuration before resource_changes, variables last, as encoding/json
// prints a map) and which holds a decoy "configuration" object where the
// reader's guess looks first. The estate must be the same as from
// Terraform's own order.
func TestKeyOrderDoesNotMatter(t *testing.T) {
	for _, name := range []string{"s3_split.plan.json", "modules.plan.json", "aws_core.plan.json"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Parse(name, data)
			if err != nil {
				t.Fatal(err)
			}
			var plan map[string]any
			if err := json.Unmarshal(data, &plan); err != nil {
				t.Fatal(err)
			}
			changes := plan["resource_changes"].([]any)
			last := changes[len(changes)-1].(map[string]any)["change"].(map[string]any)
			last["after_sensitive"] = map[string]any{"configuration": map[string]any{"root_module": map[string]any{}}}
			sorted, err := json.Marshal(plan)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(name, sorted)
			if err != nil {
				t.Fatal(err)
			}
			// Locations and order follow the layout; nothing else may.
			for _, est := range []*inventory.Estate{want, got} {
				for _, r := range est.Resources {
					r.Source = inventory.Location{}
				}
				slices.SortFunc(est.Resources, func(a, b *inventory.Resource) int { return strings.Compare(a.Address, b.Address) })
			}
			if w, g := goldenView(t, want), goldenView(t, got); !bytes.Equal(w, g) {
				t.Errorf("estate differs with sorted keys:\n%s", lineDiff(string(w), string(g)))
			}
		})
	}
}

// TestRealPlanReferences reads a plan that terraform itself printed (made
// with the built-in terraform_data resource, which needs no provider
// download) and resolves its references the way joiners do: a plain
// reference, a for_each pair matched by key, and a module output followed
// into the module instance.
func TestRealPlanReferences(t *testing.T) {
	data, err := os.ReadFile("testdata/terraform_data.plan.json")
	if err != nil {
		t.Fatal(err)
	}
	p := &parser{file: "terraform_data.plan.json", data: data}
	p.mappers, p.joiners = registry()
	if err := p.scan(); err != nil {
		t.Fatal(err)
	}
	est, err := p.build()
	if err != nil {
		t.Fatal(err)
	}
	if len(est.Unsupported) != 1 || est.Unsupported[0].Count != 11 {
		t.Errorf("unsupported = %+v, want 11 terraform_data", est.Unsupported)
	}
	natives := map[string]*native{}
	var rs []*inventory.Resource
	for _, rec := range p.changes {
		natives[rec.address] = rec.n
		rs = append(rs, &inventory.Resource{Type: "test", Address: rec.address, Native: rec.n.Values})
	}
	all := indexTargets(rs, map[string]bool{"test": true})
	j := joiner{Target: "test", Ref: "input"}
	for from, want := range map[string]string{
		"terraform_data.versioning":           "terraform_data.bucket",
		`terraform_data.team_cfg["b"]`:        `terraform_data.team["b"]`,
		"terraform_data.uses_module":          "module.store[0].terraform_data.key",
		"module.store[1].terraform_data.this": "module.store[1].terraform_data.key",
	} {
		n := natives[from]
		if n == nil {
			t.Fatalf("no resource %s", from)
		}
		got := all.resolve(n, j)
		if got == nil || got.Address != want {
			t.Errorf("%s resolves to %v, want %s", from, got, want)
		}
	}
}

func TestDetectRealOutput(t *testing.T) {
	for file, want := range map[string]string{"terraform_data.plan.json": KindPlan, "terraform_data.state.json": KindState} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if kind, ok := Detect(data); !ok || kind != want {
			t.Errorf("Detect(%s) = %q, %v; want %q", file, kind, ok, want)
		}
	}
}

func TestControlChar(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want int
	}{
		{"", -1}, {"plain ascii text here", -1}, {"\x1f", 0}, {"abcdefgh\x00", 8}, {"abcdefghijklmno\tp", 15},
		{"\x7f\x80\xff\xc3\xa9 utf-8 and high bytes", -1}, {"12345678123456781234567\n", 23},
	} {
		if got := controlChar([]byte(tt.s)); got != tt.want {
			t.Errorf("controlChar(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

// TestProviderAccount checks that the account the AWS provider assumes a
// role in (through a variable) becomes every resource's account, and that a
// role trusting another account is then external, not unknown.
func TestProviderAccount(t *testing.T) {
	est := parseFile(t, "aws_core.plan.json")
	for _, r := range est.Resources {
		if r.Account != "123456789012" {
			t.Errorf("%s account = %q, want 123456789012 from the provider's assume_role", r.Address, r.Account)
		}
	}
	r := resourceAt(t, est, "aws_iam_role.vendor")
	if v, _ := r.Get("external"); v != true || r.IsUnknown("external") {
		t.Errorf("aws_iam_role.vendor external = %v (unknown %v), want true", v, r.Unknown)
	}
}
