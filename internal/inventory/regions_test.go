package inventory

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestLookupJurisdictionRegions(t *testing.T) {
	tests := []struct {
		provider, region  string
		country           string
		eu, eea, adequacy bool
	}{
		{"aws", "eu-central-1", "DE", true, true, true},
		{"aws", "eusc-de-east-1", "DE", true, true, true},
		{"aws", "eu-north-1", "SE", true, true, true},
		{"aws", "eu-west-2", "GB", false, false, true},
		{"aws", "eu-central-2", "CH", false, false, true},
		{"aws", "us-east-1", "US", false, false, false},
		{"aws", "us-gov-west-1", "US", false, false, false},
		{"aws", "ap-northeast-1", "JP", false, false, true},
		{"aws", "cn-north-1", "CN", false, false, false},
		{"azure", "germanywestcentral", "DE", true, true, true},
		{"azure", "germanynorth", "DE", true, true, true},
		{"azure", "westeurope", "NL", true, true, true},
		{"azure", "northeurope", "IE", true, true, true},
		{"azure", "norwayeast", "NO", false, true, true},
		{"azure", "switzerlandnorth", "CH", false, false, true},
		{"azure", "israelcentral", "IL", false, false, true},
		{"azure", "eastus", "US", false, false, false},
		{"azure", "usgovvirginia", "US", false, false, false},
		{"gcp", "europe-west3", "DE", true, true, true},
		{"gcp", "europe-west10", "DE", true, true, true},
		{"gcp", "europe-north1", "FI", true, true, true},
		{"gcp", "europe-west1", "BE", true, true, true},
		{"gcp", "europe-west2", "GB", false, false, true},
		{"gcp", "me-west1", "IL", false, false, true},
		{"gcp", "us-central1", "US", false, false, false},
		{"gcp", "asia-south1", "IN", false, false, false},
		{"otc", "eu-de", "DE", true, true, true},
		{"otc", "eu-nl", "NL", true, true, true},
		{"otc", "eu-ch2", "CH", false, false, true},
		{"stackit", "eu01", "DE", true, true, true},
		{"stackit", "eu02", "AT", true, true, true},
		{"ionos", "de/fra", "DE", true, true, true},
		{"ionos", "de/fra/2", "DE", true, true, true},
		{"ionos", "de/txl", "DE", true, true, true},
		{"ionos", "es/vit", "ES", true, true, true},
		{"ionos", "gb/lhr", "GB", false, false, true},
		{"ionos", "us/las", "US", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.region, func(t *testing.T) {
			j, ok := LookupJurisdiction(tt.provider, tt.region)
			if !ok || !j.Known {
				t.Fatalf("LookupJurisdiction(%q, %q) found nothing", tt.provider, tt.region)
			}
			want := Jurisdiction{Country: tt.country, EU: tt.eu, EEA: tt.eea, Adequacy: tt.adequacy, Known: true}
			if j != want {
				t.Errorf("got %+v, want %+v", j, want)
			}
		})
	}
}

func TestLookupJurisdictionUnknown(t *testing.T) {
	for _, pr := range [][2]string{
		{"openstack", "RegionOne"}, // site-specific
		{"openstack", "eu-de"},     // only otc/eu-de is Open Telekom Cloud
		{"gcp", "asia"},            // a multi-region over countries not fixed (see jurisdiction_test.go for eu, eur4)
		{"gcp", "eur9"},
		{"aws", ""},
		{"aws", "eu-central-9"},
		{"", "eu-central-1"},
	} {
		if j, ok := LookupJurisdiction(pr[0], pr[1]); ok || j.Known {
			t.Errorf("LookupJurisdiction(%q, %q) = %+v, want unknown", pr[0], pr[1], j)
		}
	}
}

// TestRegionTableShape checks every entry: a known provider, a region in
// that provider's spelling, an ISO country code; and enough regions per
// cloud that a missing block would show.
func TestRegionTableShape(t *testing.T) {
	spelling := map[string]*regexp.Regexp{
		"aws":     regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-\d$`),
		"azure":   regexp.MustCompile(`^[a-z]+\d?[a-z]*$`),
		"gcp":     regexp.MustCompile(`^[a-z]+-[a-z]+\d+$`),
		"otc":     regexp.MustCompile(`^eu-[a-z]+\d?$`),
		"stackit": regexp.MustCompile(`^eu\d\d$`),
		"ionos":   regexp.MustCompile(`^[a-z]{2}/[a-z]{3}(/\d)?$`),
	}
	country := regexp.MustCompile(`^[A-Z]{2}$`)
	count := map[string]int{}
	for key, cc := range regionCountry {
		provider, region, _ := strings.Cut(key, "/")
		re, ok := spelling[provider]
		if !ok {
			t.Errorf("%s: unknown provider %q", key, provider)
			continue
		}
		if !re.MatchString(region) {
			t.Errorf("%s: region %q is not spelt as %s spells regions", key, region, provider)
		}
		if !country.MatchString(cc) {
			t.Errorf("%s: %q is not an ISO 3166-1 alpha-2 code", key, cc)
		}
		count[provider]++
	}
	for provider, min := range map[string]int{"aws": 35, "azure": 60, "gcp": 40, "otc": 3, "stackit": 2, "ionos": 10} {
		if count[provider] < min {
			t.Errorf("%s has %d regions, want at least %d", provider, count[provider], min)
		}
	}
}

// TestRegionTableSorted keeps regions.go a sorted table a reviewer can
// scan.
func TestRegionTableSorted(t *testing.T) {
	data, err := os.ReadFile("regions.go")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`(?m)^\t"([^"]+)":`)
	var keys []string
	for _, m := range key.FindAllStringSubmatch(string(data), -1) {
		keys = append(keys, m[1])
	}
	if len(keys) != len(regionCountry) {
		t.Fatalf("found %d lines with a key, the table has %d entries: keep one region a line", len(keys), len(regionCountry))
	}
	if !sort.StringsAreSorted(keys) {
		for i := 1; i < len(keys); i++ {
			if keys[i-1] > keys[i] {
				t.Fatalf("regions.go is not sorted: %q comes before %q", keys[i-1], keys[i])
			}
		}
	}
}
