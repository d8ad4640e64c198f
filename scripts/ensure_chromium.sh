#!/usr/bin/env bash
# Browser tests drive Debian's chromium (never a downloaded build). Install it when it is missing.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
echo "Installing Debian's chromium for the browser tests (apt-get install chromium)..."
sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
  || { "${sudo_cmd[@]}" apt-get update >/dev/null && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends chromium >/dev/null; }
[ -x /usr/bin/chromium ] || { echo "chromium could not be installed; browser tests need /usr/bin/chromium" >&2; exit 1; }
