// Package kubernetes reads Kubernetes manifests — multi-document YAML, JSON,
// List objects, rendered Helm output — into hoheit's normalized model:
// workloads become kubernetes.workload resources, namespaces become
// kubernetes.namespace resources joined with the NetworkPolicies,
// ResourceQuotas and LimitRanges found beside them.
//
// Reading is split in two so that objects in different files can see each
// other: Load decodes one file, Join builds one estate from any number of
// loaded files. Parse does both for a single file.
//
// It imports only the inventory package; the source dispatcher imports it.
package kubernetes
