package kubernetes

import (
	"strconv"
	"strings"

	"github.com/hoheit/hoheit/internal/inventory"
)

// workloadKinds are the kinds that run pods, with the path from the object to
// its pod spec's parent (the object for a Pod, the pod template otherwise).
var workloadKinds = map[string][]string{
	"Pod":         nil,
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

// isWorkload reports whether the kind is a built-in workload; a custom
// resource that happens to be called Deployment is not.
func isWorkload(group, kind string) bool {
	if _, ok := workloadKinds[kind]; !ok {
		return false
	}
	switch group {
	case "", "apps", "extensions", "batch":
		return true
	}
	return false
}

// workload normalizes one workload object.
func (m *Manifests) workload(obj map[string]any, apiVersion, kind, name, ns string, meta map[string]any, loc inventory.Location) *workload {
	r := m.resource("kubernetes.workload", apiVersion, kind, name, ns, meta, obj, loc)
	w := &workload{res: r}
	tmpl := obj
	for _, k := range workloadKinds[kind] {
		tmpl = mapOf(tmpl, k)
	}
	pod := mapOf(tmpl, "spec")
	podMeta := mapOf(tmpl, "metadata")
	if kind == "Pod" {
		podMeta = meta
	}

	r.Set("kind", kind)
	r.Set("namespace", ns)
	r.Set("replicas", replicas(obj, kind))
	r.Set("host_network", boolean(pod, "hostNetwork"))
	r.Set("host_pid", boolean(pod, "hostPID"))
	r.Set("host_ipc", boolean(pod, "hostIPC"))
	sa := str(pod, "serviceAccountName")
	if sa == "" {
		sa = str(pod, "serviceAccount") // the deprecated alias
	}
	if sa == "" {
		sa = "default"
	}
	r.Set("service_account", sa)
	automount, set := pod["automountServiceAccountToken"].(bool)
	w.automountSet = set
	r.Set("automount_service_account_token", !set || automount)

	hostPaths := []any{}
	for _, v := range listOf(pod, "volumes") {
		if hp := mapOf(asMap(v), "hostPath"); hp != nil {
			hostPaths = append(hostPaths, str(hp, "path"))
		}
	}
	r.Set("host_path_volumes", hostPaths)

	podSC := mapOf(pod, "securityContext")
	annotations := mapOf(podMeta, "annotations")
	containers := []any{}
	for _, group := range []struct {
		key  string
		init bool
	}{{"initContainers", true}, {"containers", false}} {
		for _, c := range listOf(pod, group.key) {
			containers = append(containers, container(asMap(c), group.init, podSC, annotations))
		}
	}
	r.Set("containers", containers)
	return w
}

// replicas is the desired number of pods: spec.replicas for controllers (1
// when unset, as the API server defaults it), parallelism for jobs, 1 for a
// bare Pod and 0 for a DaemonSet, whose count depends on the nodes.
func replicas(obj map[string]any, kind string) int64 {
	spec := mapOf(obj, "spec")
	switch kind {
	case "Pod":
		return 1
	case "DaemonSet":
		return 0
	case "Job":
		return intOr(spec, "parallelism", 1)
	case "CronJob":
		return intOr(mapOf(mapOf(spec, "jobTemplate"), "spec"), "parallelism", 1)
	}
	return intOr(spec, "replicas", 1)
}

// container normalizes one container. The pod's securityContext supplies
// runAsNonRoot and the seccomp profile when the container does not set them.
func container(c map[string]any, init bool, podSC, annotations map[string]any) map[string]any {
	name := str(c, "name")
	image := str(c, "image")
	sc := mapOf(c, "securityContext")

	runAsNonRoot, ok := sc["runAsNonRoot"].(bool)
	if !ok {
		runAsNonRoot = boolean(podSC, "runAsNonRoot")
	}
	seccomp := str(mapOf(sc, "seccompProfile"), "type")
	if seccomp == "" {
		seccomp = legacySeccomp(str(annotations, "container.seccomp.security.alpha.kubernetes.io/"+name))
	}
	if seccomp == "" {
		seccomp = str(mapOf(podSC, "seccompProfile"), "type")
	}
	if seccomp == "" {
		seccomp = legacySeccomp(str(annotations, "seccomp.security.alpha.kubernetes.io/pod"))
	}
	escalation, ok := sc["allowPrivilegeEscalation"].(bool)
	if !ok {
		escalation = true
	}
	caps := mapOf(sc, "capabilities")
	limits := mapOf(mapOf(c, "resources"), "limits")
	hostPorts := []any{}
	for _, p := range listOf(c, "ports") {
		if hp, ok := asMap(p)["hostPort"]; ok && hp != nil && scalarString(hp) != "0" {
			hostPorts = append(hostPorts, scalarString(hp))
		}
	}
	return map[string]any{
		"name":                       name,
		"image":                      image,
		"image_digest":               strings.Contains(image, "@sha256:"),
		"init":                       init,
		"privileged":                 boolean(sc, "privileged"),
		"run_as_non_root":            runAsNonRoot,
		"read_only_root_filesystem":  boolean(sc, "readOnlyRootFilesystem"),
		"allow_privilege_escalation": escalation,
		"capabilities_add":           stringList(listOf(caps, "add")),
		"capabilities_drop":          stringList(listOf(caps, "drop")),
		"resource_limits":            limits["cpu"] != nil && limits["memory"] != nil,
		"host_ports":                 hostPorts,
		"seccomp_profile":            seccomp,
	}
}

// legacySeccomp maps the seccomp annotations Kubernetes used before 1.19 to
// the profile types of securityContext.seccompProfile.
func legacySeccomp(v string) string {
	switch {
	case v == "":
		return ""
	case v == "runtime/default" || v == "docker/default":
		return "RuntimeDefault"
	case v == "unconfined":
		return "Unconfined"
	case strings.HasPrefix(v, "localhost/"):
		return "Localhost"
	}
	return ""
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func mapOf(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

func listOf(m map[string]any, key string) []any {
	v, _ := m[key].([]any)
	return v
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

func boolean(m map[string]any, key string) bool {
	v, _ := m[key].(bool)
	return v
}

func intOr(m map[string]any, key string, def int64) int64 {
	switch v := m[key].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return def
}

func labels(meta map[string]any) map[string]any { return mapOf(meta, "labels") }

// stringList keeps the string elements of l as a []any, the shape of a
// list(string) attribute.
func stringList(l []any) []any {
	out := make([]any, 0, len(l))
	for _, v := range l {
		if v != nil {
			out = append(out, scalarString(v))
		}
	}
	return out
}

// scalarString renders a scalar as Kubernetes would read it in a string
// field: label values written as 1.0 or true are still strings to the API.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return ""
}
