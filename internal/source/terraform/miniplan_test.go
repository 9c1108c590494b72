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
			counted := false
			for _, u := range e.Unsupported {
				counted = counted || u.NativeType == "azurerm_monitor_diagnostic_setting"
			}
			if counted == tt.wantTrail {
				t.Errorf("counted as unsupported = %v, want %v: a setting that is no trail is seen, not dropped", counted, !tt.wantTrail)
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

// TestBackRefs: settings resources lend their settings to the resources that
// name them, by value or, while unknown, through the configuration.
func TestBackRefs(t *testing.T) {
	group := planResource{address: "aws_db_parameter_group.tls", values: map[string]any{"name": "pg15-tls", "family": "postgres15",
		"parameter": []any{map[string]any{"name": "rds.force_ssl", "value": "1"}, map[string]any{"name": "ssl_min_protocol_version", "value": "TLSv1.2"}}}}
	db := func(name any, unknown bool) planResource {
		r := planResource{address: "aws_db_instance.fv", values: map[string]any{"identifier": "fv", "engine": "postgres", "engine_version": "15.4", "parameter_group_name": name},
			exprs: map[string]any{"parameter_group_name": refs("aws_db_parameter_group.tls.name")}}
		if unknown {
			r.unknown = map[string]any{"parameter_group_name": true}
		}
		return r
	}
	vault := planResource{address: "azurerm_key_vault.kv", values: map[string]any{"name": "kv-lfd", "location": "germanywestcentral", "soft_delete_retention_days": float64(30)}}
	key := planResource{address: "azurerm_key_vault_key.k", values: map[string]any{"name": "k", "key_type": "RSA-HSM", "key_size": float64(4096)},
		unknown: map[string]any{"key_vault_id": true}, exprs: map[string]any{"key_vault_id": refs("azurerm_key_vault.kv.id")}}
	tests := []struct {
		name     string
		provider string
		rs       []planResource
		address  string
		want     map[string]any
	}{
		{"parameter group by value", "aws", []planResource{group, db("pg15-tls", false)}, "aws_db_instance.fv",
			map[string]any{"encryption.in_transit.enforced": true, "encryption.in_transit.min_tls_version": "1.2"}},
		{"parameter group by reference", "aws", []planResource{group, db(nil, true)}, "aws_db_instance.fv",
			map[string]any{"encryption.in_transit.enforced": true, "encryption.in_transit.min_tls_version": "1.2"}},
		{"key vault retention", "azurerm", []planResource{vault, key}, "azurerm_key_vault_key.k",
			map[string]any{"deletion_window_days": int64(30)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := miniPlan(t, tt.provider, tt.rs...)
			for _, u := range e.Unsupported {
				if u.NativeType == "aws_db_parameter_group" || u.NativeType == "azurerm_key_vault" {
					t.Errorf("%s counted as unsupported", u.NativeType)
				}
			}
			for _, r := range e.Resources {
				if r.Address != tt.address {
					continue
				}
				for path, want := range tt.want {
					if got, _ := r.Get(path); got != want || r.IsUnknown(path) {
						t.Errorf("%s = %v (unknown %v), want %v", path, got, r.Unknown, want)
					}
				}
				return
			}
			t.Fatalf("%s not found", tt.address)
		})
	}
	if got := lowestTLS("TLSv1.3, TLSv1.2"); got != "1.2" {
		t.Errorf("lowestTLS = %q", got)
	}
}

// TestAzureVMPublicIPThroughNIC: a VM's public IP is on the network
// interfaces it names; the plan decides it only when it holds them all.
func TestAzureVMPublicIPThroughNIC(t *testing.T) {
	nic := func(name string, public bool) planResource {
		ipc := map[string]any{"name": "ip", "subnet_id": "/subscriptions/x/subnets/s", "private_ip_address_allocation": "Dynamic"}
		r := planResource{address: "azurerm_network_interface." + name, values: map[string]any{"name": name, "location": "germanywestcentral", "ip_configuration": []any{ipc}}}
		if public {
			r.unknown = map[string]any{"ip_configuration": []any{map[string]any{"public_ip_address_id": true}}}
			r.exprs = map[string]any{"ip_configuration": []any{map[string]any{"public_ip_address_id": refs("azurerm_public_ip.pip.id")}}}
		}
		return r
	}
	vm := func(nics ...string) planResource {
		var rs []any
		for _, n := range nics {
			rs = append(rs, n)
		}
		return planResource{address: "azurerm_linux_virtual_machine.vm",
			values:  map[string]any{"name": "vm", "location": "germanywestcentral", "size": "Standard_D2s_v5"},
			unknown: map[string]any{"network_interface_ids": true},
			exprs:   map[string]any{"network_interface_ids": map[string]any{"references": rs}}}
	}
	tests := []struct {
		name        string
		rs          []planResource
		want        any
		wantUnknown bool
	}{
		{"nic with a public ip", []planResource{nic("a", true), vm("azurerm_network_interface.a.id", "azurerm_network_interface.a")}, true, false},
		{"nic without", []planResource{nic("a", false), vm("azurerm_network_interface.a.id", "azurerm_network_interface.a")}, false, false},
		{"second nic has one", []planResource{nic("a", false), nic("b", true), vm("azurerm_network_interface.a.id", "azurerm_network_interface.a", "azurerm_network_interface.b.id", "azurerm_network_interface.b")}, true, false},
		{"a nic outside the plan", []planResource{nic("a", false), vm("azurerm_network_interface.a.id", "azurerm_network_interface.a", "azurerm_network_interface.gone.id", "azurerm_network_interface.gone")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := miniPlan(t, "azurerm", tt.rs...)
			for _, r := range e.Resources {
				if r.Address != "azurerm_linux_virtual_machine.vm" {
					continue
				}
				got, _ := r.Get("public_ip")
				if r.IsUnknown("public_ip") != tt.wantUnknown || (!tt.wantUnknown && got != tt.want) {
					t.Errorf("public_ip = %v (unknown %v), want %v (unknown %v)", got, r.IsUnknown("public_ip"), tt.want, tt.wantUnknown)
				}
				return
			}
			t.Fatal("vm not found")
		})
	}
}
