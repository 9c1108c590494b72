package terraform

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hoheit/hoheit/internal/inventory"
)

// planResource is one resource of a hand-built plan for focused tests.
type planResource struct {
	address string
	values  map[string]any
	unknown map[string]any
	exprs   map[string]any
}

// miniPlan builds a `terraform show -json` plan of resources in the root
// module, each created, with the given values, unknowns and configuration
// expressions, and parses it.
func miniPlan(t *testing.T, provider string, rs ...planResource) *inventory.Estate {
	t.Helper()
	var planned, changes, config []any
	for _, r := range rs {
		typ, name, _ := strings.Cut(r.address, ".")
		head := map[string]any{"address": r.address, "mode": "managed", "type": typ, "name": name,
			"provider_name": "registry.terraform.io/hashicorp/" + provider}
		with := func(extra map[string]any) map[string]any {
			m := map[string]any{}
			for k, v := range head {
				m[k] = v
			}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		unknown := map[string]any{"id": true}
		for k, v := range r.unknown {
			unknown[k] = v
		}
		exprs := r.exprs
		if exprs == nil {
			exprs = map[string]any{}
		}
		planned = append(planned, with(map[string]any{"values": r.values}))
		changes = append(changes, with(map[string]any{"change": map[string]any{"actions": []any{"create"}, "before": nil, "after": r.values, "after_unknown": unknown}}))
		config = append(config, with(map[string]any{"expressions": exprs}))
	}
	plan := map[string]any{
		"format_version": "1.2", "terraform_version": "1.9.0",
		"planned_values":   map[string]any{"root_module": map[string]any{"resources": planned}},
		"resource_changes": changes,
		"configuration":    map[string]any{"root_module": map[string]any{"resources": config}},
	}
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse("plan.json", data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func refs(addr string) map[string]any { return map[string]any{"references": []any{addr}} }

// TestAzureDiagnosticSettingTarget: a diagnostic setting of a resource in
// the plan is no subscription audit trail, even before its target's id is
// known; one for the subscription (read through a data source) is.
func TestAzureDiagnosticSettingTarget(t *testing.T) {
	setting := map[string]any{"name": "d", "log_analytics_workspace_id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w",
		"enabled_log": []any{map[string]any{"category": "StorageRead"}}}
	tests := []struct {
		name      string
		target    string
		wantTrail bool
	}{
		{"blob service of a storage account in the plan", "azurerm_storage_account.akten.id", false},
		{"the subscription, through a data source", "data.azurerm_subscription.current.id", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := miniPlan(t, "azurerm",
				planResource{address: "azurerm_storage_account.akten", values: map[string]any{"name": "stakten", "location": "germanywestcentral"}},
				planResource{address: "azurerm_monitor_diagnostic_setting.d", values: setting,
					unknown: map[string]any{"target_resource_id": true},
					exprs:   map[string]any{"target_resource_id": refs(tt.target)}},
			)
			trail := false
			for _, r := range e.Resources {
				trail = trail || r.Type == "logging.audit_trail"
			}
			if trail != tt.wantTrail {
				t.Errorf("audit trail found = %v, want %v", trail, tt.wantTrail)
			}
		})
	}
}

// TestAzureManagementLock: a CanNotDelete lock on a database is its deletion
// protection, whether the database's id is known or only referenced.
func TestAzureManagementLock(t *testing.T) {
	for _, level := range []string{"CanNotDelete", "ReadOnly"} {
		t.Run(level, func(t *testing.T) {
			e := miniPlan(t, "azurerm",
				planResource{address: "azurerm_postgresql_flexible_server.fv", values: map[string]any{"name": "psql-fv", "location": "germanywestcentral"}},
				planResource{address: "azurerm_management_lock.fv", values: map[string]any{"name": "no-delete", "lock_level": level},
					unknown: map[string]any{"scope": true}, exprs: map[string]any{"scope": refs("azurerm_postgresql_flexible_server.fv.id")}},
			)
			for _, r := range e.Resources {
				if r.Address == "azurerm_postgresql_flexible_server.fv" {
					if v, _ := r.Get("deletion_protection"); v != true {
						t.Errorf("deletion_protection = %v, want true", v)
					}
					return
				}
			}
			t.Fatal("server not found")
		})
	}
}
