package terraform

import (
	"fmt"
	"testing"
)

// TestJoinAlternativeRef: azurerm before v4 names a container's account by
// storage_account_name; a public container must make its account public
// whichever attribute it uses, by value or, while the name is unknown,
// through the configuration's reference.
func TestJoinAlternativeRef(t *testing.T) {
	const plan = `{
  "format_version": "1.2", "terraform_version": "1.9.0",
  "planned_values": {"root_module": {"resources": [
    {"address": "azurerm_storage_account.a", "mode": "managed", "type": "azurerm_storage_account", "name": "a", "provider_name": "registry.terraform.io/hashicorp/azurerm",
     "values": {"name": %s, "location": "germanywestcentral", "allow_nested_items_to_be_public": true}},
    {"address": "azurerm_storage_container.c", "mode": "managed", "type": "azurerm_storage_container", "name": "c", "provider_name": "registry.terraform.io/hashicorp/azurerm",
     "values": {"name": "c", "storage_account_name": %s, "container_access_type": "blob"}}
  ]}},
  "resource_changes": [
    {"address": "azurerm_storage_account.a", "mode": "managed", "type": "azurerm_storage_account", "name": "a", "provider_name": "registry.terraform.io/hashicorp/azurerm",
     "change": {"actions": ["create"], "before": null, "after": {"name": %s, "location": "germanywestcentral", "allow_nested_items_to_be_public": true}, "after_unknown": {"id": true%s}}},
    {"address": "azurerm_storage_container.c", "mode": "managed", "type": "azurerm_storage_container", "name": "c", "provider_name": "registry.terraform.io/hashicorp/azurerm",
     "change": {"actions": ["create"], "before": null, "after": {"name": "c", "storage_account_name": %s, "container_access_type": "blob"}, "after_unknown": {"id": true%s}}}
  ],
  "configuration": {"root_module": {"resources": [
    {"address": "azurerm_storage_account.a", "mode": "managed", "type": "azurerm_storage_account", "name": "a", "expressions": {}},
    {"address": "azurerm_storage_container.c", "mode": "managed", "type": "azurerm_storage_container", "name": "c",
     "expressions": {"storage_account_name": {"references": ["azurerm_storage_account.a.name", "azurerm_storage_account.a"]}}}
  ]}}
}`
	tests := []struct {
		name           string
		value, unknown string
	}{
		{"by value", `"stlfdakten"`, ""},
		{"by reference while unknown", `null`, `, "name": true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			containerUnknown := ""
			if tt.unknown != "" {
				containerUnknown = `, "storage_account_name": true`
			}
			data := fmt.Sprintf(plan, tt.value, tt.value, tt.value, tt.unknown, tt.value, containerUnknown)
			e, err := Parse("plan.json", []byte(data))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range e.Resources {
				if r.Address != "azurerm_storage_account.a" {
					continue
				}
				if v, _ := r.Get("public"); v != true {
					t.Fatalf("account public = %v, want true from its public container (unknown: %v)", v, r.Unknown)
				}
				return
			}
			t.Fatalf("no storage account in %d resources", len(e.Resources))
		})
	}
}
