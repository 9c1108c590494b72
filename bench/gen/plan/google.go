package plan

import "fmt"

// The Google Cloud units, with the attribute sets of hashicorp/google 6.x.

// googleZone is mostly Frankfurt, sometimes outside the EU.
func (u *unit) googleZone() string {
	if u.bad(0.1) {
		return "us-central1-" + u.pick("a", "b", "c")
	}
	return googleRegion + "-" + u.pick("a", "b", "c")
}

func (u *unit) googleLabels(b *block) {
	l := u.tags()
	b.set("labels", l)
	all := map[string]string{"goog-terraform-provisioned": "true"}
	for k, v := range l {
		all[k] = v
	}
	b.def("effective_labels", all)
	b.def("terraform_labels", all)
}

func googleNetwork(u *unit) {
	n := u.add("google_compute_network", "main", "google")
	n.set("name", u.slug("vpc"))
	n.set("auto_create_subnetworks", u.bad(0.3))
	n.set("routing_mode", "REGIONAL")
	n.def("delete_default_routes_on_create", false)
	n.def("network_firewall_policy_enforcement_order", "AFTER_CLASSIC_FIREWALL")
	n.null("description", "enable_ula_internal_ipv6", "timeouts")
	n.computed("gateway_ipv4", "id", "internal_ipv6_range", "mtu", "network_id", "numeric_id", "project", "self_link")
	googleFirewallIn(u, n)
}

func googleFirewall(u *unit) {
	j, ok := previous(u.index, "google-network")
	if !ok {
		googleFirewallIn(u, nil)
		return
	}
	googleFirewallIn(u, &resource{typ: "google_compute_network", name: fmt.Sprintf("main_%06d", j)})
}

// googleFirewallIn adds an ingress rule in network (or the default one).
func googleFirewallIn(u *unit, network *resource) {
	f := u.add("google_compute_firewall", "ingress", "google")
	f.set("name", u.slug("allow-ingress"))
	if network != nil {
		f.ref("network", unknown, network.attr("id")...)
	} else {
		f.set("network", "default")
	}
	f.set("direction", "INGRESS")
	f.set("priority", 1000)
	port, source := "443", "0.0.0.0/0"
	switch {
	case u.bad(0.2):
		port = "22"
	case u.bad(0.1):
		port = "3389"
	default:
		if u.bad(0.5) {
			port, source = "22", "35.235.240.0/20" // IAP
		}
	}
	f.nested("allow", newBlock().set("protocol", "tcp").set("ports", []any{port}))
	f.empty("deny")
	f.set("source_ranges", []any{source})
	f.set("target_tags", []any{"web"})
	if u.bad(0.4) {
		f.empty("log_config")
	} else {
		f.nested("log_config", newBlock().set("metadata", "INCLUDE_ALL_METADATA"))
	}
	f.def("disabled", false)
	f.null("description", "enable_logging", "source_service_accounts", "source_tags", "target_service_accounts", "timeouts")
	f.computed("creation_timestamp", "destination_ranges", "id", "project", "self_link")
}

func googleBucket(u *unit) {
	b := u.add("google_storage_bucket", "data", "google")
	b.set("name", u.slug("hoheit-gcs"))
	loc := u.pick("EUROPE-WEST3", "EUROPE-WEST3", "EU")
	if u.bad(0.1) {
		loc = "US"
	}
	b.set("location", loc)
	b.set("storage_class", "STANDARD")
	b.set("force_destroy", false)
	b.set("uniform_bucket_level_access", !u.bad(0.25))
	if u.bad(0.3) {
		b.computed("public_access_prevention")
	} else {
		b.set("public_access_prevention", "enforced")
	}
	b.nested("versioning", newBlock().set("enabled", !u.bad(0.3)))
	if j, ok := previous(u.index, "google-key"); ok && !u.bad(0.5) {
		key := fmt.Sprintf("google_kms_crypto_key.cmek_%06d", j)
		b.nested("encryption", newBlock().ref("default_kms_key_name", unknown, key+".id", key))
	} else {
		b.empty("encryption")
	}
	if u.bad(0.4) {
		b.empty("logging")
	} else {
		b.nested("logging", newBlock().set("log_bucket", "hoheit-gcs-access-logs").computed("log_object_prefix"))
	}
	b.nested("lifecycle_rule", newBlock().
		nested("action", newBlock().set("type", "Delete").def("storage_class", "")).
		nested("condition", newBlock().set("age", 365).
			def("created_before", "").def("custom_time_before", "").def("days_since_custom_time", 0).
			def("days_since_noncurrent_time", 0).def("matches_prefix", []any{}).def("matches_storage_class", []any{}).
			def("matches_suffix", []any{}).def("noncurrent_time_before", "").def("num_newer_versions", 0).
			def("send_age_if_zero", true).def("send_days_since_custom_time_if_zero", false).
			def("send_days_since_noncurrent_time_if_zero", false).def("send_num_newer_versions_if_zero", false).
			def("with_state", "ANY")))
	b.null("default_event_based_hold", "enable_object_retention", "requester_pays", "timeouts")
	b.empty("autoclass", "cors", "custom_placement_config", "hierarchical_namespace", "retention_policy")
	b.computed("id", "project", "project_number", "rpo", "self_link", "soft_delete_policy", "time_created", "updated", "url", "website")
	u.googleLabels(b.block)
}

func googleInstance(u *unit) {
	i := u.add("google_compute_instance", "app", "google")
	i.set("name", u.slug("vm-app"))
	zone := u.googleZone()
	i.set("zone", zone)
	confidential := !u.bad(0.7)
	mt := u.pick("e2-standard-2", "n2-standard-4", "c3-standard-8")
	if confidential {
		mt = "n2d-standard-4"
	}
	i.set("machine_type", mt)
	i.set("tags", []any{"web"})
	i.set("deletion_protection", !u.bad(0.5))
	i.set("can_ip_forward", false)
	meta := map[string]string{"enable-oslogin": "TRUE", "block-project-ssh-keys": "true"}
	if u.bad(0.2) {
		meta["serial-port-enable"] = "TRUE"
	}
	if u.bad(0.2) {
		delete(meta, "enable-oslogin")
	}
	i.set("metadata", meta)
	boot := newBlock().
		set("auto_delete", true).
		def("mode", "READ_WRITE").
		null("disk_encryption_key_raw").
		computed("device_name", "disk_encryption_key_sha256", "guest_os_features", "interface", "source").
		nested("initialize_params", newBlock().
			set("image", "debian-cloud/debian-12").
			set("size", 20*u.between(1, 5)).
			set("type", "pd-balanced").
			def("enable_confidential_compute", false).
			null("resource_manager_tags", "storage_pool").
			computed("labels", "provisioned_iops", "provisioned_throughput", "resource_policies"))
	if j, ok := previous(u.index, "google-key"); ok && !u.bad(0.5) {
		key := fmt.Sprintf("google_kms_crypto_key.cmek_%06d", j)
		boot.ref("kms_key_self_link", unknown, key+".id", key)
	} else {
		boot.computed("kms_key_self_link")
	}
	i.nested("boot_disk", boot)
	nic := newBlock().
		def("nic_type", nil).def("queue_count", nil).
		empty("alias_ip_range", "ipv6_access_config").
		computed("internal_ipv6_prefix_length", "ipv6_access_type", "ipv6_address", "name", "network_ip", "stack_type", "subnetwork", "subnetwork_project")
	if j, ok := previous(u.index, "google-network"); ok {
		net := fmt.Sprintf("google_compute_network.main_%06d", j)
		nic.ref("network", unknown, net+".self_link", net)
	} else {
		nic.set("network", "default")
	}
	if u.bad(0.25) {
		nic.nested("access_config", newBlock().computed("nat_ip", "network_tier").null("public_ptr_domain_name"))
	} else {
		nic.empty("access_config")
	}
	i.nested("network_interface", nic)
	sa := newBlock().set("scopes", []any{"https://www.googleapis.com/auth/cloud-platform"})
	if u.bad(0.3) {
		sa.computed("email") // the default compute service account
	} else {
		sa.set("email", fmt.Sprintf("%s@%s.iam.gserviceaccount.com", u.slug("app"), variable("gcp_project")))
	}
	i.nested("service_account", sa)
	shielded := !u.bad(0.3)
	i.nested("shielded_instance_config", newBlock().
		set("enable_secure_boot", shielded).
		set("enable_vtpm", shielded).
		set("enable_integrity_monitoring", shielded))
	if confidential {
		i.nested("confidential_instance_config", newBlock().
			set("confidential_instance_type", "SEV_SNP").
			def("enable_confidential_compute", false))
		i.nested("scheduling", newBlock().
			set("on_host_maintenance", "TERMINATE").
			def("automatic_restart", true).def("preemptible", false).
			def("instance_termination_action", "").def("min_node_cpus", 0).
			def("provisioning_model", "STANDARD").
			empty("local_ssd_recovery_timeout", "max_run_duration", "node_affinities", "on_instance_stop_action"))
	} else {
		i.empty("confidential_instance_config")
		i.computed("scheduling")
	}
	i.def("enable_display", false)
	i.null("allow_stopping_for_update", "description", "desired_status", "hostname", "key_revocation_action_type",
		"metadata_startup_script", "resource_policies", "timeouts")
	i.empty("advanced_machine_features", "attached_disk", "network_performance_config", "params", "scratch_disk")
	i.computed("cpu_platform", "creation_timestamp", "current_status", "guest_accelerator", "id", "instance_id",
		"label_fingerprint", "metadata_fingerprint", "min_cpu_platform", "project", "reservation_affinity",
		"self_link", "tags_fingerprint")
	u.googleLabels(i.block)
}

func googleDisk(u *unit) {
	d := u.add("google_compute_disk", "data", "google")
	d.set("name", u.slug("disk-data"))
	d.set("zone", u.googleZone())
	d.set("type", u.pick("pd-balanced", "pd-ssd", "pd-standard"))
	d.set("size", 100*u.between(1, 10))
	if j, ok := previous(u.index, "google-key"); ok && !u.bad(0.5) {
		key := fmt.Sprintf("google_kms_crypto_key.cmek_%06d", j)
		d.nested("disk_encryption_key", newBlock().
			ref("kms_key_self_link", unknown, key+".id", key).
			null("kms_key_service_account", "raw_key", "rsa_encrypted_key").
			computed("sha256"))
	} else {
		d.empty("disk_encryption_key")
	}
	d.null("access_mode", "description", "image", "snapshot", "storage_pool", "timeouts")
	d.empty("async_primary_disk", "guest_os_features", "source_image_encryption_key", "source_snapshot_encryption_key")
	d.computed("creation_timestamp", "disk_id", "id", "label_fingerprint", "last_attach_timestamp", "last_detach_timestamp",
		"licenses", "physical_block_size_bytes", "project", "provisioned_iops", "provisioned_throughput", "self_link",
		"source_disk_id", "source_image_id", "source_snapshot_id", "users")
	u.googleLabels(d.block)
}

func googleSQL(u *unit) {
	s := u.add("google_sql_database_instance", "main", "google")
	s.set("name", u.slug("sql"))
	region := googleRegion
	if u.bad(0.1) {
		region = "us-central1"
	}
	s.set("region", region)
	s.set("database_version", u.pick("POSTGRES_16", "POSTGRES_15", "MYSQL_8_0"))
	s.set("deletion_protection", !u.bad(0.3))
	if j, ok := previous(u.index, "google-key"); ok && !u.bad(0.5) {
		key := fmt.Sprintf("google_kms_crypto_key.cmek_%06d", j)
		s.ref("encryption_key_name", unknown, key+".id", key)
	} else {
		s.computed("encryption_key_name")
	}
	public := u.bad(0.3)
	ip := newBlock().
		set("ipv4_enabled", public).
		set("ssl_mode", u.pick("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")).
		def("enable_private_path_for_google_cloud_services", false).
		null("allocated_ip_range", "server_ca_pool").
		empty("psc_config")
	if public {
		if u.bad(0.5) {
			ip.set("ssl_mode", "ALLOW_UNENCRYPTED_AND_ENCRYPTED")
		}
		ip.nested("authorized_networks", newBlock().set("name", "anywhere").set("value", "0.0.0.0/0").null("expiration_time"))
		ip.null("private_network")
	} else {
		ip.empty("authorized_networks")
		ip.set("private_network", fmt.Sprintf("projects/%s/global/networks/vpc-shared", variable("gcp_project")))
	}
	backup := newBlock().
		set("enabled", !u.bad(0.2)).
		set("point_in_time_recovery_enabled", !u.bad(0.4)).
		set("start_time", "02:00").
		def("binary_log_enabled", false).
		null("location").
		computed("backup_retention_settings", "transaction_log_retention_days")
	flags := []*block{newBlock().set("name", "log_connections").set("value", "on")}
	if !u.bad(0.3) {
		flags = append(flags, newBlock().set("name", "log_disconnections").set("value", "on"))
	}
	settings := newBlock().
		set("tier", u.pick("db-custom-2-7680", "db-custom-4-15360", "db-f1-micro")).
		set("availability_type", u.pick("REGIONAL", "ZONAL")).
		set("disk_size", 50).
		set("user_labels", u.tags()).
		def("activation_policy", "ALWAYS").
		def("disk_autoresize", true).
		def("disk_autoresize_limit", 0).
		def("disk_type", "PD_SSD").
		def("deletion_protection_enabled", false).
		def("pricing_plan", "PER_USE").
		null("collation", "time_zone").
		empty("active_directory_config", "advanced_machine_features", "data_cache_config", "deny_maintenance_period",
			"insights_config", "location_preference", "maintenance_window", "password_validation_policy", "sql_server_audit_config").
		computed("connector_enforcement", "edition", "enable_dataplex_integration", "enable_google_ml_integration", "version").
		nested("backup_configuration", backup).
		nested("ip_configuration", ip).
		nested("database_flags", flags...)
	s.nested("settings", settings)
	s.null("root_password", "timeouts")
	s.empty("clone", "restore_backup_context")
	s.computed("available_maintenance_versions", "connection_name", "dns_name", "dns_names", "first_ip_address", "id",
		"instance_type", "ip_address", "maintenance_version", "master_instance_name", "private_ip_address", "project",
		"psc_service_attachment_link", "public_ip_address", "replica_configuration", "replica_names",
		"self_link", "server_ca_cert", "service_account_email_address")
}

func googleKey(u *unit) {
	k := u.add("google_kms_crypto_key", "cmek", "google")
	k.set("name", u.slug("cmek"))
	k.set("key_ring", fmt.Sprintf("projects/%s/locations/%s/keyRings/hoheit", variable("gcp_project"), googleRegion))
	k.set("purpose", "ENCRYPT_DECRYPT")
	if u.bad(0.3) {
		k.null("rotation_period")
	} else {
		k.set("rotation_period", "7776000s")
	}
	level := "HSM"
	if u.bad(0.4) {
		level = "SOFTWARE"
	}
	k.nested("version_template", newBlock().set("algorithm", "GOOGLE_SYMMETRIC_ENCRYPTION").set("protection_level", level))
	k.def("skip_initial_version_creation", false)
	k.null("timeouts")
	k.computed("crypto_key_backend", "destroy_scheduled_duration", "id", "import_only", "key_access_justifications_policy", "primary")
	u.googleLabels(k.block)
}

func googleIAM(u *unit) {
	m := u.add("google_project_iam_member", "app", "google")
	m.ref("project", variable("gcp_project"), varRef("gcp_project")...)
	role := u.pick("roles/storage.objectViewer", "roles/cloudsql.client", "roles/logging.logWriter")
	member := fmt.Sprintf("serviceAccount:%s@%s.iam.gserviceaccount.com", u.slug("app"), variable("gcp_project"))
	switch {
	case u.bad(0.1):
		role = u.pick("roles/owner", "roles/editor")
	case u.bad(0.05):
		member = "allUsers"
	case u.bad(0.1):
		member = "user:someone@gmail.com"
	}
	m.set("role", role)
	m.set("member", member)
	m.empty("condition")
	m.computed("etag", "id")
}
