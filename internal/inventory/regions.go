package inventory

// regionCountry maps "provider/region" to an ISO 3166-1 alpha-2 country code.
var regionCountry = map[string]string{
	"aws/eu-central-1": "DE", "aws/us-east-1": "US",
	"azure/germanywestcentral": "DE", "azure/eastus": "US",
	"gcp/europe-west3": "DE", "gcp/us-central1": "US",
	"otc/eu-de": "DE", "otc/eu-nl": "NL",
}
