# Shell helpers the project's scripts share (sourced, not run).

# True when command $1 is on PATH.
need() { command -v "$1" >/dev/null 2>&1; }

# Installs Debian packages (sudo unless root), or fails saying what is missing.
apt_install() {
  if ! need apt-get; then
    echo "error: $* missing and apt-get unavailable; install it by hand" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}
