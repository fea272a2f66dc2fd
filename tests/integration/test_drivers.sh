#!/usr/bin/env bash
# The driver runtime end to end, through an independent gRPC client
# (Debian's python3-grpcio: grpcurl.py by reflection, drivers_load.py by
# hand-encoded messages): load, invoke and unload each example driver;
# each refusal (bad manifest, wrong hash, ABI mismatch, missing symbol,
# failed init) leaves nothing loaded or running; a crashing, a hanging and
# a leaking driver while the kernel keeps answering ping; concurrent
# invokes; unload waiting for an invoke in flight; health; and the driver
# metrics in a real scrape through cam-exporter.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

DIR="$TMP/drivers"
mkdir -p "$DIR"
cp -r "$ROOT/$BUILD"/drivers/* "$ROOT/$BUILD"/drivers-test/* "$DIR/"
HOST="$ROOT/$BUILD/cam-driver-host"

# Broken copies of text_transform, one fault each.
broken() { # NAME SED-EXPRESSION
  mkdir -p "$DIR/$1"
  cp "$DIR/text_transform/text_transform.so" "$DIR/$1/"
  sed -e "s/\"name\": \"text_transform\"/\"name\": \"$1\"/" -e "$2" \
    "$DIR/text_transform/manifest.json" > "$DIR/$1/manifest.json"
}
broken badhash 's/"sha256": "[0-9a-f]\{8\}/"sha256": "00000000/'
broken badjson 's/"version": "1.0.0",/"version": "1.0.0"/'
broken extrafield 's/"license"/"licence"/'
broken abi2 's/"abi_version": 1/"abi_version": 2/'
broken noprice 's/"price_micro_usd": 50,//'
broken wrongname 's/"name": "wrongname"/"name": "someone_else"/'
broken nolib 's/"library": "text_transform.so"/"library": "missing.so"/'

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
G="127.0.0.1:$GRPC_PORT"
kernel_start kernel "$BUS" --drivers-dir "$DIR" --drivers-autoload kv_cache; KERNEL=$LAST_PID
exporter_start exporter "$BUS" "$PORT"
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || { not_ok "kernel and exporter start"; finish; exit 1; }

grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
ex() { grpcurl -d "{\"verb\": \"$1\", \"payload\": \"$2\"}" "$G" cam.SyscallService/Execute; }
out() { printf '%s' "$1" | grep -q -- "$2"; }
says() { local r; r=$(ex "$1" "$2"); printf '%s' "$r" | grep -q -- "$3"; }
refused() { local r; r=$(ex "$1" "$2"); printf '%s' "$r" | grep -q "^ERROR: $3: .*$4"; }
helpers() { ps -eo args= | grep -c "^$HOST $1 " || true; }
no_helper() { [ "$(helpers "$1")" -eq 0 ]; }
loaded_is() { says driver_list "" "loaded:$1,"; }
seen() { local m; m=$(scrape "$PORT") && printf '%s\n' "$m" | grep -qx -- "$1"; }

# --- list, load, invoke, unload the examples
r=$(ex driver_list "")
check "autoload: kv_cache loaded at start" out "$r" 'loaded:1,'
check "driver_list shows the available drivers, sorted" out "$r" 'available:abi2;badabi;.*;kv_cache;leak;.*;text_transform;wrongname'
r=$(ex driver_load "driver:text_transform")
check "driver_load text_transform: version, instances, hash" \
  bash -c "printf '%s' '$r' | grep -q 'driver:text_transform,version:1.0.0,instances:2,sha256:[0-9a-f]\{64\},load_ms:'"
check "two text_transform helper processes run" bash -c "[ \$(ps -eo args= | grep -c '^$HOST text_transform ') -eq 2 ]"
check "loading it again: ALREADY_EXISTS" refused driver_load "driver:text_transform" ALREADY_EXISTS "already loaded"
check "upper, with commas in the payload" says driver_invoke "driver:text_transform,operation:upper,payload:hello, world" 'output:HELLO, WORLD"'
check "reverse keeps UTF-8 characters whole" says driver_invoke "driver:text_transform,operation:reverse,payload:abc é" 'output:\\u00e9 cba"'
check "length counts bytes and characters" says driver_invoke "driver:text_transform,operation:length,payload:héllo" 'output:bytes=6;chars=5"'
check "words" says driver_invoke "driver:text_transform,operation:words,payload:one two  three" 'output:3"'
check "kv_cache set" says driver_invoke "driver:kv_cache,operation:set,payload:colour=blue" 'output:stored'
check "kv_cache get" says driver_invoke "driver:kv_cache,operation:get,payload:colour" 'output:blue"'
check "kv_cache size" says driver_invoke "driver:kv_cache,operation:size" 'output:1"'
check "kv_cache get of a missing key: NOT_FOUND from the driver" refused driver_invoke "driver:kv_cache,operation:get,payload:nope" NOT_FOUND "no such key"
check "kv_cache delete" says driver_invoke "driver:kv_cache,operation:delete,payload:colour" 'output:deleted'
check "binary data is the input when there is no payload key" \
  bash -c "grpcurl() { /usr/bin/python3 '$ROOT/tests/integration/grpcurl.py' \"\$@\"; }; grpcurl -d '{\"verb\": \"driver_invoke\", \"payload\": \"driver:text_transform,operation:upper\", \"data\": \"Ynl0ZXM=\"}' '$G' cam.SyscallService/Execute | grep -q 'output:BYTES'"

check "output that is not UTF-8 (upper of byte 0xff): INTERNAL, not a broken response" \
  bash -c "grpcurl() { /usr/bin/python3 '$ROOT/tests/integration/grpcurl.py' \"\$@\"; }; grpcurl -d '{\"verb\": \"driver_invoke\", \"payload\": \"driver:text_transform,operation:upper\", \"data\": \"/w==\"}' '$G' cam.SyscallService/Execute | grep -q 'ERROR: INTERNAL: .*not NUL-free UTF-8'"

# --- refusals: right code, clear message, nothing half-loaded
check "unknown operation: INVALID_ARGUMENT" refused driver_invoke "driver:text_transform,operation:explode" INVALID_ARGUMENT "no operation 'explode'"
check "missing operation key: INVALID_ARGUMENT" refused driver_invoke "driver:text_transform" INVALID_ARGUMENT "'operation' is missing"
check "key the verb does not take: INVALID_ARGUMENT" refused driver_invoke "driver:text_transform,operation:upper,colour:red" INVALID_ARGUMENT "colour"
check "invoke of a driver not loaded: NOT_FOUND" refused driver_invoke "driver:crash,operation:echo" NOT_FOUND "not loaded"
check "load of a driver that does not exist: NOT_FOUND" refused driver_load "driver:nothere" NOT_FOUND "no driver nothere"
check "bad driver name: INVALID_ARGUMENT" refused driver_load "driver:../etc" INVALID_ARGUMENT "driver name must match"
check "wrong sha256: FAILED_PRECONDITION naming both hashes" refused driver_load "driver:badhash" FAILED_PRECONDITION "sha256 of .* is [0-9a-f]\{64\}, the manifest says 00000000"
check "manifest not JSON: INVALID_ARGUMENT" refused driver_load "driver:badjson" INVALID_ARGUMENT "bad manifest .*not valid JSON"
check "manifest with an unknown field: INVALID_ARGUMENT" refused driver_load "driver:extrafield" INVALID_ARGUMENT 'unknown field .licence.'
check "manifest without a price: INVALID_ARGUMENT" refused driver_load "driver:noprice" INVALID_ARGUMENT 'missing field .price_micro_usd.'
check "manifest name not its folder: INVALID_ARGUMENT" refused driver_load "driver:wrongname" INVALID_ARGUMENT "is not its folder's name"
check "manifest library missing: FAILED_PRECONDITION" refused driver_load "driver:nolib" FAILED_PRECONDITION "cannot open .*missing.so"
check "manifest ABI v2: FAILED_PRECONDITION" refused driver_load "driver:abi2" FAILED_PRECONDITION "declares driver ABI v2; this kernel speaks v1"
check "object built for ABI v99: FAILED_PRECONDITION" refused driver_load "driver:badabi" FAILED_PRECONDITION "built for driver ABI v99"
check "object missing cam_driver_health: FAILED_PRECONDITION" refused driver_load "driver:nosym" FAILED_PRECONDITION "does not export cam_driver_health"
check "init fails: FAILED_PRECONDITION" refused driver_load "driver:badinit" FAILED_PRECONDITION "badinit init failed"
check "after all refusals: still 2 loaded" loaded_is 2
check "no helper left behind by a refused load" bash -c "! ps -eo args= | grep -qE '^$HOST (badinit|badabi|nosym|badhash) '"
check "refused drivers can be named in a later load (no leftover reservation)" refused driver_load "driver:badinit" FAILED_PRECONDITION "init failed"

# --- errors reported by a driver
ex driver_load "driver:error" >/dev/null
check "driver EINVAL: INVALID_ARGUMENT with its message" refused driver_invoke "driver:error,operation:invalid" INVALID_ARGUMENT "driver error: input was rejected on purpose"
check "driver ENOTFOUND: NOT_FOUND" refused driver_invoke "driver:error,operation:missing" NOT_FOUND "no such thing"
check "driver EFAIL without a message: INTERNAL" refused driver_invoke "driver:error,operation:fail" INTERNAL "operation fail failed"
check "error driver keeps working" says driver_invoke "driver:error,operation:echo,payload:still here" 'output:still here'

# --- a crashing driver: ping keeps answering, the driver comes back
ex driver_load "driver:crash" >/dev/null
pings() { /usr/bin/python3 "$ROOT/tests/integration/drivers_load.py" "$G" 2 "$1" ping "msg:x"; }
pings 150 > "$TMP/pings_crash.txt" &
PING_PID=$!
pid_before=$(pgrep -f "^$HOST crash " | head -1)
check "crash: UNAVAILABLE saying how it died" refused driver_invoke "driver:crash,operation:crash" UNAVAILABLE "crashed in crash (killed by signal 11"
check "crash: the driver comes back" wait_for 10 says driver_invoke "driver:crash,operation:echo,payload:back" 'output:back'
pid_after=$(pgrep -f "^$HOST crash " | head -1)
check "crash: a new helper process" test -n "$pid_after" -a "$pid_before" != "$pid_after"
refused driver_invoke "driver:crash,operation:abort" UNAVAILABLE "signal 6" ; wait_for 10 says driver_invoke "driver:crash,operation:echo,payload:x" 'output:x'
refused driver_invoke "driver:crash,operation:exit" UNAVAILABLE "exited with status 3"
check "crash: exit(3) in a call is reported and recovered" wait_for 10 says driver_invoke "driver:crash,operation:echo,payload:y" 'output:y'
wait "$PING_PID"
check "crash: ping answered every call meanwhile ($(cat "$TMP/pings_crash.txt"))" grep -q "failed=0 " "$TMP/pings_crash.txt"
check "crash: restarts counted (3)" wait_for 5 seen 'cam_os_driver_restarts_total{driver="crash"} 3'
metric_ge() { local v; v=$(metric_value "$PORT" "$1") && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v >= m) }'; }
check "crash: failures counted as UNAVAILABLE (>= 3)" wait_for 5 metric_ge 'cam_os_driver_invocations_total{driver="crash",status="UNAVAILABLE"}' 3

# --- a hanging driver: DEADLINE_EXCEEDED, recycled, ping unaffected
ex driver_load "driver:hang" >/dev/null
pings 60 > "$TMP/pings_hang.txt" &
PING_PID=$!
check "hang: DEADLINE_EXCEEDED at the caller's timeout_ms" refused driver_invoke "driver:hang,operation:hang,timeout_ms:300" DEADLINE_EXCEEDED "did not answer hang before the deadline"
# The kernel's own latency for that call: the client's start-up is not the
# kernel's to answer for, and on a loaded machine it alone can take a second.
wait_for 3 grep -q 'did not answer hang before' "$TMP/kernel.log" || true  # the log is written by its own thread
ms=$(grep '"syscall":"driver_invoke"' "$TMP/kernel.log" | grep 'did not answer hang before' | tail -1 |
     sed -n 's/.*"latency_ms":\([0-9]*\).*/\1/p')
check "hang: the kernel answered at the deadline (${ms:-?} ms, 300 <= ms < 1000)" \
  bash -c "[ -n '$ms' ] && [ '$ms' -ge 300 ] && [ '$ms' -lt 1000 ]"
check "hang: recycled, answers again" wait_for 10 says driver_invoke "driver:hang,operation:echo,payload:awake" 'output:awake'
check "hang: manifest timeout_ms (1000) applies without timeout_ms; killed at once" refused driver_invoke "driver:hang,operation:hang" DEADLINE_EXCEEDED "hung in hang: killed"
wait "$PING_PID"
check "hang: ping answered every call meanwhile ($(cat "$TMP/pings_hang.txt"))" grep -q "failed=0 " "$TMP/pings_hang.txt"
check "hang: the driver is recycled and answers again" wait_for 10 says driver_invoke "driver:hang,operation:echo,payload:awake" 'output:awake'
check "hang: restarts counted" wait_for 5 seen 'cam_os_driver_restarts_total{driver="hang"} 2'
restarts_line() { scrape "$PORT" | grep '^cam_os_driver_restarts_total{driver="hang"} '; }
before=$(restarts_line)
check "a late answer is not a hang: sleep 300 ms with a 100 ms deadline" refused driver_invoke "driver:hang,operation:sleep,timeout_ms:100,payload:300" DEADLINE_EXCEEDED "before the deadline"
check "... the same helper answers next, not restarted" wait_for 5 says driver_invoke "driver:hang,operation:echo,payload:same" 'output:same'
sleep 0.5  # two publish intervals: a restart would be on the bus by now
after=$(restarts_line)
check "... restarts unchanged by the late answer (${before##* } -> ${after##* })" test "$before" = "$after"
[ "$before" = "$after" ] || grep '"driver hung\|"driver crashed' "$TMP/kernel.log" | tail -5
check "hang: only one hang helper running" test "$(helpers hang)" -eq 1

# --- a leaking driver: capped by its memory limit, the kernel unharmed
ex driver_load "driver:leak" >/dev/null
rss0=$(awk '/VmRSS/ {print $2}' /proc/$KERNEL/status)
check "leak: the helper hits its 64 MiB cap and dies: UNAVAILABLE" refused driver_invoke "driver:leak,operation:leak" UNAVAILABLE "crashed in leak"
rss1=$(awk '/VmRSS/ {print $2}' /proc/$KERNEL/status)
check "leak: kernel RSS unchanged (${rss0} -> ${rss1} KiB)" test $((rss1 - rss0)) -lt 4096
check "leak: driver comes back" wait_for 10 says driver_invoke "driver:leak,operation:echo,payload:ok" 'output:ok'

# --- concurrent invokes from many streams
r=$(/usr/bin/python3 "$ROOT/tests/integration/drivers_load.py" "$G" 16 25 driver_invoke "driver:text_transform,operation:upper,payload:call {i}")
check "16 streams x 25 text_transform invokes all OK ($r)" out "$r" "ok=400 failed=0"
r=$(/usr/bin/python3 "$ROOT/tests/integration/drivers_load.py" "$G" 16 25 driver_invoke "driver:kv_cache,operation:set,payload:k{i}=v{i}")
check "16 streams x 25 kv_cache sets all OK ($r)" out "$r" "ok=400 failed=0"
check "kv_cache holds the 400 keys" says driver_invoke "driver:kv_cache,operation:size" 'output:400"'
check "kv_cache k399 has its value" says driver_invoke "driver:kv_cache,operation:get,payload:k399" 'output:v399"'

# --- health
r=$(grpcurl -d '{"detailed": true}' "$G" cam.SyscallService/HealthCheck)
check "HealthCheck Driver Runtime: loaded, failed, restarted" \
  bash -c "printf '%s' '$r' | grep -A2 '\"name\": \"Driver Runtime\"' | grep -q 'message.*6 loaded, [0-9]* failed loads, 3 restarted in the last 5m'"
check "HealthCheck Driver Runtime: degraded after the restarts" \
  bash -c "printf '%s' '$r' | grep -A1 '\"name\": \"Driver Runtime\"' | grep -q '\"status\": \"degraded\"'"
ex driver_invoke "driver:error,operation:sick" >/dev/null
sick() { grpcurl -d '{"detailed": true}' "$G" cam.SyscallService/HealthCheck | grep -q 'error: unhealthy (told to be sick)'; }
check "a driver's own health answer shows (error: unhealthy)" wait_for 6 sick

# --- unload waits for the invoke in flight
ex driver_invoke "driver:hang,operation:sleep,payload:700" > "$TMP/sleep.txt" &
SLEEP_PID=$!
sleep 0.2
t0=$(date +%s%N)
check "unload hang while an invoke runs" says driver_unload "driver:hang" 'unloaded:true'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$SLEEP_PID"
check "unload waited for it (${ms} ms)" test "$ms" -ge 300
check "the invoke in flight completed OK" grep -q 'output:slept' "$TMP/sleep.txt"
check "after unload: invoke is NOT_FOUND" refused driver_invoke "driver:hang,operation:echo" NOT_FOUND "not loaded"
check "after unload: its helper is gone" no_helper hang
check "unload of a driver not loaded: NOT_FOUND" refused driver_unload "driver:hang" NOT_FOUND "not loaded"
check "unload text_transform" says driver_unload "driver:text_transform" 'unloaded:true'
check "load it again after unload" says driver_load "driver:text_transform" 'version:1.0.0'

# --- the metrics in a real scrape
check "cam_os_driver_load_time_seconds_count{driver=\"text_transform\"} 2" wait_for 5 seen 'cam_os_driver_load_time_seconds_count{driver="text_transform"} 2'
# text_transform: 5 OK before the 400 concurrent ones, 1 unknown operation.
check "cam_os_driver_invocations_total text_transform OK 405" wait_for 5 seen 'cam_os_driver_invocations_total{driver="text_transform",status="OK"} 405'
check "cam_os_driver_invocations_total text_transform INVALID_ARGUMENT 1" wait_for 5 seen 'cam_os_driver_invocations_total{driver="text_transform",status="INVALID_ARGUMENT"} 1'
check "cam_os_driver_invocations_total kv_cache NOT_FOUND 1" wait_for 5 seen 'cam_os_driver_invocations_total{driver="kv_cache",status="NOT_FOUND"} 1'
check "cam_os_driver_revenue_total text_transform = 405 OK x 50" wait_for 5 seen 'cam_os_driver_revenue_total{driver="text_transform"} 20250'
check "cam_os_driver_revenue_total kv_cache = 406 OK x 20" wait_for 5 seen 'cam_os_driver_revenue_total{driver="kv_cache"} 8120'
check "cam_os_driver_invocations_total text_transform INTERNAL 1 (not UTF-8)" wait_for 5 seen 'cam_os_driver_invocations_total{driver="text_transform",status="INTERNAL"} 1'
check "cam_os_driver_invoke_duration_seconds_count text_transform 407" wait_for 5 seen 'cam_os_driver_invoke_duration_seconds_count{driver="text_transform"} 407'
check "cam_os_drivers_loaded 5 (hang unloaded)" wait_for 5 seen 'cam_os_drivers_loaded 5'
check "cam_os_driver_restarts_total{driver=\"leak\"} 1" wait_for 5 seen 'cam_os_driver_restarts_total{driver="leak"} 1'
check "driver_list shows figures" says driver_list "" 'kv_cache:version=1.0.0;instances=1/1;invocations=[0-9]*;restarts=0;price_micro_usd=20;revenue_micro_usd=8120;health='

# --- stop: every helper goes with the kernel
stop_pid "$KERNEL" TERM
check "kernel stop: no helper process left" wait_for 5 bash -c "! ps -eo args= | grep -q '^$HOST '"
finish
