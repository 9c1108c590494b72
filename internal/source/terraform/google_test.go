package terraform

import "testing"

func TestGoogleMappers(t *testing.T) { runMapperGolden(t, "google") }

// TestGooglePlan reads a google plan end to end.
func TestGooglePlan(t *testing.T) {
	_, rs := parsePlan(t, "google.plan.json")
	checkPlanFacts(t, rs, []planFact{
		{address: "google_storage_bucket.data", path: "public", want: true},
		{address: "google_storage_bucket.data", path: "encryption.at_rest.key_manager", want: "customer"},
		{address: "google_storage_bucket.data", path: "jurisdiction.country", want: "DE"},
		{address: "google_compute_network.vpc", path: "cidrs", want: []any{"10.30.0.0/20"}},
		{address: "google_compute_network.vpc", path: "flow_logs.enabled", want: true},
		{address: "google_compute_network.vpc", path: "region", want: "global"},
		{address: "google_compute_firewall.ssh", path: "rules", want: []any{map[string]any{
			"direction": "ingress", "action": "allow", "protocol": "tcp", "port_from": int64(22), "port_to": int64(22),
			"sources": []any{"0.0.0.0/0"}, "destinations": []any{}, "from_internet": true, "priority": int64(1000),
		}}},
		{address: "google_compute_instance.vm", path: "confidential_computing", want: "sev-snp"},
		{address: "google_compute_instance.vm", path: "public_ip", want: true},
		{address: "google_compute_instance.vm", path: "identity.default_service_account", want: false},
		{address: "google_compute_instance.vm", path: "identity.principal", unknown: true},
		{address: "google_service_account.vm", path: "static_keys", want: int64(1)},
		{address: "google_sql_database_instance.db", path: "encryption.in_transit.enforced", want: true},
		{address: "google_sql_database_instance.db", path: "region", want: "europe-west3"},
		{address: "google_project_iam_audit_config.all", path: "data_events", want: true},
	})
}
