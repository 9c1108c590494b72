package report

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// OCSF 1.3.0, Findings category, Compliance Finding class, activity Create.
const (
	ocsfVersion      = "1.3.0"
	ocsfCategoryUID  = 2
	ocsfClassUID     = 2003
	ocsfActivityID   = 1
	ocsfTypeUID      = ocsfClassUID*100 + ocsfActivityID
	ocsfCategoryName = "Findings"
	ocsfClassName    = "Compliance Finding"
	ocsfActivityName = "Create"
)

// ocsfSeverity maps a severity to OCSF severity_id (0 Unknown, 1
// Informational, 2 Low, 3 Medium, 4 High, 5 Critical).
var ocsfSeverity = map[string]struct {
	id   int
	name string
}{
	"low":      {2, "Low"},
	"medium":   {3, "Medium"},
	"high":     {4, "High"},
	"critical": {5, "Critical"},
}

// ocsfProviders are the names OCSF's examples use for cloud.provider.
var ocsfProviders = map[string]string{
	"aws":        "AWS",
	"azure":      "Azure",
	"gcp":        "GCP",
	"otc":        "Open Telekom Cloud",
	"openstack":  "OpenStack",
	"kubernetes": "Kubernetes",
}

type ocsfEvent struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	StatusDetail string `json:"status_detail,omitempty"`
	// Time is the scan time in milliseconds since the epoch (OCSF
	// timestamp_t).
	Time        int64            `json:"time"`
	Message     string           `json:"message"`
	Metadata    ocsfMetadata     `json:"metadata"`
	FindingInfo ocsfFindingInfo  `json:"finding_info"`
	Compliance  ocsfCompliance   `json:"compliance"`
	Remediation *ocsfRemediation `json:"remediation,omitempty"`
	Resources   []ocsfResource   `json:"resources"`
	Cloud       ocsfCloud        `json:"cloud"`
	Unmapped    map[string]any   `json:"unmapped,omitempty"`
}

type ocsfMetadata struct {
	Version  string      `json:"version"`
	Product  ocsfProduct `json:"product"`
	Profiles []string    `json:"profiles"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
	URLString  string `json:"url_string,omitempty"`
}

type ocsfFindingInfo struct {
	UID         string       `json:"uid"`
	Title       string       `json:"title"`
	Desc        string       `json:"desc"`
	Types       []string     `json:"types,omitempty"`
	CreatedTime int64        `json:"created_time"`
	Analytic    ocsfAnalytic `json:"analytic"`
}

// ocsfAnalytic names the rule that produced the finding.
type ocsfAnalytic struct {
	UID      string `json:"uid"`
	Name     string `json:"name"`
	TypeID   int    `json:"type_id"`
	Type     string `json:"type"`
	Category string `json:"category,omitempty"`
}

type ocsfCompliance struct {
	Control      string   `json:"control"`
	Requirements []string `json:"requirements"`
	Standards    []string `json:"standards"`
	StatusID     int      `json:"status_id"`
	Status       string   `json:"status"`
	StatusDetail string   `json:"status_detail,omitempty"`
}

type ocsfRemediation struct {
	Desc string `json:"desc"`
}

type ocsfResource struct {
	UID            string           `json:"uid"`
	Name           string           `json:"name,omitempty"`
	Type           string           `json:"type"`
	Region         string           `json:"region,omitempty"`
	CloudPartition string           `json:"cloud_partition,omitempty"`
	Labels         []string         `json:"labels,omitempty"`
	Data           ocsfResourceData `json:"data"`
}

type ocsfResourceData struct {
	Address    string   `json:"address,omitempty"`
	NativeType string   `json:"native_type"`
	Provider   string   `json:"provider"`
	Account    string   `json:"account,omitempty"`
	Country    string   `json:"country,omitempty"`
	Location   location `json:"location"`
}

type ocsfCloud struct {
	Provider string       `json:"provider"`
	Account  *ocsfAccount `json:"account,omitempty"`
	Region   string       `json:"region,omitempty"`
}

type ocsfAccount struct {
	UID string `json:"uid"`
}

// writeOCSF writes one OCSF Compliance Finding event per finding as JSON
// Lines: one event object per line, no enclosing array. That is what
// streaming collectors (Firehose, Fluent Bit, Vector) and the Glue/Athena
// readers in front of Amazon Security Lake read by default; `jq -s .` turns
// it into an array for tools that want one.
func writeOCSF(w io.Writer, d *document, _ Options) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range d.Findings {
		if err := enc.Encode(newOCSFEvent(d, &d.Findings[i])); err != nil {
			return fmt.Errorf("encoding OCSF event for %s on %s: %w", d.Findings[i].RuleID, d.Findings[i].key(), err)
		}
	}
	return bw.Flush()
}

func newOCSFEvent(d *document, f *finding) ocsfEvent {
	ms := d.now.UnixMilli()
	sev, ok := ocsfSeverity[f.Severity]
	if !ok {
		sev.name = "Unknown"
	}
	e := ocsfEvent{
		ActivityID:   ocsfActivityID,
		ActivityName: ocsfActivityName,
		CategoryUID:  ocsfCategoryUID,
		CategoryName: ocsfCategoryName,
		ClassUID:     ocsfClassUID,
		ClassName:    ocsfClassName,
		TypeUID:      ocsfTypeUID,
		TypeName:     ocsfClassName + ": " + ocsfActivityName,
		SeverityID:   sev.id,
		Severity:     sev.name,
		StatusID:     1,
		Status:       "New",
		Time:         ms,
		Message:      f.Message,
		Metadata: ocsfMetadata{
			Version:  ocsfVersion,
			Product:  ocsfProduct{Name: ToolName, VendorName: ToolName, Version: d.Tool.Version, URLString: InformationURI},
			Profiles: []string{"cloud"},
		},
		FindingInfo: ocsfFindingInfo{
			UID:         f.Fingerprint,
			Title:       f.Title,
			Desc:        f.Title,
			Types:       []string{"Compliance"},
			CreatedTime: ms,
			Analytic:    ocsfAnalytic{UID: f.RuleID, Name: f.Title, TypeID: 1, Type: "Rule", Category: f.Pack},
		},
		Compliance: ocsfCompliance{
			Control:      f.RuleID,
			Requirements: []string{},
			Standards:    []string{},
		},
		Resources: []ocsfResource{newOCSFResource(f)},
		Cloud:     ocsfCloud{Provider: cmp.Or(ocsfProviders[f.Resource.Provider], f.Resource.Provider), Region: f.Resource.Region},
	}
	if f.rule != nil && f.rule.Description != "" {
		e.FindingInfo.Desc = f.rule.Description
	}
	if f.detail != "" {
		e.Message = f.key() + ": " + f.detail
	}
	if f.Resource.Account != "" {
		e.Cloud.Account = &ocsfAccount{UID: f.Resource.Account}
	}
	if f.Remediation.Guidance != "" {
		e.Remediation = &ocsfRemediation{Desc: f.Remediation.Guidance}
	}

	// The pack counts as a standard too (see effectiveFrameworks), so
	// standards, which OCSF requires, is never empty.
	frameworks := effectiveFrameworks(f.Frameworks, f.Pack, f.RuleID)
	names := make([]string, 0, len(frameworks))
	for fw := range frameworks {
		names = append(names, fw)
	}
	slices.SortFunc(names, compareFrameworks)
	for _, fw := range names {
		e.Compliance.Standards = append(e.Compliance.Standards, frameworkTitle(fw))
		for _, c := range frameworks[fw] {
			e.Compliance.Requirements = append(e.Compliance.Requirements, fw+":"+c)
		}
	}

	// Compliance status_id: 1 Pass, 2 Warning (no result for missing
	// information), 3 Fail, 99 Other.
	switch f.Status {
	case "fail":
		e.Compliance.StatusID, e.Compliance.Status = 3, "Fail"
	case "suppressed":
		e.Compliance.StatusID, e.Compliance.Status = 3, "Fail"
		// Finding status_id 3: reviewed and accepted.
		e.StatusID, e.Status = 3, "Suppressed"
	case "unknown":
		e.Compliance.StatusID, e.Compliance.Status = 2, "Warning"
		e.Compliance.StatusDetail = f.detail
	case "error":
		e.Compliance.StatusID, e.Compliance.Status = 99, "Error"
		e.Compliance.StatusDetail = f.detail
	}

	unmapped := map[string]any{"hoheit_status": f.Status, "severity": f.Severity}
	if len(f.Evidence) > 0 {
		unmapped["evidence"] = f.Evidence
	}
	if x := f.Exception; x != nil {
		unmapped["exception"] = x
		e.StatusDetail = x.Justification
	}
	if f.Remediation.Action != "" {
		unmapped["remediation_action"] = f.Remediation.Action
	}
	e.Unmapped = unmapped
	return e
}

func newOCSFResource(f *finding) ocsfResource {
	r := f.Resource
	uid := r.ID
	if uid == "" {
		uid = r.Address
	}
	out := ocsfResource{
		UID:    uid,
		Name:   r.Name,
		Type:   r.Type,
		Region: r.Region,
		Data: ocsfResourceData{
			Address:    r.Address,
			NativeType: r.NativeType,
			Provider:   r.Provider,
			Account:    r.Account,
			Country:    r.Country,
			Location:   f.Location,
		},
	}
	if r.Provider == "aws" {
		out.CloudPartition = awsPartition(r.Region)
	}
	return out
}

// awsPartition names the AWS partition a region belongs to.
func awsPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}
