#!/usr/bin/env bash
# System tools only the tests use: a real UPnP/NAT-PMP router (miniupnpd, in a network namespace)
# for tests/e2e/test_provider_reachability.py. Not part of bootstrap: `make demo` never needs them.
# Best effort: without root or apt those tests skip and say why (the recorded exchange still runs).
set -uo pipefail
command -v dpkg >/dev/null 2>&1 || exit 0
need=()
for p in miniupnpd-nftables nftables iproute2; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
echo "test-deps: installing ${need[*]} (a UPnP router for the reachability tests)"
# miniupnpd's package must not start a daemon on this machine: say no to its question
echo "miniupnpd miniupnpd/start_daemon boolean false" | $SUDO debconf-set-selections 2>/dev/null
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
    || echo "test-deps: could not install ${need[*]}; the namespace router tests will skip"
fi
exit 0
