package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// header is the start of a valid workload document; its spec mapping
// begins on line 5.
const header = "apiVersion: hybridd/v1\nkind: Workload\nmetadata:\n  name: w\nspec:\n"

// validBody is a valid spec body, on lines 6 to 9 after header.
const validBody = "  wasm:\n    module: threshold.wasm\n  trigger:\n    mqtt: {topic: sensors/+/telemetry}\n"

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"empty file", "", `m.yaml:1:1: no workload found (add a document with apiVersion: hybridd/v1 and kind: Workload)`},
		{"only comments and markers", "# nothing\n---\n---\n", `m.yaml:1:1: no workload found (add a document with apiVersion: hybridd/v1 and kind: Workload)`},
		{"syntax error", "apiVersion: hybridd/v1\n\tkind: Workload\n", `m.yaml:2:1: invalid YAML: found character '	' that cannot start any token`},
		{"not a mapping", "- a\n- b\n", `m.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a list`},
		{"bad apiVersion", strings.Replace(header, "hybridd/v1", "apps/v1", 1) + validBody,
			`m.yaml:1:1: apiVersion: unsupported apiVersion "apps/v1" (use hybridd/v1)`},
		{"apiVersion number", strings.Replace(header, "hybridd/v1", "1", 1) + validBody,
			`m.yaml:1:1: apiVersion: expected a string, got the number 1 (quote it: "1")`},
		{"bad kind skips rest", strings.Replace(header, "Workload", "Deployment", 1) + "  replicas: 3\n",
			`m.yaml:2:1: kind: unsupported kind "Deployment" (use Workload)`},
		{"missing apiVersion and kind", "metadata: {name: w}\nspec:\n" + validBody,
			"m.yaml:1:1: apiVersion: required field is missing (add apiVersion: hybridd/v1)\n" +
				"m.yaml:1:1: kind: required field is missing (add kind: Workload)"},
		{"unknown top-level field", header + validBody + "status: {}\n",
			`m.yaml:10:1: status: unknown field "status" (known fields: apiVersion, kind, metadata, spec)`},
		{"missing metadata", "apiVersion: hybridd/v1\nkind: Workload\nspec:\n" + validBody,
			`m.yaml:1:1: metadata: required field is missing (add metadata.name, e.g. co2-alert)`},
		{"missing name", "apiVersion: hybridd/v1\nkind: Workload\nmetadata:\n  labels: {a: b}\nspec:\n" + validBody,
			`m.yaml:4:3: metadata.name: required field is missing (add a DNS-1123 label, e.g. co2-alert)`},
		{"name not a label", strings.Replace(header, "name: w", "name: CO2_Alert", 1) + validBody,
			`m.yaml:4:3: metadata.name: invalid name "CO2_Alert": not a DNS-1123 label (use lower-case letters, digits and "-", starting and ending with a letter or digit, e.g. co2-alert)`},
		{"name too long", strings.Replace(header, "name: w", "name: "+strings.Repeat("a", 64), 1) + validBody,
			`m.yaml:4:3: metadata.name: invalid name "` + strings.Repeat("a", 64) + `": not a DNS-1123 label (64 characters is longer than the maximum 63)`},
		{"label value number", strings.Replace(header, "name: w", "name: w\n  labels: {tier: 1}", 1) + validBody,
			`m.yaml:5:12: metadata.labels.tier: expected a string, got the number 1 (quote it: "1")`},
		{"bad label key", strings.Replace(header, "name: w", "name: w\n  labels: {\"a b\": c}", 1) + validBody,
			`m.yaml:5:12: metadata.labels.a b: invalid label key "a b" (use at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, with an optional prefix such as example.com/)`},
		{"missing spec", header[:len(header)-len("spec:\n")],
			`m.yaml:1:1: spec: required field is missing (add spec.wasm or spec.container)`},
		{"spec is a list", header + "  - wasm\n",
			`m.yaml:5:1: spec: expected a mapping, got a list`},
		{"duplicate key", header + validBody + "  concurrency: 2\n  concurrency: 3\n",
			`m.yaml:11:3: spec.concurrency: duplicate key (first at m.yaml:10:3; remove one)`},
		{"unknown field with suggestion", header + validBody + "  resources:\n    memroy: 64Mi\n",
			`m.yaml:11:5: spec.resources.memroy: unknown field "memroy" (did you mean memory?)`},
		{"unknown field list", header + validBody + "  replicas: 2\n",
			`m.yaml:10:3: spec.replicas: unknown field "replicas" (known fields: runtime, wasm, container, trigger, output, env, resources, timeout, concurrency)`},
		{"merge key", header + validBody + "  resources:\n    <<: {memory: 64Mi}\n",
			`m.yaml:11:5: spec.resources: merge keys (<<) are not supported (write the fields out)`},
		{"bad runtime", header + "  runtime: docker\n" + validBody,
			`m.yaml:6:3: spec.runtime: invalid runtime "docker" (use auto, wasm or container)`},
		{"module not found", header + "  wasm: {module: missing.wasm}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:10: spec.wasm.module: file not found: DIR/missing.wasm (relative paths start at the manifest's directory)`},
		{"module is a directory", header + "  wasm: {module: .}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:10: spec.wasm.module: DIR is a directory (name a file)`},
		{"oci-archive without path", header + "  wasm: {module: \"oci-archive:\"}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:10: spec.wasm.module: oci-archive: needs a path, as in oci-archive:sensor-logger.tar`},
		{"empty module", header + "  wasm: {module: \"\"}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:10: spec.wasm.module: must not be empty (name a file, or oci-archive:PATH for an OCI archive)`},
		{"missing module", header + "  wasm: {}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:9: spec.wasm.module: required field is missing (add the path of a .wasm file, e.g. module: threshold-alert.wasm)`},
		{"runtime wasm without wasm", header + "  runtime: wasm\n  container: {image: alpine, command: [x]}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:3: spec.wasm: required field is missing (runtime wasm needs a wasm section, e.g. wasm: {module: threshold-alert.wasm})`},
		{"runtime container without container", header + "  runtime: container\n" + validBody,
			`m.yaml:6:3: spec.container: required field is missing (runtime container needs a container section, e.g. container: {image: oci-archive:logger.tar})`},
		{"no runnable section", header + "  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:3: spec: needs a wasm or a container section (add wasm.module or container.image)`},
		{"missing trigger", header + "  wasm: {module: threshold.wasm}\n",
			`m.yaml:6:3: spec.trigger: required field is missing (add trigger.mqtt.topic, e.g. sensors/{device}/telemetry)`},
		{"function container needs trigger", header + "  container: {image: alpine, command: [cat]}\n",
			`m.yaml:6:3: spec.trigger: required field is missing (add trigger.mqtt.topic, e.g. sensors/{device}/telemetry)`},
		{"service beside wasm needs trigger", header + "  wasm: {module: threshold.wasm}\n  container: {image: alpine, mode: service}\n",
			`m.yaml:6:3: spec.trigger: required field is missing (add trigger.mqtt.topic, e.g. sensors/{device}/telemetry)`},
		{"missing image", header + "  container: {mode: service}\n",
			`m.yaml:6:14: spec.container.image: required field is missing (add a registry reference such as docker.io/library/alpine:3.20, or oci-archive:PATH)`},
		{"bad image reference", header + "  container: {image: \"Alpine:latest\", mode: service}\n",
			`m.yaml:6:15: spec.container.image: invalid image reference "Alpine:latest": could not parse reference: Alpine:latest (use a registry reference such as docker.io/library/alpine:3.20, or oci-archive:PATH for a local archive)`},
		{"archive image not found", header + "  container: {image: \"oci-archive:none.tar\", mode: service}\n",
			`m.yaml:6:15: spec.container.image: file not found: DIR/none.tar (relative paths start at the manifest's directory)`},
		{"function without command", header + "  container: {image: alpine}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:14: spec.container.command: required field is missing (function mode runs it once per message, e.g. command: [/bin/logger])`},
		{"empty command", header + "  container: {image: alpine, command: []}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:30: spec.container.command: must not be empty in function mode (name the program to run per message, e.g. [/bin/logger])`},
		{"command is a string", header + "  container: {image: alpine, command: cat}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:30: spec.container.command: expected a list, got the string "cat"`},
		{"bad mode", header + "  container: {image: alpine, mode: daemon, command: [cat]}\n  trigger: {mqtt: {topic: a}}\n",
			`m.yaml:6:30: spec.container.mode: invalid mode "daemon" (use function or service)`},
		{"bad restart", header + "  container: {image: alpine, mode: service, restart: sometimes}\n",
			`m.yaml:6:45: spec.container.restart: invalid restart "sometimes" (use always, on-failure or never)`},
		{"bad user", header + "  container: {image: alpine, mode: service, user: \"1000:staff\"}\n",
			`m.yaml:6:45: spec.container.user: invalid user "1000:staff" (use a numeric uid or uid:gid from 0 to 4294967294, e.g. 1000:1000)`},
		{"user out of range", header + "  container: {image: alpine, mode: service, user: 4294967295}\n",
			`m.yaml:6:45: spec.container.user: invalid user "4294967295" (use a numeric uid or uid:gid from 0 to 4294967294, e.g. 1000:1000)`},
		{"unknown capability", header + "  container: {image: alpine, mode: service, capabilities: [chown, net_admin_x]}\n",
			`m.yaml:6:67: spec.container.capabilities[1]: unknown capability "net_admin_x" (use a Linux capability such as CAP_NET_BIND_SERVICE)`},
		{"duplicate capability", header + "  container: {image: alpine, mode: service, capabilities: [chown, CAP_CHOWN]}\n",
			`m.yaml:6:67: spec.container.capabilities[1]: CAP_CHOWN is listed twice (remove one)`},
		{"port out of range", header + "  container: {image: alpine, mode: service, ports: [80, 70000]}\n",
			`m.yaml:6:57: spec.container.ports[1]: 70000 is out of range (use 1 to 65535)`},
		{"relative host path", header + "  container: {image: alpine, mode: service, hostPaths: [data]}\n",
			`m.yaml:6:57: spec.container.hostPaths[0]: path "data" is not absolute (use a path such as /var/lib/sensors)`},
		{"relative device", header + "  container: {image: alpine, mode: service, devices: [ttyUSB0]}\n",
			`m.yaml:6:55: spec.container.devices[0]: path "ttyUSB0" is not absolute (use a path such as /dev/ttyUSB0)`},
		{"trigger without mqtt", header + "  wasm: {module: threshold.wasm}\n  trigger: {}\n",
			`m.yaml:7:12: spec.trigger.mqtt: required field is missing (add mqtt.topic, e.g. sensors/+/telemetry)`},
		{"topic and topics", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt:\n      topic: a\n      topics: [b]\n",
			`m.yaml:10:7: spec.trigger.mqtt.topics: set either topic or topics, not both`},
		{"neither topic nor topics", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt:\n      qos: 1\n",
			`m.yaml:9:7: spec.trigger.mqtt.topic: required field is missing (set topic, or topics for several filters, e.g. topic: sensors/+/telemetry)`},
		{"empty topics", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt:\n      topics: []\n",
			`m.yaml:9:7: spec.trigger.mqtt.topics: must not be empty (list at least one topic filter)`},
		{"bad filter", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt:\n      topic: sensors/#/x\n",
			`m.yaml:9:7: spec.trigger.mqtt.topic: invalid topic filter "sensors/#/x": "#" must be the last level, as in sensors/#`},
		{"bad filter in list", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt:\n      topics:\n        - a/+\n        - a/b+\n",
			`m.yaml:11:11: spec.trigger.mqtt.topics[1]: invalid topic filter "a/b+": level "b+": "+" must fill a whole level, as in sensors/+/telemetry`},
		{"filter listed twice", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt:\n      topics: [a/+, a/+]\n",
			`m.yaml:9:21: spec.trigger.mqtt.topics[1]: topic filter "a/+" is listed twice (remove one)`},
		{"bad qos", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt: {topic: a, qos: 3}\n",
			`m.yaml:8:22: spec.trigger.mqtt.qos: 3 is out of range (use 0 to 2)`},
		{"wildcard output", header + validBody + "  output: {topic: alerts/#}\n",
			`m.yaml:10:12: spec.output.topic: invalid output topic "alerts/#": output topics cannot contain wildcards "+" or "#" (use a {name} level bound by the trigger filter)`},
		{"output name unbound", header + validBody + "  output: {topic: \"alerts/{device}\"}\n",
			`m.yaml:10:12: spec.output.topic: {device} is not bound by trigger filter "sensors/+/telemetry" (add a {device} level to that filter, or remove {device} from the output topic)`},
		{"output name unbound by one filter", header + "  wasm: {module: threshold.wasm}\n  trigger:\n    mqtt:\n      topics: [\"a/{device}\", \"b/+\"]\n  output: {topic: \"alerts/{device}\"}\n",
			`m.yaml:10:12: spec.output.topic: {device} is not bound by trigger filter "b/+" (add a {device} level to that filter, or remove {device} from the output topic)`},
		{"output name without trigger", header + "  container: {image: alpine, mode: service}\n  output: {topic: \"alerts/{device}\"}\n",
			`m.yaml:7:12: spec.output.topic: {device} is not bound because the workload has no trigger (add a trigger filter with a {device} level, or remove {device})`},
		{"env number", header + validBody + "  env:\n    ABOVE: 1000\n",
			`m.yaml:11:5: spec.env.ABOVE: expected a string, got the number 1000 (quote it: "1000")`},
		{"env boolean", header + validBody + "  env:\n    DEBUG: true\n",
			`m.yaml:11:5: spec.env.DEBUG: expected a string, got the boolean true (quote it: "true")`},
		{"env null", header + validBody + "  env:\n    EMPTY:\n",
			`m.yaml:11:5: spec.env.EMPTY: missing value (write a string, or "" for an empty one)`},
		{"env list", header + validBody + "  env:\n    - A=1\n",
			`m.yaml:10:3: spec.env: expected a mapping, got a list`},
		{"env bad name", header + validBody + "  env:\n    MY-VAR: x\n",
			`m.yaml:11:5: spec.env.MY-VAR: invalid variable name "MY-VAR" (use letters, digits and "_", not starting with a digit)`},
		{"env reserved name", header + validBody + "  env:\n    HYBRIDD_TOPIC: x\n",
			`m.yaml:11:5: spec.env.HYBRIDD_TOPIC: variable names starting with HYBRIDD_ are reserved for hybridd (rename HYBRIDD_TOPIC)`},
		{"memory with space", header + validBody + "  resources:\n    memory: 12 MB\n",
			`m.yaml:11:5: spec.resources.memory: invalid quantity "12 MB" (use Ki, Mi, Gi, e.g. 12Mi)`},
		{"memory too small", header + validBody + "  resources:\n    memory: 32Ki\n",
			`m.yaml:11:5: spec.resources.memory: 32Ki is below the minimum 64Ki`},
		{"memory too large", header + validBody + "  resources:\n    memory: 5Gi\n",
			`m.yaml:11:5: spec.resources.memory: 5Gi is above the maximum 4Gi (a wasm32 module addresses at most 4 GiB)`},
		{"memory is a list", header + validBody + "  resources:\n    memory: [64Mi]\n",
			`m.yaml:11:5: spec.resources.memory: expected a quantity such as 64Mi, got a list`},
		{"cpu bad", header + validBody + "  resources:\n    cpu: 1Ki\n",
			`m.yaml:11:5: spec.resources.cpu: invalid CPU quantity "1Ki": Ki is a byte unit (use millicores or cores, e.g. 500m or 1.5)`},
		{"timeout without unit", header + validBody + "  timeout: 5\n",
			`m.yaml:10:3: spec.timeout: invalid duration 5 (add a unit, e.g. 5s)`},
		{"timeout bad", header + validBody + "  timeout: 5 seconds\n",
			`m.yaml:10:3: spec.timeout: invalid duration "5 seconds" (use Go notation, e.g. 250ms, 5s or 1m)`},
		{"timeout negative", header + validBody + "  timeout: -1s\n",
			`m.yaml:10:3: spec.timeout: -1s must be greater than 0`},
		{"timeout too long", header + validBody + "  timeout: 61m\n",
			`m.yaml:10:3: spec.timeout: 61m is above the maximum 1h`},
		{"concurrency string", header + validBody + "  concurrency: \"4\"\n",
			`m.yaml:10:3: spec.concurrency: expected an integer from 1 to 1024, got the string "4" (remove the quotes)`},
		{"concurrency float", header + validBody + "  concurrency: 1.5\n",
			`m.yaml:10:3: spec.concurrency: expected an integer from 1 to 1024, got the number 1.5`},
		{"concurrency too high", header + validBody + "  concurrency: 1025\n",
			`m.yaml:10:3: spec.concurrency: 1025 is out of range (use 1 to 1024)`},
		{"unknown alias", header + validBody + "  timeout: *t\n",
			`m.yaml:10:12: spec.timeout: unknown alias *t (define the anchor &t before using it)`},
		{"custom tag", header + validBody + "  timeout: !secret t\n",
			`m.yaml:10:12: spec.timeout: unsupported tag !secret (remove it)`},
		{"duplicate name in file", header + validBody + "---\n" + header + validBody,
			`m.yaml:14:3: metadata.name: duplicate workload name "w" (first at m.yaml:4:3; names must be unique on the host)`},
		{"errors in later document", header + validBody + "---\n" + header + validBody + "  concurrency: 0\n",
			"m.yaml:14:3: metadata.name: duplicate workload name \"w\" (first at m.yaml:4:3; names must be unique on the host)\n" +
				"m.yaml:20:3: spec.concurrency: 0 is out of range (use 1 to 1024)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := workdir(t)
			got, err := Parse("m.yaml", []byte(tt.src))
			require.Error(t, err)
			assert.Equal(t, tt.want, strings.ReplaceAll(err.Error(), dir, "DIR"))
			assert.Nil(t, got)
		})
	}
}

func TestParseCollectsErrorsInFileOrder(t *testing.T) {
	workdir(t)
	src := header +
		"  resources: {memory: 1Ti}\n" + // line 6
		"  wasm: {module: missing.wasm}\n" + // line 7
		"  concurrency: 0\n" + // line 8
		"  env: {A: 1}\n" // line 9
	_, err := Parse("m.yaml", []byte(src))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 5)
	assert.True(t, strings.HasPrefix(lines[0], "m.yaml:6:3: spec.trigger: required field is missing"), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "m.yaml:6:15: spec.resources.memory: 1Ti is above the maximum 4Gi"), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "m.yaml:7:10: spec.wasm.module: file not found"), lines[2])
	assert.True(t, strings.HasPrefix(lines[3], "m.yaml:8:3: spec.concurrency: 0 is out of range"), lines[3])
	assert.True(t, strings.HasPrefix(lines[4], "m.yaml:9:9: spec.env.A: expected a string"), lines[4])
}
