#!/usr/bin/env bash
# A local cluster to try: etcd (data in a temporary folder, loopback ports)
# and three nodes of the example admin server joined to cluster "demo",
# each with its own Unix socket, until Ctrl-C (or SIGTERM), then everything
# is stopped and the folder removed.
#
#   bash scripts/cluster.sh [HANDLES_PER_NODE]      (default 4)
#
# Needs etcd (Debian's etcd-server: `apt-get install etcd-server`) and
# builds the example with `--features admin,cluster`. Prints one `qq` line
# per node; any node answers for the whole cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
handles="${1:-4}"
command -v etcd >/dev/null || { echo "error: etcd not found: apt-get install etcd-server" >&2; exit 1; }
cargo build --quiet --features admin,cluster --example admin_server
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples/admin_server"
dir="$(mktemp -d /tmp/smbh-cluster.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
client="$(free_port)" peer="$(free_port)"
etcd --data-dir "$dir/etcd" --name demo \
  --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "demo=http://127.0.0.1:$peer" >"$dir/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -s -m 1 -X POST "http://127.0.0.1:$client/v3/kv/range" -d '{"key":"eA=="}' 2>/dev/null | grep -q header && break
  sleep 0.1
done
head -c 32 /dev/urandom >"$dir/cluster.key"
echo "etcd: http://127.0.0.1:$client (log $dir/etcd.log)"
for n in 1 2 3; do
  "$bin" --unix "$dir/n$n.sock" --tcp 127.0.0.1:0 --user admin --password secret \
    --handles "$handles" --sessions 2 --etcd "http://127.0.0.1:$client" --cluster demo \
    --node "n$n" --cluster-key "$dir/cluster.key" >"$dir/n$n.out" 2>"$dir/n$n.err" &
  pids+=($!)
  for _ in $(seq 300); do grep -q '^ready' "$dir/n$n.out" 2>/dev/null && break; sleep 0.1; done
  grep '^ready' "$dir/n$n.out" || { cat "$dir/n$n.err" >&2; exit 1; }
  echo "  qq --host localhost --socket-path $dir/n$n.sock login -u admin -p secret"
done
echo "then: qq --host localhost --socket-path $dir/n1.sock smb_list_file_handles"
echo "Ctrl-C stops the cluster."
wait
