#!/usr/bin/env bash
# Both libraries installed as a new user would, from a fresh clone of this
# checkout (its HEAD: what is committed) into empty environments: a venv
# over Debian's Python packages (`pip install --no-build-isolation`), an
# empty npm project (`npm install ./clients/node`); then the console script,
# ESM and CommonJS imports, the TypeScript example compiled against the
# installed declarations, and both example agents run against a kernel
# with bearer tokens (they register themselves with an admin token).
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"

VERSION=$(sed -n 's/^#define CAM_VERSION "\(.*\)"/\1/p' "$ROOT/common/version.h")
ADMIN_TOKEN=install-admin-token-0123456789
clone=$TMP/clone venv=$TMP/venv project=$TMP/project

git clone -q "$ROOT" "$clone"
check "fresh clone of $(git -C "$ROOT" rev-parse --short HEAD)" test -f "$clone/clients/python/setup.py"

/usr/bin/python3 -m venv --system-site-packages "$venv"
check "pip install --no-build-isolation ./clients/python into a venv with Debian's site packages" \
  bash -c "cd '$clone' && '$venv/bin/pip' install -q --no-build-isolation ./clients/python >'$TMP/pip.log' 2>&1"
check "the cam console script and python3 -m camos say version $VERSION" bash -c \
  "[ \"\$('$venv/bin/cam' --version)\" = 'cam $VERSION' ] && [ \"\$('$venv/bin/python' -m camos --version)\" = 'cam $VERSION' ]"

mkdir -p "$project"
check "npm install ./clients/node into an empty npm project" bash -c \
  "cd '$project' && npm init -y >/dev/null && npm pkg set type=module &&
   npm install --no-audit --no-fund '$clone/clients/node' >'$TMP/npm.log' 2>&1"
check "import and require give the same library, version $VERSION" bash -c "cd '$project' &&
  node -e \"const c = require('@cam-os/client'); if (c.VERSION !== '$VERSION' || typeof c.Client !== 'function') process.exit(1)\" &&
  node --input-type=module -e \"import { Client, VERSION } from '@cam-os/client'; import { createRequire } from 'node:module';
    if (Client !== createRequire(import.meta.url)('@cam-os/client').Client || VERSION !== '$VERSION') process.exit(1)\""
tsc="$clone/clients/node/node_modules/typescript/bin/tsc"
cp "$clone/clients/node/examples/agent.ts" "$project/agent.ts"
check "the TypeScript example compiles against the installed .d.ts" bash -c "cd '$project' &&
  node '$tsc' --strict --module nodenext --moduleResolution nodenext --target es2022 \
    --types node --typeRoots '$clone/clients/node/node_modules/@types' agent.ts >'$TMP/tsc.log' 2>&1"

hash=$(printf %s "$ADMIN_TOKEN" | sha256sum | cut -d' ' -f1)
echo "$hash install-admin admin" >"$TMP/tokens"
GRPC_PORT=$(free_port)
kernel_start kernel "ipc://$TMP/bus.ipc" --auth-tokens-file "$TMP/tokens"
export CAM_ADDR=127.0.0.1:$GRPC_PORT CAM_TOKEN=$ADMIN_TOKEN
check "cam ping from the installed console script" wait_for 10 "$venv/bin/cam" ping
agent_line='^agent-[0-9]+: goal .find food., priority 6 \(normal\), trace [0-9a-f]{32}$'
out=$("$venv/bin/python" "$clone/clients/python/examples/agent.py" 2>&1)
check "the Python example agent runs: $(grep -m1 -E 'Error|^agent-' <<<"$out" || tail -1 <<<"$out")" grep -Eq "$agent_line" <<<"$out"
out=$(cd "$project" && node agent.js 2>&1)
check "the TypeScript example agent runs: $(grep -m1 -E 'Error|^agent-' <<<"$out" || tail -1 <<<"$out")" grep -Eq "$agent_line" <<<"$out"
finish
