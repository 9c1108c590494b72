package plan

import "fmt"

// The AWS units, with the attribute sets of hashicorp/aws 5.x.

// awsProvider returns the provider configuration a unit uses: mostly the
// EU default, sometimes the US alias.
func (u *unit) awsProvider() string {
	if u.bad(0.1) {
		return "aws.us"
	}
	return "aws"
}

// awsSecurityGroups sets vpc_security_group_ids to the web security group
// of the nearest earlier network unit, or leaves the default group.
func (u *unit) awsSecurityGroups(b *block) {
	j, ok := previous(u.index, "aws-network")
	if !ok {
		b.computed("vpc_security_group_ids")
		return
	}
	// A set holding an unknown id is wholly unknown in the plan.
	sg := fmt.Sprintf("aws_security_group.web_%06d", j)
	b.ref("vpc_security_group_ids", unknown, sg+".id", sg)
}

func (u *unit) awsTags(b *block) {
	t := u.tags()
	b.set("tags", t)
	b.def("tags_all", t)
}

// awsKMSKey adds a customer-managed key.
func (u *unit) awsKMSKey(label, provider string) *resource {
	k := u.add("aws_kms_key", label, provider)
	k.set("description", fmt.Sprintf("%s key %d", label, u.index))
	k.set("deletion_window_in_days", []int{7, 30}[u.rng.IntN(2)])
	k.set("enable_key_rotation", !u.bad(0.3))
	k.def("bypass_policy_lockout_safety_check", false)
	k.def("customer_master_key_spec", "SYMMETRIC_DEFAULT")
	k.def("is_enabled", true)
	k.def("key_usage", "ENCRYPT_DECRYPT")
	k.null("custom_key_store_id", "xks_key_id")
	k.computed("arn", "id", "key_id", "multi_region", "policy", "rotation_period_in_days")
	u.awsTags(k.block)
	return k
}

// awsBucket: an S3 bucket with its settings split off the way provider 5.x
// wants them (server-side encryption, public access block, versioning),
// each referencing the bucket; some buckets lack one of them.
func awsBucket(u *unit) {
	prov := u.awsProvider()
	b := u.add("aws_s3_bucket", "data", prov)
	b.set("bucket", u.slug("hoheit-data"))
	b.set("force_destroy", false)
	b.null("bucket_prefix", "timeouts")
	b.computed("acceleration_status", "acl", "arn", "bucket_domain_name", "bucket_regional_domain_name",
		"cors_rule", "grant", "hosted_zone_id", "id", "lifecycle_rule", "logging", "object_lock_configuration",
		"object_lock_enabled", "policy", "region", "replication_configuration", "request_payer",
		"server_side_encryption_configuration", "versioning", "website", "website_domain", "website_endpoint")
	u.awsTags(b.block)

	// Half the references use the computed id, half the known name: both
	// are common in real code, and a reader must resolve both.
	bucketRef := func() (any, []string) {
		if u.bad(0.5) {
			return unknown, b.attr("id")
		}
		return u.slug("hoheit-data"), b.attr("bucket")
	}

	if !u.bad(0.2) {
		var key *resource
		if u.bad(0.5) {
			key = u.awsKMSKey("data", prov)
		}
		s := u.add("aws_s3_bucket_server_side_encryption_configuration", "data", prov)
		v, refs := bucketRef()
		s.ref("bucket", v, refs...)
		s.null("expected_bucket_owner")
		s.computed("id")
		def := newBlock()
		if key != nil {
			def.ref("kms_master_key_id", unknown, key.attr("arn")...)
			def.set("sse_algorithm", "aws:kms")
		} else {
			def.def("kms_master_key_id", nil)
			def.set("sse_algorithm", "AES256")
		}
		rule := newBlock().nested("apply_server_side_encryption_by_default", def)
		rule.set("bucket_key_enabled", key != nil)
		s.nested("rule", rule)
	}
	if !u.bad(0.2) {
		open := u.bad(0.15)
		p := u.add("aws_s3_bucket_public_access_block", "data", prov)
		v, refs := bucketRef()
		p.ref("bucket", v, refs...)
		p.set("block_public_acls", !open)
		p.set("block_public_policy", !open)
		p.set("ignore_public_acls", !open)
		p.set("restrict_public_buckets", !open)
		p.computed("id")
	}
	if !u.bad(0.2) {
		vs := u.add("aws_s3_bucket_versioning", "data", prov)
		v, refs := bucketRef()
		vs.ref("bucket", v, refs...)
		vs.null("expected_bucket_owner", "mfa")
		vs.computed("id")
		status := "Enabled"
		if u.bad(0.3) {
			status = "Suspended"
		}
		vs.nested("versioning_configuration", newBlock().set("status", status).computed("mfa_delete"))
	}
}

func awsInstance(u *unit) {
	prov := u.awsProvider()
	var key *resource
	if !u.bad(0.4) {
		key = u.awsKMSKey("vm", prov)
	}
	i := u.add("aws_instance", "app", prov)
	i.set("ami", fmt.Sprintf("ami-0%016x", u.rng.Uint64()))
	i.set("instance_type", u.pick("t3.micro", "t3.medium", "m6i.large", "c6i.xlarge", "r6i.2xlarge"))
	i.set("associate_public_ip_address", u.bad(0.2))
	i.set("monitoring", !u.bad(0.4))
	i.set("ebs_optimized", true)
	i.set("key_name", "ops-ed25519")
	i.set("iam_instance_profile", u.slug("app-profile"))
	i.ref("subnet_id", variable("subnet_id"), varRef("subnet_id")...)
	u.awsSecurityGroups(i.block)
	i.def("get_password_data", false)
	i.def("source_dest_check", true)
	i.def("user_data_replace_on_change", false)
	i.null("enable_primary_ipv6", "hibernation", "timeouts", "user_data", "user_data_base64", "volume_tags", "launch_template")
	i.empty("credit_specification")
	i.computed("arn", "availability_zone", "capacity_reservation_specification", "cpu_core_count", "cpu_options",
		"cpu_threads_per_core", "disable_api_stop", "disable_api_termination", "ebs_block_device", "enclave_options",
		"ephemeral_block_device", "host_id", "host_resource_group_arn", "id", "instance_initiated_shutdown_behavior",
		"instance_lifecycle", "instance_market_options", "instance_state", "ipv6_address_count", "ipv6_addresses",
		"maintenance_options", "network_interface", "outpost_arn", "password_data", "placement_group",
		"placement_partition_number", "primary_network_interface_id", "private_dns", "private_dns_name_options",
		"private_ip", "public_dns", "public_ip", "secondary_private_ips", "security_groups", "spot_instance_request_id",
		"tenancy")
	tokens := "required"
	if u.bad(0.3) {
		tokens = "optional"
	}
	i.nested("metadata_options", newBlock().
		set("http_endpoint", "enabled").
		set("http_tokens", tokens).
		set("http_put_response_hop_limit", 1).
		def("http_protocol_ipv6", "disabled").
		def("instance_metadata_tags", "disabled"))
	root := newBlock()
	root.set("volume_size", 8*u.between(1, 16))
	root.set("volume_type", "gp3")
	root.set("delete_on_termination", true)
	enc := !u.bad(0.25)
	root.set("encrypted", enc)
	if enc && key != nil {
		root.ref("kms_key_id", unknown, key.attr("arn")...)
	} else {
		root.computed("kms_key_id")
	}
	root.null("tags")
	root.computed("device_name", "iops", "tags_all", "throughput", "volume_id")
	i.nested("root_block_device", root)
	u.awsTags(i.block)

	if u.bad(0.5) {
		awsVolumeFor(u, prov, key)
	}
}

func awsVolume(u *unit) {
	prov := u.awsProvider()
	var key *resource
	if u.bad(0.5) {
		key = u.awsKMSKey("disk", prov)
	}
	awsVolumeFor(u, prov, key)
}

func awsVolumeFor(u *unit, prov string, key *resource) {
	v := u.add("aws_ebs_volume", "data", prov)
	region := awsRegion
	if prov == "aws.us" {
		region = awsUSRegion
	}
	v.set("availability_zone", region+u.pick("a", "b", "c"))
	v.set("size", 50*u.between(1, 20))
	v.set("type", u.pick("gp3", "gp3", "io2", "st1"))
	enc := !u.bad(0.25)
	v.set("encrypted", enc)
	if enc && key != nil {
		v.ref("kms_key_id", unknown, key.attr("arn")...)
	} else {
		v.computed("kms_key_id")
	}
	v.def("final_snapshot", false)
	v.null("multi_attach_enabled", "outpost_arn", "timeouts")
	v.computed("arn", "id", "iops", "snapshot_id", "throughput")
	u.awsTags(v.block)
}

func awsDatabase(u *unit) {
	prov := u.awsProvider()
	var key *resource
	if !u.bad(0.4) {
		key = u.awsKMSKey("db", prov)
	}
	d := u.add("aws_db_instance", "main", prov)
	engine := u.pick("postgres", "mysql", "mariadb")
	versions := map[string]string{"postgres": "16.4", "mysql": "8.0.39", "mariadb": "10.11.9"}
	d.set("identifier", u.slug("db"))
	d.set("engine", engine)
	d.set("engine_version", versions[engine])
	d.set("instance_class", u.pick("db.t4g.medium", "db.m6g.large", "db.r6g.xlarge"))
	d.set("allocated_storage", 20*u.between(1, 10))
	d.set("max_allocated_storage", 1000)
	d.set("db_name", "app")
	d.set("username", "app_admin")
	d.ref("password", secret{variable("db_password")}, varRef("db_password")...)
	d.set("db_subnet_group_name", u.slug("db-subnets"))
	d.set("multi_az", !u.bad(0.4))
	d.set("publicly_accessible", u.bad(0.15))
	d.set("storage_encrypted", !u.bad(0.2))
	if key != nil {
		d.ref("kms_key_id", unknown, key.attr("arn")...)
	} else {
		d.computed("kms_key_id")
	}
	d.set("backup_retention_period", []int{0, 7, 14, 35}[u.rng.IntN(4)])
	d.set("deletion_protection", !u.bad(0.3))
	d.set("skip_final_snapshot", u.bad(0.3))
	d.set("iam_database_authentication_enabled", !u.bad(0.5))
	d.set("performance_insights_enabled", !u.bad(0.5))
	logs := []any{"postgresql", "upgrade"}
	if engine != "postgres" {
		logs = []any{"audit", "error", "general", "slowquery"}
	}
	if u.bad(0.3) {
		logs = []any{}
	}
	d.set("enabled_cloudwatch_logs_exports", logs)
	d.set("auto_minor_version_upgrade", !u.bad(0.2))
	d.set("copy_tags_to_snapshot", true)
	d.def("apply_immediately", false)
	d.def("delete_automated_backups", true)
	d.def("monitoring_interval", 0)
	d.null("allow_major_version_upgrade", "blue_green_update", "custom_iam_instance_profile", "domain",
		"domain_iam_role_name", "final_snapshot_identifier", "manage_master_user_password",
		"master_user_secret_kms_key_id", "replicate_source_db", "restore_to_point_in_time", "s3_import", "timeouts")
	u.awsSecurityGroups(d.block)
	d.computed("address", "arn", "availability_zone", "backup_target", "backup_window", "ca_cert_identifier",
		"character_set_name", "endpoint", "engine_version_actual", "hosted_zone_id",
		"id", "identifier_prefix", "iops", "latest_restorable_time", "license_model", "listener_endpoint",
		"maintenance_window", "master_user_secret", "monitoring_role_arn", "nchar_character_set_name",
		"network_type", "option_group_name", "parameter_group_name", "performance_insights_kms_key_id",
		"performance_insights_retention_period", "port", "replica_mode", "replicas", "resource_id",
		"snapshot_identifier", "status", "storage_throughput", "storage_type", "timezone")
	u.awsTags(d.block)
}

// awsNetwork: a VPC and a web security group in it.
func awsNetwork(u *unit) {
	prov := u.awsProvider()
	v := u.add("aws_vpc", "main", prov)
	v.set("cidr_block", fmt.Sprintf("10.%d.0.0/16", u.index%250))
	v.set("enable_dns_hostnames", true)
	v.def("enable_dns_support", true)
	v.def("instance_tenancy", "default")
	v.null("assign_generated_ipv6_cidr_block", "ipv4_ipam_pool_id", "ipv4_netmask_length", "ipv6_ipam_pool_id", "ipv6_netmask_length")
	v.computed("arn", "default_network_acl_id", "default_route_table_id", "default_security_group_id",
		"dhcp_options_id", "enable_network_address_usage_metrics", "id", "ipv6_association_id", "ipv6_cidr_block",
		"ipv6_cidr_block_network_border_group", "main_route_table_id", "owner_id")
	u.awsTags(v.block)

	g := u.add("aws_security_group", "web", prov)
	g.set("name", u.slug("web"))
	g.set("description", "web tier")
	g.ref("vpc_id", unknown, v.attr("id")...)
	g.def("revoke_rules_on_delete", false)
	g.null("timeouts")
	g.computed("arn", "id", "name_prefix", "owner_id")
	rule := func(desc string, port int, cidr string) map[string]any {
		return map[string]any{
			"cidr_blocks": []any{cidr}, "description": desc, "from_port": port, "to_port": port,
			"ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{}, "protocol": "tcp",
			"security_groups": []any{}, "self": false,
		}
	}
	ingress := []any{rule("https", 443, "0.0.0.0/0")}
	if u.bad(0.25) {
		ingress = append(ingress, rule("ssh", 22, "0.0.0.0/0"))
	} else {
		ingress = append(ingress, rule("ssh from bastion", 22, "10.0.0.0/24"))
	}
	if u.bad(0.1) {
		ingress = append(ingress, rule("rdp", 3389, "0.0.0.0/0"))
	}
	egress := []any{map[string]any{
		"cidr_blocks": []any{"0.0.0.0/0"}, "description": "all", "from_port": 0, "to_port": 0,
		"ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{}, "protocol": "-1",
		"security_groups": []any{}, "self": false,
	}}
	// ingress and egress are attributes (sets of objects), written in
	// configuration as constants.
	g.set("ingress", ingress)
	g.set("egress", egress)
	u.awsTags(g.block)
}

const awsAssumeEC2 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func awsIAM(u *unit) {
	r := u.add("aws_iam_role", "app", "aws")
	r.set("name", u.slug("app-role"))
	r.set("description", "application role")
	assume := awsAssumeEC2
	if u.bad(0.1) {
		assume = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`
	}
	r.set("assume_role_policy", assume)
	r.set("max_session_duration", 3600)
	r.def("force_detach_policies", false)
	r.def("path", "/")
	r.null("permissions_boundary")
	r.computed("arn", "create_date", "id", "inline_policy", "managed_policy_arns", "name_prefix", "unique_id")
	u.awsTags(r.block)

	p := u.add("aws_iam_policy", "app", "aws")
	p.set("name", u.slug("app-policy"))
	p.set("description", "application access")
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::%s/*"}]}`, u.slug("hoheit-data"))
	if u.bad(0.2) {
		policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	}
	p.set("policy", policy)
	p.def("path", "/")
	p.computed("arn", "attachment_count", "id", "name_prefix", "policy_id")
	u.awsTags(p.block)
}

func awsKey(u *unit) { u.awsKMSKey("shared", u.awsProvider()) }

// awsTrail: a CloudTrail trail encrypted with its own key.
func awsTrail(u *unit) {
	var key *resource
	if !u.bad(0.3) {
		key = u.awsKMSKey("trail", "aws")
	}
	t := u.add("aws_cloudtrail", "audit", "aws")
	t.set("name", u.slug("audit"))
	t.set("s3_bucket_name", u.slug("hoheit-audit-logs"))
	t.set("s3_key_prefix", "cloudtrail")
	t.set("is_multi_region_trail", !u.bad(0.3))
	t.set("enable_log_file_validation", !u.bad(0.3))
	t.set("include_global_service_events", true)
	t.def("enable_logging", true)
	t.def("is_organization_trail", false)
	if key != nil {
		t.ref("kms_key_id", unknown, key.attr("arn")...)
	} else {
		t.null("kms_key_id")
	}
	if u.bad(0.5) {
		t.null("cloud_watch_logs_group_arn", "cloud_watch_logs_role_arn")
	} else {
		t.set("cloud_watch_logs_group_arn", fmt.Sprintf("arn:aws:logs:%s:123456789012:log-group:%s:*", awsRegion, u.slug("trail")))
		t.set("cloud_watch_logs_role_arn", "arn:aws:iam::123456789012:role/cloudtrail-to-cloudwatch")
	}
	t.null("sns_topic_name")
	t.empty("advanced_event_selector", "insight_selector")
	t.nested("event_selector", newBlock().
		set("include_management_events", true).
		set("read_write_type", "All").
		def("exclude_management_event_sources", nil).
		empty("data_resource"))
	t.computed("arn", "home_region", "id", "sns_topic_arn")
	u.awsTags(t.block)
}
