package terraform

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// The google (and google-beta) mappers.

var googleMappers = map[string]mapper{
	"google_storage_bucket":                   googleBucket,
	"google_compute_instance":                 googleInstance,
	"google_compute_instance_template":        googleInstanceTemplate,
	"google_compute_region_instance_template": googleInstanceTemplate,
	"google_compute_disk":                     googleDisk,
	"google_compute_region_disk":              googleDisk,
	"google_sql_database_instance":            googleSQL,
	"google_compute_firewall":                 googleFirewall,
	"google_compute_network":                  googleNetwork,
	"google_project_iam_member":               googleIAM("project"),
	"google_project_iam_binding":              googleIAM("project"),
	"google_folder_iam_member":                googleIAM("folder"),
	"google_folder_iam_binding":               googleIAM("folder"),
	"google_organization_iam_member":          googleIAM("organization"),
	"google_organization_iam_binding":         googleIAM("organization"),
	"google_service_account":                  googleServiceAccount,
	"google_kms_crypto_key":                   googleCryptoKey,
	"google_project_iam_audit_config":         googleAuditConfig,
	"google_folder_iam_audit_config":          googleAuditConfig,
	"google_organization_iam_audit_config":    googleAuditConfig,
	"google_logging_project_sink":             googleSink,
	"google_logging_folder_sink":              googleSink,
	"google_logging_organization_sink":        googleSink,
}

var googleJoiners = map[string]joiner{
	"google_storage_bucket_iam_member":  {Target: "object_storage.bucket", Ref: "bucket", Apply: googleBucketIAM, Natives: []string{"google_storage_bucket"}},
	"google_storage_bucket_iam_binding": {Target: "object_storage.bucket", Ref: "bucket", Apply: googleBucketIAM, Natives: []string{"google_storage_bucket"}},
	"google_storage_bucket_iam_policy":  {Target: "object_storage.bucket", Ref: "bucket", Apply: googleBucketIAM, Natives: []string{"google_storage_bucket"}},
	"google_storage_bucket_acl":         {Target: "object_storage.bucket", Ref: "bucket", Apply: googleBucketACL, Natives: []string{"google_storage_bucket"}},
	"google_compute_subnetwork":         {Target: "network.network", Ref: "network", Apply: googleSubnetwork, Natives: []string{"google_compute_network"}},
	"google_compute_attached_disk":      {Target: "compute.disk", Ref: "disk", Apply: googleAttachedDisk, Natives: []string{"google_compute_disk", "google_compute_region_disk"}},
	"google_service_account_key":        {Target: "iam.principal", Ref: "service_account_id", Apply: googleServiceAccountKey, Natives: []string{"google_service_account"}},
	"google_kms_crypto_key_iam_member":  {Target: "kms.key", Ref: "crypto_key_id", Apply: googleKeyIAM, Natives: []string{"google_kms_crypto_key"}},
	"google_kms_crypto_key_iam_binding": {Target: "kms.key", Ref: "crypto_key_id", Apply: googleKeyIAM, Natives: []string{"google_kms_crypto_key"}},
}

// googleStart begins a resource with what every google resource shares.
// Global resources (networks, firewalls, IAM) get Google's region
// "global": they have no single jurisdiction.
func googleStart(n *native, typ string) mapping {
	m := startMapping(n, "gcp", typ)
	m.r.Region = googleRegion(n)
	m.r.Tags = n.tagsAt("labels")
	return m
}

// googleRegion is the resource's region, the region of its zone, its
// location (buckets, keys), else the provider's region.
func googleRegion(n *native) string {
	if r := n.str("region"); r != "" {
		return strings.ToLower(r)
	}
	if z := strings.ToLower(n.str("zone")); z != "" {
		if i := strings.LastIndexByte(z, '-'); i > 0 {
			return z[:i]
		}
		return z
	}
	if l := n.str("location"); l != "" {
		return strings.ToLower(l)
	}
	return n.Region
}

// googleMultiRegions are the bucket locations that span several regions.
var googleMultiRegions = map[string]bool{
	"eu": true, "us": true, "asia": true, "eur4": true, "eur5": true, "eur7": true, "eur8": true, "nam4": true, "asia1": true,
}

func googleBucket(n *native) *inventory.Resource {
	m := googleStart(n, "object_storage.bucket")
	// Cloud Storage always encrypts; without a default KMS key the key is
	// Google's.
	m.r.Set("encryption.at_rest.enabled", true)
	m.atRestKey("provider", []string{"encryption"}, keyAttr{path: "encryption.0.default_kms_key_name", manager: "customer"})
	// Nothing on a bucket refuses plain HTTP for public objects.
	m.r.Set("encryption.in_transit.enforced", false)
	m.r.Set("public", false) // IAM bindings and ACLs are joined in
	m.setDefault("public_access_block", strings.EqualFold(n.str("public_access_prevention"), "enforced"), "public_access_prevention")
	m.boolAttr("versioning.enabled", "versioning.0.enabled", false)
	m.set("logging.enabled", n.str("logging.0.log_bucket") != "", "logging")
	m.set("logging.destination", n.str("logging.0.log_bucket"), "logging")
	m.boolAttr("object_lock.enabled", "retention_policy.0.is_locked", false)
	regions := []any{}
	for _, l := range stringsAt(n, "custom_placement_config.0.data_locations") {
		regions = append(regions, strings.ToLower(l.(string)))
	}
	m.set("replication.enabled", len(regions) > 0 || googleMultiRegions[strings.ToLower(n.str("location"))], "location", "custom_placement_config")
	m.set("replication.regions", regions, "custom_placement_config")
	m.r.Set("network.private_only", false)
	return m.r
}

// googlePublicMembers are the members that mean anyone.
func googlePublicMember(member string) bool {
	member = strings.TrimSpace(member)
	return member == "allUsers" || member == "allAuthenticatedUsers"
}

// googleBucketIAM makes a bucket public when an IAM member, binding or
// policy grants to allUsers or allAuthenticatedUsers, unless public access
// prevention is enforced (then the grant is refused).
func googleBucketIAM(n *native, target *inventory.Resource) {
	if s, _ := target.Native["public_access_prevention"].(string); strings.EqualFold(s, "enforced") {
		return
	}
	googleGrantPublic(n, target, "public")
}

// googleGrantPublic sets attr when the IAM member, binding or policy of n
// grants to everyone.
func googleGrantPublic(n *native, target *inventory.Resource, attr string) {
	if v, _ := target.Get(attr); v == true {
		return
	}
	if unknownBelow(n, "member") || unknownBelow(n, "members") || unknownBelow(n, "policy_data") {
		target.SetUnknown(attr)
		return
	}
	members := stringsAt(n, "members")
	if s := n.str("member"); s != "" {
		members = append(members, s)
	}
	if p := n.str("policy_data"); p != "" {
		var policy struct {
			Bindings []struct {
				Members []string `json:"members"`
			} `json:"bindings"`
		}
		if json.Unmarshal([]byte(p), &policy) == nil {
			for _, b := range policy.Bindings {
				for _, mem := range b.Members {
					members = append(members, mem)
				}
			}
		}
	}
	for _, mem := range members {
		if googlePublicMember(mem.(string)) {
			setKnown(target, attr, true)
			return
		}
	}
}

// googleBucketACL makes a bucket public through a public predefined ACL or
// an allUsers entity.
func googleBucketACL(n *native, target *inventory.Resource) {
	if s, _ := target.Native["public_access_prevention"].(string); strings.EqualFold(s, "enforced") {
		return
	}
	if unknownBelow(n, "predefined_acl") || unknownBelow(n, "role_entity") {
		target.SetUnknown("public")
		return
	}
	switch n.str("predefined_acl") {
	case "publicRead", "publicReadWrite":
		setKnown(target, "public", true)
		return
	}
	for _, e := range stringsAt(n, "role_entity") {
		_, entity, _ := strings.Cut(e.(string), ":")
		if googlePublicMember(entity) {
			setKnown(target, "public", true)
			return
		}
	}
}

func googleInstance(n *native) *inventory.Resource {
	m := googleStart(n, "compute.instance")
	m.set("image", n.str("boot_disk.0.initialize_params.0.image"), "boot_disk.0.initialize_params.0.image")
	m.r.Set("encryption.at_rest.enabled", true)
	m.atRestKey("provider", []string{"boot_disk"},
		keyAttr{path: "boot_disk.0.kms_key_self_link", manager: "customer"},
		keyAttr{path: "boot_disk.0.disk_encryption_key_raw", manager: "external", secret: true},
		keyAttr{path: "boot_disk.0.disk_encryption_key_rsa", manager: "external", secret: true})
	googleMachine(m)
	return m.r
}

// googleInstanceTemplate maps an instance template: every instance a
// managed instance group makes from it is configured so. A global template
// has no region of its own.
func googleInstanceTemplate(n *native) *inventory.Resource {
	m := googleStart(n, "compute.instance")
	if n.str("region") == "" {
		m.r.Region = "global"
	}
	// The boot disk is the one marked boot, else the first.
	boot := 0
	for i := range n.list("disk") {
		if b, _ := boolAt(n, "disk."+strconv.Itoa(i)+".boot"); b {
			boot = i
			break
		}
	}
	d := "disk." + strconv.Itoa(boot) + "."
	if m.unknownAny("disk") {
		m.unknown("image", "encryption.at_rest.key_manager", "encryption.at_rest.key_id")
		m.r.Set("encryption.at_rest.enabled", true)
	} else {
		m.strAttr("image", d+"source_image")
		m.r.Set("encryption.at_rest.enabled", true)
		m.atRestKey("provider", nil, keyAttr{path: d + "disk_encryption_key.0.kms_key_self_link", manager: "customer"})
	}
	googleMachine(m)
	return m.r
}

// googleMachine maps what instances and instance templates share.
func googleMachine(m mapping) {
	n := m.n
	m.set("machine_type", lastSegment(n.str("machine_type")), "machine_type")
	if m.unknownAny("confidential_instance_config") {
		m.unknown("confidential_computing")
	} else {
		enabled, _ := boolAt(n, "confidential_instance_config.0.enable_confidential_compute")
		m.r.Set("confidential_computing", googleConfidential(n.str("confidential_instance_config.0.confidential_instance_type"), enabled))
	}
	// Shielded VM defaults: secure boot off, vTPM and integrity monitoring on.
	// Left out, the block is computed; Compute Engine's defaults apply.
	m.boolDefault("secure_boot.enabled", "shielded_instance_config.0.enable_secure_boot", false)
	m.boolDefault("secure_boot.vtpm", "shielded_instance_config.0.enable_vtpm", true)
	m.boolDefault("secure_boot.integrity_monitoring", "shielded_instance_config.0.enable_integrity_monitoring", true)
	// Whether an interface has an access config is known even while its
	// address is not.
	public, later := false, n.unknown("network_interface")
	for i := range n.list("network_interface") {
		p := "network_interface." + strconv.Itoa(i) + "."
		later = later || n.unknown(p+"access_config") || n.unknown(p+"ipv6_access_config")
		if len(n.list(p+"access_config")) > 0 || len(n.list(p+"ipv6_access_config")) > 0 {
			public = true
		}
	}
	if later && !public {
		m.unknown("public_ip")
	} else {
		m.r.Set("public_ip", public)
	}
	// The metadata server needs a header, not a session token.
	m.r.Set("metadata_service.enabled", true)
	m.r.Set("metadata_service.token_required", false)
	// Left out of a written service_account block, the email is computed:
	// the Compute Engine default service account.
	email := "service_account.0.email"
	switch {
	case n.unknown("service_account"):
		m.unknown("identity.principal", "identity.default_service_account")
	case len(n.list("service_account")) == 0:
		m.r.Set("identity.default_service_account", false)
	case n.unknown(email) && strings.Contains("."+n.reference(email), ".google_service_account."):
		// The email of a service account the configuration manages: not
		// the default one, though which is known only after apply.
		m.unknown("identity.principal")
		m.r.Set("identity.default_service_account", false)
	case n.unknown(email) && planned(n, email) != leftOut:
		m.unknown("identity.principal", "identity.default_service_account")
	default:
		// Without an email the instance runs as the Compute Engine default
		// service account.
		email := n.str("service_account.0.email")
		m.r.Set("identity.principal", firstSet(email, "default"))
		m.r.Set("identity.default_service_account", email == "" || email == "default" || strings.HasSuffix(email, "-compute@developer.gserviceaccount.com"))
	}
	m.r.Set("login.password_auth", false)
	if m.unknownAny("metadata.serial-port-enable") {
		m.unknown("login.serial_console")
	} else {
		on, _ := boolAt(n, "metadata.serial-port-enable")
		m.r.Set("login.serial_console", on || n.str("metadata.serial-port-enable") == "1")
	}
}

// googleConfidential maps confidential_instance_type (SEV, SEV_SNP, TDX)
// or the older enable_confidential_compute (SEV).
func googleConfidential(typ string, enabled bool) string {
	switch strings.ToUpper(typ) {
	case "SEV":
		return "sev"
	case "SEV_SNP":
		return "sev-snp"
	case "TDX":
		return "tdx"
	}
	if enabled {
		return "sev"
	}
	return "none"
}

func googleDisk(n *native) *inventory.Resource {
	m := googleStart(n, "compute.disk")
	m.intAttr("size_gb", "size", 0)
	// A Cloud KMS key is the customer's; a customer-supplied raw or
	// RSA-wrapped key is held outside Google.
	m.r.Set("encryption.at_rest.enabled", true)
	m.atRestKey("provider", []string{"disk_encryption_key"},
		keyAttr{path: "disk_encryption_key.0.kms_key_self_link", manager: "customer"},
		keyAttr{path: "disk_encryption_key.0.kms_key_name", manager: "customer"},
		keyAttr{path: "disk_encryption_key.0.raw_key", manager: "external", secret: true},
		keyAttr{path: "disk_encryption_key.0.rsa_encrypted_key", manager: "external", secret: true})
	m.set("attached", len(n.list("users")) > 0, "users")
	m.r.Set("snapshot.public", false)
	return m.r
}

func googleAttachedDisk(n *native, target *inventory.Resource) { setKnown(target, "attached", true) }

func googleSQL(n *native) *inventory.Resource {
	m := googleStart(n, "database.instance")
	m.r.Tags = tagsOf(n.lookup("settings.0.user_labels"))
	version := n.str("database_version")
	engine, ver, _ := strings.Cut(version, "_")
	switch engine {
	case "POSTGRES":
		engine = "postgres"
	case "MYSQL":
		engine = "mysql"
	case "SQLSERVER":
		engine = "sqlserver"
	default:
		engine = strings.ToLower(engine)
	}
	m.set("engine", engine, "database_version")
	if engine == "mysql" {
		ver = strings.ReplaceAll(ver, "_", ".") // MYSQL_8_0 is 8.0
	}
	m.set("engine_version", ver, "database_version")
	m.r.Set("encryption.at_rest.enabled", true)
	m.atRestKey("provider", nil, keyAttr{path: "encryption_key_name", manager: "customer"})
	ip := "settings.0.ip_configuration.0."
	if m.unknownAny(ip+"ssl_mode", ip+"require_ssl") {
		m.unknown("encryption.in_transit.enforced")
	} else {
		requireSSL, _ := boolAt(n, ip+"require_ssl")
		mode := n.str(ip + "ssl_mode")
		m.r.Set("encryption.in_transit.enforced", requireSSL || mode == "ENCRYPTED_ONLY" || mode == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
	}
	// A public address is reachable from anywhere only through an
	// authorized network that is the whole internet.
	if m.unknownAny(ip+"ipv4_enabled", ip+"authorized_networks") {
		m.unknown("public")
	} else {
		ipv4, ok := boolAt(n, ip+"ipv4_enabled")
		var nets []any
		for i := range n.list(ip + "authorized_networks") {
			nets = append(nets, n.str(ip+"authorized_networks."+strconv.Itoa(i)+".value"))
		}
		m.r.Set("public", (!ok || ipv4) && includesInternet(nets))
	}
	b := "settings.0.backup_configuration.0."
	m.boolAttr("backup.enabled", b+"enabled", false)
	if unit := n.str(b + "backup_retention_settings.0.retention_unit"); unit == "" || unit == "COUNT" {
		// One backup a day: a count of backups is a count of days.
		m.intAttr("backup.retention_days", b+"backup_retention_settings.0.retained_backups", 7)
	}
	m.set("high_availability", n.str("settings.0.availability_type") == "REGIONAL", "settings.0.availability_type")
	// deletion_protection_enabled blocks deletion in the API; Terraform's own
	// deletion_protection only stops terraform destroy.
	m.boolAttr("deletion_protection", "settings.0.deletion_protection_enabled", false)
	if m.unknownAny("settings.0.database_flags", "settings.0.sql_server_audit_config") {
		m.unknown("logging.enabled", "auth.iam", "auth.local_only")
	} else {
		flags := map[string]string{}
		for i := range n.list("settings.0.database_flags") {
			p := "settings.0.database_flags." + strconv.Itoa(i) + "."
			flags[strings.ToLower(n.str(p+"name"))] = strings.ToLower(n.str(p + "value"))
		}
		audit := flags["cloudsql.enable_pgaudit"] == "on" || (flags["log_statement"] != "" && flags["log_statement"] != "none") ||
			flags["cloudsql_mysql_audit"] == "on" || flags["general_log"] == "on" || len(n.list("settings.0.sql_server_audit_config")) > 0
		m.r.Set("logging.enabled", audit)
		iam := flags["cloudsql.iam_authentication"] == "on" || flags["cloudsql_iam_authentication"] == "on"
		m.r.Set("auth.iam", iam)
		m.r.Set("auth.local_only", !iam)
	}
	return m.r
}

// googleDefaultRules are the firewall rules of the default network.
var googleDefaultRules = map[string]bool{
	"default-allow-internal": true, "default-allow-ssh": true, "default-allow-rdp": true, "default-allow-icmp": true,
}

func googleFirewall(n *native) *inventory.Resource {
	m := googleStart(n, "network.firewall")
	m.r.Region = "global"
	m.set("attached_to", []any{n.str("network")}, "network")
	// The rules Google creates with the default network.
	m.set("default", googleDefaultRules[n.str("name")], "name")
	direction := "ingress"
	if strings.EqualFold(n.str("direction"), "EGRESS") {
		direction = "egress"
	}
	// The ranges of the other direction are computed and often unknown;
	// they do not matter.
	deps := []string{"allow", "deny", "direction", "disabled", "priority", "source_ranges", "source_tags", "source_service_accounts"}
	if direction == "egress" {
		deps = []string{"allow", "deny", "direction", "disabled", "priority", "destination_ranges"}
	}
	if m.unknownAny(deps...) {
		m.unknown("rules")
		return m.r
	}
	rules := []any{}
	if disabled, _ := boolAt(n, "disabled"); disabled {
		m.r.Set("rules", rules)
		return m.r
	}
	sources := stringsAt(n, "source_ranges")
	sources = append(sources, stringsAt(n, "source_tags")...)
	sources = append(sources, stringsAt(n, "source_service_accounts")...)
	dests := stringsAt(n, "destination_ranges")
	// A rule without ranges applies to every address.
	if direction == "ingress" && len(sources) == 0 {
		sources = []any{"0.0.0.0/0"}
	}
	if direction == "egress" && len(dests) == 0 {
		dests = []any{"0.0.0.0/0"}
	}
	priority, ok := intAt(n, "priority")
	if !ok {
		priority = 1000
	}
	for _, action := range []string{"allow", "deny"} {
		for i := range n.list(action) {
			p := action + "." + strconv.Itoa(i) + "."
			if unknownBelow(n, p+"protocol") || unknownBelow(n, p+"ports") {
				m.unknown("rules")
				return m.r
			}
			protocol := ruleProtocol(n.str(p + "protocol"))
			ports := stringsAt(n, p+"ports")
			if len(ports) == 0 || protocol == "all" || protocol == "icmp" {
				ports = []any{""}
			}
			for _, port := range ports {
				from, to := parsePortRange(port.(string))
				rules = append(rules, newFirewallRule(direction, action, protocol, from, to, sources, dests, priority))
			}
		}
	}
	m.r.Set("rules", rules)
	return m.r
}

func googleNetwork(n *native) *inventory.Resource {
	m := googleStart(n, "network.network")
	m.r.Region = "global"
	m.set("default", n.str("name") == "default", "name")
	m.r.Set("ddos_protection", false)
	auto, ok := boolAt(n, "auto_create_subnetworks") // defaults to true
	switch {
	case m.unknownAny("auto_create_subnetworks"):
		m.unknown("cidrs", "flow_logs.enabled")
	case !ok || auto:
		// Auto mode makes a subnet per region in 10.128.0.0/9, without
		// flow logs.
		m.r.Set("cidrs", []any{"10.128.0.0/9"})
		m.r.Set("flow_logs.enabled", false)
	default:
		// Custom mode: the subnetworks bring the ranges and flow logs.
		m.r.Set("cidrs", []any{})
	}
	return m.r
}

// googleSubnetwork adds a subnetwork's range to its network. The network
// has flow logs only if every subnetwork that carries VM traffic logs.
func googleSubnetwork(n *native, target *inventory.Resource) {
	if r := n.str("ip_cidr_range"); r != "" {
		appendList(target, "cidrs", r)
	} else if n.unknown("ip_cidr_range") {
		target.SetUnknown("cidrs")
	}
	switch n.str("purpose") {
	case "", "PRIVATE", "PRIVATE_RFC_1918":
	default:
		return // proxy and service subnets carry no VM flows
	}
	if target.IsUnknown("flow_logs.enabled") {
		return
	}
	if n.unknown("log_config") || n.unknown("enable_flow_logs") {
		target.SetUnknown("flow_logs.enabled")
		return
	}
	legacy, _ := boolAt(n, "enable_flow_logs")
	logs := len(n.list("log_config")) > 0 || legacy
	if cur, set := target.Get("flow_logs.enabled"); set && cur == false {
		return
	}
	setKnown(target, "flow_logs.enabled", logs)
}

// googleAdminRoles grant full control of their scope.
var googleAdminRoles = map[string]bool{
	"roles/owner": true, "roles/resourcemanager.organizationAdmin": true, "roles/resourcemanager.folderAdmin": true,
}

// googleIAM maps a project, folder or organization IAM member or binding.
func googleIAM(scope string) mapper {
	return func(n *native) *inventory.Resource {
		m := googleStart(n, "iam.policy")
		m.r.Region = "global"
		m.r.Name = firstSet(n.str("role"), n.Name)
		role := n.str("role")
		m.set("role", role, "role")
		members := stringsAt(n, "members")
		if s := n.str("member"); s != "" {
			members = append(members, s)
		}
		m.set("members", members, "member", "members")
		m.set("admin", googleAdminRoles[role], "role")
		m.r.Set("wildcard_actions", false)
		public := false
		for _, mem := range members {
			public = public || googlePublicMember(mem.(string))
		}
		if n.unknown("member") && strings.Contains("."+n.reference("member"), ".google_service_account.") {
			// A service account's member string: never allUsers.
			m.r.Set("public", false)
		} else {
			m.set("public", public, "member", "members")
		}
		m.r.Set("scope", scope)
		m.r.Set("statements", []any{})
		return m.r
	}
}

func googleServiceAccount(n *native) *inventory.Resource {
	m := googleStart(n, "iam.principal")
	m.r.Region = "global"
	m.r.Name = firstSet(n.str("email"), n.str("account_id"), n.str("name"))
	m.r.Set("kind", "service_account")
	m.r.Set("console_access", false)
	m.r.Set("static_keys", int64(0))
	m.r.Set("external", false)
	return m.r
}

// googleServiceAccountKey counts a user-managed key of a service account.
func googleServiceAccountKey(n *native, target *inventory.Resource) {
	cur, _ := target.Get("static_keys")
	k, _ := cur.(int64)
	setKnown(target, "static_keys", k+1)
}

func googleCryptoKey(n *native) *inventory.Resource {
	m := googleStart(n, "kms.key")
	// key_ring is projects/P/locations/L/keyRings/R.
	if parts := strings.Split(n.str("key_ring"), "/"); len(parts) >= 4 && parts[2] == "locations" {
		m.r.Region = strings.ToLower(parts[3])
	}
	m.r.Set("enabled", true)
	// Left out, version_template is computed: a software key with
	// Google's symmetric algorithm.
	if m.unknownKept("version_template") {
		m.unknown("protection", "algorithm")
	} else {
		switch strings.ToUpper(n.str("version_template.0.protection_level")) {
		case "HSM":
			m.r.Set("protection", "hsm")
		case "EXTERNAL", "EXTERNAL_VPC":
			m.r.Set("protection", "external")
		default:
			m.r.Set("protection", "software")
		}
		alg := n.str("version_template.0.algorithm")
		if alg == "" && (n.str("purpose") == "" || n.str("purpose") == "ENCRYPT_DECRYPT") {
			alg = "GOOGLE_SYMMETRIC_ENCRYPTION"
		}
		m.r.Set("algorithm", alg)
	}
	period := googleSeconds(n.str("rotation_period")) / 86400
	m.set("rotation.enabled", period > 0, "rotation_period")
	m.set("rotation.period_days", period, "rotation_period")
	// Cloud KMS keeps destroyed versions 30 days unless the configuration
	// says otherwise; left out, the duration is computed and unknown in a
	// plan.
	window := int64(30)
	if s := n.str("destroy_scheduled_duration"); s != "" {
		window = googleSeconds(s) / 86400
	}
	if n.unknown("destroy_scheduled_duration") && planned(n, "destroy_scheduled_duration") != leftOut {
		m.unknown("deletion_window_days")
	} else {
		m.r.Set("deletion_window_days", window)
	}
	m.r.Set("public", false) // IAM grants are joined in
	return m.r
}

// googleSeconds reads a duration such as "7776000s", 0 if unreadable.
func googleSeconds(s string) int64 {
	s = strings.TrimSuffix(strings.TrimSpace(s), "s")
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v
}

func googleKeyIAM(n *native, target *inventory.Resource) { googleGrantPublic(n, target, "public") }

// googleAuditConfig maps a project, folder or organization audit log
// configuration. Admin activity is always logged; DATA_READ and DATA_WRITE
// add data access logs.
func googleAuditConfig(n *native) *inventory.Resource {
	m := googleStart(n, "logging.audit_trail")
	m.r.Region = "global"
	m.r.Name = firstSet(n.str("service"), n.Name)
	m.r.Set("enabled", true)
	m.r.Set("all_regions", true)
	m.r.Set("integrity_validation", false)
	m.r.Set("encryption.at_rest.enabled", true)
	m.r.Set("encryption.at_rest.key_manager", "provider")
	if m.unknownAny("audit_log_config") {
		m.unknown("data_events")
		return m.r
	}
	data := false
	for i := range n.list("audit_log_config") {
		switch n.str("audit_log_config." + strconv.Itoa(i) + ".log_type") {
		case "DATA_READ", "DATA_WRITE":
			data = true
		}
	}
	m.r.Set("data_events", data)
	return m.r
}

// googleSink maps a log sink that exports audit logs (its filter is empty
// or selects cloudaudit.googleapis.com). Other sinks are not audit trails.
func googleSink(n *native) *inventory.Resource {
	filter := n.str("filter")
	if filter != "" && !strings.Contains(filter, "cloudaudit.googleapis.com") && !n.unknown("filter") {
		return nil
	}
	m := googleStart(n, "logging.audit_trail")
	m.r.Region = "global"
	disabled, _ := boolAt(n, "disabled")
	m.set("enabled", !disabled && n.str("destination") != "", "disabled", "destination")
	m.r.Set("all_regions", true)
	m.r.Set("integrity_validation", false)
	m.r.Set("encryption.at_rest.enabled", true)
	m.r.Set("encryption.at_rest.key_manager", "provider")
	m.set("data_events", filter == "" || strings.Contains(filter, "data_access"), "filter")
	return m.r
}

// lastSegment returns what follows the last slash of a URL or path.
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
