package terraform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// syntheticResource is one resource kind of the synthetic plan: its values
// in planned_values (also the change's after), its after_unknown and its
// configuration block. %[1]d is the instance index.
type syntheticResource struct {
	typ, name, values, unknown, config string
}

var syntheticKinds = []syntheticResource{
	{"aws_s3_bucket", "b",
		`{"acceleration_status":"","acl":null,"arn":"arn:aws:s3:::acme-data-%[1]d","bucket":"acme-data-%[1]d","bucket_domain_name":"acme-data-%[1]d.s3.amazonaws.com","bucket_prefix":"","bucket_regional_domain_name":"acme-data-%[1]d.s3.eu-central-1.amazonaws.com","cors_rule":[],"force_destroy":false,"grant":[{"id":"4a1c8f0e2b7d6a5c3e9f1b0d8c7a6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a","permissions":["FULL_CONTROL"],"type":"CanonicalUser","uri":""}],"hosted_zone_id":"Z21DNDUVLTQW6Q","id":"acme-data-%[1]d","lifecycle_rule":[],"logging":[],"object_lock_configuration":[],"object_lock_enabled":false,"policy":"","region":"eu-central-1","replication_configuration":[],"request_payer":"BucketOwner","server_side_encryption_configuration":[{"rule":[{"apply_server_side_encryption_by_default":[{"kms_master_key_id":"","sse_algorithm":"AES256"}],"bucket_key_enabled":false}]}],"versioning":[{"enabled":false,"mfa_delete":false}],"website":[],"tags":{"Name":"data-%[1]d","env":"prod","team":"payments","cost-center":"cc-1234","managed-by":"terraform"},"tags_all":{"Name":"data-%[1]d","env":"prod","team":"payments","cost-center":"cc-1234","managed-by":"terraform","owner":"platform@example.com"},"timeouts":null}`,
		`{"acceleration_status":true,"acl":true,"arn":true,"bucket_domain_name":true,"bucket_prefix":true,"bucket_regional_domain_name":true,"cors_rule":true,"grant":true,"hosted_zone_id":true,"id":true,"lifecycle_rule":true,"logging":true,"object_lock_configuration":true,"policy":true,"region":true,"replication_configuration":true,"request_payer":true,"server_side_encryption_configuration":true,"tags":{},"tags_all":{},"versioning":true,"website":true,"website_domain":true,"website_endpoint":true}`,
		`{"bucket":{"references":["count.index"]},"tags":{"constant_value":{"env":"prod"}}}`},
	{"aws_s3_bucket_versioning", "b",
		`{"bucket":"acme-data-%[1]d","expected_bucket_owner":"","id":"acme-data-%[1]d","mfa":null,"versioning_configuration":[{"mfa_delete":"Disabled","status":"Enabled"}]}`,
		`{"id":true,"versioning_configuration":[{"mfa_delete":true}]}`,
		`{"bucket":{"references":["aws_s3_bucket.b","count.index"]},"versioning_configuration":[{"status":{"constant_value":"Enabled"}}]}`},
	{"aws_s3_bucket_server_side_encryption_configuration", "b",
		`{"expected_bucket_owner":null,"rule":[{"apply_server_side_encryption_by_default":[{"kms_master_key_id":"arn:aws:kms:eu-central-1:123456789012:key/0d4c6d2e-1f3a-4b5c-8d9e-%[1]012d","sse_algorithm":"aws:kms"}],"bucket_key_enabled":true}]}`,
		`{"bucket":true,"id":true,"rule":[{"apply_server_side_encryption_by_default":[{}]}]}`,
		`{"bucket":{"references":["aws_s3_bucket.b","count.index"]},"rule":[{"apply_server_side_encryption_by_default":[{"kms_master_key_id":{"constant_value":"arn:aws:kms:eu-central-1:123456789012:key/x"},"sse_algorithm":{"constant_value":"aws:kms"}}],"bucket_key_enabled":{"constant_value":true}}]}`},
	{"aws_instance", "app",
		`{"ami":"ami-0a1b2c3d4e5f67890","arn":"arn:aws:ec2:eu-central-1:123456789012:instance/i-0a1b2c3d4e%[1]07d","associate_public_ip_address":false,"availability_zone":"eu-central-1a","capacity_reservation_specification":[{"capacity_reservation_preference":"open","capacity_reservation_target":[]}],"credit_specification":[],"disable_api_stop":false,"disable_api_termination":false,"ebs_block_device":[],"ebs_optimized":true,"id":"i-0a1b2c3d4e%[1]07d","instance_state":"running","private_dns":"ip-10-0-%[1]d.eu-central-1.compute.internal","private_ip":"10.0.1.2","vpc_security_group_ids":["sg-0123456789abcdef0"],"get_password_data":false,"hibernation":null,"iam_instance_profile":"app-profile","instance_type":"m6a.large","launch_template":[],"monitoring":true,"cpu_options":[{"amd_sev_snp":"enabled","core_count":null,"threads_per_core":null}],"metadata_options":[{"http_endpoint":"enabled","http_protocol_ipv6":"disabled","http_put_response_hop_limit":1,"http_tokens":"required","instance_metadata_tags":"disabled"}],"root_block_device":[{"delete_on_termination":true,"encrypted":true,"tags":null,"volume_size":30,"volume_type":"gp3"}],"source_dest_check":true,"subnet_id":"subnet-0123456789abcdef%[1]d","tags":{"Name":"app-%[1]d","team":"payments"},"tags_all":{"Name":"app-%[1]d","team":"payments"},"timeouts":null,"user_data_replace_on_change":false,"volume_tags":null}`,
		`{"arn":true,"associate_public_ip_address":true,"availability_zone":true,"cpu_options":[{"core_count":true,"threads_per_core":true}],"ebs_block_device":true,"id":true,"metadata_options":[{}],"primary_network_interface_id":true,"private_dns":true,"private_ip":true,"public_dns":true,"public_ip":true,"root_block_device":[{"device_name":true,"iops":true,"kms_key_id":true,"throughput":true,"volume_id":true}],"security_groups":true,"tags":{},"tags_all":{},"vpc_security_group_ids":true}`,
		`{"ami":{"constant_value":"ami-0a1b2c3d4e5f67890"},"instance_type":{"constant_value":"m6a.large"},"metadata_options":[{"http_tokens":{"constant_value":"required"}}],"root_block_device":[{"encrypted":{"constant_value":true}}]}`},
	{"aws_security_group", "sg",
		`{"description":"service %[1]d","egress":[{"cidr_blocks":["0.0.0.0/0"],"description":"","from_port":0,"ipv6_cidr_blocks":[],"prefix_list_ids":[],"protocol":"-1","security_groups":[],"self":false,"to_port":0}],"ingress":[{"cidr_blocks":["10.0.0.0/8"],"description":"https","from_port":443,"ipv6_cidr_blocks":[],"prefix_list_ids":[],"protocol":"tcp","security_groups":[],"self":false,"to_port":443}],"name":"svc-%[1]d","revoke_rules_on_delete":false,"tags":{"Name":"svc-%[1]d"},"tags_all":{"Name":"svc-%[1]d"},"timeouts":null,"vpc_id":"vpc-0123456789abcdef0"}`,
		`{"arn":true,"egress":[{"cidr_blocks":[false],"ipv6_cidr_blocks":[],"prefix_list_ids":[],"security_groups":[]}],"id":true,"ingress":[{"cidr_blocks":[false],"ipv6_cidr_blocks":[],"prefix_list_ids":[],"security_groups":[]}],"name_prefix":true,"owner_id":true,"tags":{},"tags_all":{}}`,
		`{"description":{"constant_value":"service"},"name":{"references":["count.index"]},"vpc_id":{"constant_value":"vpc-0123456789abcdef0"}}`},
	{"aws_vpc_security_group_ingress_rule", "sg",
		`{"arn":"arn:aws:ec2:eu-central-1:123456789012:security-group-rule/sgr-0a1b2c3d4e5f%[1]06d","cidr_ipv4":"10.%[1]d.0.0/16","cidr_ipv6":null,"description":"postgres from the app tier","from_port":5432,"id":"sgr-0a1b2c3d4e5f%[1]06d","ip_protocol":"tcp","prefix_list_id":null,"referenced_security_group_id":null,"security_group_rule_id":"sgr-0a1b2c3d4e5f%[1]06d","tags":{"Name":"pg-%[1]d","team":"payments","env":"prod"},"tags_all":{"Name":"pg-%[1]d","team":"payments","env":"prod","managed-by":"terraform"},"to_port":5432}`,
		`{"arn":true,"id":true,"security_group_id":true,"security_group_rule_id":true,"tags":{},"tags_all":true}`,
		`{"cidr_ipv4":{"constant_value":"10.0.0.0/16"},"from_port":{"constant_value":5432},"ip_protocol":{"constant_value":"tcp"},"security_group_id":{"references":["aws_security_group.sg","count.index"]},"to_port":{"constant_value":5432}}`},
	{"aws_sqs_queue", "q",
		`{"arn":"arn:aws:sqs:eu-central-1:123456789012:jobs-%[1]d","deduplication_scope":"","fifo_throughput_limit":"","id":"https://sqs.eu-central-1.amazonaws.com/123456789012/jobs-%[1]d","kms_data_key_reuse_period_seconds":300,"kms_master_key_id":"","name_prefix":"","policy":"","redrive_allow_policy":"","redrive_policy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:eu-central-1:123456789012:dead-%[1]d\",\"maxReceiveCount\":5}","url":"https://sqs.eu-central-1.amazonaws.com/123456789012/jobs-%[1]d","content_based_deduplication":false,"delay_seconds":0,"fifo_queue":false,"max_message_size":262144,"message_retention_seconds":345600,"name":"jobs-%[1]d","receive_wait_time_seconds":0,"sqs_managed_sse_enabled":true,"tags":{"Name":"jobs-%[1]d","team":"payments"},"tags_all":{"Name":"jobs-%[1]d","team":"payments"},"visibility_timeout_seconds":30}`,
		`{"arn":true,"deduplication_scope":true,"fifo_throughput_limit":true,"id":true,"kms_data_key_reuse_period_seconds":true,"name_prefix":true,"policy":true,"redrive_allow_policy":true,"redrive_policy":true,"url":true}`,
		`{"name":{"references":["count.index"]}}`},
}

// syntheticPlan builds a plan of n resources in the shape of `terraform show
// -json`, printed compact as Terraform does, with count-indexed blocks.
func syntheticPlan(n int) []byte {
	var pv, rc bytes.Buffer
	per := (n + len(syntheticKinds) - 1) / len(syntheticKinds)
	count := 0
	for i := 0; i < per && count < n; i++ {
		for _, k := range syntheticKinds {
			if count == n {
				break
			}
			if count > 0 {
				pv.WriteByte(',')
				rc.WriteByte(',')
			}
			values := fmt.Sprintf(k.values, i)
			addr := fmt.Sprintf("%s.%s[%d]", k.typ, k.name, i)
			fmt.Fprintf(&pv, `{"address":%q,"mode":"managed","type":%q,"name":%q,"index":%d,"provider_name":"registry.terraform.io/hashicorp/aws","schema_version":0,"values":%s,"sensitive_values":{"tags":{},"tags_all":{}}}`,
				addr, k.typ, k.name, i, values)
			fmt.Fprintf(&rc, `{"address":%q,"mode":"managed","type":%q,"name":%q,"index":%d,"provider_name":"registry.terraform.io/hashicorp/aws","change":{"actions":["create"],"before":null,"after":%s,"after_unknown":%s,"before_sensitive":false,"after_sensitive":{"tags":{},"tags_all":{}}}}`,
				addr, k.typ, k.name, i, values, k.unknown)
			count++
		}
	}
	var cfg strings.Builder
	for i, k := range syntheticKinds {
		if i > 0 {
			cfg.WriteByte(',')
		}
		fmt.Fprintf(&cfg, `{"address":"%s.%s","mode":"managed","type":%q,"name":%q,"provider_config_key":"aws","expressions":%s,"schema_version":0,"count_expression":{"constant_value":%d}}`,
			k.typ, k.name, k.typ, k.name, k.config, per)
	}
	var out bytes.Buffer
	out.WriteString(`{"format_version":"1.2","terraform_version":"1.9.8","planned_values":{"root_module":{"resources":[`)
	out.Write(pv.Bytes())
	out.WriteString(`]}},"resource_changes":[`)
	out.Write(rc.Bytes())
	out.WriteString(`],"configuration":{"provider_config":{"aws":{"name":"aws","full_name":"registry.terraform.io/hashicorp/aws","expressions":{"region":{"constant_value":"eu-central-1"}}}},"root_module":{"resources":[`)
	out.WriteString(cfg.String())
	out.WriteString(`]}},"timestamp":"2026-11-20T10:04:31Z","applyable":true,"complete":true,"errored":false}`)
	out.WriteByte('\n')
	return out.Bytes()
}

func TestSyntheticPlan(t *testing.T) {
	data := syntheticPlan(700)
	est, err := Parse("synthetic.json", data)
	if err != nil {
		t.Fatal(err)
	}
	// 100 buckets, 100 instances, 100 groups; the split resources are joined.
	if len(est.Resources) != 300 {
		t.Fatalf("resources = %d, want 300", len(est.Resources))
	}
	if len(est.Unsupported) != 1 || est.Unsupported[0].Count != 100 {
		t.Fatalf("unsupported = %+v, want 100 aws_sqs_queue", est.Unsupported)
	}
	b := resourceAt(t, est, "aws_s3_bucket.b[42]")
	if v, _ := b.Get("versioning.enabled"); v != true {
		t.Errorf("versioning not joined by count index: %v", b.Attributes())
	}
	sg := resourceAt(t, est, "aws_security_group.sg[42]")
	if rules, _ := sg.Get("rules"); len(rules.([]any)) != 3 {
		t.Errorf("rules = %v, want inline ingress, egress and the joined rule", rules)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("synthetic plan is not valid JSON: %v", err)
	}
}

// BenchmarkParse reads a synthetic 100,000-resource plan (about 1 KB of
// values per resource in planned_values and again in resource_changes).
// go test ./internal/source/terraform -run '^$' -bench Parse -benchmem
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		data := syntheticPlan(n)
		b.Run(fmt.Sprintf("resources=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			// CPU time, unlike wall time, holds still on a shared machine.
			defer reportCPU(b)()
			for b.Loop() {
				est, err := Parse("synthetic.json", data)
				if err != nil {
					b.Fatal(err)
				}
				if len(est.Resources) == 0 {
					b.Fatal("no resources")
				}
			}
		})
	}
}

// BenchmarkStdlibDecode is the baseline Parse is measured against: decoding
// the same plan into map[string]any with encoding/json, mapping nothing.
func BenchmarkStdlibDecode(b *testing.B) {
	data := syntheticPlan(100_000)
	b.SetBytes(int64(len(data)))
	defer reportCPU(b)()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process's CPU time (user and system, all threads)
// per operation as cpu-ms/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
