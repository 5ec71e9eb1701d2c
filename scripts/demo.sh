#!/usr/bin/env bash
# The hybridd demo: start a daemon with its embedded MQTT broker on loopback,
# deploy the example manifest, replay the occupancy data set as telemetry,
# print the alerts and the metrics, and stop everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

HYBRIDD=$PWD/bin/hybridd
EXAMPLES=examples/wasm-sensors
DATA=$EXAMPLES/data/datatest.txt
WORK=$(mktemp -d /tmp/hybridd-demo.XXXXXX)
PIDS=()

cleanup() {
	local status=$?
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "${CONTAINERD_PID:-}" ]; then
		./scripts/containerd.sh stop "$WORK/containerd"
	fi
	rm -rf "$WORK"
	exit $status
}
trap cleanup EXIT INT TERM

# free_port prints a loopback TCP port with no listener.
free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

MQTT_PORT=$(free_port)
METRICS_PORT=$(free_port)
SOCKET=$WORK/hybridd.sock
export HYBRIDD_SOCKET=$SOCKET

# Containers: use the containerd at CONTAINERD_ADDRESS when it responds,
# otherwise start a private one (as root) for the length of the demo.
CONTAINERD=${CONTAINERD_ADDRESS:-}
if [ -n "$CONTAINERD" ] && timeout -s KILL 5 ctr --address "$CONTAINERD" version >/dev/null 2>&1; then
	echo "== using containerd at $CONTAINERD"
elif [ "$(id -u)" -eq 0 ] && command -v containerd >/dev/null; then
	CONTAINERD=$(./scripts/containerd.sh start "$WORK/containerd")
	CONTAINERD_PID=yes
	echo "== started a private containerd at $CONTAINERD"
else
	echo "== no containerd reachable at ${CONTAINERD:-/run/containerd/containerd.sock}; container workloads stay pending"
	CONTAINERD=""
fi

echo "== starting hybridd serve (MQTT on 127.0.0.1:$MQTT_PORT, metrics on 127.0.0.1:$METRICS_PORT)"
"$HYBRIDD" serve --state-dir "$WORK/state" --socket "$SOCKET" \
	--mqtt-listen "127.0.0.1:$MQTT_PORT" --metrics-listen "127.0.0.1:$METRICS_PORT" \
	--containerd-address "$CONTAINERD" --containerd-namespace hybridd-demo \
	--init-binary "$PWD/bin/hybridd-init" --memory-budget 1Gi \
	2>"$WORK/hybridd.log" &
PIDS+=($!)
for _ in $(seq 100); do
	if "$HYBRIDD" version 2>/dev/null | grep -q '^daemon: [^n]'; then
		break
	fi
	sleep 0.1
done
"$HYBRIDD" version

echo "== hybridd plan $EXAMPLES/manifest.yaml"
"$HYBRIDD" plan "$EXAMPLES/manifest.yaml"
echo
echo "== hybridd deploy $EXAMPLES/manifest.yaml"
"$HYBRIDD" deploy "$EXAMPLES/manifest.yaml"

READINGS=$(($(wc -l <"$DATA") - 1))
EXPECTED=$(awk -F, 'NR > 1 && $6 + 0 > 1000 { n++ } END { print n + 0 }' "$DATA")
timeout -s KILL 600 mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -v -t 'alerts/#' -t 'counts/#' \
	>"$WORK/bus.txt" 2>/dev/null &
SUB=$!
PIDS+=($SUB)
sleep 0.5

echo
echo "== replaying $READINGS readings of $DATA as device office-1"
"$HYBRIDD" publish --mqtt-url "mqtt://127.0.0.1:$MQTT_PORT" --csv "$DATA" --device office-1 \
	'sensors/{device}/telemetry'

# Wait until co2-alert has handled every reading (at most five minutes).
for _ in $(seq 600); do
	done_count=$("$HYBRIDD" ps -o json | grep -A 12 '"name": "co2-alert"' | sed -n 's/.*"invocations": \([0-9]*\).*/\1/p')
	[ "${done_count:-0}" -ge "$READINGS" ] && break
	sleep 0.5
done
sleep 1
kill -TERM "$SUB" 2>/dev/null || true

grep '^alerts/' "$WORK/bus.txt" >"$WORK/alerts.txt" || true
echo
echo "== alerts received: $(wc -l <"$WORK/alerts.txt") (readings with co2 above 1000 in the file: $EXPECTED); the first five:"
head -n 5 "$WORK/alerts.txt"
RECEIVED=$(wc -l <"$WORK/alerts.txt")
if grep -q '^counts/' "$WORK/bus.txt"; then
	echo
	echo "== the last count published by the alert-counter container:"
	grep '^counts/' "$WORK/bus.txt" | tail -n 1
fi

echo
echo "== hybridd ps"
"$HYBRIDD" ps

echo
echo "== hybridd_ lines of /metrics"
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" | grep '^hybridd_' | grep -v '_bucket{'

echo

if [ "$RECEIVED" -ne "$EXPECTED" ]; then
	echo "== FAILED: received $RECEIVED alerts, expected $EXPECTED; hybridd's log:" >&2
	tail -n 30 "$WORK/hybridd.log" >&2
	exit 1
fi
echo "== done: $RECEIVED alerts, as computed from the data set"
