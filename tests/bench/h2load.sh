# h2load helpers shared by the gRPC benchmarks (sourced after
# tests/integration/lib.sh). Callers set URL (the Execute URL) and may add
# headers to H.
#
# SPDX-License-Identifier: Apache-2.0
H=(-H 'content-type: application/grpc' -H 'te: trailers')

# percentiles LOGFILE: from h2load's log ("start_us status duration_us").
percentiles() {
  awk '{print $3}' "$1" | sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "no samples"; exit }
    printf "p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d requests)\n",
      a[int(NR*0.50)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000, NR }'
}

# run NAME VERB PAYLOAD H2LOAD_ARGS...: one h2load run against Execute.
run() {
  local name=$1 verb=$2 payload=$3; shift 3
  /usr/bin/python3 "$ROOT/tests/interop/make_ping_body.py" "$TMP/$name.bin" "$verb" "$payload"
  echo "-- $name: h2load $*"
  h2load "$@" -d "$TMP/$name.bin" "${H[@]}" --log-file="$TMP/$name.log" "$URL" |
    grep -E 'finished in|requests:' | sed 's/^/   /'
  echo "   latency: $(percentiles "$TMP/$name.log")"
}
