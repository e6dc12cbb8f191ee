#!/usr/bin/env bash
# WAN latency between the testnet's countries: testnet/netem.sh on|off|show [NODE...]
#
# Each container's eth0 gets an htb root with one class per partner, each
# class a netem qdisc adding half the pair's round-trip time, selected by
# destination IP (u32). Both directions are shaped, so a pair's RTT is the
# figure below. Run from the host as root: `nsenter -t PID -n tc ...` in each
# container's network namespace (the image has no shell and no tc).
#
# Emulated round-trip times (ms), roughly the public-internet paths between
# the regions' data centres, with no loss and no bandwidth cap:
#
#                 fr-grandest de-bw ch-basel be-wallonie lu-luxembourg
#   fr-grandest        -        8      6         12           8
#   de-bw              8        -      8         16          12
#   ch-basel           6        8      -         16          12
#   be-wallonie       12       16     16          -           6
#   lu-luxembourg      8       12     12          6           -
#
# Shaping lives in the container's network namespace: it is lost when the
# container restarts (docker kill/start) or its interface is recreated
# (docker network disconnect/connect). Run `testnet/netem.sh on NODE` again.
set -euo pipefail

NAMES=(fr-grandest de-bw ch-basel be-wallonie lu-luxembourg)
IPS=(10.207.74.11 10.207.74.12 10.207.74.13 10.207.74.14 10.207.74.15)
RTT=(
  "0 8 6 12 8"
  "8 0 8 16 12"
  "6 8 0 16 12"
  "12 16 16 0 6"
  "8 12 12 6 0"
)

die() { echo "netem: $*" >&2; exit 1; }

pid_of() {
  local pid
  pid=$(docker inspect -f '{{.State.Pid}}' "$1" 2>/dev/null) || die "no container $1"
  [ "$pid" != 0 ] || die "$1 is not running"
  echo "$pid"
}

in_ns() { local pid=$1; shift; nsenter -t "$pid" -n "$@"; }

check() {
  [ "$(id -u)" = 0 ] || die "needs root (nsenter into the containers' network namespaces)"
  command -v tc >/dev/null || die "tc is missing: apt-get install iproute2"
  command -v nsenter >/dev/null || die "nsenter is missing: apt-get install util-linux"
  local pid
  pid=$(pid_of "$1")
  if ! in_ns "$pid" tc qdisc add dev eth0 root netem delay 1ms 2>/dev/null; then
    die "this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): WAN latency cannot be emulated on this machine"
  fi
  in_ns "$pid" tc qdisc del dev eth0 root
}

on_node() {
  local i=$1 pid
  pid=$(pid_of "${NAMES[$i]}")
  read -r -a row <<<"${RTT[$i]}"
  in_ns "$pid" tc qdisc del dev eth0 root 2>/dev/null || true
  in_ns "$pid" tc qdisc add dev eth0 root handle 1: htb default 1
  in_ns "$pid" tc class add dev eth0 parent 1: classid 1:1 htb rate 10gbit
  for j in "${!NAMES[@]}"; do
    [ "$i" = "$j" ] && continue
    local k=$((10 + j)) half
    half=$(awk -v r="${row[$j]}" 'BEGIN { printf "%.1fms", r / 2 }')
    in_ns "$pid" tc class add dev eth0 parent 1: classid "1:$k" htb rate 10gbit
    in_ns "$pid" tc qdisc add dev eth0 parent "1:$k" handle "$k:" netem delay "$half" limit 100000
    in_ns "$pid" tc filter add dev eth0 protocol ip parent 1: prio 1 u32 match ip dst "${IPS[$j]}/32" flowid "1:$k"
  done
  echo "netem: ${NAMES[$i]} shaped (RTT ms to fr de ch be lu: ${RTT[$i]})"
}

off_node() {
  local pid
  pid=$(docker inspect -f '{{.State.Pid}}' "${NAMES[$1]}" 2>/dev/null) || return 0
  [ "$pid" != 0 ] || return 0
  in_ns "$pid" tc qdisc del dev eth0 root 2>/dev/null || true
}

selected() {
  if [ $# = 0 ]; then echo "${!NAMES[@]}"; return; fi
  for n in "$@"; do
    local found=""
    for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$n" ] && found=$i; done
    [ -n "$found" ] || die "unknown node $n"
    echo "$found"
  done
}

cmd=${1:-}
shift || true
case "$cmd" in
  on)
    idx=$(selected "$@")
    check "${NAMES[${idx%% *}]}"
    for i in $idx; do on_node "$i"; done ;;
  off)
    for i in $(selected "$@"); do off_node "$i"; done ;;
  show)
    for i in $(selected "$@"); do
      echo "--- ${NAMES[$i]}"; in_ns "$(pid_of "${NAMES[$i]}")" tc qdisc show dev eth0
    done ;;
  *) echo "usage: $0 on|off|show [NODE...]" >&2; exit 2 ;;
esac
