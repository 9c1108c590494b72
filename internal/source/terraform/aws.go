package terraform

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// awsMappers map the AWS provider's resources onto the normalized types.
//
// Not mapped, and so counted as unsupported: aws_efs_file_system and most
// other services (no normalized type fits them yet), aws_kms_alias,
// aws_ebs_encryption_by_default (an account default, not a resource a rule
// can judge on its own).
var awsMappers = map[string]mapper{
	"aws_s3_bucket":              awsS3Bucket,
	"aws_instance":               awsInstance,
	"aws_launch_template":        awsLaunchTemplate,
	"aws_ebs_volume":             awsEBSVolume,
	"aws_db_instance":            awsDBInstance,
	"aws_rds_cluster":            awsRDSCluster,
	"aws_dynamodb_table":         awsDynamoDBTable,
	"aws_security_group":         awsSecurityGroup,
	"aws_default_security_group": awsSecurityGroup,
	"aws_vpc":                    awsVPC,
	"aws_default_vpc":            awsVPC,
	"aws_iam_user":               awsIAMUser,
	"aws_iam_role":               awsIAMRole,
	"aws_iam_group":              awsIAMGroup,
	"aws_iam_policy":             awsIAMPolicy,
	"aws_iam_role_policy":        awsInlinePolicy("role"),
	"aws_iam_user_policy":        awsInlinePolicy("user"),
	"aws_iam_group_policy":       awsInlinePolicy("group"),
	"aws_kms_key":                awsKMSKey,
	"aws_kms_external_key":       awsKMSKey,
	"aws_cloudtrail":             awsCloudTrail,

	// Account-wide defaults, applied by awsAccountDefaults.
	"aws_s3_account_public_access_block": awsAccountSetting,
	"aws_ebs_encryption_by_default":      awsAccountSetting,
	"aws_ebs_default_kms_key":            awsAccountSetting,
}

// awsAttachments fills each security group's attached_to with the
// instances, launch templates and databases that name it in
// vpc_security_group_ids (or security_groups), by id or, before apply,
// through the configuration's references. natives and rs need only hold
// those (build gathers them); others are passed over.
func awsAttachments(natives []*native, rs []*inventory.Resource) {
	if len(natives) == 0 {
		return
	}
	groups := map[string]*inventory.Resource{}
	for _, r := range rs {
		if r.Type == "network.firewall" && r.Provider == "aws" {
			groups[r.Address] = r
			if id, _ := r.Native["id"].(string); id != "" {
				groups[id] = r
			}
		}
	}
	if len(groups) == 0 {
		return
	}
	for _, n := range natives {
		if !attachingTypes[n.Type] {
			continue
		}
		keys := n.groupKeys
		if !n.groupKeysRead {
			keys = groupKeys(n)
		}
		seen := map[*inventory.Resource]bool{}
		for _, k := range keys {
			if g := groups[k]; g != nil {
				seen[g] = true
			}
		}
		for g := range seen {
			cur, _ := g.Get("attached_to")
			list, _ := cur.([]any)
			g.Set("attached_to", append(list, n.Address))
		}
	}
	for _, g := range groups {
		cur, _ := g.Get("attached_to")
		if list, _ := cur.([]any); len(list) > 1 {
			slices.SortFunc(list, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		}
	}
}

// attachingTypes are the types that attach security groups (awsAttachments).
var attachingTypes = map[string]bool{"aws_instance": true, "aws_launch_template": true, "aws_db_instance": true, "aws_rds_cluster": true}

// groupKeys returns what a resource of an attaching type names its
// security groups by: their ids, and the addresses its configuration
// references. The worker that maps the resource reads them (on every
// core), awsAttachments looks them up.
func groupKeys(n *native) []string {
	var keys []string
	for _, attr := range []string{"vpc_security_group_ids", "security_groups", "security_group_names"} {
		keys = append(keys, awsStrings(n.get(attr))...)
		for _, ref := range n.references(attr) {
			keys = append(keys, ref.block+ref.index)
		}
	}
	return keys
}

// accountSettings are the types awsAccountSetting maps: applied to the
// resources they govern, never resources of their own.
var accountSettings = map[string]bool{
	"aws_s3_account_public_access_block": true,
	"aws_ebs_encryption_by_default":      true,
	"aws_ebs_default_kms_key":            true,
}

// awsAccountSetting maps an account-wide default to nothing of its own;
// awsAccountDefaults applies it to the resources it governs.
func awsAccountSetting(*native) *inventory.Resource { return nil }

// awsAccountDefaults applies the account-wide settings in the file to the
// resources they govern: an account public access block with all four
// guards on covers every bucket of the account; EBS encryption by default
// encrypts every new volume of its region, whatever the volume says.
// awsDefaultTypes are the account-wide settings awsAccountDefaults applies.
var awsDefaultTypes = map[string]bool{"aws_s3_account_public_access_block": true, "aws_ebs_encryption_by_default": true, "aws_ebs_default_kms_key": true}

func awsAccountDefaults(natives []*native, rs []*inventory.Resource) {
	var blocks, ebsDefaults, ebsKeys []*native
	for _, n := range natives {
		switch n.Type {
		case "aws_s3_account_public_access_block":
			blocks = append(blocks, n)
		case "aws_ebs_encryption_by_default":
			ebsDefaults = append(ebsDefaults, n)
		case "aws_ebs_default_kms_key":
			ebsKeys = append(ebsKeys, n)
		}
	}
	if len(blocks)+len(ebsDefaults) == 0 {
		return
	}
	sameAccount := func(n *native, r *inventory.Resource) bool {
		a := n.str("account_id")
		return a == "" || r.Account == "" || a == r.Account
	}
	sameRegion := func(n *native, r *inventory.Resource) bool {
		reg := nativeRegion(n)
		return reg == "" || r.Region == "" || reg == r.Region
	}
	for _, r := range rs {
		if r.Provider != "aws" {
			continue
		}
		switch r.Type {
		case "object_storage.bucket":
			for _, b := range blocks {
				if !sameAccount(b, r) {
					continue
				}
				flags := []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"}
				if b.markUnknown(r, "public_access_block", flags...) {
					continue
				}
				all := true
				for _, f := range flags {
					all = all && b.boolean(f)
				}
				if all {
					setKnown(r, "public_access_block", true)
				}
			}
		case "compute.disk", "compute.instance":
			if r.NativeType == "aws_launch_template" {
				continue
			}
			for _, e := range ebsDefaults {
				if !sameRegion(e, r) || e.has("enabled") && !e.boolean("enabled") {
					continue
				}
				if e.unknown("enabled") {
					if on, _ := r.Get("encryption.at_rest.enabled"); on != true {
						r.SetUnknown("encryption.at_rest.enabled")
					}
					continue
				}
				if on, _ := r.Get("encryption.at_rest.enabled"); on == true && !r.IsUnknown("encryption.at_rest.enabled") {
					continue
				}
				setKnown(r, "encryption.at_rest.enabled", true)
				manager, key := "provider", ""
				for _, k := range ebsKeys {
					if sameRegion(k, r) {
						manager, key = "customer", k.str("key_arn")
						if key == "" {
							key = k.reference("key_arn")
						}
					}
				}
				setKnown(r, "encryption.at_rest.key_manager", manager)
				if key != "" {
					setKnown(r, "encryption.at_rest.key_id", key)
				}
			}
		}
	}
}

// awsJoiners join the resources the AWS provider splits off a bucket, a
// security group, a VPC or a principal.
//
// aws_iam_role_policy_attachment and its user/group siblings are joined
// onto the principal, not mapped as policies of their own: they grant
// nothing new, they attach an existing policy, and what a rule asks of them
// is whether the principal became an administrator.
var awsJoiners = map[string]joiner{
	"aws_s3_bucket_server_side_encryption_configuration": {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3Encryption},
	"aws_s3_bucket_public_access_block":                  {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3PublicAccessBlock},
	"aws_s3_bucket_versioning":                           {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3Versioning},
	"aws_s3_bucket_logging":                              {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3Logging},
	"aws_s3_bucket_object_lock_configuration":            {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3ObjectLock},
	"aws_s3_bucket_acl":                                  {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3ACL},
	"aws_s3_bucket_policy":                               {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3Policy},
	"aws_s3_bucket_replication_configuration":            {Target: "object_storage.bucket", Ref: "bucket", Apply: awsJoinS3Replication},

	"aws_security_group_rule":             {Target: "network.firewall", Ref: "security_group_id", Apply: awsJoinSGRule},
	"aws_vpc_security_group_ingress_rule": {Target: "network.firewall", Ref: "security_group_id", Apply: awsJoinVPCSGRule("ingress")},
	"aws_vpc_security_group_egress_rule":  {Target: "network.firewall", Ref: "security_group_id", Apply: awsJoinVPCSGRule("egress")},

	"aws_flow_log": {Target: "network.network", Ref: "vpc_id", Apply: awsJoinFlowLog},

	"aws_rds_cluster_instance": {Target: "database.instance", Ref: "cluster_identifier", Natives: []string{"aws_rds_cluster"}, Apply: awsJoinClusterInstance},

	"aws_volume_attachment": {Target: "compute.disk", Ref: "volume_id", Apply: func(n *native, t *inventory.Resource) { setKnown(t, "attached", true) }},

	"aws_iam_user_login_profile":      {Target: "iam.principal", Ref: "user", Natives: []string{"aws_iam_user"}, Apply: awsJoinLoginProfile},
	"aws_iam_access_key":              {Target: "iam.principal", Ref: "user", Natives: []string{"aws_iam_user"}, Apply: awsJoinAccessKey},
	"aws_iam_user_policy_attachment":  {Target: "iam.principal", Ref: "user", Natives: []string{"aws_iam_user"}, Apply: awsJoinPolicyAttachment},
	"aws_iam_role_policy_attachment":  {Target: "iam.principal", Ref: "role", Natives: []string{"aws_iam_role"}, Apply: awsJoinPolicyAttachment},
	"aws_iam_group_policy_attachment": {Target: "iam.principal", Ref: "group", Natives: []string{"aws_iam_group"}, Apply: awsJoinPolicyAttachment},
	"aws_iam_user_policy":             {Target: "iam.principal", Ref: "user", Natives: []string{"aws_iam_user"}, Apply: awsJoinInlinePolicy},
	"aws_iam_role_policy":             {Target: "iam.principal", Ref: "role", Natives: []string{"aws_iam_role"}, Apply: awsJoinInlinePolicy},
	"aws_iam_group_policy":            {Target: "iam.principal", Ref: "group", Natives: []string{"aws_iam_group"}, Apply: awsJoinInlinePolicy},
	"aws_iam_virtual_mfa_device":      {Target: "iam.principal", Ref: "user", Natives: []string{"aws_iam_user"}, Apply: func(n *native, t *inventory.Resource) { setKnown(t, "mfa.enabled", true) }},
	"aws_iam_user_group_membership":   {Target: "iam.principal", Ref: "user", Natives: []string{"aws_iam_user"}, Apply: func(*native, *inventory.Resource) {}},
}

// awsAdminPolicies are the AWS managed policies that grant everything.
var awsAdminPolicies = map[string]bool{
	"arn:aws:iam::aws:policy/AdministratorAccess":        true,
	"arn:aws-cn:iam::aws:policy/AdministratorAccess":     true,
	"arn:aws-us-gov:iam::aws:policy/AdministratorAccess": true,
}

// awsBool sets attr from the native bool at path, or marks it unknown.
func awsBool(r *inventory.Resource, n *native, attr, path string) {
	if n.markUnknown(r, attr, path) {
		return
	}
	r.Set(attr, n.boolean(path))
}

// awsBoolDefault is awsBool for an attribute the provider computes when
// the configuration leaves it out, with the service's default def.
func awsBoolDefault(r *inventory.Resource, n *native, attr, path string, def bool) {
	if awsDefault(r, n, attr, path, def) {
		return
	}
	r.Set(attr, n.boolean(path))
}

// awsDefault handles a native block or attribute the provider computes when
// the configuration leaves it out, and that is therefore unknown in a plan:
// left out, the service's default holds and def is set; configured (from
// values known only at apply), attr is marked unknown. It reports whether
// the value at path was unknown, so the caller reads it only if not.
//
// "Left out" is what the plan's configuration says. Terraform does not
// print `dynamic` blocks there (hashicorp/terraform#28346), so a dynamic
// block whose content is unknown until apply reads as left out.
func awsDefault(r *inventory.Resource, n *native, attr, path string, def any) (unknown bool) {
	if !n.unknown(path) {
		return false
	}
	if n.configured(path) {
		r.SetUnknown(attr)
	} else if def != nil {
		r.Set(attr, def)
	}
	return true
}

// awsKeyManager classifies a KMS key reference: keys under alias/aws/ are
// AWS managed keys (provider); any other key is the customer's. Keys in a
// custom key store are recognised later, once the key resource is known
// (see resolveKeyManagers).
func awsKeyManager(key string) string {
	if strings.HasPrefix(key, "alias/aws/") || strings.Contains(key, ":alias/aws/") {
		return "provider"
	}
	return "customer"
}

// awsAtRest sets encryption.at_rest from an on/off flag (encryptedPath, ""
// when the service always encrypts) and a KMS key attribute (keyPath, empty
// value: the service's AWS managed key).
func awsAtRest(r *inventory.Resource, n *native, encryptedPath, keyPath string) {
	const base = "encryption.at_rest."
	if encryptedPath != "" {
		if n.markUnknown(r, base+"enabled", encryptedPath) {
			r.SetUnknown(base + "key_manager")
			return
		}
		if !n.boolean(encryptedPath) {
			r.Set(base+"enabled", false)
			r.Set(base+"key_manager", "none")
			return
		}
	}
	r.Set(base+"enabled", true)
	awsKey(r, n, keyPath)
}

// awsKey sets key_manager and key_id from a KMS key attribute; an unknown
// key that refers to a key resource is the customer's.
func awsKey(r *inventory.Resource, n *native, keyPath string) {
	const base = "encryption.at_rest."
	if keyPath != "" && n.unknown(keyPath) {
		if ref := n.reference(keyPath); ref != "" && strings.Contains(ref, "aws_kms_") {
			setKnown(r, base+"key_manager", "customer")
			setKnown(r, base+"key_id", ref)
			return
		}
		if !n.configured(keyPath) {
			// Computed: the service's AWS managed key (aws/ebs, aws/rds).
			setKnown(r, base+"key_manager", "provider")
			return
		}
		r.SetUnknown(base + "key_manager")
		r.SetUnknown(base + "key_id")
		return
	}
	key := ""
	if keyPath != "" {
		key = n.str(keyPath)
	}
	if key == "" {
		setKnown(r, base+"key_manager", "provider")
		return
	}
	setKnown(r, base+"key_manager", awsKeyManager(key))
	setKnown(r, base+"key_id", key)
}

// --- S3 ---

// awsS3Bucket maps a bucket and its legacy inline blocks (provider v3 and
// the deprecated arguments v4+ still accepts). Split resources joined later
// override what the inline blocks say.
//
// Since 5 January 2023 S3 encrypts every object with SSE-S3 when the bucket
// sets nothing else, so a bucket without encryption configuration is
// modelled as encrypted with a provider-managed key; that is the truth, not
// a guess. The public access block is different: AWS turns it on only for
// buckets created since April 2023, so it counts only when configured.
func awsS3Bucket(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "object_storage.bucket", Name: n.str("bucket")}

	const sse = "server_side_encryption_configuration.0.rule.0.apply_server_side_encryption_by_default.0"
	r.Set("encryption.at_rest.enabled", true)
	switch {
	case awsDefault(r, n, "encryption.at_rest.key_manager", sse, "provider"):
	case n.has(sse + ".sse_algorithm"):
		awsS3SSE(r, n, sse+".sse_algorithm", sse+".kms_master_key_id")
	default:
		r.Set("encryption.at_rest.key_manager", "provider")
	}
	r.Set("encryption.in_transit.enforced", false)

	public := false
	if !awsDefault(r, n, "public", "acl", nil) {
		public = awsPublicACL(n.str("acl"))
	}
	for _, g := range n.list("grant") {
		if awsPublicGrantee(awsStr(g, "uri")) {
			public = true
		}
	}
	r.Set("public", public)
	if !awsDefault(r, n, "encryption.in_transit.enforced", "policy", nil) {
		if p, ok := parseAWSPolicy(n.str("policy")); ok {
			awsApplyBucketPolicy(r, p)
		}
	} else if r.IsUnknown("encryption.in_transit.enforced") {
		r.SetUnknown("public")
	}
	r.Set("public_access_block", false)

	if !awsDefault(r, n, "versioning.enabled", "versioning", false) {
		r.Set("versioning.enabled", n.boolean("versioning.0.enabled"))
	}
	if !awsDefault(r, n, "logging.enabled", "logging", false) {
		target := n.str("logging.0.target_bucket")
		r.Set("logging.enabled", target != "")
		if target != "" {
			r.Set("logging.destination", target)
		}
	} else if r.IsUnknown("logging.enabled") {
		r.SetUnknown("logging.destination")
	}
	lock := false
	if !awsDefault(r, n, "object_lock.enabled", "object_lock_enabled", false) {
		lock = n.boolean("object_lock_enabled")
	}
	if n.str("object_lock_configuration.0.object_lock_enabled") == "Enabled" {
		lock = true
	}
	if !r.IsUnknown("object_lock.enabled") {
		r.Set("object_lock.enabled", lock)
	}
	if !awsDefault(r, n, "replication.enabled", "replication_configuration", false) {
		enabled := false
		for _, rule := range n.list("replication_configuration.0.rules") {
			if awsStr(rule, "status") == "Enabled" {
				enabled = true
			}
		}
		r.Set("replication.enabled", enabled)
	}
	return r
}

// awsStr reads a string from a decoded JSON object.
func awsStr(v any, key string) string {
	m, _ := v.(map[string]any)
	s, _ := m[key].(string)
	return s
}

func awsPublicACL(acl string) bool {
	switch acl {
	case "public-read", "public-read-write", "authenticated-read":
		return true
	}
	return false
}

// awsPublicGrantee reports the ACL groups of everyone and of every AWS
// account holder.
func awsPublicGrantee(uri string) bool {
	return uri == "http://acs.amazonaws.com/groups/global/AllUsers" ||
		uri == "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
}

func awsS3SSE(r *inventory.Resource, n *native, algPath, keyPath string) {
	if n.markUnknown(r, "encryption.at_rest.key_manager", algPath) {
		return
	}
	setKnown(r, "encryption.at_rest.enabled", true)
	switch n.str(algPath) {
	case "aws:kms", "aws:kms:dsse":
		if n.unknown(keyPath) {
			awsKey(r, n, keyPath)
			return
		}
		key := n.str(keyPath)
		if key == "" {
			setKnown(r, "encryption.at_rest.key_manager", "provider") // the aws/s3 managed key
			return
		}
		setKnown(r, "encryption.at_rest.key_manager", awsKeyManager(key))
		setKnown(r, "encryption.at_rest.key_id", key)
	default: // AES256: SSE-S3
		setKnown(r, "encryption.at_rest.key_manager", "provider")
	}
}

func awsApplyBucketPolicy(r *inventory.Resource, p *awsPolicy) {
	if p.public() {
		setKnown(r, "public", true)
	}
	if p.deniesInsecureTransport() {
		setKnown(r, "encryption.in_transit.enforced", true)
	}
	if v := p.minTLSVersion(); v != "" {
		setKnown(r, "encryption.in_transit.min_tls_version", v)
	}
}

func awsJoinS3Encryption(n *native, t *inventory.Resource) {
	rules := n.list("rule")
	for i := range rules {
		base := "rule." + strconv.Itoa(i) + ".apply_server_side_encryption_by_default.0"
		if n.has(base+".sse_algorithm") || n.unknown(base) {
			awsS3SSE(t, n, base+".sse_algorithm", base+".kms_master_key_id")
			return
		}
	}
	if n.unknown("rule") {
		t.SetUnknown("encryption.at_rest.key_manager")
	}
}

func awsJoinS3PublicAccessBlock(n *native, t *inventory.Resource) {
	flags := []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"}
	if n.markUnknown(t, "public_access_block", flags...) {
		return
	}
	all := true
	for _, f := range flags {
		all = all && n.boolean(f)
	}
	setKnown(t, "public_access_block", all)
}

func awsJoinS3Versioning(n *native, t *inventory.Resource) {
	const status = "versioning_configuration.0.status"
	if n.markUnknown(t, "versioning.enabled", status) {
		return
	}
	setKnown(t, "versioning.enabled", n.str(status) == "Enabled")
}

func awsJoinS3Logging(n *native, t *inventory.Resource) {
	// target_bucket is required: the resource turns logging on even while
	// the target's name is known only after apply; then the destination is
	// the bucket the configuration references, if it names one.
	setKnown(t, "logging.enabled", true)
	if n.unknown("target_bucket") || !n.has("target_bucket") {
		if ref := n.reference("target_bucket"); ref != "" {
			setKnown(t, "logging.destination", ref)
		} else {
			t.SetUnknown("logging.destination")
		}
		return
	}
	setKnown(t, "logging.destination", n.str("target_bucket"))
}

func awsJoinS3ObjectLock(n *native, t *inventory.Resource) {
	if n.markUnknown(t, "object_lock.enabled", "object_lock_enabled") {
		return
	}
	// object_lock_enabled defaults to, and can only be, "Enabled".
	v := n.str("object_lock_enabled")
	setKnown(t, "object_lock.enabled", v == "" || v == "Enabled")
}

func awsJoinS3ACL(n *native, t *inventory.Resource) {
	if n.markUnknown(t, "public", "acl", "access_control_policy") {
		return
	}
	public := awsPublicACL(n.str("acl"))
	for _, g := range n.list("access_control_policy.0.grant") {
		gm, _ := g.(map[string]any)
		gl, _ := gm["grantee"].([]any)
		for _, ge := range gl {
			if awsPublicGrantee(awsStr(ge, "uri")) {
				public = true
			}
		}
	}
	if public {
		setKnown(t, "public", true)
	}
}

func awsJoinS3Policy(n *native, t *inventory.Resource) {
	if n.markUnknown(t, "public", "policy") {
		t.SetUnknown("encryption.in_transit.enforced")
		return
	}
	if p, ok := parseAWSPolicy(n.str("policy")); ok {
		awsApplyBucketPolicy(t, p)
	}
}

func awsJoinS3Replication(n *native, t *inventory.Resource) {
	if n.markUnknown(t, "replication.enabled", "rule") {
		return
	}
	enabled := false
	for _, rule := range n.list("rule") {
		if awsStr(rule, "status") == "Enabled" {
			enabled = true
		}
	}
	setKnown(t, "replication.enabled", enabled)
}

// --- EC2 ---

// awsInstance maps an EC2 instance. Settings the provider computes when the
// configuration leaves them out (metadata options, root volume encryption,
// public IP) depend on the AMI, the subnet and account defaults, so they
// stay unknown in a plan until apply.
func awsInstance(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "compute.instance"}
	// SEV-SNP is on only when asked for.
	if !awsDefault(r, n, "confidential_computing", "cpu_options.0.amd_sev_snp", "none") {
		cc := "none"
		if n.str("cpu_options.0.amd_sev_snp") == "enabled" {
			cc = "sev-snp"
		}
		r.Set("confidential_computing", cc)
	}
	awsBool(r, n, "public_ip", "associate_public_ip_address")

	if !n.markUnknown(r, "metadata_service.enabled", "metadata_options.0.http_endpoint") {
		r.Set("metadata_service.enabled", n.str("metadata_options.0.http_endpoint") != "disabled")
	}
	if !n.markUnknown(r, "metadata_service.token_required", "metadata_options.0.http_tokens") {
		r.Set("metadata_service.token_required", n.str("metadata_options.0.http_tokens") == "required")
	}

	// Every volume must be encrypted for the instance to count as encrypted;
	// the root volume's key speaks for the instance.
	awsAtRest(r, n, "root_block_device.0.encrypted", "root_block_device.0.kms_key_id")
	for i := range n.list("ebs_block_device") {
		p := "ebs_block_device." + strconv.Itoa(i) + ".encrypted"
		if n.markUnknown(r, "encryption.at_rest.enabled", p) {
			continue
		}
		if !n.boolean(p) {
			r.Set("encryption.at_rest.enabled", false)
			r.Set("encryption.at_rest.key_manager", "none")
		}
	}

	if !awsDefault(r, n, "identity.principal", "iam_instance_profile", "") {
		r.Set("identity.principal", n.str("iam_instance_profile"))
	}
	r.Set("identity.default_service_account", false)
	awsBoolDefault(r, n, "monitoring.enabled", "monitoring", false)
	r.Set("image", n.str("ami"))
	r.Set("machine_type", n.str("instance_type"))
	// UEFI secure boot and NitroTPM are properties of the AMI (its boot
	// mode, uefi_data and tpm_support), which a plan does not show: unknown,
	// not false.
	r.SetUnknown("secure_boot")
	return r
}

// awsLaunchTemplate maps a launch template as the instances it launches.
// Unlike an instance, what it leaves out stays out: EC2's defaults apply at
// launch (metadata service on, tokens optional unless the AMI asks for
// IMDSv2, volumes encrypted only by the account default).
func awsLaunchTemplate(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "compute.instance"}
	if !n.markUnknown(r, "confidential_computing", "cpu_options") {
		cc := "none"
		if n.str("cpu_options.0.amd_sev_snp") == "enabled" {
			cc = "sev-snp"
		}
		r.Set("confidential_computing", cc)
	}
	public := false
	for i, ni := range n.list("network_interfaces") {
		if n.markUnknown(r, "public_ip", "network_interfaces."+strconv.Itoa(i)+".associate_public_ip_address") {
			break
		}
		if awsStr(ni, "associate_public_ip_address") == "true" {
			public = true
		}
	}
	r.Set("public_ip", public)
	if !n.markUnknown(r, "metadata_service.enabled", "metadata_options") {
		r.Set("metadata_service.enabled", n.str("metadata_options.0.http_endpoint") != "disabled")
		r.Set("metadata_service.token_required", n.str("metadata_options.0.http_tokens") == "required")
	} else {
		r.SetUnknown("metadata_service.token_required")
	}

	enabled, key := true, ""
	devices := n.list("block_device_mappings")
	for i := range devices {
		p := "block_device_mappings." + strconv.Itoa(i) + ".ebs.0"
		if !n.has(p) {
			continue
		}
		if n.markUnknown(r, "encryption.at_rest.enabled", p+".encrypted") {
			r.SetUnknown("encryption.at_rest.key_manager")
			continue
		}
		if n.str(p+".encrypted") != "true" {
			enabled = false
		}
		if k := n.str(p + ".kms_key_id"); k != "" && key == "" {
			key = k
		}
	}
	switch {
	case len(devices) == 0:
		// The AMI's volumes, encrypted only if the AMI's snapshots or
		// the account's default say so.
		r.SetUnknown("encryption.at_rest.enabled")
		r.SetUnknown("encryption.at_rest.key_manager")
	case !enabled:
		r.Set("encryption.at_rest.enabled", false)
		r.Set("encryption.at_rest.key_manager", "none")
	case key != "":
		r.Set("encryption.at_rest.enabled", true)
		r.Set("encryption.at_rest.key_manager", awsKeyManager(key))
		r.Set("encryption.at_rest.key_id", key)
	default:
		r.Set("encryption.at_rest.enabled", true)
		r.Set("encryption.at_rest.key_manager", "provider")
	}

	principal := n.str("iam_instance_profile.0.name")
	if principal == "" {
		principal = n.str("iam_instance_profile.0.arn")
	}
	r.Set("identity.principal", principal)
	r.Set("monitoring.enabled", n.boolean("monitoring.0.enabled"))
	r.Set("image", n.str("image_id"))
	r.Set("machine_type", n.str("instance_type"))
	return r
}

func awsEBSVolume(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "compute.disk"}
	awsAtRest(r, n, "encrypted", "kms_key_id")
	r.Set("size_gb", n.number("size"))
	r.Set("attached", false)
	return r
}

// --- databases ---

func awsDBInstance(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "database.instance", Name: n.str("identifier")}
	r.Set("engine", n.str("engine"))
	r.Set("engine_version", n.str("engine_version"))
	awsAtRest(r, n, "storage_encrypted", "kms_key_id")
	awsBool(r, n, "public", "publicly_accessible")
	if !n.markUnknown(r, "backup.enabled", "backup_retention_period") {
		days := n.number("backup_retention_period")
		r.Set("backup.enabled", days > 0)
		r.Set("backup.retention_days", days)
	} else {
		r.SetUnknown("backup.retention_days")
	}
	// multi_az is computed when left out; RDS then runs in one zone.
	awsBoolDefault(r, n, "high_availability", "multi_az", false)
	awsBool(r, n, "deletion_protection", "deletion_protection")
	awsLogExports(r, n)
	awsDBAuth(r, n)
	awsDBTransit(r, n, "parameter_group_name")
	return r
}

// awsDBTransit sets whether TLS is required. RDS decides that in the
// parameter group (rds.force_ssl, require_secure_transport); hoheit knows
// only the defaults: PostgreSQL 15 and later force TLS in the default
// group, the other engines do not. A custom group is unknown here.
func awsDBTransit(r *inventory.Resource, n *native, groupAttr string) {
	const attr = "encryption.in_transit.enforced"
	if n.unknown(groupAttr) && n.configured(groupAttr) {
		r.SetUnknown(attr)
		return
	}
	group := n.str(groupAttr)
	if group != "" && !strings.HasPrefix(group, "default.") {
		r.SetUnknown(attr)
		return
	}
	engine := n.str("engine")
	switch {
	case engine == "postgres":
		major, _, _ := strings.Cut(n.str("engine_version"), ".")
		v, err := strconv.Atoi(major)
		if err != nil {
			r.SetUnknown(attr)
			return
		}
		r.Set(attr, v >= 15)
	case strings.HasPrefix(engine, "aurora"):
		r.SetUnknown(attr)
	default:
		r.Set(attr, false)
	}
}

func awsRDSCluster(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "database.instance", Name: n.str("cluster_identifier")}
	engine := n.str("engine")
	r.Set("engine", engine)
	r.Set("engine_version", n.str("engine_version"))
	awsAtRest(r, n, "storage_encrypted", "kms_key_id")
	// Cluster endpoints are public only through public instances, which
	// are aws_rds_cluster_instance resources of their own.
	r.Set("public", false)
	if !n.markUnknown(r, "backup.enabled", "backup_retention_period") {
		days := n.number("backup_retention_period")
		r.Set("backup.enabled", days > 0)
		r.Set("backup.retention_days", days)
	} else {
		r.SetUnknown("backup.retention_days")
	}
	// Aurora keeps six copies across three zones; other engines are
	// Multi-AZ clusters when they name more than one zone.
	r.Set("high_availability", strings.HasPrefix(engine, "aurora") || len(n.list("availability_zones")) > 1)
	awsBool(r, n, "deletion_protection", "deletion_protection")
	awsLogExports(r, n)
	awsDBAuth(r, n)
	awsDBTransit(r, n, "db_cluster_parameter_group_name")
	return r
}

// awsJoinClusterInstance makes a cluster public when one of its instances
// is publicly accessible.
func awsJoinClusterInstance(n *native, t *inventory.Resource) {
	if n.unknown("publicly_accessible") {
		if pub, _ := t.Get("public"); pub != true {
			t.SetUnknown("public")
		}
		return
	}
	if n.boolean("publicly_accessible") {
		setKnown(t, "public", true)
	}
}

func awsLogExports(r *inventory.Resource, n *native) {
	if n.markUnknown(r, "logging.enabled", "enabled_cloudwatch_logs_exports") {
		return
	}
	exports := n.list("enabled_cloudwatch_logs_exports")
	r.Set("logging.enabled", len(exports) > 0)
	if len(exports) > 0 {
		r.Set("logging.destination", "cloudwatch")
	}
}

func awsDBAuth(r *inventory.Resource, n *native) {
	if n.markUnknown(r, "auth.iam", "iam_database_authentication_enabled") {
		r.SetUnknown("auth.local_only")
		return
	}
	iam := n.boolean("iam_database_authentication_enabled")
	r.Set("auth.iam", iam)
	r.Set("auth.local_only", !iam && n.str("domain") == "")
}

// awsDynamoDBTable maps a table as a database. DynamoDB encrypts every
// table: with an AWS owned key unless server-side encryption names the AWS
// managed key (enabled, no key) or a customer key.
func awsDynamoDBTable(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "database.instance"}
	r.Set("engine", "dynamodb")
	r.Set("encryption.at_rest.enabled", true)
	switch {
	case n.markUnknown(r, "encryption.at_rest.key_manager", "server_side_encryption"):
	case n.boolean("server_side_encryption.0.enabled"):
		awsKey(r, n, "server_side_encryption.0.kms_key_arn")
	default:
		r.Set("encryption.at_rest.key_manager", "provider")
	}
	r.Set("encryption.in_transit.enforced", true) // the API is HTTPS only
	r.Set("public", false)
	if !n.markUnknown(r, "backup.enabled", "point_in_time_recovery") {
		r.Set("backup.enabled", n.boolean("point_in_time_recovery.0.enabled"))
		if n.boolean("point_in_time_recovery.0.enabled") {
			days := n.number("point_in_time_recovery.0.recovery_period_in_days")
			if days == 0 {
				days = 35
			}
			r.Set("backup.retention_days", days)
		}
	}
	r.Set("high_availability", true)
	awsBool(r, n, "deletion_protection", "deletion_protection_enabled")
	r.Set("auth.iam", true)
	r.Set("auth.local_only", false)
	return r
}

// --- network ---

func awsSecurityGroup(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "network.firewall"}
	r.Set("default", n.Type == "aws_default_security_group")
	rules := []any{}
	for _, dir := range []string{"ingress", "egress"} {
		// Without inline rules the provider plans the list as computed;
		// rules then come from separate resources, joined later.
		if awsDefault(r, n, "rules", dir, nil) {
			continue
		}
		for _, e := range n.list(dir) {
			m, _ := e.(map[string]any)
			var peers []string
			for _, k := range []string{"cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids", "security_groups"} {
				peers = append(peers, awsStrings(m[k])...)
			}
			if b, _ := m["self"].(bool); b {
				peers = append(peers, "self")
			}
			rules = append(rules, awsRule(dir, awsString(m["protocol"]), awsNum(m["from_port"]), awsNum(m["to_port"]), peers))
		}
	}
	r.Set("rules", rules)
	r.Set("attached_to", []any{})
	return r
}

func awsNum(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// awsRule builds one normalized rule; peers are sources of an ingress rule
// and destinations of an egress rule.
func awsRule(direction, protocol string, from, to int64, peers []string) map[string]any {
	switch strings.ToLower(protocol) {
	case "-1", "all":
		protocol, from, to = "all", 0, 65535
	case "6", "tcp":
		protocol = "tcp"
	case "17", "udp":
		protocol = "udp"
	case "1", "icmp", "58", "icmpv6":
		protocol = "icmp"
	}
	rule := map[string]any{
		"direction":     direction,
		"action":        "allow",
		"protocol":      protocol,
		"port_from":     from,
		"port_to":       to,
		"sources":       []any{},
		"destinations":  []any{},
		"from_internet": false,
		"priority":      int64(0),
	}
	if direction == "ingress" {
		rule["sources"] = awsList(peers)
		for _, p := range peers {
			if p == "0.0.0.0/0" || p == "::/0" {
				rule["from_internet"] = true
			}
		}
	} else {
		rule["destinations"] = awsList(peers)
	}
	return rule
}

func awsAppendRule(t *inventory.Resource, rule map[string]any) {
	cur, _ := t.Get("rules")
	rules, _ := cur.([]any)
	t.Set("rules", append(rules, rule))
}

func awsJoinSGRule(n *native, t *inventory.Resource) {
	if n.markUnknown(t, "rules", "type", "protocol", "from_port", "to_port", "cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids") {
		return
	}
	var peers []string
	for _, k := range []string{"cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"} {
		peers = append(peers, awsStrings(n.get(k))...)
	}
	if s := n.str("source_security_group_id"); s != "" {
		peers = append(peers, s)
	} else if ref := n.reference("source_security_group_id"); ref != "" {
		peers = append(peers, ref)
	}
	if n.boolean("self") {
		peers = append(peers, "self")
	}
	awsAppendRule(t, awsRule(n.str("type"), n.str("protocol"), n.number("from_port"), n.number("to_port"), peers))
}

func awsJoinVPCSGRule(direction string) func(n *native, t *inventory.Resource) {
	return func(n *native, t *inventory.Resource) {
		if n.markUnknown(t, "rules", "ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "prefix_list_id") {
			return
		}
		var peers []string
		for _, k := range []string{"cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id"} {
			if s := n.str(k); s != "" {
				peers = append(peers, s)
			} else if ref := n.reference(k); ref != "" {
				peers = append(peers, ref)
			}
		}
		from, to := n.number("from_port"), n.number("to_port")
		if !n.has("from_port") && !n.has("to_port") {
			from, to = 0, 65535
		}
		awsAppendRule(t, awsRule(direction, n.str("ip_protocol"), from, to, peers))
	}
}

func awsVPC(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "network.network"}
	var cidrs []string
	for _, k := range []string{"cidr_block", "ipv6_cidr_block"} {
		if s := n.str(k); s != "" {
			cidrs = append(cidrs, s)
		}
	}
	r.Set("cidrs", awsList(cidrs))
	r.Set("flow_logs.enabled", false)
	r.Set("default", n.Type == "aws_default_vpc")
	r.Set("ddos_protection", false)
	return r
}

func awsJoinFlowLog(n *native, t *inventory.Resource) {
	setKnown(t, "flow_logs.enabled", true)
}

// --- IAM ---

func awsIAMUser(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "iam.principal"}
	r.Set("kind", "user")
	r.Set("console_access", false)
	r.Set("static_keys", int64(0))
	r.Set("external", false)
	r.Set("trusted", []any{})
	return r
}

func awsIAMGroup(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "iam.principal"}
	r.Set("kind", "group")
	r.Set("external", false)
	return r
}

// awsIAMRole maps a role with its trust policy. A role is external when it
// trusts everyone, or an AWS account other than its own; before apply the
// role's account is often unknown, and then so is external.
func awsIAMRole(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "iam.principal"}
	r.Set("kind", "role")
	if n.markUnknown(r, "trusted", "assume_role_policy") {
		r.SetUnknown("external")
	} else if p, ok := parseAWSPolicy(n.str("assume_role_policy")); ok {
		trusted := p.trusted()
		r.Set("trusted", awsList(trusted))
		own := nativeAccount(n)
		if own == "" {
			own = n.account
		}
		external, undecided := false, false
		for _, t := range trusted {
			acct, ok := awsPrincipalAccount(t)
			switch {
			case t == "*":
				external = true
			case !ok:
			case own == "":
				undecided = true
			case acct != own:
				external = true
			}
		}
		r.Set("external", external)
		if !external && undecided {
			r.SetUnknown("external")
		}
	}
	admin := false
	for _, arn := range awsStrings(n.get("managed_policy_arns")) {
		admin = admin || awsAdminPolicies[arn]
	}
	for _, ip := range n.list("inline_policy") {
		if p, ok := parseAWSPolicy(awsStr(ip, "policy")); ok && p.admin() {
			admin = true
		}
	}
	r.Set("admin", admin)
	return r
}

// awsPrincipalAccount returns the account an "AWS:" principal belongs to:
// a bare account id, or the account field of an ARN.
func awsPrincipalAccount(p string) (string, bool) {
	v, ok := strings.CutPrefix(p, "AWS:")
	if !ok {
		return "", false
	}
	if parts := strings.Split(v, ":"); len(parts) >= 6 {
		return parts[4], true
	}
	return v, true
}

func awsJoinLoginProfile(n *native, t *inventory.Resource) { setKnown(t, "console_access", true) }

func awsJoinAccessKey(n *native, t *inventory.Resource) {
	if n.str("status") == "Inactive" {
		return
	}
	cur, _ := t.Get("static_keys")
	keys, _ := cur.(int64)
	t.Set("static_keys", keys+1)
}

func awsJoinPolicyAttachment(n *native, t *inventory.Resource) {
	if n.unknown("policy_arn") {
		if admin, _ := t.Get("admin"); admin != true {
			t.SetUnknown("admin")
		}
		return
	}
	if awsAdminPolicies[n.str("policy_arn")] {
		setKnown(t, "admin", true)
	}
}

func awsJoinInlinePolicy(n *native, t *inventory.Resource) {
	if n.unknown("policy") {
		if admin, _ := t.Get("admin"); admin != true {
			t.SetUnknown("admin")
		}
		return
	}
	if p, ok := parseAWSPolicy(n.str("policy")); ok && p.admin() {
		setKnown(t, "admin", true)
	}
}

// awsIAMPolicy maps a managed policy; who it is attached to is not known
// from the policy itself.
func awsIAMPolicy(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "iam.policy"}
	r.Set("scope", "account")
	r.Set("members", []any{})
	awsPolicyAttrs(r, n)
	return r
}

// awsInlinePolicy maps an inline policy of a role, user or group; the
// principal's name attribute is principal.
func awsInlinePolicy(principal string) mapper {
	return func(n *native) *inventory.Resource {
		r := &inventory.Resource{Type: "iam.policy"}
		r.Set("scope", "account")
		switch {
		case n.markUnknown(r, "members", principal):
		case n.str(principal) != "":
			r.Set("members", []any{principal + ":" + n.str(principal)})
		}
		awsPolicyAttrs(r, n)
		return r
	}
}

func awsPolicyAttrs(r *inventory.Resource, n *native) {
	if n.markUnknown(r, "statements", "policy") {
		for _, a := range []string{"admin", "wildcard_actions", "public"} {
			r.SetUnknown(a)
		}
		return
	}
	p, ok := parseAWSPolicy(n.str("policy"))
	if !ok {
		return
	}
	r.Set("statements", p.statements())
	r.Set("admin", p.admin())
	r.Set("wildcard_actions", p.wildcardActions())
	r.Set("public", p.public())
}

// --- KMS ---

// awsKMSKey maps a KMS key. AWS KMS keeps key material in its own FIPS
// validated HSMs, so a plain key is "hsm"; a key in an external key store
// (xks_key_id) is "external"; a key in a CloudHSM key store stays "hsm"
// but makes the resources it encrypts count as externally keyed (see
// resolveKeyManagers).
func awsKMSKey(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "kms.key"}
	enabled := true
	if n.has("is_enabled") {
		enabled = n.boolean("is_enabled")
	}
	if n.has("enabled") {
		enabled = n.boolean("enabled")
	}
	r.Set("enabled", enabled)
	switch {
	case n.str("xks_key_id") != "":
		r.Set("protection", "external")
	case n.unknown("custom_key_store_id") || n.unknown("xks_key_id"):
		r.SetUnknown("protection")
	default:
		r.Set("protection", "hsm")
	}
	spec := n.str("customer_master_key_spec")
	if spec == "" {
		spec = n.str("key_spec")
	}
	if spec == "" {
		spec = "SYMMETRIC_DEFAULT"
	}
	r.Set("algorithm", spec)
	if !n.markUnknown(r, "rotation.enabled", "enable_key_rotation") {
		on := n.boolean("enable_key_rotation")
		r.Set("rotation.enabled", on)
		if on {
			days := n.number("rotation_period_in_days")
			if days == 0 {
				days = 365
			}
			r.Set("rotation.period_days", days)
		}
	}
	window := n.number("deletion_window_in_days")
	if window == 0 {
		window = 30
	}
	r.Set("deletion_window_days", window)
	if !awsDefault(r, n, "public", "policy", false) {
		p, ok := parseAWSPolicy(n.str("policy"))
		r.Set("public", ok && p.public())
	}
	return r
}

// --- logging ---

// awsCloudTrail maps a trail. Its logs land in S3, encrypted with SSE-S3
// unless the trail names a KMS key.
func awsCloudTrail(n *native) *inventory.Resource {
	r := &inventory.Resource{Type: "logging.audit_trail"}
	enabled := true
	if n.has("enable_logging") {
		enabled = n.boolean("enable_logging")
	}
	r.Set("enabled", enabled)
	awsBool(r, n, "all_regions", "is_multi_region_trail")
	awsBool(r, n, "integrity_validation", "enable_log_file_validation")
	r.Set("encryption.at_rest.enabled", true)
	awsKey(r, n, "kms_key_id")
	data := false
	for _, s := range n.list("event_selector") {
		sm, _ := s.(map[string]any)
		if dr, _ := sm["data_resource"].([]any); len(dr) > 0 {
			data = true
		}
	}
	for _, s := range n.list("advanced_event_selector") {
		sm, _ := s.(map[string]any)
		fs, _ := sm["field_selector"].([]any)
		for _, f := range fs {
			fm, _ := f.(map[string]any)
			if awsStr(f, "field") == "eventCategory" && awsAny(awsStrings(fm["equals"]), "Data") {
				data = true
			}
		}
	}
	r.Set("data_events", data)
	return r
}
