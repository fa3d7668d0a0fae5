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

# README.md's fenced code blocks of language $1 (```$1), written to folder
# $2 as 01.$3, 02.$3, ... in README order ($3 defaults to $1). Prints how
# many. Used by scripts/readme-snippets.sh and scripts/newcomer.sh, so they
# test what README shows.
readme_blocks() {
  local lang="$1" dir="$2" ext="${3:-$1}" readme
  readme="$(dirname "${BASH_SOURCE[0]}")/../README.md"
  mkdir -p "$dir"
  awk -v lang="$lang" -v dir="$dir" -v ext="$ext" '
    /^```/ {
      if (open) { open = 0; if (f != "") close(f); f = ""; next }
      open = 1
      if ($0 == "```" lang) { n++; f = sprintf("%s/%02d.%s", dir, n, ext); printf "" > f }
      next
    }
    open && f != "" { print > f }
    END { print n + 0 }' "$readme"
}

# The one line of README.md's ```sh blocks that starts with $1, without its
# trailing comment (two or more spaces, then #). Fails, saying so, when README
# has no such line or several: README drifted from its caller.
readme_cmd() {
  local readme got n
  readme="$(dirname "${BASH_SOURCE[0]}")/../README.md"
  got="$(awk -v p="$1" '
    /^```/ { if (open) { open = 0; sh = 0; next } open = 1; sh = ($0 == "```sh"); next }
    sh && index($0, p) == 1' "$readme" | sed 's/[[:space:]]\{2,\}#.*$//')"
  n="$(printf '%s' "$got" | grep -c '^' || true)"
  if [ "$n" != 1 ]; then
    echo "error: README.md has $n sh lines starting with '$1' (expected one)" >&2
    return 1
  fi
  printf '%s\n' "$got"
}
