// Package kubernetes reads Kubernetes manifests — multi-document YAML, JSON,
// List objects, rendered Helm output — into hoheit's normalized model.
//
// Reading is split in two so that objects in different files can see each
// other: Load decodes one file, Join builds one estate from any number of
// loaded files. Parse does both for a single file.
//
// What becomes what:
//
//   - Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
//     CronJobs become kubernetes.workload resources, init containers
//     included. The pod's securityContext supplies runAsNonRoot and the
//     seccomp profile of containers that do not set them; privilege
//     escalation and the service account token count as allowed unless set
//     to false, by the pod or by a ServiceAccount in the scanned manifests.
//   - Namespaces become kubernetes.namespace resources, joined with the
//     NetworkPolicies, ResourceQuotas and LimitRanges found in any scanned
//     file. A namespace that workloads use but no manifest declares gets a
//     resource too, with an empty native object, so "namespace has no
//     NetworkPolicy" holds for it as well.
//   - NetworkPolicies, ResourceQuotas, LimitRanges and ServiceAccounts are
//     consumed by those joins. Every other kind is counted as unsupported,
//     by apiVersion/kind.
//
// Objects without metadata.namespace land in Options.Namespace ("default"),
// as kubectl would apply them. Addresses and ids are Kind/namespace/name, and
// Namespace/name for namespaces. Plain YAML scalars are read as kubectl
// reads them (YAML 1.1: yes, on and y are true).
//
// It imports only the inventory package; the source dispatcher imports it.
package kubernetes
