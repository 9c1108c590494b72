package plan

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

type planJSON struct {
	FormatVersion string `json:"format_version"`
	PlannedValues struct {
		RootModule struct {
			Resources []struct {
				Address string         `json:"address"`
				Type    string         `json:"type"`
				Values  map[string]any `json:"values"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"planned_values"`
	ResourceChanges []struct {
		Address string `json:"address"`
		Change  struct {
			Actions      []string       `json:"actions"`
			Before       any            `json:"before"`
			After        map[string]any `json:"after"`
			AfterUnknown map[string]any `json:"after_unknown"`
		} `json:"change"`
	} `json:"resource_changes"`
	Configuration struct {
		ProviderConfig map[string]any `json:"provider_config"`
		RootModule     struct {
			Resources []struct {
				Address           string         `json:"address"`
				ProviderConfigKey string         `json:"provider_config_key"`
				Expressions       map[string]any `json:"expressions"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"configuration"`
}

func decode(t *testing.T, n int, seed int64) (*planJSON, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, n, seed); err != nil {
		t.Fatal(err)
	}
	var p planJSON
	if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
		t.Fatalf("plan of %d resources is not valid JSON: %v", n, err)
	}
	return &p, buf.Bytes()
}

func TestWriteSections(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100, 1000} {
		p, _ := decode(t, n, 1)
		pv, rc, cf := p.PlannedValues.RootModule.Resources, p.ResourceChanges, p.Configuration.RootModule.Resources
		if len(pv) != n || len(rc) != n || len(cf) != n {
			t.Fatalf("n=%d: planned_values %d, resource_changes %d, configuration %d resources", n, len(pv), len(rc), len(cf))
		}
		seen := map[string]bool{}
		for i := range pv {
			a := pv[i].Address
			if rc[i].Address != a || cf[i].Address != a {
				t.Fatalf("n=%d: resource %d is %s / %s / %s across sections", n, i, a, rc[i].Address, cf[i].Address)
			}
			if seen[a] {
				t.Fatalf("n=%d: duplicate address %s", n, a)
			}
			seen[a] = true
			if got := rc[i].Change.Actions; len(got) != 1 || got[0] != "create" || rc[i].Change.Before != nil {
				t.Errorf("%s: actions %v, before %v; want a create", a, got, rc[i].Change.Before)
			}
			if _, ok := p.Configuration.ProviderConfig[cf[i].ProviderConfigKey]; !ok {
				t.Errorf("%s: provider_config_key %q not configured", a, cf[i].ProviderConfigKey)
			}
			// A value is either known (in after) or unknown, never both.
			for k, u := range rc[i].Change.AfterUnknown {
				if _, known := rc[i].Change.After[k]; known && u == true {
					t.Errorf("%s: %s is both known and unknown", a, k)
				}
			}
		}
	}
}

// TestReferencesResolve checks that every reference to a resource names a
// resource written earlier in the plan, so that readers can join split
// settings onto their parent.
func TestReferencesResolve(t *testing.T) {
	p, _ := decode(t, 3000, 7)
	seen := map[string]bool{}
	refs := 0
	for _, r := range p.Configuration.RootModule.Resources {
		for _, ref := range references(r.Expressions) {
			if strings.HasPrefix(ref, "var.") {
				continue
			}
			parts := strings.SplitN(ref, ".", 3)
			target := parts[0] + "." + parts[1]
			if !seen[target] {
				t.Errorf("%s references %s, which is not earlier in the plan", r.Address, ref)
			}
			refs++
		}
		seen[r.Address] = true
	}
	if refs < 1000 {
		t.Errorf("only %d references to resources in 3000 resources", refs)
	}
}

func references(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if rs, ok := x["references"].([]any); ok {
			for _, r := range rs {
				out = append(out, r.(string))
			}
		}
		for k, e := range x {
			if k != "references" && k != "constant_value" {
				out = append(out, references(e)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, references(e)...)
		}
	}
	return out
}

func TestSplitBucketSettingsReferenceBucket(t *testing.T) {
	p, _ := decode(t, 1000, 1)
	checked := 0
	for _, r := range p.Configuration.RootModule.Resources {
		if !strings.HasPrefix(r.Address, "aws_s3_bucket_") {
			continue
		}
		refs := references(r.Expressions["bucket"])
		if len(refs) == 0 || !strings.HasPrefix(refs[0], "aws_s3_bucket.") {
			t.Errorf("%s: bucket references %v, want the aws_s3_bucket", r.Address, refs)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no split S3 settings in the plan")
	}
}

func TestAllTypes(t *testing.T) {
	counts := Count(1000, 1)
	for _, typ := range []string{
		"aws_s3_bucket", "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block",
		"aws_s3_bucket_versioning", "aws_instance", "aws_ebs_volume", "aws_db_instance", "aws_security_group",
		"aws_vpc", "aws_iam_role", "aws_iam_policy", "aws_kms_key", "aws_cloudtrail",
		"azurerm_storage_account", "azurerm_linux_virtual_machine", "azurerm_managed_disk",
		"azurerm_network_security_group", "azurerm_virtual_network", "azurerm_key_vault_key",
		"azurerm_postgresql_flexible_server",
		"google_storage_bucket", "google_compute_instance", "google_compute_disk", "google_compute_firewall",
		"google_compute_network", "google_sql_database_instance", "google_kms_crypto_key", "google_project_iam_member",
		"opentelekomcloud_obs_bucket", "opentelekomcloud_ecs_instance_v1", "opentelekomcloud_evs_volume_v3",
		"opentelekomcloud_networking_secgroup_v2", "opentelekomcloud_vpc_v1", "opentelekomcloud_rds_instance_v3",
		"opentelekomcloud_kms_key_v1",
	} {
		if counts[typ] == 0 {
			t.Errorf("no %s in a plan of 1000 resources", typ)
		}
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != 1000 {
		t.Errorf("Count sums to %d, want 1000", total)
	}
}

func TestDeterministic(t *testing.T) {
	_, a := decode(t, 500, 3)
	_, b := decode(t, 500, 3)
	_, c := decode(t, 500, 4)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different plans")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same plan")
	}
}

// TestMix checks that the plan holds both secure and insecure settings.
func TestMix(t *testing.T) {
	p, _ := decode(t, 2000, 1)
	var public, private int
	for _, r := range p.ResourceChanges {
		if strings.HasPrefix(r.Address, "aws_db_instance.") {
			if r.Change.After["publicly_accessible"] == true {
				public++
			} else {
				private++
			}
		}
	}
	if public == 0 || private == 0 {
		t.Errorf("aws_db_instance: %d public, %d private; want both", public, private)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"plain", `q"uote\`, "tab\tnl\n<&>", "ctl\x01", "ümlaut €"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	for b.Loop() {
		if err := Write(io.Discard, 10000, 1); err != nil {
			b.Fatal(err)
		}
	}
}
