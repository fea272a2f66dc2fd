#!/usr/bin/env bash
# Installs the Debian packages listed in deps/debian.txt that are missing.
# Touches nothing when all are present, so it is cheap to run every time.
#
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
missing=()
while read -r pkg; do
  case "$pkg" in ''|'#'*) continue ;; esac
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done < "$here/debian.txt"
# node, npm and kubectl may come from outside Debian on some machines: accept those.
filtered=()
for pkg in "${missing[@]+"${missing[@]}"}"; do
  case "$pkg" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    # another package's kubectl (Google's) owns /usr/bin/kubectl: keep it
    kubernetes-client) command -v kubectl >/dev/null 2>&1 && continue ;;
  esac
  filtered+=("$pkg")
done
if [ ${#filtered[@]} -eq 0 ]; then
  echo "deps: all Debian packages present"
  exit 0
fi
echo "deps: installing ${filtered[*]}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${filtered[@]}"
