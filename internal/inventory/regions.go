package inventory

// regionCountry maps "provider/region" to the ISO 3166-1 alpha-2 code of the
// country the region's data centres are in. It lists every public region of
// AWS (with GovCloud, the ISO regions, China and the European Sovereign
// Cloud), Azure (with the government, China and canary regions) and Google
// Cloud, and the regions of the OpenStack-based clouds Open Telekom Cloud
// (otc), STACKIT and IONOS. Regions of a plain OpenStack cloud are
// site-specific (RegionOne) and stay unknown; so do multi-region locations
// such as Cloud Storage's EU or NAM4, which span several countries.
//
// Keep the table sorted by key, one region a line.
var regionCountry = map[string]string{
	"aws/af-south-1":              "ZA", // Cape Town
	"aws/ap-east-1":               "HK", // Hong Kong
	"aws/ap-east-2":               "TW", // Taipei
	"aws/ap-northeast-1":          "JP", // Tokyo
	"aws/ap-northeast-2":          "KR", // Seoul
	"aws/ap-northeast-3":          "JP", // Osaka
	"aws/ap-south-1":              "IN", // Mumbai
	"aws/ap-south-2":              "IN", // Hyderabad
	"aws/ap-southeast-1":          "SG", // Singapore
	"aws/ap-southeast-2":          "AU", // Sydney
	"aws/ap-southeast-3":          "ID", // Jakarta
	"aws/ap-southeast-4":          "AU", // Melbourne
	"aws/ap-southeast-5":          "MY", // Malaysia
	"aws/ap-southeast-6":          "NZ", // Auckland
	"aws/ap-southeast-7":          "TH", // Thailand
	"aws/ca-central-1":            "CA", // Canada (Central)
	"aws/ca-west-1":               "CA", // Calgary
	"aws/cn-north-1":              "CN", // Beijing
	"aws/cn-northwest-1":          "CN", // Ningxia
	"aws/eu-central-1":            "DE", // Frankfurt
	"aws/eu-central-2":            "CH", // Zurich
	"aws/eu-north-1":              "SE", // Stockholm
	"aws/eu-south-1":              "IT", // Milan
	"aws/eu-south-2":              "ES", // Spain
	"aws/eu-west-1":               "IE", // Ireland
	"aws/eu-west-2":               "GB", // London
	"aws/eu-west-3":               "FR", // Paris
	"aws/eusc-de-east-1":          "DE", // European Sovereign Cloud, Brandenburg
	"aws/il-central-1":            "IL", // Tel Aviv
	"aws/me-central-1":            "AE", // UAE
	"aws/me-south-1":              "BH", // Bahrain
	"aws/mx-central-1":            "MX", // Mexico (Central)
	"aws/sa-east-1":               "BR", // Sao Paulo
	"aws/us-east-1":               "US", // N. Virginia
	"aws/us-east-2":               "US", // Ohio
	"aws/us-gov-east-1":           "US", // GovCloud (US-East)
	"aws/us-gov-west-1":           "US", // GovCloud (US-West)
	"aws/us-iso-east-1":           "US", // ISO East
	"aws/us-iso-west-1":           "US", // ISO West
	"aws/us-isob-east-1":          "US", // ISOB East
	"aws/us-isof-east-1":          "US", // ISOF East
	"aws/us-isof-south-1":         "US", // ISOF South
	"aws/us-west-1":               "US", // N. California
	"aws/us-west-2":               "US", // Oregon
	"azure/australiacentral":      "AU", // Canberra
	"azure/australiacentral2":     "AU", // Canberra
	"azure/australiaeast":         "AU", // New South Wales
	"azure/australiasoutheast":    "AU", // Victoria
	"azure/austriaeast":           "AT", // Vienna
	"azure/belgiumcentral":        "BE", // Brussels
	"azure/brazilsouth":           "BR", // Sao Paulo
	"azure/brazilsoutheast":       "BR", // Rio de Janeiro
	"azure/canadacentral":         "CA", // Toronto
	"azure/canadaeast":            "CA", // Quebec
	"azure/centralindia":          "IN", // Pune
	"azure/centralus":             "US", // Iowa
	"azure/centraluseuap":         "US", // Iowa (canary)
	"azure/chilecentral":          "CL", // Santiago
	"azure/chinaeast":             "CN", // Shanghai
	"azure/chinaeast2":            "CN", // Shanghai
	"azure/chinaeast3":            "CN", // Shanghai
	"azure/chinanorth":            "CN", // Beijing
	"azure/chinanorth2":           "CN", // Beijing
	"azure/chinanorth3":           "CN", // Hebei
	"azure/denmarkeast":           "DK", // Copenhagen
	"azure/eastasia":              "HK", // Hong Kong
	"azure/eastus":                "US", // Virginia
	"azure/eastus2":               "US", // Virginia
	"azure/eastus2euap":           "US", // Virginia (canary)
	"azure/eastusstg":             "US", // Virginia (stage)
	"azure/francecentral":         "FR", // Paris
	"azure/francesouth":           "FR", // Marseille
	"azure/germanycentral":        "DE", // Frankfurt (Microsoft Cloud Deutschland)
	"azure/germanynorth":          "DE", // Berlin
	"azure/germanynortheast":      "DE", // Magdeburg (Microsoft Cloud Deutschland)
	"azure/germanywestcentral":    "DE", // Frankfurt
	"azure/indonesiacentral":      "ID", // Jakarta
	"azure/israelcentral":         "IL", // Israel
	"azure/italynorth":            "IT", // Milan
	"azure/japaneast":             "JP", // Tokyo
	"azure/japanwest":             "JP", // Osaka
	"azure/jioindiacentral":       "IN", // Nagpur
	"azure/jioindiawest":          "IN", // Jamnagar
	"azure/koreacentral":          "KR", // Seoul
	"azure/koreasouth":            "KR", // Busan
	"azure/malaysiawest":          "MY", // Kuala Lumpur
	"azure/mexicocentral":         "MX", // Queretaro
	"azure/newzealandnorth":       "NZ", // Auckland
	"azure/northcentralus":        "US", // Illinois
	"azure/northeurope":           "IE", // Ireland
	"azure/norwayeast":            "NO", // Oslo
	"azure/norwaywest":            "NO", // Stavanger
	"azure/polandcentral":         "PL", // Warsaw
	"azure/qatarcentral":          "QA", // Doha
	"azure/southafricanorth":      "ZA", // Johannesburg
	"azure/southafricawest":       "ZA", // Cape Town
	"azure/southcentralus":        "US", // Texas
	"azure/southcentralusstg":     "US", // Texas (stage)
	"azure/southeastasia":         "SG", // Singapore
	"azure/southindia":            "IN", // Chennai
	"azure/spaincentral":          "ES", // Madrid
	"azure/swedencentral":         "SE", // Gavle
	"azure/swedensouth":           "SE", // Malmo
	"azure/switzerlandnorth":      "CH", // Zurich
	"azure/switzerlandwest":       "CH", // Geneva
	"azure/taiwannorth":           "TW", // Taipei
	"azure/taiwannorthwest":       "TW", // Taichung
	"azure/uaecentral":            "AE", // Abu Dhabi
	"azure/uaenorth":              "AE", // Dubai
	"azure/uksouth":               "GB", // London
	"azure/ukwest":                "GB", // Cardiff
	"azure/usdodcentral":          "US", // DoD Central
	"azure/usdodeast":             "US", // DoD East
	"azure/usgovarizona":          "US", // US Gov Arizona
	"azure/usgoviowa":             "US", // US Gov Iowa
	"azure/usgovtexas":            "US", // US Gov Texas
	"azure/usgovvirginia":         "US", // US Gov Virginia
	"azure/westcentralus":         "US", // Wyoming
	"azure/westeurope":            "NL", // Netherlands
	"azure/westindia":             "IN", // Mumbai
	"azure/westus":                "US", // California
	"azure/westus2":               "US", // Washington
	"azure/westus3":               "US", // Phoenix
	"gcp/africa-south1":           "ZA", // Johannesburg
	"gcp/asia-east1":              "TW", // Changhua County
	"gcp/asia-east2":              "HK", // Hong Kong
	"gcp/asia-northeast1":         "JP", // Tokyo
	"gcp/asia-northeast2":         "JP", // Osaka
	"gcp/asia-northeast3":         "KR", // Seoul
	"gcp/asia-south1":             "IN", // Mumbai
	"gcp/asia-south2":             "IN", // Delhi
	"gcp/asia-southeast1":         "SG", // Singapore
	"gcp/asia-southeast2":         "ID", // Jakarta
	"gcp/asia-southeast3":         "TH", // Bangkok
	"gcp/australia-southeast1":    "AU", // Sydney
	"gcp/australia-southeast2":    "AU", // Melbourne
	"gcp/europe-central2":         "PL", // Warsaw
	"gcp/europe-north1":           "FI", // Hamina
	"gcp/europe-north2":           "SE", // Stockholm
	"gcp/europe-southwest1":       "ES", // Madrid
	"gcp/europe-west1":            "BE", // St. Ghislain
	"gcp/europe-west10":           "DE", // Berlin
	"gcp/europe-west12":           "IT", // Turin
	"gcp/europe-west2":            "GB", // London
	"gcp/europe-west3":            "DE", // Frankfurt
	"gcp/europe-west4":            "NL", // Eemshaven
	"gcp/europe-west6":            "CH", // Zurich
	"gcp/europe-west8":            "IT", // Milan
	"gcp/europe-west9":            "FR", // Paris
	"gcp/me-central1":             "QA", // Doha
	"gcp/me-central2":             "SA", // Dammam
	"gcp/me-west1":                "IL", // Tel Aviv
	"gcp/northamerica-northeast1": "CA", // Montreal
	"gcp/northamerica-northeast2": "CA", // Toronto
	"gcp/northamerica-south1":     "MX", // Queretaro
	"gcp/southamerica-east1":      "BR", // Sao Paulo
	"gcp/southamerica-west1":      "CL", // Santiago
	"gcp/us-central1":             "US", // Iowa
	"gcp/us-east1":                "US", // South Carolina
	"gcp/us-east4":                "US", // Northern Virginia
	"gcp/us-east5":                "US", // Columbus
	"gcp/us-south1":               "US", // Dallas
	"gcp/us-west1":                "US", // Oregon
	"gcp/us-west2":                "US", // Los Angeles
	"gcp/us-west3":                "US", // Salt Lake City
	"gcp/us-west4":                "US", // Las Vegas
	"ionos/de/fra":                "DE", // Frankfurt
	"ionos/de/fra/2":              "DE", // Frankfurt
	"ionos/de/txl":                "DE", // Berlin
	"ionos/es/vit":                "ES", // Logrono
	"ionos/fr/par":                "FR", // Paris
	"ionos/gb/bhx":                "GB", // Worcester
	"ionos/gb/lhr":                "GB", // London
	"ionos/us/ewr":                "US", // Newark
	"ionos/us/las":                "US", // Las Vegas
	"ionos/us/mci":                "US", // Kansas City
	"otc/eu-ch2":                  "CH", // Swiss Open Telekom Cloud
	"otc/eu-de":                   "DE", // Magdeburg/Biere
	"otc/eu-nl":                   "NL", // Amsterdam
	"stackit/eu01":                "DE", // Heilbronn area
	"stackit/eu02":                "AT", // Austria
}
