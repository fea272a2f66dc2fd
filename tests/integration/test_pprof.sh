#!/usr/bin/env bash
# Profiling: /debug/pprof/ on the exporter's port serves profiles of
# cam-kernel (gperftools, over the profiling channel) when
# CAM_PROFILING_ENABLED=true, and is 404 when off. `go tool pprof -top`
# reads a CPU profile taken during a load and shows kernel functions.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

BUS="ipc://$TMP/bus.ipc"; PORT=$(free_port); GRPC_PORT=$(free_port)
# A copy of the binary: pprof symbolizes against it, and the build folder
# may be rebuilt while the test runs.
cp "$ROOT/$BUILD/cam-kernel" "$TMP/cam-kernel"
status() { curl -s -o "$TMP/body" -w '%{http_code}' --max-time "${2:-10}" "http://127.0.0.1:$PORT$1"; }

# Off by default: 404 everywhere under /debug/pprof/.
exporter_start exporter_off "$BUS" "$PORT"; OFF=$LAST_PID
wait_for 5 curl -fsS "http://127.0.0.1:$PORT/healthz" || not_ok "exporter starts"
check "profiling off: /debug/pprof/ is 404" test "$(status /debug/pprof/)" = 404
check "profiling off: /debug/pprof/profile is 404" test "$(status '/debug/pprof/profile?seconds=1')" = 404
check "profiling off: /debug/pprof/heap is 404" test "$(status /debug/pprof/heap)" = 404
stop_pid "$OFF"

# On, kernel not there yet: a clear 503, quickly.
exporter_start exporter "$BUS" "$PORT" --profiling-enabled
wait_for 5 curl -fsS "http://127.0.0.1:$PORT/healthz" || not_ok "exporter starts"
check "profiling on, no kernel: profile is 503 at once" test "$(status '/debug/pprof/profile?seconds=1' 3)" = 503
check "the 503 says why" grep -q "profiling channel" "$TMP/body"

# The kernel as the seed starts it: with profiling on it preloads tcmalloc
# itself, so heap profiles work too.
start kernel env CAM_PROFILING_ENABLED=true "$TMP/cam-kernel" \
  --bus-addr "$BUS" --publish-interval-ms 200 --grpc-listen "127.0.0.1:$GRPC_PORT" --access-log none
KERNEL=$LAST_PID
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || not_ok "kernel and exporter start"

check "index page lists profile and heap" \
  bash -c "[ \"\$(curl -s -o '$TMP/index' -w '%{http_code}' http://127.0.0.1:$PORT/debug/pprof/)\" = 200 ] &&
           grep -q 'href=\"profile' '$TMP/index' && grep -q 'href=\"heap' '$TMP/index'"
check "bad seconds is 400" test "$(status '/debug/pprof/profile?seconds=abc')" = 400
check "unknown profile is 404" test "$(status /debug/pprof/goroutine)" = 404

# A CPU profile over 4 s of load.
/usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/ping.bin" ping "msg:hello"
h2load -n 1000000 -c 4 -m 16 -D 5 -d "$TMP/ping.bin" -H 'content-type: application/grpc' \
  -H 'te: trailers' "http://127.0.0.1:$GRPC_PORT/cam.SyscallService/Execute" >"$TMP/h2load.log" 2>&1 &
LOAD=$!; PIDS+=("$LOAD")
sleep 0.5
curl -s -o "$TMP/cpu.prof" -w '%{http_code}' --max-time 30 \
  "http://127.0.0.1:$PORT/debug/pprof/profile?seconds=4" >"$TMP/cpu.code" &
PROF=$!
sleep 1
check "/metrics and /readyz answer while a profile is taken" \
  bash -c "curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:$PORT/metrics &&
           curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:$PORT/readyz"
check "a second CPU profile meanwhile is 409" test "$(status '/debug/pprof/profile?seconds=1')" = 409
wait "$PROF"
check "CPU profile is 200 with a body" bash -c "[ \"\$(cat '$TMP/cpu.code')\" = 200 ] && [ -s '$TMP/cpu.prof' ]"
check "gperftools' summary is a JSON log line of ours" \
  grep -q '"message":"CPU profile taken (PROFILE: interrupts/evictions/bytes = ' "$TMP/kernel.log"
wait "$LOAD" 2>/dev/null
export PPROF_TMPDIR="$TMP"
go tool pprof -top "$TMP/cam-kernel" "$TMP/cpu.prof" >"$TMP/top.txt" 2>&1
check "go tool pprof -top reads the CPU profile" grep -q "Type: cpu" "$TMP/top.txt"
check "the profile shows kernel functions (execute, cam_verb_ping, ...)" \
  grep -Eq ' (execute|cam_verb_ping|cam_grpc_[a-z_]+|cam_histogram_observe[a-z_]*|cam_payload_parse)$' "$TMP/top.txt"
# Straight from the URL, as an operator would, under load (an idle kernel
# may give a profile with no samples at all, which pprof reports as empty).
h2load -n 1000000 -c 2 -m 8 -D 3 -d "$TMP/ping.bin" -H 'content-type: application/grpc' \
  -H 'te: trailers' "http://127.0.0.1:$GRPC_PORT/cam.SyscallService/Execute" >/dev/null 2>&1 &
LOAD=$!; PIDS+=("$LOAD")
sleep 0.3
# The profile carries addresses; pprof asks /debug/pprof/symbol to name
# them, so no binary is needed: the operator's command as written.
go tool pprof -top "http://127.0.0.1:$PORT/debug/pprof/profile?seconds=1" >"$TMP/top_url.txt" 2>&1
check "go tool pprof -top http://.../debug/pprof/profile?seconds=1 works, no binary given" grep -q "Type: cpu" "$TMP/top_url.txt"
go tool pprof -symbolize=remote -top "http://127.0.0.1:$PORT/debug/pprof/profile?seconds=1" >"$TMP/top_remote.txt" 2>&1
wait "$LOAD" 2>/dev/null
check "pprof -symbolize=remote: the kernel names its own functions, static ones too" \
  grep -Eq ' (execute|on_begin_headers|on_frame_recv|cam_grpc_[a-z_]+|cam_histogram_observe[a-z_.0-9]*|cam_payload_parse|cam_utf8_[a-z_]+|cam_json_escape[a-z_.0-9]*)$' "$TMP/top_remote.txt"
sym() { curl -s -o "$TMP/sym" -w '%{http_code}' --max-time 10 "$@" "http://127.0.0.1:$PORT/debug/pprof/symbol"; }
check "GET /debug/pprof/symbol says names are available" \
  bash -c "[ \"\$(curl -s http://127.0.0.1:$PORT/debug/pprof/symbol)\" = 'num_symbols: 1' ]"
check "POST of something that is not an address: 400 naming it" \
  bash -c "[ \"\$(curl -s -o '$TMP/sym' -w '%{http_code}' -d '0x10+main' http://127.0.0.1:$PORT/debug/pprof/symbol)\" = 400 ] && grep -q \"'main' is not a hex address\" '$TMP/sym'"
check "POST of an address nothing is mapped at: 200, no line for it" test "$(sym -d 0x10)" = 200 -a ! -s "$TMP/sym"
head -c 5000000 /dev/zero | tr '\0' '+' > "$TMP/big.txt"
check "POST of more than 4 MiB: 413" test "$(sym --data-binary @"$TMP/big.txt")" = 413
check "the kernel still answers profiles after the bad symbol requests" \
  test "$(status '/debug/pprof/profile?seconds=1' 15)" = 200

# Heap: allocations over 2 s of calls.
( for i in $(seq 1 20); do
    /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" -d '{"verb":"emit_metric","payload":"metric_name:pprof_test_total,value:1"}' \
      "127.0.0.1:$GRPC_PORT" cam.SyscallService/Execute >/dev/null 2>&1
  done ) &
CALLS=$!
code=$(curl -s -o "$TMP/heap.prof" -w '%{http_code}' --max-time 30 "http://127.0.0.1:$PORT/debug/pprof/heap?seconds=2")
check "heap profile is 200 in gperftools' heap format" \
  bash -c "[ $code = 200 ] && head -c 20 '$TMP/heap.prof' | grep -q '^heap profile'"
go tool pprof -top "$TMP/cam-kernel" "$TMP/heap.prof" >"$TMP/heap_top.txt" 2>&1
check "go tool pprof -top reads the heap profile" grep -q "Type: inuse_space" "$TMP/heap_top.txt"
wait "$CALLS"

check "after CPU and heap profiles, every line the kernel wrote is JSON (none of gperftools')" \
  /usr/bin/python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$TMP/kernel.log"

# Without tcmalloc (the kernel's own preload marked as tried and failed):
# heap says how to get it; CPU still works.
stop_pid "$KERNEL"
start kernel2 env CAM_PROFILING_ENABLED=true CAM_TCMALLOC_REEXEC=1 "$TMP/cam-kernel" \
  --bus-addr "$BUS" --publish-interval-ms 200 --grpc-listen "127.0.0.1:$GRPC_PORT" --access-log none
wait_for 10 metric_is "$PORT" cam_os_kernel_up 1 || not_ok "kernel restarts"
check "no tcmalloc: heap is 501 naming LD_PRELOAD" \
  bash -c "[ \"\$(curl -s -o '$TMP/b2' -w '%{http_code}' --max-time 10 'http://127.0.0.1:$PORT/debug/pprof/heap?seconds=1')\" = 501 ] && grep -q LD_PRELOAD '$TMP/b2'"
check "no tcmalloc: CPU profile still 200" test "$(status '/debug/pprof/profile?seconds=1' 15)" = 200
finish
