package terraform

import "testing"

// TestS3LoggingTargetUnknown: aws_s3_bucket_logging requires target_bucket,
// so logging is on even while the target's name is known only after apply.
func TestS3LoggingTargetUnknown(t *testing.T) {
	const plan = `{
  "format_version": "1.2", "terraform_version": "1.9.0",
  "planned_values": {"root_module": {"resources": [
    {"address": "aws_s3_bucket.records", "mode": "managed", "type": "aws_s3_bucket", "name": "records", "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"bucket": "lfd-records"}},
    {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs", "provider_name": "registry.terraform.io/hashicorp/aws", "values": {}},
    {"address": "aws_s3_bucket_logging.records", "mode": "managed", "type": "aws_s3_bucket_logging", "name": "records", "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"bucket": "lfd-records", "target_prefix": "records/"}}
  ]}},
  "resource_changes": [
    {"address": "aws_s3_bucket.records", "mode": "managed", "type": "aws_s3_bucket", "name": "records", "provider_name": "registry.terraform.io/hashicorp/aws",
     "change": {"actions": ["create"], "before": null, "after": {"bucket": "lfd-records"}, "after_unknown": {"id": true, "arn": true}}},
    {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs", "provider_name": "registry.terraform.io/hashicorp/aws",
     "change": {"actions": ["create"], "before": null, "after": {}, "after_unknown": {"id": true, "arn": true, "bucket": true}}},
    {"address": "aws_s3_bucket_logging.records", "mode": "managed", "type": "aws_s3_bucket_logging", "name": "records", "provider_name": "registry.terraform.io/hashicorp/aws",
     "change": {"actions": ["create"], "before": null, "after": {"bucket": "lfd-records", "target_prefix": "records/"}, "after_unknown": {"id": true, "target_bucket": true}}}
  ],
  "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {"region": {"constant_value": "eu-central-1"}}}},
   "root_module": {"resources": [
    {"address": "aws_s3_bucket.records", "mode": "managed", "type": "aws_s3_bucket", "name": "records", "expressions": {"bucket": {"constant_value": "lfd-records"}}},
    {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs", "expressions": {}},
    {"address": "aws_s3_bucket_logging.records", "mode": "managed", "type": "aws_s3_bucket_logging", "name": "records",
     "expressions": {"bucket": {"references": ["aws_s3_bucket.records.id", "aws_s3_bucket.records"]}, "target_bucket": {"references": ["aws_s3_bucket.logs.id", "aws_s3_bucket.logs"]}, "target_prefix": {"constant_value": "records/"}}}
  ]}}
}`
	e, err := Parse("plan.json", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range e.Resources {
		if r.Address != "aws_s3_bucket.records" {
			continue
		}
		if on, _ := r.Get("logging.enabled"); on != true || r.IsUnknown("logging.enabled") {
			t.Errorf("logging.enabled = %v (unknown %v), want true", on, r.Unknown)
		}
		if dst, _ := r.Get("logging.destination"); dst != "aws_s3_bucket.logs" {
			t.Errorf("logging.destination = %v, want aws_s3_bucket.logs", dst)
		}
		return
	}
	t.Fatal("bucket not found")
}
