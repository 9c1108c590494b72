package terraform

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// backRef is a settings resource that other resources name in an attribute
// of their own and take settings from: an aws_db_parameter_group lends TLS
// settings to every database that names it, an azurerm_key_vault its
// soft-delete retention to its keys. It is the reverse of a joiner, whose
// split resource names its one target.
type backRef struct {
	// Target is the normalized type of the resources that name it.
	Target string
	// Attr is the attribute of those resources that names it.
	Attr string
	// Apply copies the settings onto one resource that names them: every
	// settings resource the attribute names and this file holds, and
	// whether that is all it names (a VM's network interfaces may lie
	// outside the plan, which leaves what they say unknown).
	Apply func(settings []*native, complete bool, target *inventory.Resource)
}

// backRefRegistry gathers the back references of every provider file.
func backRefRegistry() map[string]backRef {
	out := map[string]backRef{}
	for _, t := range []map[string]backRef{awsBackRefs, azureBackRefs} {
		for k, v := range t {
			out[k] = v
		}
	}
	return out
}

// lend applies every back reference: for each mapped resource (mapped[i]
// is natives[i]'s, nil when it has none), the settings resource its
// attribute names, by value or through the configuration's reference.
// lenders are the natives of the types refs names (others are passed
// over).
func lend(lenders, natives []*native, mapped []*inventory.Resource, refs map[string]backRef) error {
	type valueKey struct{ typ, value string }
	byAddr := map[string]*native{}
	byValue := map[valueKey]*native{}
	for _, n := range lenders {
		if _, ok := refs[n.Type]; !ok || n == nil {
			continue
		}
		byAddr[n.Address] = n
		for _, k := range []string{"name", "id", "arn"} {
			if s := n.str(k); s != "" && !n.unknown(k) {
				byValue[valueKey{n.Type, s}] = n
			}
		}
	}
	if len(byAddr) == 0 {
		return nil
	}
	for i, n := range natives {
		r := mapped[i]
		if r == nil || n == nil {
			continue
		}
		for typ, br := range refs {
			if br.Target != r.Type {
				continue
			}
			var found []*native
			named := 0
			add := func(c *native) {
				if c != nil && c.Type == typ && !slices.Contains(found, c) {
					found = append(found, c)
				}
			}
			if !n.unknown(br.Attr) {
				for _, v := range n.strings(br.Attr) {
					named++
					add(byValue[valueKey{typ, v}])
				}
			}
			if len(found) == 0 {
				refs := n.references(br.Attr)
				named = len(refs)
				for _, ref := range refs {
					if c := byAddr[ref.block+ref.index]; c != nil {
						add(c)
					} else {
						add(byAddr[ref.block])
					}
				}
			}
			if len(found) == 0 {
				continue
			}
			if err := safeLend(br, found, len(found) >= named, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func safeLend(br backRef, found []*native, complete bool, r *inventory.Resource) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("applying %s to %s failed: %v; this is a bug in hoheit, please report it with the resource type %s", found[0].Address, r.Address, v, found[0].Type)
		}
	}()
	br.Apply(found, complete, r)
	return nil
}

// awsBackRefs: RDS parameter groups lend their TLS settings.
var awsBackRefs = map[string]backRef{
	"aws_db_parameter_group":          {Target: "database.instance", Attr: "parameter_group_name", Apply: awsLendParameterGroup},
	"aws_rds_cluster_parameter_group": {Target: "database.instance", Attr: "db_cluster_parameter_group_name", Apply: awsLendParameterGroup},
}

// awsLendParameterGroup reads the parameters that decide encryption in
// transit: rds.force_ssl (PostgreSQL, SQL Server) and
// require_secure_transport (MySQL, MariaDB) enforce TLS;
// ssl_min_protocol_version (PostgreSQL) and tls_version (MySQL) set the
// lowest version. Parameters the group leaves out keep what the engine's
// defaults gave.
func awsLendParameterGroup(groups []*native, _ bool, t *inventory.Resource) {
	for _, p := range groups[0].list("parameter") {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		value, _ := m["value"].(string)
		switch strings.ToLower(name) {
		case "rds.force_ssl", "require_secure_transport":
			on := value == "1" || strings.EqualFold(value, "on") || strings.EqualFold(value, "true")
			setKnown(t, "encryption.in_transit.enforced", on)
		case "ssl_min_protocol_version", "tls_version":
			if v := lowestTLS(value); v != "" {
				setKnown(t, "encryption.in_transit.min_tls_version", v)
			}
		}
	}
}

// lowestTLS reads "TLSv1.2" or "TLSv1.2,TLSv1.3" as "1.2".
func lowestTLS(s string) string {
	low := ""
	for _, part := range strings.Split(s, ",") {
		v := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(part)), "tlsv")
		if v != "" && (low == "" || v < low) {
			low = v
		}
	}
	return low
}

// azureBackRefs: a Key Vault lends its soft-delete retention to its keys.
var azureBackRefs = map[string]backRef{
	"azurerm_key_vault":         {Target: "kms.key", Attr: "key_vault_id", Apply: azureLendKeyVault},
	"azurerm_network_interface": {Target: "compute.instance", Attr: "network_interface_ids", Apply: azureLendNICs},
}

// azureLendNICs: a VM has a public IP when one of its network interfaces
// has one; none has when every interface it names is in the plan and none
// has (an interface outside the plan leaves it unknown).
func azureLendNICs(nics []*native, complete bool, vm *inventory.Resource) {
	unknown := !complete
	for _, n := range nics {
		for i := range n.list("ip_configuration") {
			p := "ip_configuration." + strconv.Itoa(i) + ".public_ip_address_id"
			switch {
			case n.str(p) != "" || n.unknown(p) && n.reference(p) != "":
				setKnown(vm, "public_ip", true)
				return
			case n.unknown(p):
				unknown = true
			}
		}
	}
	if !unknown {
		setKnown(vm, "public_ip", false)
	}
}

// azureLendKeyVault: a deleted key stays recoverable for the vault's
// soft-delete retention (7 to 90 days, 90 when left out; soft delete can no
// longer be turned off).
func azureLendKeyVault(vaults []*native, _ bool, t *inventory.Resource) {
	v := vaults[0]
	if v.unknown("soft_delete_retention_days") && v.configured("soft_delete_retention_days") {
		t.SetUnknown("deletion_window_days")
		return
	}
	days := v.number("soft_delete_retention_days")
	if days == 0 {
		days = 90
	}
	setKnown(t, "deletion_window_days", days)
}
