#!/usr/bin/env bash
# The checks of package-test.sh, run as root inside the Debian container.
set -euo pipefail

deb=$1
unit=/lib/systemd/system/xborder.service
data=/var/lib/xborder
step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; [ -f /tmp/node.log ] && { echo "--- node log" >&2; tail -30 /tmp/node.log >&2; }; exit 1; }

# as_xborder runs a command as the service runs: user and group xborder,
# no new privileges, no capabilities, systemd's environment for User=, the
# unit's EnvironmentFile, working directory /. (systemd is not PID 1 in a
# container, so the rest of the unit's sandbox is checked by
# systemd-analyze only.)
privs() {
  PRIV=(setpriv --reuid=xborder --regid=xborder --init-groups --no-new-privs --bounding-set=-all
    env -i "HOME=$data" USER=xborder LOGNAME=xborder SHELL=/usr/sbin/nologin PATH=/usr/local/bin:/usr/bin:/bin)
  if [ -f /etc/xborder/xborder.env ]; then
    while IFS= read -r line; do
      case "$line" in ''|'#'*) ;; *) PRIV+=("$line") ;; esac
    done < /etc/xborder/xborder.env
  fi
}
as_xborder() { privs; (cd / && exec "${PRIV[@]}" "$@"); }

install_checks() {
  getent passwd xborder | grep -q ":$data:/usr/sbin/nologin$" || fail "user xborder: $(getent passwd xborder)"
  getent group xborder >/dev/null || fail "no group xborder"
  [ "$(stat -c '%U:%G %a' $data)" = "xborder:xborder 750" ] || fail "$data is $(stat -c '%U:%G %a' $data)"
  [ -x /usr/bin/xborder ] || fail "no /usr/bin/xborder"
  grep -qx /etc/xborder/xborder.env /var/lib/dpkg/info/xborder.conffiles || fail "xborder.env is not a conffile"
}

step "dpkg -i (adduser installed)"
dpkg -i "$deb" > /tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i"; }
grep -q "xborder --data $data init" /tmp/dpkg.log || fail "postinst did not say how to initialise the node"
install_checks
/usr/bin/xborder version

step "man pages and completions"
zcat /usr/share/man/man1/xborder.1.gz | grep -q '^\.TH "XBORDER" "1"' || fail "xborder.1.gz"
zcat /usr/share/man/man1/xborder-run.1.gz | grep -q SIGHUP || fail "xborder-run.1.gz does not document SIGHUP"
pages=(/usr/share/man/man1/xborder*.1.gz)
[ "${#pages[@]}" -ge 30 ] || fail "${#pages[@]} man pages"
[ ! -e /usr/share/man/man1/xborder-gen-man.1.gz ] || fail "a man page for the hidden gen-man"
bash -c 'source /usr/share/bash-completion/completions/xborder && declare -F __start_xborder >/dev/null' || fail "bash completion"
grep -q '#compdef xborder' /usr/share/zsh/vendor-completions/_xborder || fail "zsh completion"
grep -q 'complete -c xborder' /usr/share/fish/vendor_completions.d/xborder.fish || fail "fish completion"

step "systemd-analyze verify"
# --man=no: the man pages are checked above; this image has no man-db.
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || { echo "$out"; fail "systemd-analyze verify"; }
if printf '%s' "$out" | grep -q xborder; then echo "$out"; fail "systemd-analyze verify warns about the unit"; fi
grep -q '^MemoryDenyWriteExecute' "$unit" && fail "MemoryDenyWriteExecute would stop wazero's compiled modules"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = "/usr/bin/xborder --data $data run" ] || fail "ExecStart is $exec_start"
systemd-analyze security --offline=yes "$unit" 2>/dev/null | tail -1 || true

step "first start (docs/OPERATIONS.md): init, genesis, ExecStart as user xborder"
as_xborder xborder --data $data init --name de-pkgtest --country DE --org "Package test" \
  --listen /ip4/127.0.0.1/tcp/7400,/ip4/127.0.0.1/udp/7400/quic-v1 > /tmp/peer-id
[ "$(stat -c '%U %a' $data/key)" = "xborder 600" ] || fail "key is $(stat -c '%U %a' $data/key)"
# The partners' genesis: here a federation of this node alone.
as_xborder xborder --data $data genesis --federation package-test --out /tmp/federation.json $data >/dev/null
install -o xborder -g xborder -m 0640 /tmp/federation.json $data/federation.json
# The unit's ExecStart word for word, as the unit runs it.
privs
# shellcheck disable=SC2086 # ExecStart's words, split as systemd splits them
{ cd / && exec "${PRIV[@]}" $exec_start; } > /tmp/node.log 2>&1 &
pid=$!
deadline=$(( $(date +%s) + 60 ))
until xborder --data $data healthcheck --timeout 1s >/dev/null 2>&1; do
  kill -0 $pid 2>/dev/null || fail "the node exited"
  [ "$(date +%s)" -lt $deadline ] || fail "not ready within 60s"
  sleep 0.2
done
xborder --data $data healthcheck
# The operator's form (docs/OPERATIONS.md) works for any user; the data dir
# is the service user's alone.
nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
"${nobody[@]}" xborder --addr http://127.0.0.1:7401 healthcheck >/dev/null || fail "healthcheck --addr as another user"
! "${nobody[@]}" cat $data/key >/dev/null 2>&1 || fail "another user reads the key"
! "${nobody[@]}" ls $data >/dev/null 2>&1 || fail "another user lists the data dir"
[ "$(ps -o user= -p $pid)" = xborder ] || fail "the node runs as $(ps -o user= -p $pid)"
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid/status || fail "no NoNewPrivs"
grep -q '^CapBnd:[[:space:]]*0000000000000000' /proc/$pid/status || fail "capabilities left"
status=$(as_xborder xborder --data $data status --json) || fail "status"
echo "$status" | grep -q '"name": *"de-pkgtest"' || fail "status: $status"
echo "$status" | grep -q '"ready": *true' || fail "status not ready: $status"
grep -q "$(cat /tmp/peer-id)" <<<"$status" || fail "status has another peer ID"

step "reload: ExecReload's SIGHUP"
kill -HUP $pid
deadline=$(( $(date +%s) + 30 ))
until grep -q 'reloading policies on signal' /tmp/node.log; do
  kill -0 $pid 2>/dev/null || fail "SIGHUP stopped the node"
  [ "$(date +%s)" -lt $deadline ] || fail "no reload within 30s"
  sleep 0.2
done
xborder --data $data healthcheck >/dev/null || fail "not ready after the reload"

step "stop: SIGTERM, exit 0"
kill -TERM $pid
wait $pid || fail "the node exited $? on SIGTERM"

step "reinstall over itself (an upgrade's path): the node's files stay"
dpkg -i "$deb" >/dev/null 2>&1 || fail "dpkg -i again"
cmp -s <(cat $data/key) <(as_xborder cat $data/key) || fail "key unreadable for xborder"

step "dpkg -r keeps the node"
dpkg -r xborder >/dev/null 2>&1 || fail "dpkg -r"
for f in /usr/bin/xborder "$unit"; do [ ! -e "$f" ] || fail "remove left $f"; done
for f in key config.yaml federation.json node.db policies; do [ -e "$data/$f" ] || fail "remove deleted $data/$f"; done
[ -f /etc/xborder/xborder.env ] || fail "remove deleted /etc/xborder/xborder.env"
getent passwd xborder >/dev/null || fail "remove deleted the user"
dpkg -s xborder 2>/dev/null | grep -q '^Status: deinstall ok config-files' || fail "not in config-files state"

step "dpkg --purge deletes the node"
dpkg --purge xborder >/dev/null 2>&1 || fail "dpkg --purge"
[ ! -e $data ] || fail "purge left $data"
[ ! -e /etc/xborder ] || fail "purge left /etc/xborder"
! getent passwd xborder >/dev/null || fail "purge left the user"
! getent group xborder >/dev/null || fail "purge left the group"

step "without adduser: useradd"
# systemd's own packages depend on adduser; a host without it (the package
# accepts passwd instead) is simulated by forcing it out.
dpkg -r --force-depends adduser >/dev/null 2>&1 || fail "dpkg -r adduser"
! command -v adduser >/dev/null || fail "adduser still installed"
dpkg -i "$deb" >/dev/null 2>&1 || fail "dpkg -i without adduser"
install_checks
dpkg --purge xborder >/dev/null 2>&1 || fail "dpkg --purge (useradd)"
! getent passwd xborder >/dev/null || fail "purge after useradd left the user"
! getent group xborder >/dev/null || fail "purge after useradd left the group"
[ ! -e $data ] || fail "purge after useradd left $data"

step "all checks passed"
