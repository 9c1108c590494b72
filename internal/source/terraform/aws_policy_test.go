package terraform

import (
	"slices"
	"testing"
)

func TestAWSPolicy(t *testing.T) {
	tests := []struct {
		name, doc                    string
		admin, wildcard, public, tls bool
		minTLS                       string
		trusted                      []string
	}{
		{name: "admin as one statement object", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, admin: true, wildcard: true},
		{name: "admin with a condition is not plain admin", doc: `{"Statement":[{"Effect":"Allow","Action":["*"],"Resource":["*"],"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`, wildcard: true},
		{name: "service wildcard", doc: `{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:*"],"Resource":"arn:aws:s3:::b/*"}]}`, wildcard: true},
		{name: "NotAction allow grants the rest", doc: `{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, wildcard: true},
		{name: "public read", doc: `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, public: true, trusted: []string{"*"}},
		{name: "AWS star with a VPC endpoint condition is not public", doc: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}`, trusted: []string{"*"}},
		{name: "deny without TLS, boolean false, lower-case key", doc: `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:securetransport":false}}},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"s3:TlsVersion":1.2}}}]}`, tls: true, minTLS: "1.2"},
		{name: "allow with SecureTransport true enforces nothing", doc: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`, wildcard: true, trusted: []string{"AWS:arn:aws:iam::1:root"}},
		{name: "trust policy", doc: `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ec2.amazonaws.com"],"AWS":"123456789012"}}]}`, trusted: []string{"AWS:123456789012", "Service:ec2.amazonaws.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := parseAWSPolicy(tt.doc)
			if !ok {
				t.Fatal("not parsed")
			}
			if got := p.admin(); got != tt.admin {
				t.Errorf("admin = %v", got)
			}
			if got := p.wildcardActions(); got != tt.wildcard {
				t.Errorf("wildcardActions = %v", got)
			}
			if got := p.public(); got != tt.public {
				t.Errorf("public = %v", got)
			}
			if got := p.deniesInsecureTransport(); got != tt.tls {
				t.Errorf("deniesInsecureTransport = %v", got)
			}
			if got := p.minTLSVersion(); got != tt.minTLS {
				t.Errorf("minTLSVersion = %q", got)
			}
			got := p.trusted()
			slices.Sort(got)
			slices.Sort(tt.trusted)
			if !slices.Equal(got, tt.trusted) {
				t.Errorf("trusted = %v, want %v", got, tt.trusted)
			}
		})
	}
	for _, bad := range []string{"", "not json", `{"Statement":"x"}`, `[]`} {
		if _, ok := parseAWSPolicy(bad); ok {
			t.Errorf("parseAWSPolicy(%q) accepted", bad)
		}
	}
}
