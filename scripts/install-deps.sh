#!/usr/bin/env bash
# Installs the programs the tests and the demo run against, from Debian's
# packages, when any of them is missing: containerd and runc (container
# workloads), mosquitto and its clients (an external broker and independent
# MQTT clients), promtool (checks the metrics exposition) and wat2wasm
# (assembles hand-written test modules).
set -euo pipefail

need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || need+=(runc)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v promtool >/dev/null || need+=(prometheus)
command -v wat2wasm >/dev/null || need+=(wabt)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: ${need[*]}; run as root or install them with apt-get" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
