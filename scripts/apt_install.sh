# Sourced by the install scripts: `apt_install WHO PACKAGE...` installs the Debian packages
# given (none: nothing to do), as root with apt-get; otherwise says what to run and exits 1.
apt_install() {
  local who=$1
  shift
  (($#)) || return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "$who: installing $*" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "$who: error: missing $*; install them (e.g. sudo apt-get install $*)" >&2
    exit 1
  fi
}
