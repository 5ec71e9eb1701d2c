// Package manifest parses and validates hybridd workload manifests.
//
// A manifest is a YAML file of one or more documents separated by "---", each
// of the form apiVersion/kind/metadata/spec. Parsing is strict: unknown
// fields, duplicate keys, wrong types and out-of-range values are errors that
// name the file, line, column and field path, and say how to fix the value.
package manifest

import "time"

// APIVersion and KindWorkload are the only apiVersion and kind accepted.
const (
	APIVersion   = "hybridd/v1"
	KindWorkload = "Workload"
)

// Runtime names the runtime a workload requests.
type Runtime string

const (
	RuntimeAuto      Runtime = "auto"
	RuntimeWasm      Runtime = "wasm"
	RuntimeContainer Runtime = "container"
)

// ContainerMode selects how a container workload handles messages.
type ContainerMode string

const (
	// ModeFunction runs one idle container per workload and handles each
	// message with an exec of the workload's command inside it.
	ModeFunction ContainerMode = "function"
	// ModeService runs a long-lived container that talks MQTT itself.
	ModeService ContainerMode = "service"
)

// RestartPolicy selects what happens when a service container exits.
type RestartPolicy string

const (
	RestartAlways    RestartPolicy = "always"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartNever     RestartPolicy = "never"
)

// Workload is one validated workload document. Paths inside it are absolute:
// the parser resolves them against the directory of the manifest file.
type Workload struct {
	Name string `json:"name"`
	// Labels are metadata.labels, Kubernetes-style key/value pairs that
	// hybridd keeps but does not interpret.
	Labels map[string]string `json:"labels,omitempty"`
	Spec   Spec              `json:"spec"`
	// Source is the start of the workload's document: its "---" line, or
	// its first key when the document has no "---".
	Source Position `json:"source"`
}

// Position locates a value in a manifest file. Line and Column count from 1.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// Spec is the desired state of one workload, with defaults applied.
type Spec struct {
	// Runtime is auto (the default), wasm or container.
	Runtime   Runtime           `json:"runtime"`
	Wasm      *WasmSpec         `json:"wasm,omitempty"`
	Container *ContainerSpec    `json:"container,omitempty"`
	Trigger   Trigger           `json:"trigger"`
	Output    Output            `json:"output"`
	Env       map[string]string `json:"env,omitempty"`
	Resources Resources         `json:"resources"`
	// Timeout bounds one invocation. Default 5s.
	Timeout time.Duration `json:"timeout"`
	// Concurrency is the number of invocations that may run at once (and,
	// for reactor modules, the number of warm instances). Default 1.
	Concurrency int `json:"concurrency"`
}

// WasmSpec names the WebAssembly module of a workload.
type WasmSpec struct {
	// Module is an absolute file path, or an "oci-archive:PATH" reference to
	// an OCI archive holding a wasm artifact (PATH absolute after parsing).
	Module string `json:"module"`
}

// ContainerSpec describes the OCI container of a workload.
type ContainerSpec struct {
	// Image is "oci-archive:PATH" (PATH absolute after parsing) or a
	// registry reference such as "docker.io/library/alpine:3.20".
	Image string        `json:"image"`
	Mode  ContainerMode `json:"mode"`
	// Command is run by exec per message in function mode, and is the
	// container's process in service mode (empty: the image's entrypoint).
	Command []string `json:"command,omitempty"`
	// User is "uid[:gid]". Default "65534:65534" (nobody).
	User string `json:"user,omitempty"`
	// Capabilities lists Linux capabilities to keep, e.g. CAP_NET_BIND_SERVICE.
	// Default none.
	Capabilities []string `json:"capabilities,omitempty"`
	// Restart applies to service mode. Default always.
	Restart RestartPolicy `json:"restart,omitempty"`
	// Ports, Devices and HostPaths force the container runtime when set.
	Ports     []int    `json:"ports,omitempty"`
	Devices   []string `json:"devices,omitempty"`
	HostPaths []string `json:"hostPaths,omitempty"`
}

// Trigger says which messages invoke a workload.
type Trigger struct {
	MQTT *MQTTTrigger `json:"mqtt,omitempty"`
}

// MQTTTrigger subscribes a workload to one or more topic filters. A filter
// may use "+", "#" and "{name}", which subscribes as "+" and binds the level.
type MQTTTrigger struct {
	Topics []string `json:"topics"`
	// QoS is 0, 1 or 2. Default 1.
	QoS byte `json:"qos"`
}

// Output says where results go.
type Output struct {
	// Topic is a topic template: "{name}" is replaced by the level that the
	// trigger filter bound to name. It never holds a wildcard.
	Topic string `json:"topic,omitempty"`
}

// Resources are the workload's resource limits.
type Resources struct {
	// Memory is the limit in bytes: the wasm linear memory cap, or the
	// container's cgroup memory limit. Default 32 MiB.
	Memory int64 `json:"memory"`
	// CPU is the container CPU limit in millicores; 0 means no limit.
	CPU int64 `json:"cpu,omitempty"`
}
