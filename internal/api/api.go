// Package api holds the wire types of the control plane's HTTP/JSON API
// under /v1, shared by the server and its clients (the agent and the admin
// commands). docs/api.md documents every call. Byte fields are base64 in
// JSON (encoding/json's []byte encoding).
package api

import "time"

// Paths of the API.
const (
	PathNonce      = "/v1/attest/nonce"
	PathJoin       = "/v1/join"
	PathNodes      = "/v1/nodes"
	PathCA         = "/v1/ca"
	PathCRL        = "/v1/crl"
	PathAudit      = "/v1/audit"
	PathAuditKey   = "/v1/audit/key"
	PathTokens     = "/v1/tokens"
	PathHealth     = "/v1/health"
	PathMeshConfig = "/v1/mesh/config"
	PathSegPolicy  = "/v1/segment/policy"
	PathSegFlows   = "/v1/segment/flows"
	PathSegAlerts  = "/v1/segment/alerts"
	MaxRequestSize = 1 << 20
)

// NonceResponse answers POST /v1/attest/nonce.
type NonceResponse struct {
	Nonce     []byte    `json:"nonce"`
	ExpiresAt time.Time `json:"expires_at"`
}

// JoinRequest is POST /v1/join: evidence that binds the nonce and the
// agent's public keys. The same call re-attests a node that has joined.
type JoinRequest struct {
	NodeID    string `json:"node_id"`
	Class     string `json:"class"`
	Variant   string `json:"variant"`
	Nonce     []byte `json:"nonce"`
	Evidence  []byte `json:"evidence"`
	RequestID string `json:"request_id"`
	// HPKEPublicKey receives every secret (ML-KEM-768 + X25519).
	HPKEPublicKey []byte `json:"hpke_public_key"`
	// CertPublicKey is the PKIX DER key the node certificate certifies.
	CertPublicKey      []byte `json:"cert_public_key"`
	WireGuardPublicKey []byte `json:"wireguard_public_key"`
	// Labels name the node for the segmentation policy (app, env, cloud,
	// site, ...); Endpoints are the host:port addresses its WireGuard
	// device is reached at (several: internet, private line, ...).
	Labels    map[string]string `json:"labels,omitempty"`
	Endpoints []string          `json:"endpoints,omitempty"`
}

// WrappedResponse carries a JoinResponse, encoded as JSON and possibly
// wrapped by the variant (TPM credential activation), see attest.ResponseWrapper.
type WrappedResponse struct {
	Response []byte `json:"response"`
}

// JoinResponse is what a node receives after its evidence was accepted.
type JoinResponse struct {
	NodeID string `json:"node_id"`
	// Certificate is the node's X.509 certificate (DER), CA the root (DER).
	Certificate []byte    `json:"certificate"`
	CA          []byte    `json:"ca"`
	NotAfter    time.Time `json:"not_after"`
	// Keys is the node's keys, a JSON object of purpose to key (base64),
	// sealed with HPKE to the join's HPKE key with the node id and request
	// id as associated data: one seal for all of them.
	Keys []byte `json:"keys"`
	// Insecure is set when the node joined with the insecure variant.
	Insecure bool `json:"insecure"`
	// ReattestEvery tells the agent how often to re-attest.
	ReattestEvery Duration `json:"reattest_every"`
	Warnings      []string `json:"warnings,omitempty"`
	// MeshAddresses are the node's addresses in the mesh (CIDR, /128 and
	// optionally /32).
	MeshAddresses []string `json:"mesh_addresses,omitempty"`
	// MeshPrefixes are the mesh's prefixes; the node routes them into its
	// mesh device.
	MeshPrefixes []string `json:"mesh_prefixes,omitempty"`
}

// MeshConfig answers GET /v1/mesh/config (mutual TLS): what this node's
// WireGuard device and segmentation filter need, and nothing about the
// rest of the mesh. The call long-polls: with ?etag= of the config the
// node has, it answers when the config changes (or after 30 s with 304).
type MeshConfig struct {
	ETag      string     `json:"etag"`
	Addresses []string   `json:"addresses"`
	Peers     []MeshPeer `json:"peers"`
	// PSKs holds the pre-shared key per peer node id, a JSON object of
	// node id to 32-byte key, sealed with HPKE to the node's key like its
	// other keys (associated data: node id and ETag).
	PSKs []byte `json:"psks"`
	// PSKEpoch counts timed rotations of the pre-shared keys,
	// PSKGeneration revocations: each rotates every key.
	PSKEpoch      uint64 `json:"psk_epoch"`
	PSKGeneration uint64 `json:"psk_generation"`
	// Rules is the node's compiled rule set (segment.NodeRuleSet as
	// JSON); null when no segmentation policy is applied: then the node
	// has no peers.
	Rules []byte `json:"rules"`
}

// MeshPeer is one WireGuard peer.
type MeshPeer struct {
	NodeID     string   `json:"node_id"`
	PublicKey  []byte   `json:"public_key"`
	AllowedIPs []string `json:"allowed_ips"`
	Endpoints  []string `json:"endpoints"`
}

// SegmentPolicyResult answers PUT /v1/segment/policy.
type SegmentPolicyResult struct {
	Applied bool `json:"applied"`
	// Failures are the policy's failing tests; a policy with failures is
	// not applied.
	Failures []string `json:"failures,omitempty"`
	Nodes    int      `json:"nodes"`
}

// KeysRequest is POST /v1/nodes/{id}/keys, authenticated by the node's
// certificate (mutual TLS).
type KeysRequest struct {
	RequestID string   `json:"request_id"`
	Purposes  []string `json:"purposes"`
}

// KeysResponse holds the sealed keys, sealed as in JoinResponse.Keys.
type KeysResponse struct {
	Keys []byte `json:"keys"`
}

// Node is a node as admins see it.
type Node struct {
	ID             string    `json:"id"`
	Class          string    `json:"class"`
	Variant        string    `json:"variant"`
	Insecure       bool      `json:"insecure"`
	Status         string    `json:"status"`
	StatusReason   string    `json:"status_reason,omitempty"`
	HardwareID     string    `json:"hardware_id,omitempty"`
	CertSerial     string    `json:"cert_serial,omitempty"`
	CertNotAfter   time.Time `json:"cert_not_after"`
	JoinedAt       time.Time `json:"joined_at"`
	LastAttestedAt time.Time `json:"last_attested_at"`
	// Claims are the verified measurements of the last attestation
	// (attest.Claims as JSON); `hoheit refvalues measure` turns them into
	// reference values.
	Claims []byte `json:"claims,omitempty"`
}

// NodeStatus answers GET /v1/nodes/{id}/status: public, for relying parties.
type NodeStatus struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	CertSerial string `json:"cert_serial,omitempty"`
	Insecure   bool   `json:"insecure"`
}

// RevokeRequest is POST /v1/nodes/{id}/revoke.
type RevokeRequest struct {
	Reason string `json:"reason"`
}

// TokenRequest is POST /v1/tokens.
type TokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Token describes an API token; Secret is set only once, at creation.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret,omitempty"`
}

// Error is the body of every error response.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says why a call failed. Reason is stable (see attest's reasons
// plus "bad-request", "unauthorized", "forbidden", "not-found", "internal").
type ErrorBody struct {
	Reason    string `json:"reason"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// Roles of API tokens.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleAuditor  = "auditor"
)

// Key purposes.
const (
	PurposeDisk     = "disk"
	PurposeMesh     = "mesh"
	PurposeWorkload = "workload"
)
