#!/usr/bin/env bash
# Records real Samba's answers to random SMB2 sequences (SPEC §9–§11, issue 9).
#
#   bash scripts/samba-record.sh OUT.json [SEED] [COUNT]
#   bash scripts/samba-record.sh --install-only   # only steps 1 and 2 (for scripts/test.sh)
#   bash scripts/samba-record.sh --leases OUT.json [--seed N] [--count N] [--only NAME] [--slow]
#       leases, oplocks, delete-on-close (tests/samba/leases.py; smbd with leases on):
#       the 35 directed scenarios, then COUNT (default 500) random sequences of
#       seed SEED (default 1); SAMBA_LEASES_SEED / SAMBA_LEASES_COUNT in the
#       environment do the same as --seed / --count (the options win)
#   bash scripts/samba-record.sh --durable OUT.json [--only NAME]
#       durable handles v1/v2, reconnects, replays, app instance ids
#       (tests/samba/durable.py; smbd with durable handles, oplocks and leases
#       on, a second smbd user for the other-user reconnect; about 25 s)
#
# Installs Debian's `samba` when smbd is missing (apt-get; sudo when not root),
# the pinned `smbprotocol` Python package into the project-local venv
# .venv-samba (idempotent: nothing is downloaded when it is already there),
# writes a throwaway smb.conf under a temporary folder, starts smbd on a free
# loopback port, runs tests/samba/record.py against it, writes OUT.json and
# always stops smbd and removes the folder. Every failure is loud: a non-zero
# exit with a message on stderr that says what is missing. Progress goes to
# stderr; stdout stays empty. Needs root (or passwordless sudo): smbd only
# serves as root. KEEP_TMP=1 keeps the temporary folder (config, logs).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=record
if [ "${1:-}" = "--leases" ]; then
  MODE=leases
  shift
  OUT="${1:?usage: samba-record.sh --leases OUT.json}"
  shift
  LEASES_ARGS=()
  [ -n "${SAMBA_LEASES_SEED:-}" ] && LEASES_ARGS+=(--seed "$SAMBA_LEASES_SEED")
  [ -n "${SAMBA_LEASES_COUNT:-}" ] && LEASES_ARGS+=(--count "$SAMBA_LEASES_COUNT")
  LEASES_ARGS+=("$@")   # passed on to leases.py (--seed N, --count N, --only NAME, --slow)
elif [ "${1:-}" = "--durable" ]; then
  MODE=durable
  shift
  OUT="${1:?usage: samba-record.sh --durable OUT.json [--only NAME]}"
  shift
  DURABLE_ARGS=("$@")   # passed on to durable.py (--only NAME)
else
  OUT="${1:?usage: samba-record.sh OUT.json [SEED] [COUNT] | --install-only | --leases OUT.json | --durable OUT.json}"
fi
SEED="${2:-1}"
COUNT="${3:-400}"
SMBPROTOCOL_VERSION=1.17.0
VENV="$PWD/.venv-samba"
USER_NAME=root          # smbd's access checks pass for root, so only sharing and locks decide
USER2_NAME=smbhdur2     # --durable only: a second user (reconnect by another user)
USER2_CREATED=
PASSWORD='smb-handles-diff-1'

die() { echo "samba-record: error: $*" >&2; exit 1; }
say() { echo "samba-record: $*" >&2; }

if [ "$(id -u)" -eq 0 ]; then SUDO=; else
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null ||
    die "not root and no passwordless sudo: smbd (and apt-get) need root"
  SUDO="sudo -n"
fi

# 1. smbd, smbpasswd (Debian package samba).
smbd_path() { command -v smbd 2>/dev/null || { [ -x /usr/sbin/smbd ] && echo /usr/sbin/smbd; } || true; }
if [ -z "$(smbd_path)" ] || ! command -v smbpasswd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "smbd is missing and apt-get is unavailable: install Samba (Debian package samba) by hand"
  say "installing Debian package samba"
  $SUDO apt-get update -qq >&2 || die "apt-get update failed; cannot install samba"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends samba >&2 ||
    die "apt-get install samba failed; Samba cannot be installed, so the differential test cannot run"
  # The package's postinst may start the system smbd on port 445; it is not ours
  # and is left alone (ours uses its own port, config and state).
fi
SMBD="$(smbd_path)"
[ -n "$SMBD" ] || die "smbd not found after installing samba"
SMBPASSWD="$(command -v smbpasswd || echo /usr/bin/smbpasswd)"
[ -x "$SMBPASSWD" ] || die "smbpasswd not found after installing samba"

# 2. smbprotocol, pinned, in .venv-samba.
PY="$VENV/bin/python"
have_smbprotocol() {
  [ -x "$PY" ] && [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("smbprotocol"))' 2>/dev/null)" = "$SMBPROTOCOL_VERSION" ]
}
if ! have_smbprotocol; then
  apt_python() {
    command -v apt-get >/dev/null 2>&1 || die "$1, and apt-get is unavailable: install python3 and python3-venv"
    say "installing Debian packages python3 python3-venv ($1)"
    $SUDO apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv >&2 ||
      die "apt-get install python3 python3-venv failed"
  }
  command -v python3 >/dev/null 2>&1 || apt_python "python3 not found"
  if [ ! -x "$VENV/bin/pip" ]; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >&2; then
      rm -rf "$VENV"
      apt_python "python3 -m venv failed"
      python3 -m venv "$VENV" >&2 || die "python3 -m venv failed even after installing python3-venv"
    fi
  fi
  say "installing smbprotocol==$SMBPROTOCOL_VERSION into .venv-samba"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "smbprotocol==$SMBPROTOCOL_VERSION" >&2 ||
    die "pip install smbprotocol==$SMBPROTOCOL_VERSION failed"
  have_smbprotocol || die "smbprotocol $SMBPROTOCOL_VERSION not importable from $VENV after install"
fi

if [ "$OUT" = "--install-only" ]; then
  say "smbd at $SMBD, smbprotocol $SMBPROTOCOL_VERSION in $VENV"
  exit 0
fi

# 3. A throwaway server: config, state and share under one temporary folder.
TMP="$(mktemp -d /tmp/smb-handles-samba.XXXXXX)"
chmod 755 "$TMP"
SMBD_PID=
SMBD_GROUP=
cleanup() {
  local rc=$?
  if [ -n "$SMBD_PID" ]; then
    SMBD_GROUP="${SMBD_GROUP:-$SMBD_PID}"
    # smbd -F leads its own process group (children: per-connection servers,
    # notifyd, cleanupd); stop that group, which only we started.
    # The parent first, so that it stops and reaps its children itself.
    $SUDO kill -TERM "$SMBD_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SMBD_PID" 2>/dev/null || break; sleep 0.1; done
    $SUDO kill -TERM -- "-$SMBD_GROUP" 2>/dev/null || true
    sleep 0.2
    $SUDO kill -KILL -- "-$SMBD_GROUP" 2>/dev/null || true
    wait "$SMBD_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    for f in "$TMP"/log/*; do
      [ -s "$f" ] || continue
      echo "samba-record: last lines of $(basename "$f"):" >&2
      [ -f "$f" ] && tail -n 40 "$f" >&2 || true
    done
  fi
  [ -n "${KEEP_TMP:-}" ] && say "kept $TMP" || $SUDO rm -rf "$TMP"
  if [ -n "$USER2_CREATED" ]; then
    $SUDO userdel "$USER2_NAME" 2>/dev/null || say "warning: userdel $USER2_NAME failed"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP"/{private,lock,state,cache,pid,ncalrpc,log,share}
chmod 777 "$TMP/share"
SHARE_CONF=
if [ "$MODE" = durable ]; then
  # Durable handles: smb.conf(5) grants them only with kernel oplocks = no,
  # kernel share modes = no and posix locking = no (the last is global
  # below); never for delete-on-close opens.
  OPLOCK_CONF='  oplocks = yes
  level2 oplocks = yes
  smb2 leases = yes
  kernel oplocks = no
  kernel share modes = no'
  SHARE_CONF='  durable handles = yes
  kernel oplocks = no
  kernel share modes = no
  posix locking = no
  oplocks = yes'
elif [ "$MODE" = leases ]; then
  # Leases and oplocks granted by smbd itself (no kernel oplocks or share
  # modes: nothing outside smbd breaks or refuses).
  OPLOCK_CONF='  oplocks = yes
  level2 oplocks = yes
  smb2 leases = yes
  kernel oplocks = no
  kernel share modes = no'
else
  # No oplocks or leases: every request is answered at once, never deferred
  # by a break (the table has neither yet, SPEC §12).
  OPLOCK_CONF='  oplocks = no
  level2 oplocks = no
  kernel oplocks = no
  smb2 leases = no
  kernel share modes = no'
fi
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

cat > "$TMP/smb.conf" <<EOF
[global]
  server role = standalone server
  workgroup = SMBHANDLES
  netbios name = SMBHDIFF
  smb ports = $PORT
  interfaces = lo
  bind interfaces only = yes
  disable netbios = yes
  private dir = $TMP/private
  lock directory = $TMP/lock
  state directory = $TMP/state
  cache directory = $TMP/cache
  pid directory = $TMP/pid
  ncalrpc dir = $TMP/ncalrpc
  log file = $TMP/log/log.%m
  log level = ${SAMBA_LOG_LEVEL:-1}
  max log size = 0
  passdb backend = tdbsam:$TMP/private/passdb.tdb
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  server min protocol = SMB2_10
$OPLOCK_CONF
  # READ/WRITE are checked against byte-range locks (SPEC §10 check_io).
  strict locking = yes
  # Locks live in smbd's own database; no fcntl mapping of huge ranges.
  posix locking = no
  vfs objects =
  usershare path =
  username map =
  invalid users =

[share]
  path = $TMP/share
  read only = no
  browseable = yes
  guest ok = no
  create mask = 0666
  directory mask = 0777
$SHARE_CONF
EOF

say "smbd $("$SMBD" --version | awk '{print $2}') on 127.0.0.1:$PORT, state in $TMP"
printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" |
  $SUDO "$SMBPASSWD" -c "$TMP/smb.conf" -a -s "$USER_NAME" >/dev/null ||
  die "smbpasswd -a $USER_NAME failed"
if [ "$MODE" = durable ]; then
  if ! id "$USER2_NAME" >/dev/null 2>&1; then
    $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin "$USER2_NAME" ||
      die "useradd $USER2_NAME failed (the other-user reconnect needs a second Unix user)"
    USER2_CREATED=1
  fi
  printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" |
    $SUDO "$SMBPASSWD" -c "$TMP/smb.conf" -a -s "$USER2_NAME" >/dev/null ||
    die "smbpasswd -a $USER2_NAME failed"
fi

$SUDO "$SMBD" -F -s "$TMP/smb.conf" --debug-stdout -d 1 >"$TMP/log/stdout" 2>&1 </dev/null &
SMBD_PID=$!

ready=
for _ in $(seq 100); do
  if ! kill -0 "$SMBD_PID" 2>/dev/null; then
    cat "$TMP/log/stdout" >&2 || true
    die "smbd exited at start (config $TMP/smb.conf)"
  fi
  if "$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$PORT)))" 2>/dev/null; then
    ready=1; break
  fi
  sleep 0.1
done
[ -n "$ready" ] || { cat "$TMP/log/stdout" >&2 || true; die "smbd did not answer on 127.0.0.1:$PORT within 10 s"; }
# Under sudo, $! is sudo's pid; smbd's own (its process group) is in its pid file.
for f in "$TMP"/pid/*.pid; do
  [ -f "$f" ] && SMBD_GROUP="$(tr -dc 0-9 < "$f")"
done

# 4. Record.
if [ "$MODE" = durable ]; then
  # A whole run takes about 25 s; 150 s is a hang (every receive is bounded too).
  timeout 150 "$PY" tests/samba/durable.py --host 127.0.0.1 --port "$PORT" --user "$USER_NAME" \
    --user2 "$USER2_NAME" --password "$PASSWORD" --share share --share-dir "$TMP/share" \
    --out "$OUT" --server-version "$("$SMBD" --version)" ${DURABLE_ARGS[@]+"${DURABLE_ARGS[@]}"} ||
    die "durable.py failed (or took more than 150 s)"
  say "wrote $OUT"
  exit 0
fi
if [ "$MODE" = leases ]; then
  "$PY" tests/samba/leases.py --host 127.0.0.1 --port "$PORT" --user "$USER_NAME" \
    --password "$PASSWORD" --share share --share-dir "$TMP/share" --out "$OUT" \
    --server-version "$("$SMBD" --version)" ${LEASES_ARGS[@]+"${LEASES_ARGS[@]}"} ||
    die "leases.py failed"
  say "wrote $OUT"
  exit 0
fi
"$PY" tests/samba/record.py --host 127.0.0.1 --port "$PORT" --user "$USER_NAME" \
  --password "$PASSWORD" --share share --seed "$SEED" --count "$COUNT" \
  --share-dir "$TMP/share" --out "$OUT" --server-version "$("$SMBD" --version)" ||
  die "record.py failed"
say "wrote $OUT"
