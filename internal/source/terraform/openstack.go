package terraform

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// The openstack and opentelekomcloud mappers. Open Telekom Cloud is an
// OpenStack cloud, so the Neutron, Nova and Keystone resources of both
// providers share one mapper; the provider is told apart by the type's
// prefix.
//
// Plain OpenStack leaves much to the operator's deployment: whether
// volumes and Swift objects are encrypted depends on volume types and
// middleware the plan does not show, so those attributes are unknown, not
// false.

var openstackMappers = map[string]mapper{
	"openstack_objectstorage_container_v1":  swiftContainer,
	"openstack_compute_instance_v2":         openstackInstance,
	"openstack_blockstorage_volume_v2":      openstackVolume,
	"openstack_blockstorage_volume_v3":      openstackVolume,
	"openstack_networking_secgroup_v2":      openstackSecgroup,
	"openstack_compute_secgroup_v2":         novaSecgroup,
	"openstack_networking_network_v2":       openstackNetwork,
	"openstack_db_instance_v1":              troveInstance,
	"openstack_identity_user_v3":            openstackUser,
	"openstack_identity_role_assignment_v3": openstackRoleAssignment,
	"openstack_keymanager_secret_v1":        barbicanSecret,

	"opentelekomcloud_obs_bucket":                  obsBucket,
	"opentelekomcloud_s3_bucket":                   otcS3Bucket,
	"opentelekomcloud_ecs_instance_v1":             ecsInstance,
	"opentelekomcloud_compute_instance_v2":         openstackInstance,
	"opentelekomcloud_evs_volume_v3":               evsVolume,
	"opentelekomcloud_blockstorage_volume_v2":      evsVolume,
	"opentelekomcloud_rds_instance_v3":             rdsInstance,
	"opentelekomcloud_networking_secgroup_v2":      openstackSecgroup,
	"opentelekomcloud_compute_secgroup_v2":         novaSecgroup,
	"opentelekomcloud_vpc_v1":                      otcVPC,
	"opentelekomcloud_kms_key_v1":                  otcKMSKey,
	"opentelekomcloud_cts_tracker_v1":              ctsTracker,
	"opentelekomcloud_cts_tracker_v3":              ctsTracker,
	"opentelekomcloud_identity_user_v3":            openstackUser,
	"opentelekomcloud_identity_role_assignment_v3": openstackRoleAssignment,
	"opentelekomcloud_identity_agency_v3":          otcAgency,
	"opentelekomcloud_identity_role_v3":            otcCustomRole,
	"opentelekomcloud_networking_network_v2":       openstackNetwork,
}

var openstackJoiners = map[string]joiner{
	"openstack_networking_secgroup_rule_v2": {
		Target: "network.firewall", Ref: "security_group_id", Apply: openstackSecgroupRule,
		Natives: []string{"openstack_networking_secgroup_v2"},
	},
	"opentelekomcloud_networking_secgroup_rule_v2": {
		Target: "network.firewall", Ref: "security_group_id", Apply: openstackSecgroupRule,
		Natives: []string{"opentelekomcloud_networking_secgroup_v2"},
	},
	"opentelekomcloud_networking_subnet_v2": {
		Target: "network.network", Ref: "network_id", Apply: openstackSubnet,
		Natives: []string{"opentelekomcloud_networking_network_v2"},
	},
	"openstack_networking_subnet_v2": {
		Target: "network.network", Ref: "network_id", Apply: openstackSubnet,
		Natives: []string{"openstack_networking_network_v2"},
	},
	"opentelekomcloud_vpc_flow_log_v1": {
		Target: "network.network", Ref: "resource_id", Apply: otcFlowLog,
		Natives: []string{"opentelekomcloud_vpc_v1"},
	},
	"openstack_compute_volume_attach_v2": {
		Target: "compute.disk", Ref: "volume_id", Apply: openstackVolumeAttach,
		Natives: []string{"openstack_blockstorage_volume_v2", "openstack_blockstorage_volume_v3"},
	},
	"opentelekomcloud_compute_volume_attach_v2": {
		Target: "compute.disk", Ref: "volume_id", Apply: openstackVolumeAttach,
		Natives: []string{"opentelekomcloud_evs_volume_v3", "opentelekomcloud_blockstorage_volume_v2"},
	},
	"openstack_compute_floatingip_associate_v2": {
		Target: "compute.instance", Ref: "instance_id", Apply: openstackFloatingIP,
		Natives: []string{"openstack_compute_instance_v2"},
	},
	"opentelekomcloud_compute_floatingip_associate_v2": {
		Target: "compute.instance", Ref: "instance_id", Apply: openstackFloatingIP,
		Natives: []string{"opentelekomcloud_compute_instance_v2", "opentelekomcloud_ecs_instance_v1"},
	},
	"openstack_networking_floatingip_associate_v2": {
		Target: "compute.instance", Ref: "port_id", Apply: openstackFloatingIP,
		Natives: []string{"openstack_compute_instance_v2"},
	},
	"opentelekomcloud_networking_floatingip_associate_v2": {
		Target: "compute.instance", Ref: "port_id", Apply: openstackFloatingIP,
		Natives: []string{"opentelekomcloud_compute_instance_v2", "opentelekomcloud_ecs_instance_v1"},
	},
	"opentelekomcloud_vpc_eip_v1": {
		Target: "compute.instance", Ref: "publicip.0.port_id", Apply: openstackFloatingIP,
		Natives: []string{"opentelekomcloud_compute_instance_v2", "opentelekomcloud_ecs_instance_v1"},
	},
	"opentelekomcloud_obs_bucket_policy": {
		Target: "object_storage.bucket", Ref: "bucket", Apply: otcBucketPolicy,
		Natives: []string{"opentelekomcloud_obs_bucket"},
	},
	"opentelekomcloud_s3_bucket_policy": {
		Target: "object_storage.bucket", Ref: "bucket", Apply: otcBucketPolicy,
		Natives: []string{"opentelekomcloud_s3_bucket"},
	},
	"opentelekomcloud_identity_credential_v3": {
		Target: "iam.principal", Ref: "user_id", Apply: openstackCredential,
		Natives: []string{"opentelekomcloud_identity_user_v3"},
	},
	"openstack_identity_ec2_credential_v3": {
		Target: "iam.principal", Ref: "user_id", Apply: openstackCredential,
		Natives: []string{"openstack_identity_user_v3"},
	},
}

// openstackStart begins a resource with what every openstack and
// opentelekomcloud resource shares.
func openstackStart(n *native, typ string) mapping {
	provider := "openstack"
	if strings.HasPrefix(n.Type, "opentelekomcloud_") {
		provider = "otc"
	}
	m := startMapping(n, provider, typ)
	m.r.Region = openstackRegion(n, provider)
	key := "tags"
	if !n.has(key) {
		key = "tag" // rds_instance_v3 before tags
	}
	m.r.Tags = n.tagsAt(key)
	return m
}

// openstackRegion is the resource's region, else (Open Telekom Cloud) the
// region of its availability zone, else the provider's region.
func openstackRegion(n *native, provider string) string {
	if r := n.str("region"); r != "" {
		if provider == "otc" {
			return strings.ToLower(r)
		}
		return r // OpenStack region names are case-sensitive (RegionOne)
	}
	if provider == "otc" {
		az := n.str("availability_zone")
		if az == "" {
			az = n.str("availability_zone.0") // rds_instance_v3 lists its zones
		}
		if r := otcZoneRegion(az); r != "" {
			return r
		}
	}
	return n.Region
}

// otcZoneRegion derives the region of an Open Telekom Cloud zone:
// eu-de-01 -> eu-de, eu-ch2a -> eu-ch2.
func otcZoneRegion(az string) string {
	az = strings.ToLower(strings.TrimSpace(az))
	if i := strings.LastIndexByte(az, '-'); i > 0 && len(az)-i == 3 && az[i+1] >= '0' && az[i+1] <= '9' {
		return az[:i]
	}
	if n := len(az); n > 2 && az[n-1] >= 'a' && az[n-1] <= 'z' && az[n-2] >= '0' && az[n-2] <= '9' && strings.Contains(az, "-") {
		return az[:n-1]
	}
	return ""
}

func swiftContainer(n *native) *inventory.Resource {
	m := openstackStart(n, "object_storage.bucket")
	// Swift encrypts only where the operator runs its encryption
	// middleware, and TLS is the endpoint's: the plan shows neither.
	m.unknown("encryption.at_rest.enabled", "encryption.at_rest.key_manager", "encryption.in_transit.enforced")
	m.set("public", swiftPublicRead(n.str("container_read")), "container_read")
	m.r.Set("public_access_block", false)
	legacy := len(n.list("versioning_legacy")) > 0
	on, _ := boolAt(n, "versioning")
	m.set("versioning.enabled", on || legacy, "versioning", "versioning_legacy")
	return m.r
}

// swiftPublicRead reports whether a Swift read ACL lets anyone read
// (.r:* or a referrer wildcard).
func swiftPublicRead(acl string) bool {
	for _, e := range strings.Split(acl, ",") {
		// Referrer ACLs are spoofable: any wildcard referrer is anyone.
		e = strings.TrimSpace(e)
		if strings.HasPrefix(e, ".r:") && strings.Contains(e, "*") && !strings.HasPrefix(e, ".r:-") {
			return true
		}
	}
	return false
}

func openstackInstance(n *native) *inventory.Resource {
	m := openstackStart(n, "compute.instance")
	// The names are configured; the ids are computed from them.
	if name := n.str("image_name"); name != "" {
		m.r.Set("image", name)
	} else {
		m.set("image", n.str("image_id"), "image_name", "image_id")
	}
	if name := n.str("flavor_name"); name != "" {
		m.r.Set("machine_type", name)
	} else {
		m.set("machine_type", n.str("flavor_id"), "flavor_name", "flavor_id")
	}
	// Secure boot and a vTPM come from image properties (os_secure_boot,
	// hw_tpm_version) the plan does not carry.
	m.unknown("secure_boot.enabled", "secure_boot.vtpm")
	if m.r.Provider == "otc" {
		// Open Telekom Cloud offers no confidential servers. Volumes are
		// unencrypted unless created with a KMS key, which this resource
		// cannot do.
		m.r.Set("confidential_computing", "none")
		m.r.Set("encryption.at_rest.enabled", false)
		m.r.Set("encryption.at_rest.key_manager", "none")
	} else {
		// Memory encryption and volume encryption come from flavor extra
		// specs and volume types the plan does not carry.
		m.unknown("confidential_computing", "encryption.at_rest.enabled", "encryption.at_rest.key_manager")
	}
	m.r.Set("secure_boot.integrity_monitoring", false)
	// The network names decide; their ids and addresses may still be
	// unknown.
	later := n.unknown("network")
	for i := range n.list("network") {
		p := "network." + strconv.Itoa(i) + "."
		later = later || n.unknown(p+"name") || n.unknown(p+"floating_ip")
	}
	if public := openstackPublicNetwork(n, "network", "name"); later && !public {
		m.unknown("public_ip")
	} else {
		m.r.Set("public_ip", public)
	}
	m.r.Set("metadata_service.enabled", true)
	m.r.Set("metadata_service.token_required", false)
	m.plannedBool("login.password_auth", "admin_pass")
	m.r.Set("login.serial_console", false)
	m.r.Set("identity.default_service_account", false)
	m.set("identity.principal", n.str("metadata.agency_name"), "metadata")
	return m.r
}

// openstackPublicNetwork reports whether an instance sits on a network
// whose name marks it as the external one, or has an inline floating IP.
func openstackPublicNetwork(n *native, block, nameAttr string) bool {
	for i := range n.list(block) {
		p := block + "." + strconv.Itoa(i) + "."
		if n.str(p+"floating_ip") != "" {
			return true
		}
		name := strings.ToLower(n.str(p + nameAttr))
		for _, w := range []string{"public", "external", "internet", "ext-net", "admin_external_net"} {
			if strings.Contains(name, w) {
				return true
			}
		}
	}
	return false
}

// openstackFloatingIP marks an instance public when a floating IP or an
// elastic IP is associated with it: by the instance id, or by the port of
// one of its interfaces, which only the configuration's reference
// (instance.network.0.port, ecs.nics.0.port_id) leads back to.
func openstackFloatingIP(n *native, target *inventory.Resource) {
	setKnown(target, "public_ip", true)
}

func ecsInstance(n *native) *inventory.Resource {
	m := openstackStart(n, "compute.instance")
	m.strAttr("image", "image_id")
	m.strAttr("machine_type", "flavor")
	m.r.Set("confidential_computing", "none")
	m.unknown("secure_boot.enabled", "secure_boot.vtpm") // image properties decide
	m.r.Set("secure_boot.integrity_monitoring", false)
	m.r.Set("public_ip", false) // an EIP is a separate association, joined in
	m.r.Set("metadata_service.enabled", true)
	m.r.Set("metadata_service.token_required", false)
	m.atRestKey("none", nil, keyAttr{path: "system_disk_kms_id", manager: "customer"})
	m.plannedBool("login.password_auth", "password")
	m.r.Set("login.serial_console", false)
	m.set("identity.principal", n.str("metadata.0.agency_name"), "metadata")
	m.r.Set("identity.default_service_account", false)
	return m.r
}

func openstackVolume(n *native) *inventory.Resource {
	m := openstackStart(n, "compute.disk")
	m.intAttr("size_gb", "size", 0)
	// Cinder encrypts only volumes of an encrypted volume type.
	m.unknown("encryption.at_rest.enabled", "encryption.at_rest.key_manager")
	m.set("attached", len(n.list("attachment")) > 0, "attachment")
	m.r.Set("snapshot.public", false)
	return m.r
}

// evsVolume maps Open Telekom Cloud volumes: kms_id (evs_volume_v3) or
// the __system__encrypted and __system__cmkid metadata (blockstorage_v2).
func evsVolume(n *native) *inventory.Resource {
	m := openstackStart(n, "compute.disk")
	m.intAttr("size_gb", "size", 0)
	// Encrypted without a key of its own, a volume uses the default key
	// EVS keeps in KMS for the project.
	fallback := "none"
	if n.str("metadata.__system__encrypted") == "1" {
		fallback = "provider"
	}
	m.atRestKey(fallback, []string{"metadata", "metadata.__system__encrypted"},
		keyAttr{path: "kms_id", manager: "customer"},
		keyAttr{path: "metadata.__system__cmkid", manager: "customer"})
	m.set("attached", len(n.list("attachment")) > 0, "attachment")
	m.r.Set("snapshot.public", false)
	return m.r
}

func openstackVolumeAttach(n *native, target *inventory.Resource) {
	setKnown(target, "attached", true)
}

func openstackSecgroup(n *native) *inventory.Resource {
	m := openstackStart(n, "network.firewall")
	m.set("default", n.str("name") == "default", "name")
	m.r.Set("attached_to", []any{})
	rules := []any{}
	// Neutron gives a new group two allow-all egress rules unless
	// delete_default_rules is set.
	if m.unknownAny("delete_default_rules") {
		m.unknown("rules")
		return m.r
	}
	if del, _ := boolAt(n, "delete_default_rules"); !del {
		rules = append(rules,
			newFirewallRule("egress", "allow", "all", 0, 65535, nil, []any{"0.0.0.0/0"}, 0),
			newFirewallRule("egress", "allow", "all", 0, 65535, nil, []any{"::/0"}, 0))
	}
	m.r.Set("rules", rules)
	return m.r
}

// openstackSecgroupRule adds a Neutron rule to its security group. A rule
// without a remote applies to every address of its ethertype.
func openstackSecgroupRule(n *native, target *inventory.Resource) {
	if target.IsUnknown("rules") {
		return
	}
	// remote_* and the ports are computed: left out of the configuration
	// they are unknown in a plan, and mean every address and every port.
	for _, p := range []string{"remote_ip_prefix", "remote_group_id", "remote_address_group_id", "port_range_min", "port_range_max", "protocol", "direction", "ethertype"} {
		if n.unknown(p) && planned(n, p) != leftOut {
			target.SetUnknown("rules")
			return
		}
	}
	remote := []any{}
	switch {
	case n.str("remote_ip_prefix") != "":
		remote = append(remote, n.str("remote_ip_prefix"))
	case n.str("remote_group_id") != "":
		remote = append(remote, n.str("remote_group_id"))
	case n.str("remote_address_group_id") != "":
		remote = append(remote, n.str("remote_address_group_id"))
	case strings.EqualFold(n.str("ethertype"), "IPv6"):
		remote = append(remote, "::/0")
	default:
		remote = append(remote, "0.0.0.0/0")
	}
	protocol := ruleProtocol(n.str("protocol"))
	from, to := int64(0), int64(65535)
	lo, okLo := intAt(n, "port_range_min")
	hi, okHi := intAt(n, "port_range_max")
	if (protocol == "tcp" || protocol == "udp") && okLo && okHi && lo > 0 && hi >= lo && hi <= 65535 {
		from, to = lo, hi
	}
	action := "allow"
	if strings.EqualFold(n.str("action"), "deny") {
		action = "deny"
	}
	priority, _ := intAt(n, "priority")
	var rule map[string]any
	if strings.EqualFold(n.str("direction"), "egress") {
		rule = newFirewallRule("egress", action, protocol, from, to, nil, remote, priority)
	} else {
		rule = newFirewallRule("ingress", action, protocol, from, to, remote, nil, priority)
	}
	appendList(target, "rules", rule)
}

// novaSecgroup maps the older Nova security group with inline rules. Its
// rules are ingress only; ICMP uses -1 for the ports.
func novaSecgroup(n *native) *inventory.Resource {
	m := openstackStart(n, "network.firewall")
	m.set("default", n.str("name") == "default", "name")
	m.r.Set("attached_to", []any{})
	if m.unknownAny("rule") {
		m.unknown("rules")
		return m.r
	}
	rules := []any{}
	for i := range n.list("rule") {
		p := "rule." + strconv.Itoa(i) + "."
		if n.unknown(p+"ip_protocol") || n.unknown(p+"from_port") || n.unknown(p+"to_port") || n.unknown(p+"self") ||
			n.unknown(p+"cidr") && planned(n, p+"cidr") != leftOut || n.unknown(p+"from_group_id") && planned(n, p+"from_group_id") != leftOut {
			m.unknown("rules")
			return m.r
		}
		var sources []any
		switch self, _ := boolAt(n, p+"self"); {
		case n.str(p+"cidr") != "":
			sources = []any{n.str(p + "cidr")}
		case n.str(p+"from_group_id") != "":
			sources = []any{n.str(p + "from_group_id")}
		case self:
			sources = []any{"self"}
		default:
			sources = []any{"0.0.0.0/0"}
		}
		protocol := ruleProtocol(n.str(p + "ip_protocol"))
		from, to := int64(0), int64(65535)
		lo, okLo := intAt(n, p+"from_port")
		hi, okHi := intAt(n, p+"to_port")
		if (protocol == "tcp" || protocol == "udp") && okLo && okHi && lo > 0 && hi >= lo && hi <= 65535 {
			from, to = lo, hi
		}
		rules = append(rules, newFirewallRule("ingress", "allow", protocol, from, to, sources, nil, 0))
	}
	m.r.Set("rules", rules)
	return m.r
}

func openstackNetwork(n *native) *inventory.Resource {
	m := openstackStart(n, "network.network")
	m.r.Set("cidrs", []any{}) // subnets are joined in
	// Neutron has no flow logs of its own.
	m.r.Set("flow_logs.enabled", false)
	m.r.Set("default", false)
	m.r.Set("ddos_protection", false)
	return m.r
}

func openstackSubnet(n *native, target *inventory.Resource) {
	if c := n.str("cidr"); c != "" {
		appendList(target, "cidrs", c)
	} else if n.unknown("cidr") {
		target.SetUnknown("cidrs")
	}
}

func otcVPC(n *native) *inventory.Resource {
	m := openstackStart(n, "network.network")
	cidrs := []any{}
	if c := n.str("cidr"); c != "" {
		cidrs = append(cidrs, c)
	}
	cidrs = append(cidrs, stringsAt(n, "secondary_cidrs")...)
	if c := n.str("secondary_cidr"); c != "" {
		cidrs = append(cidrs, c)
	}
	m.set("cidrs", cidrs, "cidr")
	m.r.Set("flow_logs.enabled", false) // flow logs are joined in
	m.r.Set("default", false)
	m.r.Set("ddos_protection", false)
	return m.r
}

// otcFlowLog turns on flow logs of the VPC it names.
func otcFlowLog(n *native, target *inventory.Resource) {
	if t := n.str("resource_type"); t != "" && t != "vpc" {
		return // a port's or subnet's flow log covers only part of the VPC
	}
	if n.unknown("resource_type") {
		target.SetUnknown("flow_logs.enabled")
		return
	}
	// admin_state is computed; a new flow log is enabled.
	on, ok := boolAt(n, "admin_state")
	setKnown(target, "flow_logs.enabled", !ok || on)
}

func troveInstance(n *native) *inventory.Resource {
	m := openstackStart(n, "database.instance")
	m.set("engine", openstackEngine(n.str("datastore.0.type")), "datastore")
	m.strAttr("engine_version", "datastore.0.version")
	m.unknown("encryption.at_rest.enabled", "encryption.at_rest.key_manager", "encryption.in_transit.enforced")
	// Reachability depends on the network the instance is plugged into.
	m.unknown("public")
	m.r.Set("backup.enabled", false) // Trove takes no automatic backups
	m.r.Set("auth.iam", false)
	m.r.Set("auth.local_only", true)
	return m.r
}

// openstackEngine normalizes a datastore type.
func openstackEngine(t string) string {
	switch t = strings.ToLower(t); t {
	case "postgresql":
		return "postgres"
	case "sqlserver", "microsoft sql server":
		return "sqlserver"
	}
	return t
}

func rdsInstance(n *native) *inventory.Resource {
	m := openstackStart(n, "database.instance")
	m.r.Name = n.str("name")
	m.set("engine", openstackEngine(n.str("db.0.type")), "db.0.type")
	m.set("engine_version", n.str("db.0.version"), "db.0.version")
	m.atRestKey("none", []string{"volume"}, keyAttr{path: "volume.0.disk_encryption_id", manager: "customer"})
	// ssl_enable offers TLS; only require_secure_transport refuses
	// plain connections.
	if m.unknownKept("ssl_enable", "parameters") {
		m.unknown("encryption.in_transit.enforced")
	} else {
		ssl, _ := boolAt(n, "ssl_enable")
		required := false
		for i := range n.list("parameters") {
			p := "parameters." + strconv.Itoa(i) + "."
			if strings.EqualFold(n.str(p+"name"), "require_secure_transport") && strings.EqualFold(n.str(p+"value"), "on") {
				required = true
			}
		}
		m.r.Set("encryption.in_transit.enforced", ssl && required)
	}
	// public_ips is computed: left out of the configuration, the instance
	// gets none.
	m.plannedBool("public", "public_ips")
	days, _ := intAt(n, "backup_strategy.0.keep_days")
	m.set("backup.enabled", days > 0, "backup_strategy")
	m.set("backup.retention_days", days, "backup_strategy")
	m.set("high_availability", n.str("ha_replication_mode") != "" || len(n.list("availability_zone")) > 1,
		"ha_replication_mode", "availability_zone")
	m.r.Set("auth.iam", false)
	m.r.Set("auth.local_only", true)
	return m.r
}

func obsBucket(n *native) *inventory.Resource {
	m := openstackStart(n, "object_storage.bucket")
	m.r.Name = firstSet(n.str("bucket"), n.str("name"))
	// With server-side encryption but no key of its own (SSE-OBS, or the
	// default KMS key) the key is the provider's.
	fallback := "none"
	if len(n.list("server_side_encryption")) > 0 {
		fallback = "provider"
	}
	m.atRestKey(fallback, []string{"server_side_encryption"}, keyAttr{path: "server_side_encryption.0.kms_key_id", manager: "customer"})
	m.r.Set("encryption.in_transit.enforced", false)
	m.set("public", otcPublicACL(n.str("acl")), "acl")
	m.r.Set("public_access_block", false)
	m.boolAttr("versioning.enabled", "versioning", false)
	m.set("logging.enabled", n.str("logging.0.target_bucket") != "", "logging")
	m.set("logging.destination", n.str("logging.0.target_bucket"), "logging")
	m.set("object_lock.enabled", len(n.list("worm_policy")) > 0, "worm_policy")
	return m.r
}

// otcPublicACL reports whether a canned ACL lets anyone read.
func otcPublicACL(acl string) bool {
	switch acl {
	case "public-read", "public-read-write", "public-read-delivered", "public-read-write-delivered":
		return true
	}
	return false
}

// otcS3Bucket maps the S3-compatible bucket resource of Open Telekom Cloud.
func otcS3Bucket(n *native) *inventory.Resource {
	m := openstackStart(n, "object_storage.bucket")
	m.r.Name = firstSet(n.str("bucket"), n.str("name"))
	sse := "server_side_encryption_configuration.0.rule.0.apply_server_side_encryption_by_default.0."
	fallback := "none"
	if n.str(sse+"sse_algorithm") != "" {
		fallback = "provider"
	}
	m.atRestKey(fallback, []string{"server_side_encryption_configuration", sse + "sse_algorithm"},
		keyAttr{path: sse + "kms_master_key_id", manager: "customer"})
	m.r.Set("encryption.in_transit.enforced", false)
	m.set("public", otcPublicACL(n.str("acl")) || policyPublic(n.str("policy")), "acl", "policy")
	m.r.Set("public_access_block", false)
	m.boolAttr("versioning.enabled", "versioning.0.enabled", false)
	m.set("logging.enabled", n.str("logging.0.target_bucket") != "", "logging")
	m.set("logging.destination", n.str("logging.0.target_bucket"), "logging")
	return m.r
}

// otcBucketPolicy makes a bucket public when its policy allows anyone.
func otcBucketPolicy(n *native, target *inventory.Resource) {
	if v, _ := target.Get("public"); v == true {
		return
	}
	if unknownBelow(n, "policy") {
		target.SetUnknown("public")
		return
	}
	if policyPublic(n.str("policy")) {
		setKnown(target, "public", true)
	}
}

// policyPublic reports whether an S3-style bucket policy allows a
// principal of "*" (also OBS's {"ID": ["*"]}) without conditions.
func policyPublic(doc string) bool {
	if strings.TrimSpace(doc) == "" {
		return false
	}
	var p struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	var statements []map[string]any
	if json.Unmarshal(p.Statement, &statements) != nil {
		var one map[string]any
		if json.Unmarshal(p.Statement, &one) != nil {
			return false
		}
		statements = []map[string]any{one}
	}
	for _, s := range statements {
		effect, _ := s["Effect"].(string)
		if !strings.EqualFold(effect, "Allow") || s["Condition"] != nil {
			continue
		}
		if principalIsAnyone(s["Principal"]) {
			return true
		}
	}
	return false
}

func principalIsAnyone(v any) bool {
	switch p := v.(type) {
	case string:
		return p == "*"
	case []any:
		for _, e := range p {
			if principalIsAnyone(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range p {
			if principalIsAnyone(e) {
				return true
			}
		}
	}
	return false
}

func otcKMSKey(n *native) *inventory.Resource {
	m := openstackStart(n, "kms.key")
	m.r.Name = firstSet(n.str("key_alias"), n.str("name"))
	if r := otcZoneRegion(n.str("realm")); r != "" && n.str("region") == "" {
		m.r.Region = r
	}
	m.boolAttr("enabled", "is_enabled", true)
	// Keys whose material was imported are held outside the cloud's KMS.
	// The resource cannot import material itself: a key it creates (origin
	// still unknown in the plan) is generated by KMS.
	switch {
	case n.unknown("origin") && planned(n, "origin") != leftOut:
		m.unknown("protection")
	case strings.EqualFold(n.str("origin"), "external"):
		m.r.Set("protection", "external")
	default:
		m.r.Set("protection", "software")
	}
	// A KMS v1 customer master key is a symmetric AES-256 key.
	m.set("algorithm", firstSet(n.str("key_spec"), "AES_256"), "key_spec")
	m.boolAttr("rotation.enabled", "rotation_enabled", false)
	switch on, _ := boolAt(n, "rotation_enabled"); {
	case n.unknown("rotation_enabled"):
		m.unknown("rotation.period_days")
	case on:
		m.intAttr("rotation.period_days", "rotation_interval", 365)
	default:
		m.r.Set("rotation.period_days", int64(0))
	}
	m.intAttr("deletion_window_days", "pending_days", 7)
	m.r.Set("public", false)
	return m.r
}

// ctsTracker maps a Cloud Trace Service tracker. A tracker covers the
// project (region) it is created in.
func ctsTracker(n *native) *inventory.Resource {
	m := openstackStart(n, "logging.audit_trail")
	m.r.Name = firstSet(n.str("tracker_name"), "system")
	status := strings.ToLower(n.str("status"))
	m.set("enabled", status != "disabled", "status")
	m.r.Set("all_regions", false)
	m.boolAttr("integrity_validation", "is_support_validate_file", false)
	m.atRestKey("", nil, keyAttr{path: "kms_id", manager: "customer"})
	if n.str("kms_id") == "" && !n.unknown("kms_id") {
		// Trace files inherit the encryption of the OBS bucket they go to.
		m.unknown("encryption.at_rest.enabled", "encryption.at_rest.key_manager")
	}
	if days, ok := intAt(n, "bucket_lifecycle"); ok {
		m.r.Set("retention_days", days)
	}
	m.set("data_events", strings.EqualFold(n.str("tracker_type"), "data"), "tracker_type")
	return m.r
}

func openstackUser(n *native) *inventory.Resource {
	m := openstackStart(n, "iam.principal")
	m.r.Set("kind", "user")
	m.plannedBool("console_access", "password")
	if m.r.Provider == "otc" {
		m.boolAttr("mfa.enabled", "login_protection.0.enabled", false)
	} else {
		m.boolAttr("mfa.enabled", "multi_factor_auth_enabled", false)
	}
	// Rights come from role assignments elsewhere.
	m.unknown("admin")
	m.r.Set("static_keys", int64(0))
	m.r.Set("external", false)
	return m.r
}

// otcAdminRoles are the Open Telekom Cloud roles with full rights.
var otcAdminRoles = map[string]bool{"Tenant Administrator": true, "te_admin": true}

// otcAgency maps an agency: a role another account (or a cloud service)
// assumes in this one.
func otcAgency(n *native) *inventory.Resource {
	m := openstackStart(n, "iam.principal")
	m.r.Set("kind", "role")
	m.r.Set("console_access", false)
	m.r.Set("static_keys", int64(0))
	domain := n.str("delegated_domain_name")
	m.set("trusted", []any{domain}, "delegated_domain_name")
	// Service agencies are delegated to op_svc_* pseudo-domains.
	m.set("external", domain != "" && !strings.HasPrefix(domain, "op_svc_"), "delegated_domain_name")
	roles := stringsAt(n, "domain_roles")
	for i := range n.list("project_role") {
		roles = append(roles, stringsAt(n, "project_role."+strconv.Itoa(i)+".roles")...)
	}
	admin := false
	for _, r := range roles {
		admin = admin || otcAdminRoles[r.(string)]
	}
	m.set("admin", admin, "domain_roles", "project_role")
	return m.r
}

// otcCustomRole maps a custom role: its statements name actions as
// service:resource:action with wildcards.
func otcCustomRole(n *native) *inventory.Resource {
	m := openstackStart(n, "iam.policy")
	m.r.Name = firstSet(n.str("display_name"), n.str("name"))
	m.set("role", m.r.Name, "display_name")
	m.r.Set("members", []any{})
	m.r.Set("public", false)
	m.set("scope", map[string]string{"domain": "account", "project": "project"}[n.str("display_layer")], "display_layer")
	if m.unknownAny("statement") {
		m.unknown("statements", "admin", "wildcard_actions")
		return m.r
	}
	statements := []any{}
	admin, wildcard := false, false
	for i := range n.list("statement") {
		p := "statement." + strconv.Itoa(i) + "."
		effect := strings.ToLower(n.str(p + "effect"))
		if effect != "deny" {
			effect = "allow"
		}
		actions := stringsAt(n, p+"action")
		for _, a := range actions {
			parts := strings.Split(a.(string), ":")
			if effect == "allow" && (a == "*" || a == "*:*:*") {
				admin = true
			}
			if effect == "allow" && len(parts) > 0 && (parts[len(parts)-1] == "*" || a == "*") {
				wildcard = true
			}
		}
		statements = append(statements, map[string]any{
			"effect": effect, "actions": actions, "resources": stringsAt(n, p+"resource"), "principals": []any{},
		})
	}
	m.r.Set("statements", statements)
	m.r.Set("admin", admin)
	m.r.Set("wildcard_actions", wildcard)
	return m.r
}

// openstackCredential counts a long-lived access key of a user.
func openstackCredential(n *native, target *inventory.Resource) {
	cur, _ := target.Get("static_keys")
	k, _ := cur.(int64)
	setKnown(target, "static_keys", k+1)
}

func openstackRoleAssignment(n *native) *inventory.Resource {
	m := openstackStart(n, "iam.policy")
	m.set("role", n.str("role_id"), "role_id")
	members := []any{}
	if u := n.str("user_id"); u != "" {
		members = append(members, "user:"+u)
	}
	if g := n.str("group_id"); g != "" {
		members = append(members, "group:"+g)
	}
	m.set("members", members, "user_id", "group_id")
	// The role is named by id; whether it is an admin role is not in the
	// plan.
	m.unknown("admin")
	m.r.Set("wildcard_actions", false)
	m.r.Set("public", false)
	switch {
	case n.str("project_id") != "":
		m.r.Set("scope", "project")
	case n.str("domain_id") != "":
		m.r.Set("scope", "account")
	default:
		m.set("scope", "", "project_id", "domain_id")
	}
	m.r.Set("statements", []any{})
	return m.r
}

// barbicanSecret maps a Barbican secret that is key material (symmetric
// or private key, or a secret whose type is left out, as most AES keys are
// declared); passphrases, certificates and opaque blobs are not keys.
func barbicanSecret(n *native) *inventory.Resource {
	switch strings.ToLower(n.str("secret_type")) {
	case "symmetric", "private", "":
	default:
		return nil
	}
	m := openstackStart(n, "kms.key")
	m.r.Set("enabled", true)
	// Whether Barbican keeps secrets in an HSM is the deployment's choice.
	m.unknown("protection")
	alg := strings.ToUpper(n.str("algorithm"))
	if bits, ok := intAt(n, "bit_length"); ok && alg != "" {
		alg += "_" + strconv.FormatInt(bits, 10)
	}
	m.set("algorithm", alg, "algorithm", "bit_length")
	m.r.Set("rotation.enabled", false) // Barbican does not rotate
	m.r.Set("rotation.period_days", int64(0))
	m.r.Set("public", false)
	return m.r
}
