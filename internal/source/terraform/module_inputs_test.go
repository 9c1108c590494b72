package terraform

import (
	"strings"
	"testing"
)

// TestModuleInputReference: a key passed into a module (and on into a
// nested one) as a variable is followed to the resource the caller passes,
// so the bucket's key manager is known before apply.
func TestModuleInputReference(t *testing.T) {
	const plan = `{
  "format_version": "1.2", "terraform_version": "1.9.0",
  "planned_values": {"root_module": {
    "resources": [{"address": "aws_kms_key.audit", "mode": "managed", "type": "aws_kms_key", "name": "audit", "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"enable_key_rotation": true}}],
    "child_modules": [{"address": "module.trail", "child_modules": [{"address": "module.trail.module.store", "resources": [
      {"address": "module.trail.module.store.aws_s3_bucket_server_side_encryption_configuration.this", "mode": "managed", "type": "aws_s3_bucket_server_side_encryption_configuration", "name": "this", "provider_name": "registry.terraform.io/hashicorp/aws",
       "values": {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]}},
      {"address": "module.trail.module.store.aws_s3_bucket.this", "mode": "managed", "type": "aws_s3_bucket", "name": "this", "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"bucket": "audit"}}
    ]}]}]}},
  "resource_changes": [
    {"address": "aws_kms_key.audit", "mode": "managed", "type": "aws_kms_key", "name": "audit", "provider_name": "registry.terraform.io/hashicorp/aws",
     "change": {"actions": ["create"], "before": null, "after": {"enable_key_rotation": true}, "after_unknown": {"arn": true, "id": true}}},
    {"address": "module.trail.module.store.aws_s3_bucket.this", "module_address": "module.trail.module.store", "mode": "managed", "type": "aws_s3_bucket", "name": "this", "provider_name": "registry.terraform.io/hashicorp/aws",
     "change": {"actions": ["create"], "before": null, "after": {"bucket": "audit"}, "after_unknown": {"id": true, "arn": true}}},
    {"address": "module.trail.module.store.aws_s3_bucket_server_side_encryption_configuration.this", "module_address": "module.trail.module.store", "mode": "managed", "type": "aws_s3_bucket_server_side_encryption_configuration", "name": "this", "provider_name": "registry.terraform.io/hashicorp/aws",
     "change": {"actions": ["create"], "before": null, "after": {"bucket": "audit", "rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]},
      "after_unknown": {"id": true, "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": true}]}]}}}
  ],
  "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {"region": {"constant_value": "eu-central-1"}}}},
   "root_module": {
    "resources": [{"address": "aws_kms_key.audit", "mode": "managed", "type": "aws_kms_key", "name": "audit", "expressions": {}}],
    "module_calls": {"trail": {"source": "./modules/trail", "expressions": {"key_arn": {"references": ["aws_kms_key.audit.arn", "aws_kms_key.audit"]}},
     "module": {"module_calls": {"store": {"source": "./store", "expressions": {"kms": {"references": ["var.key_arn"]}},
      "module": {"resources": [
        {"address": "aws_s3_bucket.this", "mode": "managed", "type": "aws_s3_bucket", "name": "this", "expressions": {"bucket": {"constant_value": "audit"}}},
        {"address": "aws_s3_bucket_server_side_encryption_configuration.this", "mode": "managed", "type": "aws_s3_bucket_server_side_encryption_configuration", "name": "this",
         "expressions": {"bucket": {"references": ["aws_s3_bucket.this.id", "aws_s3_bucket.this"]},
          "rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": {"constant_value": "aws:kms"}, "kms_master_key_id": {"references": ["var.kms"]}}]}]}}
      ]}}}}}}
   }}
}`
	e, err := Parse("plan.json", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range e.Resources {
		if !strings.HasSuffix(r.Address, "aws_s3_bucket.this") {
			continue
		}
		if km, _ := r.Get("encryption.at_rest.key_manager"); km != "customer" || r.IsUnknown("encryption.at_rest.key_manager") {
			t.Errorf("key_manager = %v (unknown %v), want customer through var.kms -> var.key_arn -> aws_kms_key.audit", km, r.Unknown)
		}
		return
	}
	t.Fatal("bucket not found")
}
