package inventory

// Jurisdiction says where a region is, for data-residency rules.
type Jurisdiction struct {
	Country  string `json:"country,omitempty"`
	EU       bool   `json:"eu"`
	EEA      bool   `json:"eea"`
	Adequacy bool   `json:"adequacy"`
	Known    bool   `json:"known"`
}

func (j Jurisdiction) value() map[string]any {
	return map[string]any{"country": j.Country, "eu": j.EU, "eea": j.EEA, "adequacy": j.Adequacy, "known": j.Known}
}

// LookupJurisdiction finds the region in the region table. Providers built on
// OpenStack (otc, openstack) share one table keyed by region name.
func LookupJurisdiction(provider, region string) (Jurisdiction, bool) {
	if region == "" {
		return Jurisdiction{}, false
	}
	cc, ok := regionCountry[provider+"/"+region]
	if !ok {
		return Jurisdiction{}, false
	}
	return CountryJurisdiction(cc), true
}

// CountryJurisdiction builds the jurisdiction of an ISO country code.
func CountryJurisdiction(cc string) Jurisdiction {
	eu := euMembers[cc]
	eea := eu || cc == "NO" || cc == "IS" || cc == "LI"
	return Jurisdiction{Country: cc, EU: eu, EEA: eea, Adequacy: eea || adequacyDecisions[cc], Known: true}
}

var euMembers = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true,
	"FI": true, "FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true,
	"LT": true, "LU": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true,
	"SI": true, "ES": true, "SE": true,
}

// adequacyDecisions are the countries with an EU adequacy decision under GDPR
// Art. 45 (as of 2026). The US decision covers only certified organisations
// (EU-US Data Privacy Framework) and so is not counted for a whole region.
var adequacyDecisions = map[string]bool{
	"AD": true, "AR": true, "CA": true, "FO": true, "GG": true, "IL": true, "IM": true, "JP": true,
	"JE": true, "NZ": true, "KR": true, "CH": true, "GB": true, "UY": true,
}
