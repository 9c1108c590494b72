package terraform

import "testing"

func TestOpenStackMappers(t *testing.T) { runMapperGolden(t, "openstack") }

// TestOpenStackPlan reads a plan with both the opentelekomcloud and the
// openstack provider end to end.
func TestOpenStackPlan(t *testing.T) {
	_, rs := parsePlan(t, "openstack.plan.json")
	checkPlanFacts(t, rs, []planFact{
		{address: "opentelekomcloud_obs_bucket.data", path: "encryption.at_rest.key_manager", want: "customer"},
		{address: "opentelekomcloud_obs_bucket.data", path: "public", want: false},
		{address: "opentelekomcloud_obs_bucket.data", path: "jurisdiction.country", want: "DE"},
		{address: "opentelekomcloud_kms_key_v1.obs", path: "protection", want: "software"},
		{address: "opentelekomcloud_vpc_v1.vpc", path: "flow_logs.enabled", want: true},
		{address: "opentelekomcloud_ecs_instance_v1.app", path: "encryption.at_rest.enabled", want: true},
		{address: "opentelekomcloud_ecs_instance_v1.app", path: "public_ip", want: true},
		{address: "opentelekomcloud_rds_instance_v3.db", path: "public", want: false},
		{address: "opentelekomcloud_rds_instance_v3.db", path: "high_availability", want: true},
		{address: "opentelekomcloud_identity_user_v3.ops", path: "console_access", want: true},
		{address: "openstack_compute_instance_v2.web", path: "encryption.at_rest.enabled", unknown: true},
		{address: "openstack_compute_instance_v2.web", path: "jurisdiction.country", want: ""},
	})
	web := must(rs["opentelekomcloud_networking_secgroup_v2.web"].Get("rules")).([]any)
	if len(web) != 2 || web[0].(map[string]any)["from_internet"] != true || web[1].(map[string]any)["from_internet"] != false {
		t.Errorf("opentelekomcloud_networking_secgroup_v2.web rules = %v, want https from the internet and ssh from the VPC", web)
	}
	// A rule without a remote, joined onto a group that keeps Neutron's
	// default egress rules, admits every IPv6 address.
	neutron := must(rs["openstack_networking_secgroup_v2.web"].Get("rules")).([]any)
	if len(neutron) != 3 || neutron[2].(map[string]any)["sources"].([]any)[0] != "::/0" {
		t.Errorf("openstack_networking_secgroup_v2.web rules = %v", neutron)
	}
}
