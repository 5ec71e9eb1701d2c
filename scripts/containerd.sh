#!/usr/bin/env bash
# Starts or stops a private containerd whose config, root, state and socket
# all live under DIR, so it never touches a system containerd.
#   containerd.sh start DIR   prints the socket path once containerd responds
#   containerd.sh stop DIR    stops it, its shims, and removes DIR
set -euo pipefail

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
action=$1
dir=$2
sock=$dir/c.sock

start() {
	mkdir -p "$dir"
	cat >"$dir/config.toml" <<CONFIG
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
CONFIG
	setsid containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 </dev/null &
	echo $! >"$dir/containerd.pid"
	for _ in $(seq 100); do
		if timeout -s KILL 5 ctr --address "$sock" version >/dev/null 2>&1; then
			echo "$sock"
			return
		fi
		sleep 0.1
	done
	echo "containerd did not respond on $sock within 10s; its log:" >&2
	tail -n 20 "$dir/containerd.log" >&2
	exit 1
}

stop() {
	if [ -f "$dir/containerd.pid" ]; then
		kill -TERM "$(cat "$dir/containerd.pid")" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$(cat "$dir/containerd.pid")" 2>/dev/null || true
	fi
	# Shims outlive containerd by design; these belong to this one only.
	pkill -KILL -f -- "-address $sock" 2>/dev/null || true
	{ grep -o " $dir/[^ ]*" /proc/mounts || true; } | sort -r | while read -r mnt; do
		umount -l "$mnt" 2>/dev/null || true
	done
	rm -rf "$dir"
}

case $action in
start) start ;;
stop) stop ;;
*) usage ;;
esac
