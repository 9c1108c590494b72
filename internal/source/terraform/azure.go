package terraform

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// The azurerm mappers. Names follow azurerm v4 and keep the v3 spellings
// where v4 renamed an attribute (enable_https_traffic_only and the like),
// so plans of either major version map the same.

var azureMappers = map[string]mapper{
	"azurerm_storage_account":                                azureStorageAccount,
	"azurerm_linux_virtual_machine":                          azureLinuxVM,
	"azurerm_windows_virtual_machine":                        azureWindowsVM,
	"azurerm_virtual_machine":                                azureLegacyVM,
	"azurerm_linux_virtual_machine_scale_set":                azureLinuxVM,
	"azurerm_windows_virtual_machine_scale_set":              azureWindowsVM,
	"azurerm_managed_disk":                                   azureManagedDisk,
	"azurerm_mssql_server":                                   azureMSSQLServer,
	"azurerm_mssql_database":                                 azureMSSQLDatabase,
	"azurerm_postgresql_flexible_server":                     azureFlexibleServer("postgres"),
	"azurerm_mysql_flexible_server":                          azureFlexibleServer("mysql"),
	"azurerm_postgresql_server":                              azureSingleServer("postgres"),
	"azurerm_mysql_server":                                   azureSingleServer("mysql"),
	"azurerm_cosmosdb_account":                               azureCosmosDB,
	"azurerm_network_security_group":                         azureNSG,
	"azurerm_virtual_network":                                azureVNet,
	"azurerm_role_assignment":                                azureRoleAssignment,
	"azurerm_role_definition":                                azureRoleDefinition,
	"azurerm_user_assigned_identity":                         azureUserAssignedIdentity,
	"azurerm_key_vault_key":                                  azureKeyVaultKey,
	"azurerm_key_vault_managed_hardware_security_module_key": azureManagedHSMKey,
	"azurerm_monitor_diagnostic_setting":                     azureDiagnosticSetting,
	"azurerm_monitor_aad_diagnostic_setting":                 azureAADDiagnosticSetting,
	"azurerm_monitor_log_profile":                            azureLogProfile,
}

var azureJoiners = map[string]joiner{
	// A management lock on a database blocks its deletion (CanNotDelete)
	// or every change (ReadOnly): Azure's deletion protection. Locks on a
	// resource group or on other types find no target here.
	"azurerm_management_lock": {Target: "database.instance", Ref: "scope", Apply: azureManagementLock},
	"azurerm_storage_container": {
		Target: "object_storage.bucket", Ref: "storage_account_id", AlsoRefs: []string{"storage_account_name"}, Apply: azureStorageContainer,
		Natives: []string{"azurerm_storage_account"},
	},
	"azurerm_storage_account_customer_managed_key": {
		Target: "object_storage.bucket", Ref: "storage_account_id", Apply: azureStorageCMK,
		Natives: []string{"azurerm_storage_account"},
	},
	"azurerm_storage_account_network_rules": {
		Target: "object_storage.bucket", Ref: "storage_account_id", Apply: azureStorageNetworkRules,
		Natives: []string{"azurerm_storage_account"},
	},
	"azurerm_network_security_rule": {
		Target: "network.firewall", Ref: "network_security_group_name", Apply: azureNSGRule,
		Natives: []string{"azurerm_network_security_group"},
	},
	"azurerm_subnet_network_security_group_association": {
		Target: "network.firewall", Ref: "network_security_group_id", Apply: azureNSGAssociation("subnet_id"),
	},
	"azurerm_network_interface_security_group_association": {
		Target: "network.firewall", Ref: "network_security_group_id", Apply: azureNSGAssociation("network_interface_id"),
	},
	"azurerm_network_watcher_flow_log": {
		Target: "network.network", Ref: "target_resource_id", Apply: azureFlowLog,
		Natives: []string{"azurerm_virtual_network"},
	},
	"azurerm_network_interface": {
		Target: "compute.instance", Ref: "virtual_machine_id", Apply: azureNIC,
		Natives: []string{"azurerm_linux_virtual_machine", "azurerm_windows_virtual_machine", "azurerm_virtual_machine"},
	},
	"azurerm_virtual_machine_extension": {
		Target: "compute.instance", Ref: "virtual_machine_id", Apply: azureVMExtension,
		Natives: []string{"azurerm_linux_virtual_machine", "azurerm_windows_virtual_machine", "azurerm_virtual_machine"},
	},
	"azurerm_virtual_machine_data_disk_attachment": {
		Target: "compute.disk", Ref: "managed_disk_id", Apply: azureDiskAttachment,
		Natives: []string{"azurerm_managed_disk"},
	},
	"azurerm_mssql_server_transparent_data_encryption": {
		Target: "database.instance", Ref: "server_id", Apply: azureMSSQLTDE,
		Natives: []string{"azurerm_mssql_server"},
	},
	"azurerm_mssql_server_extended_auditing_policy": {
		Target: "database.instance", Ref: "server_id", Apply: azureMSSQLAuditing,
		Natives: []string{"azurerm_mssql_server"},
	},
	"azurerm_postgresql_flexible_server_configuration": {
		Target: "database.instance", Ref: "server_id", Apply: azureFlexibleServerConfig,
		Natives: []string{"azurerm_postgresql_flexible_server"},
	},
	"azurerm_postgresql_server_key": {
		Target: "database.instance", Ref: "server_id", Apply: azureServerKey,
		Natives: []string{"azurerm_postgresql_server"},
	},
	"azurerm_mysql_server_key": {
		Target: "database.instance", Ref: "server_id", Apply: azureServerKey,
		Natives: []string{"azurerm_mysql_server"},
	},
	"azurerm_mssql_firewall_rule": {
		Target: "database.instance", Ref: "server_id", Apply: azureDBFirewallRule,
		Natives: []string{"azurerm_mssql_server"},
	},
	"azurerm_postgresql_flexible_server_firewall_rule": {
		Target: "database.instance", Ref: "server_id", Apply: azureDBFirewallRule,
		Natives: []string{"azurerm_postgresql_flexible_server"},
	},
	"azurerm_mysql_flexible_server_firewall_rule": {
		Target: "database.instance", Ref: "server_id", Apply: azureDBFirewallRule,
		Natives: []string{"azurerm_mysql_flexible_server"},
	},
	"azurerm_postgresql_firewall_rule": {
		Target: "database.instance", Ref: "server_name", Apply: azureDBFirewallRule,
		Natives: []string{"azurerm_postgresql_server"},
	},
	"azurerm_mysql_firewall_rule": {
		Target: "database.instance", Ref: "server_name", Apply: azureDBFirewallRule,
		Natives: []string{"azurerm_mysql_server"},
	},
	"azurerm_mysql_flexible_server_configuration": {
		Target: "database.instance", Ref: "server_id", Apply: azureFlexibleServerConfig,
		Natives: []string{"azurerm_mysql_flexible_server"},
	},
}

// azureStart begins a resource with what every azurerm resource shares.
func azureStart(n *native, typ string) mapping {
	m := startMapping(n, "azure", typ)
	if loc := azureLocation(n.str("location")); loc != "" {
		m.r.Region = loc
	}
	m.r.Tags = n.tagsAt("tags")
	return m
}

// azureLocation normalizes a location as azurerm does: "West Europe" and
// "westeurope" are the same region.
func azureLocation(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", ""))
}

// azureTLS turns azurerm's TLS spellings (TLS1_2, 1.2, Tls12) into "1.2".
func azureTLS(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimPrefix(strings.TrimPrefix(s, "TLSV"), "TLS")
	s = strings.TrimPrefix(s, "_")
	switch s {
	case "1_0", "1.0", "10":
		return "1.0"
	case "1_1", "1.1", "11":
		return "1.1"
	case "1_2", "1.2", "12":
		return "1.2"
	case "1_3", "1.3", "13":
		return "1.3"
	}
	return ""
}

func azureStorageAccount(n *native) *inventory.Resource {
	m := azureStart(n, "object_storage.bucket")
	// Azure Storage encrypts every account at rest; without a customer key
	// the key is Microsoft's.
	m.r.Set("encryption.at_rest.enabled", true)
	// A key in the customer's own managed HSM is one Microsoft never holds.
	m.atRestKey("provider", []string{"customer_managed_key"},
		keyAttr{path: "customer_managed_key.0.managed_hsm_key_id", manager: "external"},
		keyAttr{path: "customer_managed_key.0.key_vault_key_id", manager: "customer"})
	// https_traffic_only_enabled (v4) was enable_https_traffic_only (v3);
	// both default to true.
	https := "https_traffic_only_enabled"
	if !n.has(https) && !n.unknown(https) {
		https = "enable_https_traffic_only"
	}
	m.boolAttr("encryption.in_transit.enforced", https, true)
	m.set("encryption.in_transit.min_tls_version", azureTLS(n.str("min_tls_version")), "min_tls_version")
	// allow_nested_items_to_be_public (v3, default true) was
	// allow_blob_public_access (v2, default false).
	guard := "allow_nested_items_to_be_public"
	if !n.has(guard) && !n.unknown(guard) && (n.has("allow_blob_public_access") || n.unknown("allow_blob_public_access")) {
		guard = "allow_blob_public_access"
	}
	if m.unknownAny(guard) {
		m.unknown("public_access_block")
	} else {
		allow, ok := boolAt(n, guard)
		m.r.Set("public_access_block", ok && !allow)
	}
	m.boolDefault("versioning.enabled", "blob_properties.0.versioning_enabled", false)
	state := n.str("immutability_policy.0.state")
	m.setDefault("object_lock.enabled", state == "Locked" || state == "Unlocked", "immutability_policy")
	switch strings.ToUpper(n.str("account_replication_type")) {
	case "GRS", "RAGRS", "GZRS", "RAGZRS":
		m.r.Set("replication.enabled", true)
	default:
		m.set("replication.enabled", false, "account_replication_type")
	}
	m.r.Set("replication.regions", []any{})
	publicAccess, ok := boolAt(n, "public_network_access_enabled")
	private := (ok && !publicAccess) || strings.EqualFold(n.str("network_rules.0.default_action"), "Deny")
	m.setDefault("network.private_only", private, "public_network_access_enabled", "network_rules.0.default_action")
	return m.r
}

// azureStorageContainer makes the account public when a container allows
// anonymous reads and the account does not forbid them.
func azureStorageContainer(n *native, target *inventory.Resource) {
	m := mapping{n: n, r: target}
	if public, _ := target.Get("public"); public == true {
		return
	}
	if n.unknown("container_access_type") {
		m.unknown("public")
		return
	}
	access := strings.ToLower(n.str("container_access_type"))
	if access == "" || access == "private" {
		return
	}
	// The account-level guard wins over the container's setting.
	if allow, ok := target.Native["allow_nested_items_to_be_public"].(bool); ok && !allow {
		return
	}
	if allow, ok := target.Native["allow_blob_public_access"].(bool); ok && !allow {
		return
	}
	setKnown(target, "public", true)
}

func azureStorageCMK(n *native, target *inventory.Resource) {
	m := mapping{n: n, r: target}
	m.atRestKey("", nil,
		keyAttr{path: "managed_hsm_key_id", manager: "external"},
		keyAttr{path: "key_vault_key_id", manager: "customer"})
	if n.str("managed_hsm_key_id") != "" || n.str("key_vault_key_id") != "" || n.unknown("managed_hsm_key_id") || n.unknown("key_vault_key_id") {
		return
	}
	// The older form names the vault and the key.
	setKnown(target, "encryption.at_rest.enabled", true)
	setKnown(target, "encryption.at_rest.key_manager", "customer")
	if m.unknownAny("key_vault_id", "key_name") {
		target.SetUnknown("encryption.at_rest.key_id")
		return
	}
	setKnown(target, "encryption.at_rest.key_id", strings.TrimSuffix(n.str("key_vault_id"), "/")+"/keys/"+n.str("key_name"))
}

func azureStorageNetworkRules(n *native, target *inventory.Resource) {
	m := mapping{n: n, r: target}
	if private, _ := target.Get("network.private_only"); private == true {
		return
	}
	m.set("network.private_only", strings.EqualFold(n.str("default_action"), "Deny"), "default_action")
}

func azureLinuxVM(n *native) *inventory.Resource {
	m := azureVM(n)
	// disable_password_authentication defaults to true.
	if m.unknownAny("disable_password_authentication") {
		m.unknown("login.password_auth")
	} else {
		disabled, ok := boolAt(n, "disable_password_authentication")
		m.r.Set("login.password_auth", ok && !disabled)
	}
	return m.r
}

func azureWindowsVM(n *native) *inventory.Resource {
	m := azureVM(n)
	m.r.Set("login.password_auth", true) // Windows VMs always have an admin password
	return m.r
}

// azureVM maps what linux and windows virtual machines and scale sets
// share. A scale set names its size sku and declares its network
// interfaces, extensions included, inline.
func azureVM(n *native) mapping {
	m := azureStart(n, "compute.instance")
	size := "size"
	if strings.HasSuffix(n.Type, "_scale_set") {
		size = "sku"
	}
	m.strAttr("machine_type", size)
	if id := n.str("source_image_id"); id != "" {
		m.r.Set("image", id)
	} else {
		ref := "source_image_reference.0."
		m.set("image", joinSet(":", n.str(ref+"publisher"), n.str(ref+"offer"), n.str(ref+"sku"), n.str(ref+"version")),
			"source_image_reference", "source_image_id")
	}
	m.set("confidential_computing", azureConfidential(n.str(size), n.str("os_disk.0.security_encryption_type")),
		size, "os_disk.0.security_encryption_type")
	m.boolAttr("secure_boot.enabled", "secure_boot_enabled", false)
	m.boolAttr("secure_boot.vtpm", "vtpm_enabled", false)
	m.r.Set("secure_boot.integrity_monitoring", false) // guest attestation is an extension, joined in
	m.r.Set("monitoring.enabled", false)               // so is a monitoring agent
	if size == "sku" {
		azureScaleSetInline(m)
	} else {
		// The network interfaces are separate resources the VM only
		// names, so whether one carries a public IP cannot be seen here.
		m.unknown("public_ip")
	}
	// IMDS is always on and needs a header, not a session token.
	m.r.Set("metadata_service.enabled", true)
	m.r.Set("metadata_service.token_required", false)
	m.r.Set("encryption.at_rest.enabled", true) // managed disks are always encrypted
	m.atRestKey("provider", []string{"os_disk"},
		keyAttr{path: "os_disk.0.disk_encryption_set_id", manager: "customer"},
		keyAttr{path: "os_disk.0.secure_vm_disk_encryption_set_id", manager: "customer"})
	azureIdentity(m)
	m.r.Set("identity.default_service_account", false)
	// The serial console needs boot diagnostics.
	m.set("login.serial_console", len(n.list("boot_diagnostics")) > 0, "boot_diagnostics")
	return m
}

// azureIdentity sets identity.principal from an identity block.
func azureIdentity(m mapping) {
	if m.unknownAny("identity") {
		m.unknown("identity.principal")
		return
	}
	ids := stringsAt(m.n, "identity.0.identity_ids")
	switch {
	case len(ids) > 0:
		m.r.Set("identity.principal", ids[0])
	case strings.Contains(m.n.str("identity.0.type"), "SystemAssigned"):
		m.r.Set("identity.principal", "SystemAssigned")
	}
}

// azureNIC makes its VM public when one of its IP configurations has a
// public IP. The interface names its VM only once attached (state), so in
// a plan of new resources it finds none and the VM stays unknown.
func azureNIC(n *native, target *inventory.Resource) {
	for i := range n.list("ip_configuration") {
		if n.str("ip_configuration."+strconv.Itoa(i)+".public_ip_address_id") != "" {
			setKnown(target, "public_ip", true)
			return
		}
	}
}

// azureScaleSetInline reads a scale set's inline network interfaces and
// extensions.
func azureScaleSetInline(m mapping) {
	n := m.n
	if m.unknownAny("network_interface") {
		m.unknown("public_ip")
	} else {
		public := false
		for i := range n.list("network_interface") {
			for j := range n.list("network_interface." + strconv.Itoa(i) + ".ip_configuration") {
				p := "network_interface." + strconv.Itoa(i) + ".ip_configuration." + strconv.Itoa(j) + ".public_ip_address"
				public = public || len(n.list(p)) > 0
			}
		}
		m.r.Set("public_ip", public)
	}
	if m.unknownAny("extension") {
		m.unknown("monitoring.enabled", "secure_boot.integrity_monitoring")
		return
	}
	for i := range n.list("extension") {
		if ext, ok := n.lookup("extension." + strconv.Itoa(i)).(map[string]any); ok {
			azureVMExtension(&native{Values: ext}, m.r)
		}
	}
}

// azureVMExtension notes the agents an extension installs: a monitoring
// agent, or guest attestation, which checks the measured boot of a
// trusted-launch or confidential VM.
func azureVMExtension(n *native, target *inventory.Resource) {
	if n.unknown("publisher") || n.unknown("type") {
		target.SetUnknown("monitoring.enabled")
		target.SetUnknown("secure_boot.integrity_monitoring")
		return
	}
	switch n.str("publisher") + "/" + n.str("type") {
	case "Microsoft.Azure.Monitor/AzureMonitorLinuxAgent", "Microsoft.Azure.Monitor/AzureMonitorWindowsAgent",
		"Microsoft.EnterpriseCloud.Monitoring/OmsAgentForLinux", "Microsoft.EnterpriseCloud.Monitoring/MicrosoftMonitoringAgent",
		"Microsoft.Azure.Diagnostics/LinuxDiagnostic", "Microsoft.Azure.Diagnostics/IaaSDiagnostics":
		setKnown(target, "monitoring.enabled", true)
	case "Microsoft.Azure.Security.LinuxAttestation/GuestAttestation", "Microsoft.Azure.Security.WindowsAttestation/GuestAttestation":
		setKnown(target, "secure_boot.integrity_monitoring", true)
	}
}

// azureConfidentialSize matches the confidential VM sizes: DCas/ECas and
// DCads/ECads (AMD SEV-SNP), DCes/ECes and DCeds/ECeds (Intel TDX), and
// the NCC H100 sizes (AMD SEV-SNP).
var azureConfidentialSize = regexp.MustCompile(`(?i)^standard_(?:(?:dc|ec)\d+(a|e)\w*_v\d+|(ncc)\d+\w*)$`)

// azureConfidential tells the memory encryption of a VM: only a
// confidential VM (os_disk security_encryption_type set) on a confidential
// size encrypts memory against the host.
func azureConfidential(size, securityEncryption string) string {
	if securityEncryption == "" {
		return "none"
	}
	g := azureConfidentialSize.FindStringSubmatch(size)
	switch {
	case g == nil:
		return "none"
	case strings.EqualFold(g[1], "e"):
		return "tdx"
	}
	return "sev-snp"
}

func azureLegacyVM(n *native) *inventory.Resource {
	m := azureStart(n, "compute.instance")
	m.strAttr("machine_type", "vm_size")
	ref := "storage_image_reference.0."
	m.set("image", firstSet(n.str(ref+"id"), joinSet(":", n.str(ref+"publisher"), n.str(ref+"offer"), n.str(ref+"sku"), n.str(ref+"version"))),
		"storage_image_reference")
	m.r.Set("confidential_computing", "none") // the legacy resource cannot create confidential VMs
	m.unknown("public_ip")
	m.r.Set("metadata_service.enabled", true)
	m.r.Set("metadata_service.token_required", false)
	m.r.Set("encryption.at_rest.enabled", true)
	m.r.Set("encryption.at_rest.key_manager", "provider")
	azureIdentity(m)
	m.r.Set("identity.default_service_account", false)
	switch {
	case len(n.list("os_profile_windows_config")) > 0:
		m.r.Set("login.password_auth", true)
	case m.unknownAny("os_profile_linux_config"):
		m.unknown("login.password_auth")
	case len(n.list("os_profile_linux_config")) > 0:
		disabled, _ := boolAt(n, "os_profile_linux_config.0.disable_password_authentication")
		m.r.Set("login.password_auth", !disabled)
	}
	enabled, _ := boolAt(n, "boot_diagnostics.0.enabled")
	m.set("login.serial_console", enabled, "boot_diagnostics")
	return m.r
}

func azureManagedDisk(n *native) *inventory.Resource {
	m := azureStart(n, "compute.disk")
	m.intAttr("size_gb", "disk_size_gb", 0)
	m.r.Set("encryption.at_rest.enabled", true)
	m.atRestKey("provider", nil,
		keyAttr{path: "disk_encryption_set_id", manager: "customer"},
		keyAttr{path: "secure_vm_disk_encryption_set_id", manager: "customer"})
	m.r.Set("snapshot.public", false)
	return m.r
}

func azureDiskAttachment(n *native, target *inventory.Resource) {
	setKnown(target, "attached", true)
}

func azureMSSQLServer(n *native) *inventory.Resource {
	m := azureStart(n, "database.instance")
	m.r.Set("engine", "sqlserver")
	m.strAttr("engine_version", "version")
	// Transparent data encryption is on by default with a service key.
	m.r.Set("encryption.at_rest.enabled", true)
	m.atRestKey("provider", nil, keyAttr{path: "transparent_data_encryption_key_vault_key_id", manager: "customer"})
	// Azure SQL refuses unencrypted connections.
	m.r.Set("encryption.in_transit.enforced", true)
	m.set("encryption.in_transit.min_tls_version", azureTLS(n.str("minimum_tls_version")), "minimum_tls_version")
	// The public endpoint admits only what firewall rules allow: a rule
	// open to the internet is joined in.
	m.r.Set("public", false)
	m.r.Set("backup.enabled", true) // point-in-time backups are always taken
	m.r.Set("backup.retention_days", int64(7))
	if m.unknownAny("azuread_administrator") {
		m.unknown("auth.iam", "auth.local_only")
	} else {
		entra := len(n.list("azuread_administrator")) > 0
		entraOnly, _ := boolAt(n, "azuread_administrator.0.azuread_authentication_only")
		m.r.Set("auth.iam", entra)
		m.r.Set("auth.local_only", !entra && !entraOnly)
	}
	return m.r
}

func azureMSSQLTDE(n *native, target *inventory.Resource) {
	mapping{n: n, r: target}.atRestKey("", nil,
		keyAttr{path: "managed_hsm_key_id", manager: "external"},
		keyAttr{path: "key_vault_key_id", manager: "customer"})
}

func azureMSSQLAuditing(n *native, target *inventory.Resource) {
	m := mapping{n: n, r: target}
	enabled, ok := boolAt(n, "enabled") // defaults to true
	m.set("logging.enabled", !ok || enabled, "enabled")
	m.set("logging.destination", n.str("storage_endpoint"), "storage_endpoint")
}

func azureMSSQLDatabase(n *native) *inventory.Resource {
	m := azureStart(n, "database.instance")
	m.r.Set("engine", "sqlserver")
	tde, ok := boolAt(n, "transparent_data_encryption_enabled") // defaults to true
	fallback := "provider"
	if ok && !tde {
		fallback = "none"
	}
	m.atRestKey(fallback, []string{"transparent_data_encryption_enabled"},
		keyAttr{path: "transparent_data_encryption_key_vault_key_id", manager: "customer"})
	m.r.Set("encryption.in_transit.enforced", true)
	// Network access is the server's: the database cannot tell.
	m.unknown("public")
	m.r.Set("backup.enabled", true)
	m.intAttr("backup.retention_days", "short_term_retention_policy.0.retention_days", 7)
	m.boolAttr("high_availability", "zone_redundant", false)
	return m.r
}

// azureFlexibleServer maps PostgreSQL and MySQL flexible servers.
func azureFlexibleServer(engine string) mapper {
	return func(n *native) *inventory.Resource {
		m := azureStart(n, "database.instance")
		m.r.Set("engine", engine)
		m.strAttr("engine_version", "version")
		m.r.Set("encryption.at_rest.enabled", true)
		m.atRestKey("provider", []string{"customer_managed_key"},
			keyAttr{path: "customer_managed_key.0.key_vault_key_id", manager: "customer"})
		// require_secure_transport is on and TLS 1.2 the floor unless a
		// server configuration resource says otherwise.
		m.r.Set("encryption.in_transit.enforced", true)
		m.r.Set("encryption.in_transit.min_tls_version", "1.2")
		// Reachable only through a firewall rule open to the internet,
		// joined in; a server in a delegated subnet has no public endpoint.
		m.r.Set("public", false)
		m.r.Set("backup.enabled", true)
		m.intAttr("backup.retention_days", "backup_retention_days", 7)
		if m.unknownKept("high_availability") {
			m.unknown("high_availability")
		} else {
			mode := n.str("high_availability.0.mode")
			m.r.Set("high_availability", mode != "" && !strings.EqualFold(mode, "Disabled"))
		}
		if m.unknownKept("authentication") {
			m.unknown("auth.iam", "auth.local_only")
		} else {
			entra, _ := boolAt(n, "authentication.0.active_directory_auth_enabled")
			password, ok := boolAt(n, "authentication.0.password_auth_enabled")
			m.r.Set("auth.iam", entra)
			m.r.Set("auth.local_only", !entra && (!ok || password))
		}
		return m.r
	}
}

// azureSingleServer maps the retired single-server PostgreSQL and MySQL,
// still found in older plans and states.
func azureSingleServer(engine string) mapper {
	return func(n *native) *inventory.Resource {
		m := azureStart(n, "database.instance")
		m.r.Set("engine", engine)
		m.strAttr("engine_version", "version")
		m.r.Set("encryption.at_rest.enabled", true)
		m.r.Set("encryption.at_rest.key_manager", "provider") // a server key resource is joined in
		m.boolAttr("encryption.in_transit.enforced", "ssl_enforcement_enabled", false)
		m.set("encryption.in_transit.min_tls_version", azureTLS(n.str("ssl_minimal_tls_version_enforced")), "ssl_minimal_tls_version_enforced")
		m.r.Set("public", false) // firewall rules are joined in
		m.r.Set("backup.enabled", true)
		m.intAttr("backup.retention_days", "backup_retention_days", 7)
		m.r.Set("high_availability", false)
		m.r.Set("auth.iam", false) // an Entra administrator is a separate resource
		m.r.Set("auth.local_only", true)
		return m.r
	}
}

// azureServerKey applies a customer-managed key to a single server.
func azureServerKey(n *native, target *inventory.Resource) {
	mapping{n: n, r: target}.atRestKey("", nil, keyAttr{path: "key_vault_key_id", manager: "customer"})
}

// azureDBFirewallRule makes a database server public when a firewall rule
// admits the internet (half the IPv4 space or more) and the server has a
// public endpoint at all. 0.0.0.0 to 0.0.0.0 admits Azure services only.
func azureDBFirewallRule(n *native, target *inventory.Resource) {
	if v, _ := target.Get("public"); v == true || target.IsUnknown("public") {
		return
	}
	if on, ok := target.Native["public_network_access_enabled"].(bool); ok && !on {
		return
	}
	if s, _ := target.Native["delegated_subnet_id"].(string); s != "" {
		return
	}
	if unknownBelow(n, "start_ip_address") || unknownBelow(n, "end_ip_address") {
		target.SetUnknown("public")
		return
	}
	if ipv4Span(n.str("start_ip_address"), n.str("end_ip_address")) >= 1<<31 {
		setKnown(target, "public", true)
	}
}

// ipv4Span counts the addresses from start to end, 0 if either is not an
// IPv4 address.
func ipv4Span(start, end string) int64 {
	a, errA := netip.ParseAddr(strings.TrimSpace(start))
	b, errB := netip.ParseAddr(strings.TrimSpace(end))
	if errA != nil || errB != nil || !a.Is4() || !b.Is4() {
		return 0
	}
	x, y := a.As4(), b.As4()
	lo := int64(x[0])<<24 | int64(x[1])<<16 | int64(x[2])<<8 | int64(x[3])
	hi := int64(y[0])<<24 | int64(y[1])<<16 | int64(y[2])<<8 | int64(y[3])
	if hi < lo {
		return 0
	}
	return hi - lo + 1
}

// azureFlexibleServerConfig applies the server parameters that decide
// transport encryption and audit logging.
func azureFlexibleServerConfig(n *native, target *inventory.Resource) {
	m := mapping{n: n, r: target}
	if n.unknown("name") {
		m.unknown("encryption.in_transit.enforced", "encryption.in_transit.min_tls_version", "logging.enabled")
		return
	}
	value := strings.ToLower(n.str("value"))
	switch strings.ToLower(n.str("name")) {
	case "require_secure_transport":
		m.set("encryption.in_transit.enforced", value == "on" || value == "true", "value")
	case "ssl_min_protocol_version", "tls_version":
		// tls_version lists the accepted versions: the lowest counts.
		low := ""
		for _, v := range strings.Split(value, ",") {
			if t := azureTLS(v); t != "" && (low == "" || t < low) {
				low = t
			}
		}
		m.set("encryption.in_transit.min_tls_version", low, "value")
	case "pgaudit.log", "audit_log_enabled":
		m.set("logging.enabled", value != "" && value != "none" && value != "off", "value")
	}
}

func azureCosmosDB(n *native) *inventory.Resource {
	m := azureStart(n, "database.instance")
	// An account of kind MongoDB speaks the MongoDB wire protocol, with a
	// server version; the others are Cosmos DB's own API.
	engine := "cosmosdb"
	if strings.EqualFold(n.str("kind"), "MongoDB") {
		engine = "mongodb"
	}
	m.set("engine", engine, "kind")
	m.strAttr("engine_version", "mongo_server_version")
	m.r.Set("encryption.at_rest.enabled", true)
	m.atRestKey("provider", nil,
		keyAttr{path: "managed_hsm_key_id", manager: "external"},
		keyAttr{path: "key_vault_key_id", manager: "customer"})
	m.r.Set("encryption.in_transit.enforced", true) // Cosmos DB accepts TLS only
	m.set("encryption.in_transit.min_tls_version", azureTLS(n.str("minimal_tls_version")), "minimal_tls_version")
	// ip_range_filter is a list in v4 and a comma-separated string in v3.
	filters := stringsAt(n, "ip_range_filter")
	if s := n.str("ip_range_filter"); s != "" {
		for _, f := range strings.Split(s, ",") {
			filters = append(filters, strings.TrimSpace(f))
		}
	}
	open := true
	if ok, present := boolAt(n, "public_network_access_enabled"); present && !ok {
		open = false
	}
	if vnet, _ := boolAt(n, "is_virtual_network_filter_enabled"); vnet {
		open = false
	}
	if len(filters) > 0 && !includesInternet(filters) {
		open = false
	}
	m.set("public", open, "public_network_access_enabled", "is_virtual_network_filter_enabled", "ip_range_filter")
	m.r.Set("backup.enabled", true) // periodic backups are the default
	if hours, ok := intAt(n, "backup.0.retention_in_hours"); ok || m.unknownAny("backup") {
		m.set("backup.retention_days", hours/24, "backup")
	}
	locations := n.list("geo_location")
	zoneRedundant := false
	for i := range locations {
		if z, _ := boolAt(n, "geo_location."+strconv.Itoa(i)+".zone_redundant"); z {
			zoneRedundant = true
		}
	}
	m.set("high_availability", len(locations) > 1 || zoneRedundant, "geo_location")
	// Entra ID data-plane RBAC is always available next to the account keys.
	m.r.Set("auth.iam", true)
	m.r.Set("auth.local_only", false)
	return m.r
}

func azureNSG(n *native) *inventory.Resource {
	m := azureStart(n, "network.firewall")
	m.r.Set("default", false)
	m.r.Set("attached_to", []any{})
	if m.unknownAny("security_rule") {
		m.unknown("rules")
		return m.r
	}
	var rules []any
	for i := range n.list("security_rule") {
		p := "security_rule." + strconv.Itoa(i) + "."
		if azureRuleUnknown(n, p) {
			m.unknown("rules")
			return m.r
		}
		rules = append(rules, azureRules(n, p)...)
	}
	if rules == nil {
		rules = []any{}
	}
	m.r.Set("rules", rules)
	return m.r
}

// azureNSGRule adds a separately declared rule to its security group.
func azureNSGRule(n *native, target *inventory.Resource) {
	m := mapping{n: n, r: target}
	if target.IsUnknown("rules") {
		// Inline and standalone rules exclude each other in azurerm: a
		// group whose inline rules are unknown only because they are
		// computed (absent from its values) has the standalone ones.
		if target.Native["security_rule"] != nil || azureRuleUnknown(n, "") {
			return
		}
		setKnown(target, "rules", []any{})
	}
	if azureRuleUnknown(n, "") {
		m.unknown("rules")
		return
	}
	appendList(target, "rules", azureRules(n, "")...)
}

// azureRuleUnknown reports whether a part of the rule at prefix that
// decides what it lets through is known only after apply.
func azureRuleUnknown(n *native, prefix string) bool {
	for _, a := range []string{"access", "direction", "protocol", "priority",
		"source_address_prefix", "source_address_prefixes", "source_application_security_group_ids",
		"destination_address_prefix", "destination_address_prefixes", "destination_application_security_group_ids",
		"destination_port_range", "destination_port_ranges"} {
		if unknownBelow(n, prefix+a) {
			return true
		}
	}
	return false
}

// azureRules turns one NSG rule (inline at prefix, or a standalone rule at
// "") into one normalized rule per destination port range.
func azureRules(n *native, prefix string) []any {
	direction := "ingress"
	if strings.EqualFold(n.str(prefix+"direction"), "Outbound") {
		direction = "egress"
	}
	action := "allow"
	if strings.EqualFold(n.str(prefix+"access"), "Deny") {
		action = "deny"
	}
	sources := stringsAt(n, prefix+"source_address_prefixes")
	if s := n.str(prefix + "source_address_prefix"); s != "" {
		sources = append([]any{s}, sources...)
	}
	sources = append(sources, stringsAt(n, prefix+"source_application_security_group_ids")...)
	dests := stringsAt(n, prefix+"destination_address_prefixes")
	if s := n.str(prefix + "destination_address_prefix"); s != "" {
		dests = append([]any{s}, dests...)
	}
	dests = append(dests, stringsAt(n, prefix+"destination_application_security_group_ids")...)
	ports := stringsAt(n, prefix+"destination_port_ranges")
	if s := n.str(prefix + "destination_port_range"); s != "" {
		ports = append([]any{s}, ports...)
	}
	if len(ports) == 0 {
		ports = []any{"*"}
	}
	priority, _ := intAt(n, prefix+"priority")
	out := make([]any, 0, len(ports))
	for _, p := range ports {
		from, to := parsePortRange(p.(string))
		out = append(out, newFirewallRule(direction, action, ruleProtocol(n.str(prefix+"protocol")), from, to, sources, dests, priority))
	}
	return out
}

// azureNSGAssociation records what a security group is attached to.
func azureNSGAssociation(attr string) func(n *native, target *inventory.Resource) {
	return func(n *native, target *inventory.Resource) {
		if id := n.str(attr); id != "" {
			appendList(target, "attached_to", id)
		} else if n.unknown(attr) {
			mapping{n: n, r: target}.unknown("attached_to")
		}
	}
}

func azureVNet(n *native) *inventory.Resource {
	m := azureStart(n, "network.network")
	m.set("cidrs", stringsAt(n, "address_space"), "address_space")
	m.r.Set("default", false) // Azure has no default virtual network
	if m.unknownAny("ddos_protection_plan") {
		m.unknown("ddos_protection")
	} else {
		enabled, ok := boolAt(n, "ddos_protection_plan.0.enable")
		m.r.Set("ddos_protection", ok && enabled)
	}
	return m.r
}

// azureFlowLog turns on flow logs for the virtual network it targets.
func azureFlowLog(n *native, target *inventory.Resource) {
	m := mapping{n: n, r: target}
	enabled, ok := boolAt(n, "enabled") // defaults to true in v4
	m.set("flow_logs.enabled", !ok || enabled, "enabled")
}

// azureOwnerRole is the role definition id of the built-in Owner role.
const azureOwnerRole = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"

func azureRoleAssignment(n *native) *inventory.Resource {
	m := azureStart(n, "iam.policy")
	// The role's name, where given, is known before its id.
	if name := n.str("role_definition_name"); name != "" {
		m.r.Set("role", name)
		m.r.Set("admin", strings.EqualFold(name, "Owner"))
	} else {
		id := n.str("role_definition_id")
		m.set("role", id, "role_definition_name", "role_definition_id")
		m.set("admin", strings.HasSuffix(strings.ToLower(id), azureOwnerRole), "role_definition_name", "role_definition_id")
	}
	if principal := n.str("principal_id"); principal != "" {
		m.r.Set("members", []any{principal})
	} else {
		m.set("members", []any{}, "principal_id")
	}
	m.r.Set("public", false)
	m.set("scope", azureScope(n.str("scope")), "scope")
	return m.r
}

// azureScope classifies an ARM scope.
func azureScope(scope string) string {
	s := strings.ToLower(strings.Trim(scope, "/"))
	parts := strings.Split(s, "/")
	switch {
	case s == "":
		return "organization" // the root scope "/"
	case strings.HasPrefix(s, "providers/microsoft.management/managementgroups/"):
		return "organization"
	case len(parts) == 2 && parts[0] == "subscriptions":
		return "account"
	case len(parts) == 4 && parts[2] == "resourcegroups":
		return "resource group"
	}
	return "resource"
}

func azureRoleDefinition(n *native) *inventory.Resource {
	m := azureStart(n, "iam.policy")
	m.strAttr("role", "name")
	m.r.Set("members", []any{})
	m.r.Set("public", false)
	m.set("scope", azureScope(n.str("scope")), "scope")
	if m.unknownAny("permissions") {
		m.unknown("statements", "admin", "wildcard_actions")
		return m.r
	}
	scopes := stringsAt(n, "assignable_scopes")
	if len(scopes) == 0 {
		if s := n.str("scope"); s != "" {
			scopes = []any{s}
		}
	}
	var statements []any
	admin, wildcard := false, false
	for i := range n.list("permissions") {
		p := "permissions." + strconv.Itoa(i) + "."
		actions := append(stringsAt(n, p+"actions"), stringsAt(n, p+"data_actions")...)
		for _, a := range actions {
			s := a.(string)
			if s == "*" {
				admin = true
			}
			if strings.HasSuffix(s, "/*") || s == "*" {
				wildcard = true
			}
		}
		statements = append(statements, map[string]any{
			"effect": "allow", "actions": actions, "resources": scopes, "principals": []any{},
		})
	}
	if statements == nil {
		statements = []any{}
	}
	m.r.Set("statements", statements)
	m.r.Set("admin", admin)
	m.r.Set("wildcard_actions", wildcard)
	return m.r
}

func azureUserAssignedIdentity(n *native) *inventory.Resource {
	m := azureStart(n, "iam.principal")
	m.r.Set("kind", "service_account")
	m.r.Set("console_access", false)
	m.r.Set("static_keys", int64(0))
	m.r.Set("external", false)
	return m.r
}

func azureKeyVaultKey(n *native) *inventory.Resource {
	m := azureStart(n, "kms.key")
	keyType := strings.ToUpper(n.str("key_type"))
	m.r.Set("enabled", true)
	// Only the -HSM key types live in an HSM; in a premium vault a plain
	// RSA or EC key is still a software key.
	if strings.HasSuffix(keyType, "-HSM") {
		m.r.Set("protection", "hsm")
	} else {
		m.set("protection", "software", "key_type")
	}
	m.set("algorithm", azureKeyAlgorithm(n), "key_type", "key_size", "curve")
	azureRotation(m)
	// Deleted keys are kept for the vault's soft_delete_retention_days (7
	// to 90); the key does not carry it.
	m.unknown("deletion_window_days")
	return m.r
}

func azureManagedHSMKey(n *native) *inventory.Resource {
	m := azureStart(n, "kms.key")
	m.r.Set("enabled", true)
	m.r.Set("protection", "hsm")
	m.set("algorithm", azureKeyAlgorithm(n), "key_type", "key_size", "curve")
	azureRotation(m)
	m.unknown("deletion_window_days") // the HSM's soft_delete_retention_days
	return m.r
}

// azureKeyAlgorithm renders the key spec as RSA_2048, EC_P384 or AES_256.
func azureKeyAlgorithm(n *native) string {
	t := strings.TrimSuffix(strings.ToUpper(n.str("key_type")), "-HSM")
	switch t {
	case "RSA":
		if size, ok := intAt(n, "key_size"); ok {
			return "RSA_" + strconv.FormatInt(size, 10)
		}
		return "RSA"
	case "EC":
		if c := strings.ReplaceAll(strings.ToUpper(n.str("curve")), "-", ""); c != "" {
			return "EC_" + c
		}
		return "EC"
	case "OCT":
		if size, ok := intAt(n, "key_size"); ok {
			return "AES_" + strconv.FormatInt(size, 10)
		}
		return "AES"
	}
	return t
}

// azureRotation reads rotation_policy.automatic.time_after_creation.
func azureRotation(m mapping) {
	if m.unknownAny("rotation_policy") {
		m.unknown("rotation.enabled", "rotation.period_days")
		return
	}
	after := m.n.str("rotation_policy.0.automatic.0.time_after_creation")
	days := isoDays(after)
	m.r.Set("rotation.enabled", days > 0)
	m.r.Set("rotation.period_days", days)
}

// isoDays converts an ISO 8601 duration such as P90D or P1Y into days,
// 0 if it cannot be read.
func isoDays(s string) int64 {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "P") {
		return 0
	}
	s = strings.SplitN(s[1:], "T", 2)[0]
	var days, num int64
	seen := false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			num = num*10 + int64(c-'0')
			seen = true
			if num > 1<<40 {
				return 0
			}
		case c == 'Y':
			days, num = days+num*365, 0
		case c == 'M':
			days, num = days+num*30, 0
		case c == 'W':
			days, num = days+num*7, 0
		case c == 'D':
			days, num = days+num, 0
		default:
			return 0
		}
	}
	if !seen {
		return 0
	}
	return days
}

// azureSubscriptionScope matches a target that is a whole subscription.
var azureSubscriptionScope = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/?$`)

// azureDiagnosticSetting maps a diagnostic setting on a subscription,
// which exports the activity log, to an audit trail. Diagnostic settings
// of single resources are not audit trails and are left out.
func azureDiagnosticSetting(n *native) *inventory.Resource {
	if t := n.str("target_resource_id"); t != "" && !azureSubscriptionScope.MatchString(t) {
		return nil
	}
	// Known only after apply, the target is a resource of this plan (a
	// storage account's blob service, a key vault) when the configuration
	// references one: the subscription is read through a data source,
	// which names no managed resource.
	if n.unknown("target_resource_id") && n.reference("target_resource_id") != "" {
		return nil
	}
	m := azureStart(n, "logging.audit_trail")
	azureLogExport(m)
	m.r.Set("all_regions", true) // the activity log covers the whole subscription
	return m.r
}

// azureAADDiagnosticSetting maps the export of the Entra ID (Azure AD)
// audit and sign-in logs: the directory's audit trail.
func azureAADDiagnosticSetting(n *native) *inventory.Resource {
	m := azureStart(n, "logging.audit_trail")
	azureLogExport(m)
	m.r.Set("all_regions", true) // the directory is global
	return m.r
}

// azureLogExport maps what diagnostic settings share: logs go to a
// workspace, storage account or event hub.
func azureLogExport(m mapping) {
	n := m.n
	// A destination known only after apply (a workspace created in the
	// same plan) is still a destination.
	dest := false
	for _, d := range []string{"log_analytics_workspace_id", "storage_account_id", "eventhub_authorization_rule_id", "partner_solution_id"} {
		dest = dest || n.str(d) != "" || n.unknown(d) && planned(n, d) != leftOut
	}
	logs := len(n.list("enabled_log")) > 0
	for i := range n.list("log") {
		if on, _ := boolAt(n, "log."+strconv.Itoa(i)+".enabled"); on {
			logs = true
		}
	}
	m.set("enabled", dest && logs, "enabled_log", "log")
	m.r.Set("integrity_validation", false)
	m.r.Set("encryption.at_rest.enabled", true)
	m.r.Set("encryption.at_rest.key_manager", "provider")
	m.r.Set("data_events", false) // control-plane and directory events only
}

// azureLogProfile maps the legacy activity log profile.
func azureLogProfile(n *native) *inventory.Resource {
	m := azureStart(n, "logging.audit_trail")
	m.set("enabled", n.str("storage_account_id") != "" || n.str("servicebus_rule_id") != "", "storage_account_id", "servicebus_rule_id")
	global := false
	for _, l := range stringsAt(n, "locations") {
		if strings.EqualFold(l.(string), "global") {
			global = true
		}
	}
	m.set("all_regions", global, "locations")
	m.r.Set("integrity_validation", false)
	m.r.Set("encryption.at_rest.enabled", true)
	m.r.Set("encryption.at_rest.key_manager", "provider")
	if on, _ := boolAt(n, "retention_policy.0.enabled"); on || m.unknownAny("retention_policy") {
		m.intAttr("retention_days", "retention_policy.0.days", 0)
	}
	m.r.Set("data_events", false)
	return m.r
}

// ---- helpers shared by the azure, google and openstack mappers ----

// mapping builds one normalized resource from one native resource. Its
// methods copy native values to normalized attributes, or mark an
// attribute unknown when a native value it depends on is known only after
// apply: unknown is never false.
type mapping struct {
	n *native
	r *inventory.Resource
}

// startMapping creates the resource with the fields every mapper sets.
func startMapping(n *native, provider, typ string) mapping {
	r := &inventory.Resource{
		Provider:   provider,
		Region:     n.Region,
		Type:       typ,
		NativeType: n.Type,
		ID:         firstSet(n.str("id"), n.Address),
		Address:    n.Address,
		Name:       n.str("name"),
		Native:     n.Values,
		Source:     n.Location,
	}
	return mapping{n: n, r: r}
}

// unknownAny reports whether anything at or below one of the native
// paths is unknown: an attribute derived from a block depends on all of it.
func (m mapping) unknownAny(paths ...string) bool {
	for _, p := range paths {
		if unknownBelow(m.n, p) {
			return true
		}
	}
	return false
}

// unknownBelow reports whether the value at path, a block or list around
// it, or anything inside it is known only after apply.
func unknownBelow(n *native, path string) bool {
	if n.unknown(path) {
		return true
	}
	return anyTrue(n.lookupUnknown(path), 0)
}

func anyTrue(v any, depth int) bool {
	if depth > 64 {
		return true // deeper than any schema: do not trust it
	}
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		for _, e := range x {
			if anyTrue(e, depth+1) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if anyTrue(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// unknown marks attributes unknown.
func (m mapping) unknown(attrs ...string) {
	for _, a := range attrs {
		m.r.SetUnknown(a)
	}
}

// set stores v at attr, or marks attr unknown if any of the native paths
// it was derived from is unknown.
func (m mapping) set(attr string, v any, deps ...string) {
	if m.unknownAny(deps...) {
		m.r.SetUnknown(attr)
		return
	}
	setKnown(m.r, attr, v)
}

// keyAttr is a native attribute that names an encryption key, and who
// holds a key named there. A secret attribute carries key material (a
// customer-supplied key) and is never copied.
type keyAttr struct {
	path, manager string
	secret        bool
}

// atRestKey sets encryption.at_rest from the first key attribute that is
// set; fallback ("provider" or "none") applies when none is. An attribute
// whose value is known only after apply (a key created in the same plan)
// still names a key: the manager is known then, the key id is not. If one
// of the blocks holding the attributes is unknown as a whole, so is the
// key. An empty fallback leaves the attributes alone when no key is set.
func (m mapping) atRestKey(fallback string, blocks []string, keys ...keyAttr) {
	// Only a block unknown as a whole hides the key; an unknown key
	// attribute inside it is handled below.
	whole := false
	for _, b := range blocks {
		whole = whole || m.n.unknown(b)
	}
	if whole {
		m.unknown("encryption.at_rest.key_manager", "encryption.at_rest.key_id")
		if _, always := m.r.Get("encryption.at_rest.enabled"); !always {
			m.unknown("encryption.at_rest.enabled")
		}
		return
	}
	for _, k := range keys {
		id, later := m.n.str(k.path), false
		if id == "" {
			if !m.n.unknown(k.path) {
				continue
			}
			switch planned(m.n, k.path) {
			case leftOut:
				continue
			case undetermined:
				m.unknown("encryption.at_rest.key_manager", "encryption.at_rest.key_id")
				if _, always := m.r.Get("encryption.at_rest.enabled"); !always {
					m.unknown("encryption.at_rest.enabled")
				}
				return
			}
			later = true
		}
		setKnown(m.r, "encryption.at_rest.enabled", true)
		setKnown(m.r, "encryption.at_rest.key_manager", k.manager)
		switch {
		case k.secret:
		case later:
			m.r.SetUnknown("encryption.at_rest.key_id")
		default:
			setKnown(m.r, "encryption.at_rest.key_id", id)
		}
		return
	}
	if fallback != "" {
		setKnown(m.r, "encryption.at_rest.enabled", fallback != "none")
		setKnown(m.r, "encryption.at_rest.key_manager", fallback)
	}
}

// How the configuration sets a value the plan shows as unknown.
const (
	// undetermined: the configuration cannot tell (there is none, or the
	// value sits in a block the plan's configuration does not show).
	undetermined = iota
	// setLater: the configuration sets it, to a value known only after
	// apply (a reference to a resource created in the same plan).
	setLater
	// leftOut: the configuration leaves it out; the provider computes it
	// or its default applies.
	leftOut
)

// plannedRaw is planned on configuration expressions left in the file.
func plannedRaw(block rawValue, path string) int {
	parent, leaf := "", path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent, leaf = path[:i], path[i+1:]
	}
	if parent != "" {
		var ok bool
		if block, ok = block.lookup(parent); !ok {
			return undetermined
		}
	}
	if block.kind() != '{' {
		return undetermined
	}
	if block.has("references") {
		return setLater
	}
	if cv, ok := block.member("constant_value"); ok {
		if cv.kind() != '{' {
			return leftOut
		}
		block = cv
	}
	if block.has(leaf) {
		return setLater
	}
	return leftOut
}

// planned tells how the configuration sets the unknown value at path. A
// nested path is judged by the block around it, and only where that block
// is written out: dynamic blocks and attribute-mode blocks are missing from
// the plan's configuration (hashicorp/terraform#28346, #29022), so their
// absence proves nothing. A top-level path must name an attribute, not a
// block, for the same reason.
func planned(n *native, path string) int {
	if raw, ok := n.rawConfig(); ok {
		return plannedRaw(raw, path)
	}
	if n.Config == nil {
		return undetermined
	}
	parent, leaf := "", path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parent, leaf = path[:i], path[i+1:]
	}
	var block any = n.Config
	if parent != "" {
		block = lookup(n.Config, parent)
	}
	m, ok := block.(map[string]any)
	if !ok {
		return undetermined
	}
	if _, ok := m["references"]; ok {
		return setLater // an expression sets the whole attribute
	}
	if cv, ok := m["constant_value"]; ok {
		m, _ = cv.(map[string]any)
	}
	if _, ok := m[leaf]; ok {
		return setLater
	}
	return leftOut
}

// plannedBool sets attr true when the value at path is set (a password,
// say), now or after apply, false when it is not, unknown when that
// cannot be told.
func (m mapping) plannedBool(attr, path string) {
	switch {
	case m.n.str(path) != "" || len(m.n.list(path)) > 0:
		setKnown(m.r, attr, true)
	case !m.n.unknown(path):
		setKnown(m.r, attr, false)
	default:
		switch planned(m.n, path) {
		case setLater:
			setKnown(m.r, attr, true)
		case leftOut:
			setKnown(m.r, attr, false)
		default:
			m.r.SetUnknown(attr)
		}
	}
}

// unknownKept is unknownAny, except that a top-level block or attribute
// the configuration leaves out counts as absent, so its default applies.
// A dynamic block is also missing from the configuration, so use it only
// where the default is the reading that shows a finding (versioning off,
// no private network), never where it would hide one.
func (m mapping) unknownKept(paths ...string) bool {
	for _, p := range paths {
		top, _, _ := strings.Cut(p, ".")
		if m.n.unknown(top) && planned(m.n, top) == leftOut {
			continue
		}
		if unknownBelow(m.n, p) {
			return true
		}
	}
	return false
}

// setDefault is set with unknownKept's reading of the dependencies.
func (m mapping) setDefault(attr string, v any, deps ...string) {
	if m.unknownKept(deps...) {
		m.r.SetUnknown(attr)
		return
	}
	setKnown(m.r, attr, v)
}

// boolDefault is boolAttr with unknownKept's reading of path.
func (m mapping) boolDefault(attr, path string, def bool) {
	v, ok := boolAt(m.n, path)
	if !ok {
		v = def
	}
	m.setDefault(attr, v, path)
}

// boolAttr copies the bool at path, def if it is absent.
func (m mapping) boolAttr(attr, path string, def bool) {
	v, ok := boolAt(m.n, path)
	if !ok {
		v = def
	}
	m.set(attr, v, path)
}

// strAttr copies the string at path.
func (m mapping) strAttr(attr, path string) { m.set(attr, m.n.str(path), path) }

// intAttr copies the number at path, def if it is absent.
func (m mapping) intAttr(attr, path string, def int64) {
	v, ok := intAt(m.n, path)
	if !ok {
		v = def
	}
	m.set(attr, v, path)
}

// boolAt reads a bool, accepting "true"/"false" strings as Terraform's
// maps of strings carry them; ok is false if absent or not a bool.
func boolAt(n *native, path string) (v, ok bool) {
	switch b := n.lookup(path).(type) {
	case bool:
		return b, true
	case string:
		if p, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
			return p, true
		}
	}
	return false, false
}

// intAt reads a whole number from a JSON number or a numeric string.
func intAt(n *native, path string) (int64, bool) {
	switch v := n.lookup(path).(type) {
	case float64:
		if v != v || v > 1<<62 || v < -(1<<62) {
			return 0, false
		}
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case json.Number:
		i, err := v.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return i, err == nil
	}
	return 0, false
}

// stringsAt returns the strings of the list (or set) at path; other
// elements are skipped. The result is never nil.
func stringsAt(n *native, path string) []any {
	out := []any{}
	for _, e := range n.list(path) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// tagsOf converts tags or labels (a map of strings, or OpenStack's
// list of strings) into resource tags.
func tagsOf(v any) map[string]string {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return nil
		}
		out := make(map[string]string, len(t))
		for k, e := range t {
			if s, ok := e.(string); ok {
				out[k] = s
			}
		}
		return out
	case []any:
		if len(t) == 0 {
			return nil
		}
		out := make(map[string]string, len(t))
		for _, e := range t {
			if s, ok := e.(string); ok {
				out[s] = ""
			}
		}
		return out
	}
	return nil
}

// appendList appends values to the list attribute at path.
func appendList(r *inventory.Resource, path string, vs ...any) {
	cur, _ := r.Get(path)
	l, _ := cur.([]any)
	r.Set(path, append(append([]any{}, l...), vs...))
}

func firstSet(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func joinSet(sep string, ss ...string) string {
	var parts []string
	for _, s := range ss {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, sep)
}

// newFirewallRule builds one entry of network.firewall rules.
func newFirewallRule(direction, action, protocol string, from, to int64, sources, dests []any, priority int64) map[string]any {
	if sources == nil {
		sources = []any{}
	}
	if dests == nil {
		dests = []any{}
	}
	return map[string]any{
		"direction":     direction,
		"action":        action,
		"protocol":      protocol,
		"port_from":     from,
		"port_to":       to,
		"sources":       sources,
		"destinations":  dests,
		"from_internet": direction == "ingress" && includesInternet(sources),
		"priority":      priority,
	}
}

// includesInternet reports whether a list of sources includes the whole
// internet.
func includesInternet(sources []any) bool {
	for _, s := range sources {
		str, _ := s.(string)
		switch strings.ToLower(strings.TrimSpace(str)) {
		case "0.0.0.0/0", "::/0", "*", "internet", "any":
			return true
		}
	}
	return false
}

// parsePortRange reads "22", "1000-2000", "*" or "" (all ports). What cannot
// be read counts as all ports, the reading that hides no exposure.
func parsePortRange(s string) (from, to int64) {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" || strings.EqualFold(s, "any") {
		return 0, 65535
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
	b, err2 := a, error(nil)
	if isRange {
		b, err2 = strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
	}
	if err1 != nil || err2 != nil || a < 0 || b > 65535 || a > b {
		return 0, 65535
	}
	return a, b
}

// ruleProtocol normalizes a protocol to tcp, udp, icmp or all. Protocols
// the model does not name (esp, sctp, ...) count as all.
func ruleProtocol(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "tcp", "6":
		return "tcp"
	case "udp", "17":
		return "udp"
	case "icmp", "1", "icmpv6", "ipv6-icmp", "58":
		return "icmp"
	}
	return "all"
}

func azureManagementLock(n *native, t *inventory.Resource) {
	if n.markUnknown(t, "deletion_protection", "lock_level") {
		return
	}
	switch n.str("lock_level") {
	case "CanNotDelete", "ReadOnly":
		setKnown(t, "deletion_protection", true)
	}
}
