package plan

import "fmt"

// The Azure units, with the attribute sets of hashicorp/azurerm 4.x.

// azureLocation is mostly Germany, sometimes another EU region, and
// sometimes outside the EU.
func (u *unit) azureLocation() string {
	if u.bad(0.1) {
		return "eastus"
	}
	return u.pick("germanywestcentral", "germanywestcentral", "westeurope")
}

// azureCommon sets what every azurerm resource has: name, location,
// resource group, tags, timeouts, id.
func (u *unit) azureCommon(r *resource, name string) {
	r.set("name", name)
	r.set("location", u.azureLocation())
	r.ref("resource_group_name", variable("resource_group_name"), varRef("resource_group_name")...)
	r.set("tags", u.tags())
	r.null("timeouts")
	r.computed("id")
}

func (u *unit) azureID(provider, kind, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s",
		variable("azure_subscription_id"), variable("resource_group_name"), provider, kind, name)
}

func azureNetwork(u *unit) {
	v := u.add("azurerm_virtual_network", "main", "azurerm")
	u.azureCommon(v, u.slug("vnet"))
	v.set("address_space", []any{fmt.Sprintf("10.%d.0.0/16", 100+u.index%150)})
	v.def("private_endpoint_vnet_policies", "Disabled")
	v.null("bgp_community", "edge_zone", "flow_timeout_in_minutes")
	v.empty("ddos_protection_plan", "encryption")
	v.computed("dns_servers", "guid", "subnet")
}

func azureStorage(u *unit) {
	s := u.add("azurerm_storage_account", "data", "azurerm")
	u.azureCommon(s, fmt.Sprintf("sthoheit%06d", u.index))
	s.set("account_tier", "Standard")
	s.set("account_replication_type", u.pick("LRS", "ZRS", "GRS", "RAGRS"))
	s.set("account_kind", "StorageV2")
	s.set("access_tier", "Hot")
	s.set("https_traffic_only_enabled", !u.bad(0.15))
	tls := "TLS1_2"
	if u.bad(0.2) {
		tls = u.pick("TLS1_0", "TLS1_1")
	}
	s.set("min_tls_version", tls)
	s.set("allow_nested_items_to_be_public", u.bad(0.2))
	s.set("public_network_access_enabled", u.bad(0.4))
	s.set("shared_access_key_enabled", u.bad(0.5))
	s.set("infrastructure_encryption_enabled", !u.bad(0.5))
	s.set("cross_tenant_replication_enabled", false)
	s.def("default_to_oauth_authentication", false)
	s.def("dns_endpoint_type", "Standard")
	s.def("is_hns_enabled", false)
	s.def("local_user_enabled", true)
	s.def("nfsv3_enabled", false)
	s.def("queue_encryption_key_type", "Service")
	s.def("sftp_enabled", false)
	s.def("table_encryption_key_type", "Service")
	s.null("allowed_copy_scope", "edge_zone", "large_file_share_enabled", "provisioned_billing_model_version")
	s.empty("azure_files_authentication", "custom_domain", "immutability_policy", "sas_policy", "static_website")
	if j, ok := previous(u.index, "azure-key"); ok && !u.bad(0.4) {
		key := fmt.Sprintf("azurerm_key_vault_key.cmk_%06d", j)
		s.nested("identity", newBlock().set("type", "SystemAssigned").null("identity_ids").computed("principal_id", "tenant_id"))
		s.nested("customer_managed_key", newBlock().
			ref("key_vault_key_id", unknown, key+".versionless_id", key).
			null("managed_hsm_key_id", "user_assigned_identity_id"))
	} else {
		s.empty("identity", "customer_managed_key")
	}
	s.nested("blob_properties", newBlock().
		set("versioning_enabled", !u.bad(0.3)).
		set("change_feed_enabled", false).
		def("last_access_time_enabled", false).
		null("default_service_version", "change_feed_retention_in_days").
		empty("cors_rule", "restore_policy", "container_delete_retention_policy").
		nested("delete_retention_policy", newBlock().set("days", 14).def("permanent_delete_enabled", false)))
	if s.attrs["public_network_access_enabled"] == true && u.bad(0.5) {
		s.computed("network_rules")
	} else {
		s.nested("network_rules", newBlock().
			set("default_action", "Deny").
			set("bypass", []any{"AzureServices"}).
			set("ip_rules", []any{}).
			ref("virtual_network_subnet_ids", []any{variable("azure_subnet_id")}, varRef("azure_subnet_id")...).
			empty("private_link_access"))
	}
	s.computed("primary_access_key", "primary_blob_connection_string", "primary_blob_endpoint", "primary_blob_host",
		"primary_connection_string", "primary_dfs_endpoint", "primary_location", "primary_queue_endpoint",
		"primary_table_endpoint", "primary_web_endpoint", "queue_properties", "routing", "secondary_access_key",
		"secondary_blob_endpoint", "secondary_connection_string", "secondary_location", "share_properties")
}

func azureVM(u *unit) {
	v := u.add("azurerm_linux_virtual_machine", "app", "azurerm")
	name := u.slug("vm-app")
	u.azureCommon(v, name)
	v.set("size", u.pick("Standard_B2s", "Standard_D4s_v5", "Standard_DC4as_v5", "Standard_E8s_v5"))
	v.set("admin_username", "azureuser")
	pw := u.bad(0.2)
	v.set("disable_password_authentication", !pw)
	if pw {
		v.ref("admin_password", secret{variable("db_password")}, varRef("db_password")...)
	} else {
		v.def("admin_password", secret{nil})
	}
	v.nested("admin_ssh_key", newBlock().
		set("username", "azureuser").
		ref("public_key", variable("ssh_public_key"), varRef("ssh_public_key")...))
	v.set("network_interface_ids", []any{u.azureID("Microsoft.Network", "networkInterfaces", name+"-nic")})
	v.set("encryption_at_host_enabled", !u.bad(0.4))
	trusted := !u.bad(0.3)
	v.set("secure_boot_enabled", trusted)
	v.set("vtpm_enabled", trusted)
	v.set("zone", u.pick("1", "2", "3"))
	v.def("allow_extension_operations", true)
	v.def("bypass_platform_safety_checks_on_user_schedule_enabled", false)
	v.def("extensions_time_budget", "PT1H30M")
	v.def("max_bid_price", -1)
	v.def("patch_assessment_mode", "ImageDefault")
	v.def("patch_mode", "ImageDefault")
	v.def("platform_fault_domain", -1)
	v.def("priority", "Regular")
	v.def("provision_vm_agent", true)
	v.def("vm_agent_platform_updates_enabled", false)
	v.null("availability_set_id", "capacity_reservation_group_id", "custom_data", "dedicated_host_group_id",
		"dedicated_host_id", "edge_zone", "eviction_policy", "license_type",
		"proximity_placement_group_id", "reboot_setting", "source_image_id", "user_data", "virtual_machine_scale_set_id")
	v.empty("additional_capabilities", "gallery_application", "os_image_notification", "plan", "secret", "termination_notification")
	if u.bad(0.3) {
		v.empty("boot_diagnostics")
	} else {
		v.nested("boot_diagnostics", newBlock().null("storage_account_uri"))
	}
	v.nested("identity", newBlock().set("type", "SystemAssigned").null("identity_ids").computed("principal_id", "tenant_id"))
	disk := newBlock().
		set("caching", "ReadWrite").
		set("storage_account_type", "Premium_LRS").
		def("write_accelerator_enabled", false).
		null("secure_vm_disk_encryption_set_id", "security_encryption_type").
		empty("diff_disk_settings").
		computed("disk_size_gb", "id", "name")
	if u.bad(0.5) {
		disk.null("disk_encryption_set_id")
	} else {
		disk.set("disk_encryption_set_id", u.azureID("Microsoft.Compute", "diskEncryptionSets", "des-hoheit"))
	}
	v.nested("os_disk", disk)
	v.nested("source_image_reference", newBlock().
		set("publisher", "Canonical").
		set("offer", "ubuntu-24_04-lts").
		set("sku", "server").
		set("version", "latest"))
	v.computed("computer_name", "disk_controller_type", "private_ip_address", "private_ip_addresses",
		"public_ip_address", "public_ip_addresses", "virtual_machine_id")
	if u.bad(0.5) {
		azureDisk(u)
	}
}

func azureDisk(u *unit) {
	d := u.add("azurerm_managed_disk", "data", "azurerm")
	u.azureCommon(d, u.slug("disk-data"))
	d.set("storage_account_type", u.pick("Premium_LRS", "StandardSSD_ZRS", "Standard_LRS"))
	d.set("create_option", "Empty")
	d.set("disk_size_gb", 64*u.between(1, 16))
	if u.bad(0.5) {
		d.null("disk_encryption_set_id")
	} else {
		d.set("disk_encryption_set_id", u.azureID("Microsoft.Compute", "diskEncryptionSets", "des-hoheit"))
	}
	open := u.bad(0.3)
	d.set("public_network_access_enabled", open)
	if open {
		d.def("network_access_policy", "AllowAll")
	} else {
		d.set("network_access_policy", "DenyAll")
	}
	d.def("optimized_frequent_attach_enabled", false)
	d.def("performance_plus_enabled", false)
	d.null("disk_access_id", "edge_zone", "gallery_image_reference_id", "hyper_v_generation", "image_reference_id",
		"on_demand_bursting_enabled", "os_type", "secure_vm_disk_encryption_set_id", "security_type",
		"source_resource_id", "source_uri", "storage_account_id", "trusted_launch_enabled", "upload_size_bytes", "zone")
	d.empty("encryption_settings")
	d.computed("disk_iops_read_only", "disk_iops_read_write", "disk_mbps_read_only", "disk_mbps_read_write",
		"logical_sector_size", "max_shares", "tier")
}

func azureNSG(u *unit) {
	g := u.add("azurerm_network_security_group", "web", "azurerm")
	u.azureCommon(g, u.slug("nsg-web"))
	rule := func(name string, priority int, port, source string) map[string]any {
		return map[string]any{
			"access": "Allow", "description": "", "destination_address_prefix": "*",
			"destination_address_prefixes": []any{}, "destination_application_security_group_ids": []any{},
			"destination_port_range": port, "destination_port_ranges": []any{}, "direction": "Inbound",
			"name": name, "priority": priority, "protocol": "Tcp", "source_address_prefix": source,
			"source_address_prefixes": []any{}, "source_application_security_group_ids": []any{},
			"source_port_range": "*", "source_port_ranges": []any{},
		}
	}
	rules := []any{rule("https", 100, "443", "Internet")}
	if u.bad(0.25) {
		rules = append(rules, rule("ssh", 110, "22", "*"))
	} else {
		rules = append(rules, rule("ssh-bastion", 110, "22", "10.0.0.0/24"))
	}
	if u.bad(0.1) {
		rules = append(rules, rule("rdp", 120, "3389", "0.0.0.0/0"))
	}
	g.set("security_rule", rules)
}

// azureKey: a customer-managed key in the shared Key Vault.
func azureKey(u *unit) {
	k := u.add("azurerm_key_vault_key", "cmk", "azurerm")
	k.set("name", u.slug("cmk"))
	k.ref("key_vault_id", variable("key_vault_id"), varRef("key_vault_id")...)
	typ := u.pick("RSA-HSM", "RSA-HSM", "RSA")
	k.set("key_type", typ)
	k.set("key_size", []int{2048, 3072, 4096}[u.rng.IntN(3)])
	k.set("key_opts", []any{"decrypt", "encrypt", "sign", "unwrapKey", "verify", "wrapKey"})
	if u.bad(0.3) {
		k.null("expiration_date")
		k.empty("rotation_policy")
	} else {
		k.set("expiration_date", "2027-12-31T00:00:00Z")
		k.nested("rotation_policy", newBlock().
			set("expire_after", "P2Y").
			set("notify_before_expiry", "P30D").
			nested("automatic", newBlock().set("time_before_expiry", "P30D").null("time_after_creation")))
	}
	k.set("tags", u.tags())
	k.null("not_before_date", "timeouts")
	k.computed("e", "id", "n", "public_key_openssh", "public_key_pem", "resource_id", "resource_versionless_id",
		"version", "versionless_id", "x", "y")
	k.computed("curve")
}

func azurePostgres(u *unit) {
	p := u.add("azurerm_postgresql_flexible_server", "main", "azurerm")
	u.azureCommon(p, u.slug("psql"))
	p.set("version", u.pick("14", "15", "16"))
	p.set("sku_name", u.pick("B_Standard_B1ms", "GP_Standard_D2s_v3", "MO_Standard_E4s_v3"))
	p.set("storage_mb", 32768*u.between(1, 8))
	p.set("administrator_login", "psqladmin")
	p.ref("administrator_password", secret{variable("db_password")}, varRef("db_password")...)
	p.set("backup_retention_days", []int{7, 14, 35}[u.rng.IntN(3)])
	p.set("geo_redundant_backup_enabled", !u.bad(0.5))
	private := !u.bad(0.3)
	if private {
		p.ref("delegated_subnet_id", variable("azure_subnet_id"), varRef("azure_subnet_id")...)
		p.set("private_dns_zone_id", u.azureID("Microsoft.Network", "privateDnsZones", "hoheit.postgres.database.azure.com"))
		p.set("public_network_access_enabled", false)
	} else {
		p.null("delegated_subnet_id", "private_dns_zone_id")
		p.set("public_network_access_enabled", true)
	}
	p.set("zone", "1")
	if u.bad(0.4) {
		p.empty("high_availability")
	} else {
		p.nested("high_availability", newBlock().set("mode", "ZoneRedundant").set("standby_availability_zone", "2"))
	}
	p.nested("authentication", newBlock().
		set("active_directory_auth_enabled", !u.bad(0.5)).
		set("password_auth_enabled", true).
		computed("tenant_id"))
	p.def("auto_grow_enabled", false)
	p.null("create_mode", "point_in_time_restore_time_in_utc", "replication_role", "source_server_id")
	p.empty("customer_managed_key", "identity", "maintenance_window")
	p.computed("fqdn", "storage_tier")
}
