#!/usr/bin/env bash
# monitoring/otel/: the OpenTelemetry Collector and Grafana Alloy configs
# that receive CAM-OS's three OTLP signals, checked offline
# (monitoring/tests/check_otel.py): neither program is packaged by Debian,
# so neither can run here.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 monitoring/tests/check_otel.py monitoring/otel
