package inventory

import "strings"

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
//
// Locations that span several countries (Google Cloud's EU multi-region and
// dual-regions) have the properties every one of their countries has: a
// dual-region over Finland and the Netherlands is in the EU; one over
// Germany and Switzerland would not be. Region names are matched as written,
// then in lower case (bucket locations are often written EU, EUR4).
func LookupJurisdiction(provider, region string) (Jurisdiction, bool) {
	if region == "" {
		return Jurisdiction{}, false
	}
	for _, key := range []string{provider + "/" + region, provider + "/" + strings.ToLower(region)} {
		if cc, ok := regionCountry[key]; ok {
			return CountryJurisdiction(cc), true
		}
		if area, ok := multiCountry[key]; ok {
			return areaJurisdiction(area.label, area.countries), true
		}
	}
	return Jurisdiction{}, false
}

// area is a location spanning several countries.
type area struct {
	label     string
	countries []string
}

// multiCountry lists the multi-country locations, as Google Cloud Storage
// documents them. Multi-regions whose countries are not fixed (asia) stay
// unknown.
var multiCountry = map[string]area{
	"gcp/eu":    {"EU", euMemberList()},
	"gcp/eur4":  {"FI+NL", []string{"FI", "NL"}},
	"gcp/us":    {"US", []string{"US"}},
	"gcp/nam4":  {"US", []string{"US"}},
	"gcp/asia1": {"JP", []string{"JP"}},
}

func euMemberList() []string {
	out := make([]string, 0, len(euMembers))
	for cc := range euMembers {
		out = append(out, cc)
	}
	return out
}

// areaJurisdiction is what holds in every one of the countries.
func areaJurisdiction(label string, countries []string) Jurisdiction {
	j := Jurisdiction{Country: label, EU: true, EEA: true, Adequacy: true, Known: true}
	for _, cc := range countries {
		c := CountryJurisdiction(cc)
		j.EU = j.EU && c.EU
		j.EEA = j.EEA && c.EEA
		j.Adequacy = j.Adequacy && c.Adequacy
	}
	return j
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
