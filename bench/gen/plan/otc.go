package plan

import "fmt"

// The Open Telekom Cloud units, with the attribute sets of
// opentelekomcloud/opentelekomcloud 1.36.

// otcZone is an availability zone of the provider's region.
func (u *unit) otcZone() string { return u.pick("eu-de-01", "eu-de-02", "eu-de-03") }

func otcNetwork(u *unit) {
	v := u.add("opentelekomcloud_vpc_v1", "main", "opentelekomcloud")
	v.set("name", u.slug("vpc"))
	v.set("cidr", fmt.Sprintf("192.168.%d.0/24", u.index%250))
	v.set("tags", u.tags())
	v.null("description", "timeouts")
	v.computed("id", "region", "shared", "status")

	g := u.add("opentelekomcloud_networking_secgroup_v2", "web", "opentelekomcloud")
	g.set("name", u.slug("sg-web"))
	g.set("description", "web tier")
	g.set("delete_default_rules", !u.bad(0.3))
	g.null("timeouts")
	g.computed("id", "region", "tenant_id")

	rule := func(label string, port int, cidr string) {
		r := u.add("opentelekomcloud_networking_secgroup_rule_v2", label, "opentelekomcloud")
		r.ref("security_group_id", unknown, g.attr("id")...)
		r.set("direction", "ingress")
		r.set("ethertype", "IPv4")
		r.set("protocol", "tcp")
		r.set("port_range_min", port)
		r.set("port_range_max", port)
		r.set("remote_ip_prefix", cidr)
		r.set("description", label)
		r.null("timeouts")
		r.computed("id", "region", "remote_group_id", "tenant_id")
	}
	rule("https", 443, "0.0.0.0/0")
	if u.bad(0.25) {
		rule("ssh", 22, "0.0.0.0/0")
	} else {
		rule("ssh", 22, "10.0.0.0/24")
	}
}

// otcSecurityGroups sets security_groups to the nearest earlier web group.
func (u *unit) otcSecurityGroups(b *block, key string) {
	j, ok := previous(u.index, "otc-network")
	if !ok {
		b.computed(key)
		return
	}
	sg := fmt.Sprintf("opentelekomcloud_networking_secgroup_v2.web_%06d", j)
	// security_groups is a set: holding an unknown id, it is wholly unknown.
	b.ref(key, unknown, sg+".id", sg)
}

// otcKMS returns the reference to the nearest earlier OTC key, if any and
// if this resource uses one.
func (u *unit) otcKMS(p float64) (string, bool) {
	j, ok := previous(u.index, "otc-key")
	if !ok || u.bad(p) {
		return "", false
	}
	return fmt.Sprintf("opentelekomcloud_kms_key_v1.cmk_%06d", j), true
}

func otcBucket(u *unit) {
	b := u.add("opentelekomcloud_obs_bucket", "data", "opentelekomcloud")
	b.set("bucket", u.slug("hoheit-obs"))
	acl := "private"
	if u.bad(0.15) {
		acl = u.pick("public-read", "public-read-write")
	}
	b.set("acl", acl)
	b.set("storage_class", "STANDARD")
	b.set("versioning", !u.bad(0.3))
	b.set("force_destroy", false)
	b.set("tags", u.tags())
	if key, ok := u.otcKMS(0.3); ok {
		b.nested("server_side_encryption", newBlock().
			set("algorithm", "kms").
			ref("kms_key_id", unknown, key+".id", key))
	} else {
		b.empty("server_side_encryption")
	}
	if u.bad(0.4) {
		b.empty("logging")
	} else {
		b.nested("logging", newBlock().set("target_bucket", "hoheit-obs-access-logs").set("target_prefix", u.slug("log")+"/"))
	}
	b.def("parallel_fs", false)
	b.null("user_domain_names")
	b.empty("cors_rule", "event_notifications", "lifecycle_rule", "website", "worm_policy")
	b.computed("bucket_domain_name", "bucket_version", "id", "region")
}

func otcInstance(u *unit) {
	i := u.add("opentelekomcloud_ecs_instance_v1", "app", "opentelekomcloud")
	i.set("name", u.slug("ecs-app"))
	i.set("image_id", u.id())
	i.set("flavor", u.pick("s3.large.2", "s3.xlarge.4", "c4.2xlarge.2"))
	i.ref("vpc_id", variable("otc_vpc_id"), varRef("otc_vpc_id")...)
	i.set("availability_zone", u.otcZone())
	i.set("key_name", "ops-ed25519")
	i.set("auto_recovery", true)
	i.set("system_disk_type", "SSD")
	i.set("system_disk_size", 40)
	i.set("delete_disks_on_termination", true)
	i.set("tags", u.tags())
	nic := newBlock().
		ref("network_id", variable("otc_subnet_id"), varRef("otc_subnet_id")...).
		def("ipv6_enable", false).
		computed("ip_address", "ipv6_address", "mac_address", "port_id", "type")
	i.nested("nics", nic)
	key, encrypted := u.otcKMS(0.4)
	disk := newBlock().set("type", "SSD").set("size", 100).null("snapshot_id")
	if encrypted {
		i.ref("system_disk_kms_id", unknown, key+".id", key)
		disk.ref("kms_id", unknown, key+".id", key)
	} else {
		i.null("system_disk_kms_id")
		disk.null("kms_id")
	}
	i.nested("data_disks", disk)
	u.otcSecurityGroups(i.block, "security_groups")
	if u.bad(0.2) {
		i.ref("password", secret{variable("db_password")}, varRef("db_password")...)
	} else {
		i.def("password", secret{nil})
	}
	i.null("metadata", "timeouts", "user_data")
	i.empty("os_scheduler_hints")
	i.computed("id", "region", "system_disk_id", "volumes_attached")
}

func otcVolume(u *unit) {
	v := u.add("opentelekomcloud_evs_volume_v3", "data", "opentelekomcloud")
	v.set("name", u.slug("evs-data"))
	v.set("description", "application data")
	v.set("availability_zone", u.otcZone())
	v.set("volume_type", u.pick("SSD", "SAS", "GPSSD"))
	v.set("size", 100*u.between(1, 10))
	v.set("tags", u.tags())
	if key, ok := u.otcKMS(0.4); ok {
		v.ref("kms_id", unknown, key+".id", key)
	} else {
		v.null("kms_id")
	}
	v.def("device_type", "VBD")
	v.def("multiattach", false)
	v.null("backup_id", "cascade", "image_id", "snapshot_id", "timeouts")
	v.computed("attachment", "id", "region", "wwn")
}

func otcDatabase(u *unit) {
	d := u.add("opentelekomcloud_rds_instance_v3", "main", "opentelekomcloud")
	d.set("name", u.slug("rds"))
	ha := !u.bad(0.4)
	zones := []any{"eu-de-01"}
	flavor := "rds.pg.n1.large.2"
	if ha {
		zones = []any{"eu-de-01", "eu-de-02"}
		flavor = "rds.pg.n1.large.2.ha"
		d.set("ha_replication_mode", u.pick("async", "sync"))
	} else {
		d.null("ha_replication_mode")
	}
	d.set("availability_zone", zones)
	d.set("flavor", flavor)
	d.ref("vpc_id", variable("otc_vpc_id"), varRef("otc_vpc_id")...)
	d.ref("subnet_id", variable("otc_subnet_id"), varRef("otc_subnet_id")...)
	u.otcSecurityGroups(d.block, "security_group_id")
	d.nested("db", newBlock().
		set("type", "PostgreSQL").
		set("version", u.pick("14", "15", "16")).
		set("port", 8635).
		ref("password", secret{variable("db_password")}, varRef("db_password")...).
		computed("user_name"))
	vol := newBlock().set("type", u.pick("COMMON", "ULTRAHIGH", "CLOUDSSD")).set("size", 100*u.between(1, 5))
	if key, ok := u.otcKMS(0.4); ok {
		vol.ref("disk_encryption_id", unknown, key+".id", key)
	} else {
		vol.null("disk_encryption_id")
	}
	vol.computed("limit_size", "trigger_threshold")
	d.nested("volume", vol)
	d.nested("backup_strategy", newBlock().
		set("start_time", "02:00-03:00").
		set("keep_days", []int{0, 1, 7, 14}[u.rng.IntN(4)]).
		computed("period"))
	d.set("ssl_enable", !u.bad(0.3))
	if u.bad(0.15) {
		d.set("public_ips", []any{fmt.Sprintf("80.158.%d.%d", u.index%250, u.between(2, 250))})
	} else {
		d.null("public_ips")
	}
	d.set("tags", u.tags())
	d.null("lower_case_table_names", "param_group_id", "parameters", "tag", "timeouts")
	d.empty("restore_from_backup", "restore_point")
	d.computed("created", "id", "nodes", "private_ips", "region")
}

func otcKey(u *unit) {
	k := u.add("opentelekomcloud_kms_key_v1", "cmk", "opentelekomcloud")
	k.set("key_alias", u.slug("cmk"))
	k.set("key_description", "customer master key")
	k.set("realm", "eu-de")
	k.set("pending_days", "7")
	k.set("is_enabled", true)
	rot := !u.bad(0.3)
	k.set("rotation_enabled", rot)
	if rot {
		k.set("rotation_interval", 90)
	} else {
		k.computed("rotation_interval")
	}
	k.set("tags", u.tags())
	k.null("allow_cancel_deletion", "timeouts")
	k.computed("creation_date", "default_key_flag", "domain_id", "expiration_time", "id", "key_id", "origin",
		"region", "rotation_number", "scheduled_deletion_date")
}
