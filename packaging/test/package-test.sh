#!/usr/bin/env bash
# Installs xborder's Debian package in a Debian bookworm container and checks
# what an operator relies on (docs/OPERATIONS.md): the user, the unit
# (systemd-analyze verify), the first start as the unit starts the node, the
# health check and status, a reload, remove keeping the node and purge
# deleting it, with adduser and with useradd. `make package-test` runs it.
#
# No image registry is needed: the rootfs is built with debootstrap from
# Debian's archive once, cached as a tarball in PACKAGE_TEST_CACHE, and
# imported into Docker as xborder-debian-test:KEY.
#
# Usage: package-test.sh dist/xborder_VERSION_amd64.deb
set -euo pipefail

deb=${1:?usage: package-test.sh PACKAGE.deb}
[ -f "$deb" ] || { echo "package-test: no package $deb (make package)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
cache=${PACKAGE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xborder-package-test}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# adduser: the postinst's usual way to create the user (the test also
# removes it to take the useradd way); procps: /bin/kill of ExecReload= (a
# dependency of the package); systemd: systemd-analyze and
# deb-systemd-helper, which the maintainer scripts call.
include=adduser,procps,systemd
key=$(printf '%s %s minbase 1' "$suite" "$include" | sha256sum | cut -c1-12)
tarball=$cache/debian-$suite-minbase-$key.tar
image=xborder-debian-test:$key
start=$(date +%s)

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo -n"

docker info >/dev/null 2>&1 || { echo "package-test: the Docker daemon does not answer (.ci/docker-daemon starts it)" >&2; exit 1; }

if ! docker image inspect "$image" >/dev/null 2>&1; then
  if [ ! -s "$tarball" ]; then
    if ! command -v debootstrap >/dev/null; then
      echo "package-test: installing Debian's debootstrap"
      $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q --no-install-recommends debootstrap >/dev/null
    fi
    mkdir -p "$cache"
    root=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap '$SUDO rm -rf "$root"' EXIT
    echo "package-test: debootstrap $suite (minbase, $include) into $root"
    $SUDO debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" > "$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; echo "package-test: debootstrap failed (log: $cache/debootstrap.log)" >&2; exit 1; }
    # Written aside and renamed: an interrupted run leaves no half tarball
    # that the next one would take for the cache.
    $SUDO tar -C "$root" -cf "$tarball.tmp" . && $SUDO mv "$tarball.tmp" "$tarball"
    $SUDO rm -rf "$root"
    trap - EXIT
  fi
  echo "package-test: importing $tarball as $image"
  docker import - "$image" < "$tarball" >/dev/null
fi
echo "package-test: rootfs ready after $(( $(date +%s) - start ))s"

# --network none: the node needs loopback only, and nothing in the
# container can reach the network by mistake.
docker run --rm --network none \
  -v "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb"):/tmp/xborder.deb:ro" \
  -v "$here/in-container.sh:/tmp/in-container.sh:ro" \
  "$image" bash /tmp/in-container.sh /tmp/xborder.deb

echo "package-test: passed in $(( $(date +%s) - start ))s"
