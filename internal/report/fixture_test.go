package report

import (
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/rules"
)

// fixedNow is the scan time of every golden file.
func fixedNow() time.Time { return time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC) }

func date(y int, m time.Month, d int) rules.Date {
	return rules.Date{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// sampleResult is a scan over five providers with every status: rules from
// the BSI C5, GDPR and baseline packs at every severity, a suppressed
// finding, an input that failed, unsupported types, an expired exception
// and a resource whose name tries to break every format.
func sampleResult() *rules.Result {
	ruleCrypto := &rules.Rule{
		ID:          "BSI-CRY-01",
		Title:       "Object storage is encrypted with a customer-managed key",
		Description: "Buckets holding official data are encrypted at rest with a key the authority controls (BYOK/HYOK), not only a provider-managed key.",
		Severity:    rules.High,
		Types:       []string{"object_storage.bucket"},
		Frameworks:  map[string][]string{"bsi-c5": {"CRY-03", "CRY-04"}, "gdpr": {"Art. 32(1)(a)"}},
		Remediation: rules.Remediation{Guidance: "Create a key in the KMS (or external key store) and set it as the bucket's default encryption key.", Action: "bucket.encrypt_cmk"},
		Pack:        "bsi-c5",
		File:        "policies/bsi-c5/crypto.yaml",
		Line:        3,
	}
	rulePublic := &rules.Rule{
		ID:          "BL-STORAGE-01",
		Title:       "Buckets are not publicly readable",
		Description: "No bucket can be read or listed anonymously from the internet.",
		Severity:    rules.Critical,
		Types:       []string{"object_storage.bucket"},
		Frameworks:  map[string][]string{"bsi-c5": {"COS-04"}, "gdpr": {"Art. 25(2)"}},
		Remediation: rules.Remediation{Guidance: "Remove public ACLs and policies and turn on the public access block."},
		Pack:        "baseline",
	}
	ruleResidency := &rules.Rule{
		ID:          "GDPR-RES-01",
		Title:       "Personal data stays in the EU/EEA",
		Description: "Resources holding personal data are placed in regions inside the EU or EEA.",
		Severity:    rules.High,
		Types:       []string{"compute.instance", "object_storage.bucket"},
		Frameworks:  map[string][]string{"gdpr": {"Art. 44"}, "bsi-c5": {"PSS-12"}},
		Remediation: rules.Remediation{Guidance: "Move the workload to an EU region (e.g. europe-west3, Frankfurt)."},
		Pack:        "gdpr",
	}
	ruleLogging := &rules.Rule{
		ID:          "BSI-OPS-15",
		Title:       "Access logging is enabled",
		Severity:    rules.Medium,
		Types:       []string{"object_storage.bucket", "kubernetes.workload"},
		Frameworks:  map[string][]string{"bsi-c5": {"OPS-15"}},
		Remediation: rules.Remediation{Guidance: "Turn on server access logging to a separate log bucket."},
		Pack:        "bsi-c5",
	}
	ruleConfidential := &rules.Rule{
		ID:          "BSI-CC-01",
		Title:       "Virtual machines use confidential computing",
		Severity:    rules.Low,
		Types:       []string{"compute.instance"},
		Frameworks:  map[string][]string{"bsi-c5": {"OPS-02"}},
		Remediation: rules.Remediation{Guidance: "Use an SEV-SNP or TDX machine type."},
		Pack:        "bsi-c5",
	}
	ruleCustom := &rules.Rule{
		ID:       "ORG-TAG-01",
		Title:    "Resources name their data owner",
		Severity: rules.Low,
		Types:    []string{"compute.instance"},
		Pack:     "",
	}
	ruleVersioning := &rules.Rule{
		ID:         "BSI-OPS-06",
		Title:      "Bucket versioning is enabled",
		Severity:   rules.Medium,
		Types:      []string{"object_storage.bucket"},
		Frameworks: map[string][]string{"bsi-c5": {"OPS-06"}},
		Pack:       "bsi-c5",
	}

	awsBucket := &inventory.Resource{
		Provider: "aws", Account: "123456789012", Region: "eu-central-1",
		Type: "object_storage.bucket", NativeType: "aws_s3_bucket",
		ID: "arn:aws:s3:::bund-public-assets", Address: "aws_s3_bucket.public_assets", Name: "bund-public-assets",
		Source: inventory.Location{File: "infra/aws/storage.tf", Line: 12},
	}
	azureAccount := &inventory.Resource{
		Provider: "azure", Account: "0b1f6471-1bf0-4dda-aec3-cb9272f09590", Region: "germanywestcentral",
		Type: "object_storage.bucket", NativeType: "azurerm_storage_account",
		ID: "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/web/providers/Microsoft.Storage/storageAccounts/bundweb", Address: "azurerm_storage_account.web", Name: "bundweb",
		Source: inventory.Location{File: "infra/azure/web.tf", Line: 40},
	}
	otcBucket := &inventory.Resource{
		Provider: "otc", Account: "eu-de_bund", Region: "eu-de",
		Type: "object_storage.bucket", NativeType: "obs_bucket",
		ID: "obs-akten-archiv", Name: "akten-archiv",
		Source: inventory.Location{File: "snapshots/otc.json", Path: "$.resources[3]"},
	}
	gcpVM := &inventory.Resource{
		Provider: "gcp", Account: "bund-analytics", Region: "us-central1",
		Type: "compute.instance", NativeType: "compute.googleapis.com/Instance",
		ID: "projects/bund-analytics/zones/us-central1-a/instances/etl-1", Name: "etl-1",
	}
	k8sWorkload := &inventory.Resource{
		Provider: "kubernetes", Account: "prod-cluster", Region: "",
		Type: "kubernetes.workload", NativeType: "apps/v1/Deployment",
		ID: "fachverfahren/Deployment/antrag-api", Name: "antrag-api",
		Source: inventory.Location{File: "deploy/antrag-api.yaml", Line: 1},
	}
	awsVM := &inventory.Resource{
		Provider: "aws", Account: "123456789012", Region: "eu-central-1",
		Type: "compute.instance", NativeType: "aws_instance",
		Address: "module.app.aws_instance.worker[0]",
		Source:  inventory.Location{File: "infra/aws/app.tf", Line: 7},
	}
	hostile := &inventory.Resource{
		Provider: "aws", Account: "123456789012", Region: "eu-central-1",
		Type: "object_storage.bucket", NativeType: "aws_s3_bucket",
		ID:      "=HYPERLINK(\"http://evil.example\",\"x\")",
		Address: "aws_s3_bucket.logs[\"a,b\"]",
		Name:    "<script>alert(1)</script>\x1b[31m\"quoted\"\nnext line",
		Source:  inventory.Location{File: "infra/aws/storage.tf", Line: 31},
	}

	estate := &inventory.Estate{
		Resources: []*inventory.Resource{awsBucket, azureAccount, otcBucket, gcpVM, k8sWorkload, awsVM, hostile},
		Inputs: []inventory.Input{
			{Path: "plan.json", Kind: "terraform-plan", Resources: 4},
			{Path: "snapshots/otc.json", Kind: "snapshot", Resources: 1},
			{Path: "deploy/", Kind: "kubernetes", Resources: 1},
			{Path: "snapshots/broken.json", Kind: "snapshot", Error: "parsing JSON: unexpected end of input at line 1, column 1: check the file is complete"},
		},
		Unsupported: []inventory.Unsupported{
			{Provider: "azure", NativeType: "azurerm_logic_app_workflow", Count: 1, Examples: []string{"azurerm_logic_app_workflow.intake"}},
			{Provider: "aws", NativeType: "aws_lambda_function", Count: 3, Examples: []string{"aws_lambda_function.a", "aws_lambda_function.b", "aws_lambda_function.c"}},
		},
	}

	estate.Finalize()
	return &rules.Result{
		Estate: estate,
		Rules:  []*rules.Rule{ruleVersioning, ruleConfidential, ruleLogging, ruleResidency, rulePublic, ruleCrypto, ruleCustom},
		// Deliberately unsorted: the report sorts.
		Findings: []rules.Finding{
			{Rule: ruleLogging, Resource: hostile, Status: rules.Fail, Evidence: rules.EvidenceOf(map[string]any{"logging.enabled": false})},
			{Rule: ruleConfidential, Resource: awsVM, Status: rules.Unknown, Message: "depends on confidential_computing, known only after apply"},
			{Rule: rulePublic, Resource: azureAccount, Status: rules.Suppressed, Evidence: rules.EvidenceOf(map[string]any{"public": true}),
				Exception: &rules.Exception{
					Rule: "BL-STORAGE-01", Resources: rules.Selector{ID: "azurerm_storage_account.web"},
					Justification: "Public website assets (Bürgerportal), approved by the CISO in ticket SEC-1234",
					Owner:         "web-team@bund.example", Expires: date(2027, time.March, 31),
					File: "exceptions.yaml", Line: 7,
				}},
			{Rule: ruleCrypto, Resource: otcBucket, Status: rules.Fail, Evidence: rules.EvidenceOf(map[string]any{"encryption.at_rest.enabled": true, "encryption.at_rest.key_manager": "provider"})},
			{Rule: rulePublic, Resource: awsBucket, Status: rules.Fail, Evidence: rules.EvidenceOf(map[string]any{"public": true, "public_access_block": false})},
			{Rule: ruleResidency, Resource: gcpVM, Status: rules.Fail, Evidence: rules.EvidenceOf(map[string]any{"region": "us-central1", "jurisdiction.eu": false, "jurisdiction.country": "US"})},
			{Rule: ruleLogging, Resource: k8sWorkload, Status: rules.Error, Message: "no such key: logging (the kubernetes.workload schema has no logging field)"},
			{Rule: ruleCustom, Resource: gcpVM, Status: rules.Fail, Evidence: rules.EvidenceOf(map[string]any{"tags.owner": nil})},
			{Rule: ruleCrypto, Resource: awsBucket, Status: rules.Fail, Evidence: rules.EvidenceOf(map[string]any{"encryption.at_rest.enabled": true, "encryption.at_rest.key_manager": "provider"})},
		},
		Checks: 43,
		Passed: 34,
		ExpiredExceptions: []*rules.Exception{{
			Rule: "BSI-OPS-06", Resources: rules.Selector{Provider: "otc", Account: "eu-de_bund"},
			Justification: "Versioning not available on the legacy OBS tier",
			Owner:         "platform@bund.example", Expires: date(2026, time.June, 30),
			File: "exceptions.yaml", Line: 19,
		}},
	}
}

// emptyResult is a clean scan: rules, resources, no findings.
func emptyResult() *rules.Result {
	r := &rules.Rule{ID: "BSI-CRY-01", Title: "Object storage is encrypted with a customer-managed key", Severity: rules.High,
		Frameworks: map[string][]string{"bsi-c5": {"CRY-03"}}, Pack: "bsi-c5"}
	return &rules.Result{
		Estate: &inventory.Estate{
			Resources: []*inventory.Resource{{Provider: "aws", Type: "object_storage.bucket", NativeType: "aws_s3_bucket", ID: "b"}},
			Inputs:    []inventory.Input{{Path: "plan.json", Kind: "terraform-plan", Resources: 1}},
		},
		Rules:  []*rules.Rule{r},
		Checks: 1,
		Passed: 1,
	}
}
