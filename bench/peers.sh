#!/usr/bin/env bash
# Riffle next to influxdb 1.6.7 and VictoriaMetrics 1.79 (Debian 12 packages) in one run; one table.
#   bench/peers.sh [--rows 1000000] [--seq-rows 200000] ...   (python3 bench/peers.py --help)
#   RIFFLE_BIN=/path/to/influxdb3 bench/peers.sh                (default build/influxdb3)
# Installs the missing packages without starting their services; bench/peers.py starts each
# server itself on a free port with a temp data dir and stops it (and removes the dir) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v influxd >/dev/null || missing+=(influxdb)
command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # refuse the packages' service starts during the install
    policy=/usr/sbin/policy-rc.d
    trap '$sudo rm -f $policy' EXIT
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null && $sudo chmod +x $policy
  fi
  apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get)
  "${apt[@]}" install -y "${missing[@]}" || { "${apt[@]}" update && "${apt[@]}" install -y "${missing[@]}"; }
  [ -z "$policy" ] || $sudo rm -f "$policy"
  trap - EXIT
fi
exec python3 bench/peers.py "$@"
