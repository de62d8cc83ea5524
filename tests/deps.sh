#!/bin/sh
# Install what rdrsim needs on a Debian machine, only when it is missing.
# Arguments name extra tools a target needs (make memcheck: valgrind).
missing=""
for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists glib-2.0 || missing="$missing libglib2.0-dev"
    pkg-config --exists sqlite3  || missing="$missing libsqlite3-dev"
else
    missing="$missing libglib2.0-dev libsqlite3-dev"
fi
[ -e /usr/include/mimalloc.h ] || missing="$missing libmimalloc-dev"   # no pkg-config file
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
command -v sqlite3 >/dev/null 2>&1 || missing="$missing sqlite3"
command -v parallel >/dev/null 2>&1 || missing="$missing parallel"  # the sweep test runs GNU parallel
command -v tshark >/dev/null 2>&1 || missing="$missing tshark"      # the capture test reads captures with Wireshark's dissectors
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"  # the figure test opens the HTML reports in a browser
# the font the figures' label layout is measured against (gnuplot's "Sans")
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$missing fonts-dejavu-core"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "rdrsim needs:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# apt-get update once: not again when the package lists are there.
lists=$(ls /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' -e '^auxfiles$')
{ [ -n "$lists" ] || apt-get update -qq; } && apt-get install -y -qq $missing >/dev/null || {
    echo "apt-get install failed for:$missing" >&2; exit 1; }
