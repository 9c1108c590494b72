package inventory

// The normalized types. docs/model.md is generated from these declarations
// (go test ./internal/modeldoc -update), so the doc strings are user-facing.

func b(name, doc string) *Field { return &Field{Name: name, Kind: Bool, Doc: doc} }
func s(name, doc string, enum ...string) *Field {
	return &Field{Name: name, Kind: String, Doc: doc, Enum: enum}
}
func n(name, doc string) *Field  { return &Field{Name: name, Kind: Int, Doc: doc} }
func sl(name, doc string) *Field { return &Field{Name: name, Kind: StringList, Doc: doc} }
func obj(name, doc string, fs ...*Field) *Field {
	return &Field{Name: name, Kind: Object, Doc: doc, Fields: fs}
}
func ol(name, doc string, fs ...*Field) *Field {
	return &Field{Name: name, Kind: ObjectList, Doc: doc, Fields: fs}
}

func atRest() *Field {
	return obj("at_rest", "encryption of stored data",
		b("enabled", "data is encrypted at rest"),
		s("key_manager", "who holds the key: none (unencrypted), provider (provider-managed key), customer (customer-managed key in the cloud KMS), external (hold-your-own-key outside the provider: external key store, HSM the customer runs)", KeyManagers...),
		s("key_id", "id or address of the customer-managed key, if any"),
	)
}

func inTransit() *Field {
	return obj("in_transit", "encryption of data on the wire",
		b("enforced", "unencrypted connections are refused (HTTPS only, TLS required)"),
		s("min_tls_version", "lowest TLS version accepted, e.g. 1.2; empty if not set"),
	)
}

func encryption(withTransit bool) *Field {
	fs := []*Field{atRest()}
	if withTransit {
		fs = append(fs, inTransit())
	}
	return obj("encryption", "encryption settings", fs...)
}

func logging(doc string) *Field {
	return obj("logging", doc, b("enabled", "access or audit logging is on"), s("destination", "where logs go (bucket, workspace, sink), if known"))
}

// Schemas maps each normalized type to its declaration.
var Schemas = map[string]*Schema{
	"object_storage.bucket": {
		Type: "object_storage.bucket",
		Doc:  "An object storage bucket or container (S3 bucket, Azure storage account and its containers, GCS bucket, OpenStack Swift container, OBS bucket).",
		Fields: []*Field{
			encryption(true),
			b("public", "anyone on the internet can read or list objects (public ACL, public bucket policy, allUsers binding, anonymous container access)"),
			b("public_access_block", "an account- or bucket-level guard blocks public access (S3 public access block, Azure allow_nested_items_to_be_public = false, GCS public access prevention)"),
			obj("versioning", "object versioning", b("enabled", "previous versions are kept")),
			logging("server access logging"),
			obj("object_lock", "write-once retention (WORM)", b("enabled", "objects cannot be changed or deleted during retention")),
			obj("replication", "cross-region replication", b("enabled", "objects are replicated"), sl("regions", "destination regions, where known")),
			obj("network", "network access", b("private_only", "reachable only through private endpoints or selected networks")),
		},
	},
	"compute.instance": {
		Type: "compute.instance",
		Doc:  "A virtual machine (EC2 instance, Azure VM, Compute Engine instance, OpenStack/ECS server).",
		Fields: []*Field{
			s("confidential_computing", "memory encryption against the host: none, sev, sev-snp or tdx", "none", "sev", "sev-snp", "tdx"),
			b("public_ip", "the instance has a public IP address"),
			obj("secure_boot", "verified boot chain", b("enabled", "UEFI secure boot is on"), b("vtpm", "a virtual TPM is attached (measured boot)"), b("integrity_monitoring", "boot integrity is monitored")),
			obj("metadata_service", "instance metadata endpoint", b("enabled", "the metadata service is reachable"), b("token_required", "session tokens are required (IMDSv2)")),
			encryption(false),
			obj("identity", "the identity the workload runs as", s("principal", "attached role, managed identity or service account"), b("default_service_account", "the provider's default service account with broad rights is used")),
			obj("login", "operating system login", b("password_auth", "password login is allowed (not only keys)"), b("serial_console", "interactive serial console access is enabled")),
			obj("monitoring", "monitoring", b("enabled", "detailed monitoring or a monitoring agent is enabled")),
			s("image", "image or AMI the instance boots"),
			s("machine_type", "instance size"),
		},
	},
	"compute.disk": {
		Type: "compute.disk",
		Doc:  "A block storage volume (EBS volume, managed disk, persistent disk, Cinder/EVS volume).",
		Fields: []*Field{
			encryption(false),
			n("size_gb", "size in GiB"),
			b("attached", "attached to an instance"),
			obj("snapshot", "snapshot settings", b("public", "snapshots of this disk are shared publicly")),
		},
	},
	"database.instance": {
		Type: "database.instance",
		Doc:  "A managed database (RDS/Aurora, Azure SQL/PostgreSQL/MySQL/Cosmos DB, Cloud SQL, OpenStack Trove, OTC RDS).",
		Fields: []*Field{
			s("engine", "database engine, e.g. postgres, mysql, sqlserver"),
			s("engine_version", "engine version"),
			encryption(true),
			b("public", "reachable from the internet"),
			obj("backup", "automated backups", b("enabled", "backups are taken"), n("retention_days", "days backups are kept")),
			b("high_availability", "replicated across zones"),
			b("deletion_protection", "deletion is blocked"),
			logging("audit or query logging"),
			obj("auth", "authentication", b("iam", "authentication through the cloud IAM or directory is enabled"), b("local_only", "only local database users can log in")),
		},
	},
	"network.firewall": {
		Type: "network.firewall",
		Doc:  "A packet filter: security group, network security group, VPC firewall rule set, OpenStack security group. Each native rule is one entry in rules.",
		Fields: []*Field{
			ol("rules", "the filter's rules",
				s("direction", "ingress or egress", "ingress", "egress"),
				s("action", "allow or deny", "allow", "deny"),
				s("protocol", "tcp, udp, icmp or all", "tcp", "udp", "icmp", "all"),
				n("port_from", "first port (0 with port_to 65535 for all ports)"),
				n("port_to", "last port"),
				sl("sources", "source CIDRs or tags; the internet is 0.0.0.0/0 or ::/0"),
				sl("destinations", "destination CIDRs or tags"),
				b("from_internet", "the source includes the whole internet (0.0.0.0/0, ::/0, *, Internet, Any)"),
				n("priority", "evaluation order where the provider has one"),
			),
			sl("attached_to", "addresses of the instances, interfaces or networks it applies to, where known"),
			b("default", "the provider's default group"),
		},
	},
	"network.network": {
		Type: "network.network",
		Doc:  "A virtual network (VPC, VNet, Google Cloud VPC network, OpenStack network, OTC VPC).",
		Fields: []*Field{
			sl("cidrs", "address ranges"),
			obj("flow_logs", "flow logging", b("enabled", "flow logs are recorded")),
			b("default", "the provider's default network"),
			b("ddos_protection", "DDoS protection plan attached"),
		},
	},
	"iam.principal": {
		Type: "iam.principal",
		Doc:  "An identity: user, role, service account, group.",
		Fields: []*Field{
			s("kind", "user, role, service_account or group", "user", "role", "service_account", "group"),
			b("admin", "holds administrator rights"),
			b("console_access", "can log in to the provider's console with a password"),
			obj("mfa", "multi-factor authentication", b("enabled", "MFA is enforced")),
			n("static_keys", "number of long-lived access keys"),
			b("external", "trusted from outside the organisation (other account, guest, federated from elsewhere)"),
			sl("trusted", "principals allowed to assume or impersonate it"),
		},
	},
	"iam.policy": {
		Type: "iam.policy",
		Doc:  "A grant of permissions: IAM policy, role assignment, IAM binding.",
		Fields: []*Field{
			s("role", "role name where the provider grants by role (Owner, roles/editor, ...)"),
			sl("members", "principals the grant applies to"),
			ol("statements", "policy statements",
				s("effect", "allow or deny", "allow", "deny"),
				sl("actions", "actions, wildcards kept"),
				sl("resources", "resources, wildcards kept"),
				sl("principals", "principals in resource policies"),
			),
			b("admin", "grants full administrative rights (*:*, Owner, roles/owner)"),
			b("wildcard_actions", "uses a service-wide wildcard action such as s3:*"),
			b("public", "grants to everyone (*, allUsers, allAuthenticatedUsers)"),
			s("scope", "where the grant applies: account, resource group, project, organization, resource"),
		},
	},
	"kms.key": {
		Type: "kms.key",
		Doc:  "A key in a key management service (AWS KMS, Azure Key Vault key, Cloud KMS, Barbican/OTC KMS).",
		Fields: []*Field{
			b("enabled", "the key can be used"),
			s("protection", "where key material lives: software, hsm or external", "software", "hsm", "external"),
			s("algorithm", "key spec, e.g. AES_256, RSA_4096, EC_P384"),
			obj("rotation", "automatic rotation", b("enabled", "rotated automatically"), n("period_days", "days between rotations")),
			n("deletion_window_days", "days between scheduled deletion and destruction"),
			b("public", "the key policy lets anyone use the key"),
		},
	},
	"logging.audit_trail": {
		Type: "logging.audit_trail",
		Doc:  "An audit log of control-plane activity (CloudTrail, Azure activity log diagnostic setting, Cloud Audit Logs config, CTS tracker).",
		Fields: []*Field{
			b("enabled", "logging is on"),
			b("all_regions", "covers every region"),
			b("integrity_validation", "log files are signed or hash-chained"),
			encryption(false),
			n("retention_days", "days logs are kept; 0 if not set"),
			b("data_events", "data access is logged, not only management calls"),
		},
	},
	"kubernetes.workload": {
		Type: "kubernetes.workload",
		Doc:  "A Kubernetes workload: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob.",
		Fields: []*Field{
			s("kind", "Kubernetes kind"),
			s("namespace", "namespace"),
			n("replicas", "desired replicas (1 for a Pod)"),
			ol("containers", "every container, init containers included",
				s("name", "container name"),
				s("image", "image reference"),
				b("image_digest", "the image is pinned by digest"),
				b("init", "an init container"),
				b("privileged", "runs privileged"),
				b("run_as_non_root", "runAsNonRoot is true (pod or container)"),
				b("read_only_root_filesystem", "the root filesystem is read-only"),
				b("allow_privilege_escalation", "privilege escalation is allowed (true unless set to false)"),
				sl("capabilities_add", "added Linux capabilities"),
				sl("capabilities_drop", "dropped Linux capabilities"),
				b("resource_limits", "CPU and memory limits are set"),
				sl("host_ports", "host ports bound, as strings"),
				s("seccomp_profile", "RuntimeDefault, Localhost, Unconfined or empty"),
			),
			b("host_network", "uses the host's network namespace"),
			b("host_pid", "uses the host's PID namespace"),
			b("host_ipc", "uses the host's IPC namespace"),
			s("service_account", "service account name"),
			b("automount_service_account_token", "the API token is mounted (true unless set to false)"),
			sl("host_path_volumes", "host paths mounted"),
		},
	},
	"kubernetes.namespace": {
		Type: "kubernetes.namespace",
		Doc:  "A Kubernetes namespace, with what else in the scanned manifests applies to it.",
		Fields: []*Field{
			s("pod_security", "pod security admission level enforced: privileged, baseline, restricted or empty", "", "privileged", "baseline", "restricted"),
			b("network_policy", "a NetworkPolicy selects pods in it"),
			b("default_deny", "a NetworkPolicy denies all ingress by default"),
			b("resource_quota", "a ResourceQuota applies"),
			b("limit_range", "a LimitRange applies"),
		},
	},
}
