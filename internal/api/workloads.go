package api

// PathMeshWorkloads is PUT /v1/mesh/workloads (mutual TLS): a node reports
// the workloads it routes.
const PathMeshWorkloads = "/v1/mesh/workloads"

// Workload is a service instance a node routes (a container behind a
// bridge, a VM, a process with its own address): the segmentation policy
// selects it by its labels, which inherit the node's labels (its own win),
// and peers the rules let reach it route its addresses to the node.
type Workload struct {
	// Name is unique on the node; the server names it NODE/NAME.
	Name   string            `json:"name" yaml:"name"`
	Labels map[string]string `json:"labels,omitempty" yaml:"labels"`
	// Addresses are prefixes or single addresses (a /32 or /128).
	Addresses []string `json:"addresses" yaml:"addresses"`
}

// WorkloadsRequest is the body of PUT /v1/mesh/workloads: every workload
// of the node (an empty list removes them all).
type WorkloadsRequest struct {
	Workloads []Workload `json:"workloads"`
}
