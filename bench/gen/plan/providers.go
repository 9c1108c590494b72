package plan

import "strings"

// Provider configurations: the default region of each provider and one
// aliased AWS provider outside the EU, so that some resources land in a
// foreign jurisdiction.
const (
	awsRegion    = "eu-central-1"
	awsUSRegion  = "us-east-1"
	googleRegion = "europe-west3"
	otcRegion    = "eu-de"
)

// providerName returns the provider's registry address for a provider
// configuration key ("aws", "aws.us").
func providerName(key string) string {
	name, _, _ := strings.Cut(key, ".")
	if name == "opentelekomcloud" {
		return "registry.terraform.io/opentelekomcloud/opentelekomcloud"
	}
	return "registry.terraform.io/hashicorp/" + name
}

func constant(v any) map[string]any { return map[string]any{"constant_value": v} }

func providerConfig() map[string]any {
	return map[string]any{
		"aws": map[string]any{
			"name": "aws", "full_name": providerName("aws"), "version_constraint": "~> 5.80",
			"expressions": map[string]any{"region": constant(awsRegion)},
		},
		"aws.us": map[string]any{
			"name": "aws", "full_name": providerName("aws"), "alias": "us",
			"expressions": map[string]any{"region": constant(awsUSRegion)},
		},
		"azurerm": map[string]any{
			"name": "azurerm", "full_name": providerName("azurerm"), "version_constraint": "~> 4.14",
			"expressions": map[string]any{
				"features":        []any{map[string]any{}},
				"subscription_id": map[string]any{"references": []string{"var.azure_subscription_id"}},
			},
		},
		"google": map[string]any{
			"name": "google", "full_name": providerName("google"), "version_constraint": "~> 6.14",
			"expressions": map[string]any{
				"project": map[string]any{"references": []string{"var.gcp_project"}},
				"region":  constant(googleRegion),
			},
		},
		"opentelekomcloud": map[string]any{
			"name": "opentelekomcloud", "full_name": providerName("opentelekomcloud"), "version_constraint": "~> 1.36",
			"expressions": map[string]any{
				"auth_url":    constant("https://iam.eu-de.otc.t-systems.com/v3"),
				"region":      constant(otcRegion),
				"tenant_name": constant("eu-de_hoheit"),
			},
		},
	}
}

// The input variables of the configuration and their values in the plan.
var variables = []struct{ name, desc, value string }{
	{"azure_subscription_id", "Azure subscription to deploy into", "00000000-0000-4000-8000-000000000001"},
	{"resource_group_name", "Azure resource group of the workload", "rg-hoheit-bench"},
	{"gcp_project", "Google Cloud project of the workload", "hoheit-bench"},
	{"subnet_id", "AWS subnet for instances and databases", "subnet-0a1b2c3d4e5f60718"},
	{"db_password", "master password of the databases", "correct-horse-battery-staple"},
	{"ssh_public_key", "administrator SSH key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0bench0key0for0hoheit0plans0000000000 admin@example.org"},
	{"otc_vpc_id", "Open Telekom Cloud VPC of the workload", "8eed4fc7-e5e5-44a2-b5f2-23b3e5d46235"},
	{"otc_subnet_id", "Open Telekom Cloud network (subnet) id", "55534eaa-533a-419d-9b40-ec427ea7195a"},
	{"azure_subnet_id", "Azure subnet for network interfaces and databases", "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-hoheit-bench/providers/Microsoft.Network/virtualNetworks/vnet-hub/subnets/workload"},
	{"key_vault_id", "Azure Key Vault holding the customer-managed keys", "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-hoheit-bench/providers/Microsoft.KeyVault/vaults/kv-hoheit-bench"},
}

// variable returns the plan's value of an input variable.
func variable(name string) string {
	for _, v := range variables {
		if v.name == name {
			return v.value
		}
	}
	panic("plan: no variable " + name)
}

// varRef is the reference list of an expression that reads a variable.
func varRef(name string) []string { return []string{"var." + name} }

func planVariables() map[string]any {
	m := map[string]any{}
	for _, v := range variables {
		m[v.name] = map[string]any{"value": v.value}
	}
	return m
}

func configVariables() map[string]any {
	m := map[string]any{}
	for _, v := range variables {
		e := map[string]any{"description": v.desc}
		if v.name == "db_password" {
			e["sensitive"] = true
		}
		m[v.name] = e
	}
	return m
}
