package inventory

import "testing"

func TestLookupJurisdiction(t *testing.T) {
	tests := []struct {
		provider, region string
		want             Jurisdiction
		ok               bool
	}{
		{"aws", "eu-central-1", Jurisdiction{Country: "DE", EU: true, EEA: true, Adequacy: true, Known: true}, true},
		{"aws", "us-east-1", Jurisdiction{Country: "US", Known: true}, true},
		{"gcp", "EU", Jurisdiction{Country: "EU", EU: true, EEA: true, Adequacy: true, Known: true}, true},
		{"gcp", "EUR4", Jurisdiction{Country: "FI+NL", EU: true, EEA: true, Adequacy: true, Known: true}, true},
		{"gcp", "nam4", Jurisdiction{Country: "US", Known: true}, true},
		{"gcp", "asia", Jurisdiction{}, false},
		{"openstack", "RegionOne", Jurisdiction{}, false},
		{"aws", "", Jurisdiction{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.region, func(t *testing.T) {
			got, ok := LookupJurisdiction(tt.provider, tt.region)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	// A mixed area has only what every country has.
	if j := areaJurisdiction("DE+CH", []string{"DE", "CH"}); j.EU || j.EEA || !j.Adequacy {
		t.Errorf("DE+CH = %+v, want not EU, not EEA, adequacy", j)
	}
}
