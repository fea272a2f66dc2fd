# The vendored OpenTelemetry protocol files (proto/opentelemetry/, as
# published by the OpenTelemetry project) through protoc-c.
#
# Debian 12's protoc-c (protobuf-c 1.4.1) refuses proto3 `optional` fields
# (support came in 1.5.0), which metrics.proto uses for sum, min and max. So
# these files are compiled from a copy with the `optional` keyword taken out
# ($(BUILD)/otlp-proto/): the field numbers and types, and so the wire
# format, are the same; only the generated C loses "has_" flags, and a sum of
# exactly 0 is then not sent (it is 0 either way). These explicit rules
# take the place of the Makefile's generic pattern rule for these files.
#
# SPDX-License-Identifier: Apache-2.0

OTLP_PROTOS := $(filter proto/opentelemetry/%,$(PROTOS))
OTLP_COPIES := $(patsubst proto/%,$(BUILD)/otlp-proto/%,$(OTLP_PROTOS))
OTLP_GEN_C  := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(OTLP_PROTOS))

$(OTLP_COPIES): $(BUILD)/otlp-proto/%.proto: proto/%.proto exporter/otlp_proto.mk
	@mkdir -p $(dir $@)
	$(Q)sed -E 's/^([[:space:]]*)optional[[:space:]]+/\1/' $< >$@

$(OTLP_GEN_C): $(BUILD)/gen/proto/%.pb-c.c: $(BUILD)/otlp-proto/%.proto $(OTLP_COPIES)
	@mkdir -p $(BUILD)/gen/proto
	@echo "  PROTOC  proto/$*.proto (optional taken out)"
	$(Q)protoc-c --proto_path=$(BUILD)/otlp-proto --c_out=$(BUILD)/gen/proto $<
$(OTLP_GEN_C:.c=.h): %.pb-c.h: %.pb-c.c ;

# Code includes these headers as "proto/opentelemetry/..." (the layer rules
# of tests/layers.conf), and they include each other as
# "opentelemetry/...": the exporter's objects and the tests look in both.
$(BUILD)/exporter/%.o $(BUILD)/tests/%.o: ALL_CFLAGS += -I$(BUILD)/gen/proto
