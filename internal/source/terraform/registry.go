package terraform

// providerNames maps a Terraform provider's short name to hoheit's provider.
var providerNames = map[string]string{
	"aws":              "aws",
	"azurerm":          "azure",
	"azuread":          "azure",
	"google":           "gcp",
	"google-beta":      "gcp",
	"openstack":        "openstack",
	"opentelekomcloud": "otc",
}

// registry gathers the mappers and joiners of every provider file. A native
// type in neither table is counted as unsupported.
func registry() (map[string]mapper, map[string]joiner) {
	ms := map[string]mapper{}
	js := map[string]joiner{}
	for _, t := range []map[string]mapper{awsMappers, azureMappers, googleMappers, openstackMappers} {
		for k, v := range t {
			ms[k] = v
		}
	}
	for _, t := range []map[string]joiner{awsJoiners, azureJoiners, googleJoiners, openstackJoiners} {
		for k, v := range t {
			js[k] = v
		}
	}
	return ms, js
}
