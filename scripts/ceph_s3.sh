#!/usr/bin/env bash
# A real Ceph RADOS Gateway (S3) for tests, as a one-host cluster that lives entirely in one
# directory: one monitor, one in-memory OSD (memstore), one radosgw, run as plain background
# processes (no systemd, nothing under /etc/ceph or /var/lib/ceph).
#
#   scripts/ceph_s3.sh up DIR     installs Debian's ceph-mon ceph-osd radosgw ceph-common if
#                                 missing, starts the cluster in DIR (which must be absent or
#                                 empty), creates an S3 user and prints `export` lines for
#                                 RIFFLE_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY (also in DIR/env).
#   scripts/ceph_s3.sh down DIR   stops every process `up` started (from DIR/pids) and removes DIR.
#
# Knobs (environment): CEPH_S3_ACCESS_KEY / CEPH_S3_SECRET_KEY (default: generated),
# CEPH_S3_MEMSTORE_BYTES (the OSD's RAM capacity, default 2 GiB; used only as data is written),
# CEPH_S3_TIMEOUT (seconds for each wait, default 120).
# The cluster's data is in memory: it does not survive `down` or a restart of the OSD.
set -euo pipefail

MARKER="# riffle ceph_s3.sh cluster"
TIMEOUT=${CEPH_S3_TIMEOUT:-120}

log() { echo "ceph_s3: $*" >&2; }
die() { log "$*"; exit 1; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

random_key() {
  /usr/bin/python3 -c 'import secrets,sys; print("".join(secrets.choice(sys.argv[2]) for _ in range(int(sys.argv[1]))))' "$1" "$2"
}

# Retries "$@" (quietly) once a second until it succeeds, TIMEOUT passes or a daemon dies.
wait_for() {
  local what=$1; shift
  local end=$((SECONDS + TIMEOUT)) pid
  until "$@" >/dev/null 2>&1; do
    for pid in $(<"$DIR/pids"); do
      [ -d "/proc/$pid" ] || { log "a daemon (pid $pid) exited"; return 1; }
    done
    [ $SECONDS -lt $end ] || return 1
    sleep 1
  done
  log "$what ready after $((SECONDS - START))s"
}

install_packages() {
  local missing=() p
  for p in ceph-mon ceph-osd radosgw ceph-common; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Kills the processes listed in DIR/pids (only those whose command line still names DIR).
# SIGKILL straight away: the data goes with DIR anyway, and a clean stop takes radosgw ~5 s.
stop_all() {
  local dir=$1 pid pids=()
  [ -f "$dir/pids" ] || return 0
  for pid in $(<"$dir/pids"); do
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf"; then
      kill -KILL "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # Wait (up to 5 s) until they are gone or zombies.
  local alive
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do
      [ -r "/proc/$pid/stat" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] && alive=1
    done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
}

# Starts a daemon in the foreground mode (-f) as a background process of its own session, with
# its output in DIR/log, and records its pid.
start_daemon() {
  local name=$1; shift
  setsid "$@" -f --conf "$DIR/ceph.conf" </dev/null >"$DIR/log/$name.out" 2>&1 &
  echo $! >>"$DIR/pids"
}

# The end of each daemon's log, for a failed `up` (a test run may remove DIR right after).
show_logs() {
  local f
  for f in "$DIR"/log/{mon.a,osd.0,client.rgw.a}.log "$DIR"/log/*.out; do
    [ -s "$f" ] || continue
    echo "---- ${f#"$DIR"/} (last lines)" >&2
    tail -n 8 "$f" | cut -c1-300 >&2
  done
}

on_up_exit() {
  local rc=$?
  [ $rc -eq 0 ] && return 0
  show_logs
  log "failed; logs are in $DIR/log"
  stop_all "$DIR"
}

ceph_cli() { timeout 30 ceph --conf "$DIR/ceph.conf" --connect-timeout 20 "$@"; }

up() {
  START=$SECONDS
  install_packages
  DIR=$(realpath -m "$DIR")
  # Unix sockets (admin sockets) are limited to 107 bytes.
  [ ${#DIR} -le 60 ] || die "$DIR is too long a path for the admin sockets (max 60 characters)"
  mkdir -p "$DIR"
  [ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
  mkdir -p "$DIR"/{mon.a,osd.0,run,log,crash,rgw}

  local fsid mon_port rgw_port osd_uuid access secret
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  while [ "$rgw_port" = "$mon_port" ]; do rgw_port=$(free_port); done
  access=${CEPH_S3_ACCESS_KEY:-$(random_key 20 ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789)}
  secret=${CEPH_S3_SECRET_KEY:-$(random_key 40 ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789)}
  [[ $access$secret =~ ^[A-Za-z0-9/+=_-]+$ ]] || die "keys may only hold A-Z a-z 0-9 / + = _ -"

  cat >"$DIR/ceph.conf" <<EOF
$MARKER
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
keyring = $DIR/keyring
run dir = $DIR/run
crash dir = $DIR/crash
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
# The monitor's store is tiny: don't warn (30%) or stop (5%) over a fullish disk.
mon data avail warn = 1
mon data avail crit = 0
# radosgw and radosgw-admin default this to "secure", which auth none cannot offer.
ms mon client mode = crc

[mon]
mon data = $DIR/\$name
admin socket = $DIR/run/\$name.asok

[osd]
osd data = $DIR/\$name
admin socket = $DIR/run/\$name.asok
osd objectstore = memstore
memstore device bytes = ${CEPH_S3_MEMSTORE_BYTES:-2147483648}
osd op num shards = 2
osd op num threads per shard = 1
osd crush update on start = true

[client.rgw.a]
rgw data = $DIR/rgw
admin socket = $DIR/run/\$name.asok
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw thread pool size = 64
# The tails (past 4 MiB) of deleted or overwritten objects are freed by garbage collection,
# after 2 hours by default: free them within a minute, since the OSD keeps them in RAM.
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF

  log "cluster in $DIR (mon port $mon_port, rgw port $rgw_port)"
  # On any failure from here on, stop what was started (DIR and its logs stay for a look).
  trap on_up_exit EXIT
  ceph-authtool --create-keyring --gen-key --name=mon. "$DIR/keyring" >/dev/null
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" \
    "$DIR/monmap" >/dev/null
  ceph-mon --conf "$DIR/ceph.conf" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  start_daemon mon.a ceph-mon -i a
  wait_for "monitor" ceph_cli mon stat || die "the monitor did not come up (see $DIR/log)"

  local id
  id=$(ceph_cli osd new "$osd_uuid")
  [ "$id" = 0 ] || die "expected osd id 0, got '$id'"
  ceph-osd --conf "$DIR/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd.0.mkfs" 2>&1 ||
    { cat "$DIR/log/osd.0.mkfs" >&2; die "ceph-osd --mkfs failed"; }
  start_daemon osd.0 ceph-osd -i 0
  wait_for "osd" sh -c "ceph --conf '$DIR/ceph.conf' --connect-timeout 10 osd dump | grep -q '^osd.0 up  *in '" ||
    die "the OSD did not come up (see $DIR/log)"

  start_daemon rgw.a radosgw -n client.rgw.a
  wait_for "radosgw" sh -c "curl -sf -o /dev/null http://127.0.0.1:$rgw_port/" ||
    die "radosgw did not answer on port $rgw_port (see $DIR/log)"

  timeout 60 radosgw-admin --conf "$DIR/ceph.conf" user create --uid=riffle --display-name=Riffle \
    --access-key="$access" --secret-key="$secret" >"$DIR/log/user.json" 2>"$DIR/log/user.err" ||
    { cat "$DIR/log/user.err" >&2; die "radosgw-admin user create failed"; }

  cat >"$DIR/env" <<EOF
export RIFFLE_TEST_S3_ENDPOINT=http://127.0.0.1:$rgw_port
export RIFFLE_TEST_S3_ACCESS_KEY=$access
export RIFFLE_TEST_S3_SECRET_KEY=$secret
EOF
  log "up in $((SECONDS - START))s"
  cat "$DIR/env"
}

down() {
  [ -e "$DIR" ] || return 0
  DIR=$(realpath "$DIR")
  # Refuse to remove a directory that `up` did not make.
  if [ -n "$(ls -A "$DIR")" ] && ! head -1 "$DIR/ceph.conf" 2>/dev/null | grep -qxF "$MARKER"; then
    die "$DIR does not hold a cluster made by $0; not removing it"
  fi
  stop_all "$DIR"
  rm -rf "$DIR"
}

[ $# -eq 2 ] || die "usage: $0 up|down DIR"
DIR=$2
case $1 in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down DIR" ;;
esac
