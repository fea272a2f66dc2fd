# CAM-OS build.
#
# How the final flags are built:
#   CFLAGS    optimisation and debug info; override freely (the sanitizer
#             builds do, with BUILD pointing at their own folder)
#   WARN      the warnings every file must pass, as errors
#   STD       the language level and feature macros
#   PKG_*     include and link flags from pkg-config
#   DEPFLAGS  -MMD -MP: each object writes its header dependencies
# Objects go to $(BUILD)/ mirroring the source tree; generated protobuf-c code
# to $(BUILD)/gen/. Quiet unless V=1.
#
# SPDX-License-Identifier: Apache-2.0

BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
STD      := -std=c11 -D_GNU_SOURCE
DEPFLAGS := -MMD -MP
PKGS     := libprotobuf-c libmicrohttpd libnghttp2 zlib hiredis yajl libsystemd libssl libcrypto tss2-esys tss2-tctildr tss2-rc libdw lmdb
# libcurl: headers only; the exporter dlopen()s it (exporter/curl_lib.h).
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
# nng ships no pkg-config file in Debian 12.
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnng -lpthread -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
ALL_CFLAGS = $(STD) $(CFLAGS) $(WARN) $(DEPFLAGS) -I. -I$(BUILD)/gen $(PKG_CFLAGS) -DCAM_REVISION='"$(REVISION)"' $(EXTRA_CFLAGS)
LDFLAGS  ?=

PREFIX   ?= /usr/local
KUBECTL  ?= kubectl
DESTDIR  ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

PROTOS       := $(shell find proto -name '*.proto' | sort)
PROTO_C      := $(patsubst %.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H      := $(PROTO_C:.c=.h)
COMMON_SRC   := $(sort $(wildcard common/*.c))
KERNEL_SRC   := $(sort $(shell find kernel -name '*.c'))
EXPORTER_SRC := $(sort $(wildcard exporter/*.c))
AUDIT_SRC    := $(sort $(wildcard audit/*.c))
UNIT_SRC     := $(sort $(shell find tests/common tests/kernel tests/exporter -name 'test_*.c' 2>/dev/null))
BENCH_SRC    := $(sort $(wildcard tests/bench/*.c))
TOOL_SRC     := $(sort $(wildcard tests/tools/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
COMMON_OBJ   := $(call obj,$(COMMON_SRC)) $(PROTO_C:.c=.o)
KERNEL_OBJ   := $(call obj,$(filter-out kernel/main.c,$(KERNEL_SRC)))
EXPORTER_OBJ := $(call obj,$(filter-out exporter/main.c,$(EXPORTER_SRC)))
UNIT_BIN     := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRC))
BENCH_BIN    := $(patsubst %.c,$(BUILD)/%,$(BENCH_SRC))
TOOL_BIN     := $(patsubst %.c,$(BUILD)/%,$(TOOL_SRC))

LIB_COMMON   := $(BUILD)/libcam-common.a
LIB_KERNEL   := $(BUILD)/libcam-kernel.a
LIB_EXPORTER := $(BUILD)/libcam-exporter.a

.PHONY: all deps test unit unit-asan unit-tsan build-clang integration bench run install clean tools k8s-manifests fuzz \
        deb test-containers run-monitoring check-source
all: $(BUILD)/cam-kernel $(BUILD)/cam-exporter $(BUILD)/cam-audit

deps:
	@./deps/install.sh
	@cd tests/interop && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; }
	@cd tests/integration/otlp && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; }

# Generated code must exist before anything that includes it compiles,
# and is kept (make would delete it as an intermediate file).
.SECONDARY:
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto
	@mkdir -p $(BUILD)/gen/proto
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(BUILD)/gen/proto $<

$(BUILD)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(CFLAGS) $(DEPFLAGS) -I$(BUILD)/gen/proto $(PKG_CFLAGS) -c $< -o $@

$(LIB_COMMON): $(COMMON_OBJ)
$(LIB_KERNEL): $(KERNEL_OBJ)
$(LIB_EXPORTER): $(EXPORTER_OBJ)
$(LIB_COMMON) $(LIB_KERNEL) $(LIB_EXPORTER):
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/cam-kernel: $(BUILD)/kernel/main.o $(LIB_KERNEL) $(LIB_COMMON)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/cam-exporter: $(BUILD)/exporter/main.o $(LIB_EXPORTER) $(LIB_COMMON)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# The audit trail's verifier, the third program (audit/).
$(BUILD)/cam-audit: $(call obj,$(AUDIT_SRC)) $(LIB_COMMON)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# Unit tests, benchmarks and test tools link everything but the two mains.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB_KERNEL) $(LIB_EXPORTER) $(LIB_COMMON)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) $(CMOCKA_LIBS) -o $@

# The embedded-store benchmark (issue 25) alone links the three candidate
# stores; the kernel links none of them.
STORE_BENCH_LIBS := $(shell pkg-config --libs lmdb sqlite3 rocksdb 2>/dev/null)
$(BUILD)/tests/bench/bench_store_choice: PKG_LIBS += $(STORE_BENCH_LIBS)

tools: $(TOOL_BIN)

unit: $(UNIT_BIN)
	@./tests/run-unit.sh $(BUILD) $(UNIT_BIN)

# The same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# and under ThreadSanitizer, each in a build folder of its own.
unit-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" unit
unit-tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-tsan \
	  CFLAGS="-O1 -g -fsanitize=thread" CAM_UNDER_TSAN=1 unit
# Everything, unit tests included, built with clang: the same -Werror
# warnings must pass with both compilers.
build-clang:
	$(Q)$(MAKE) --no-print-directory BUILD=build-clang CC=clang all $(patsubst $(BUILD)/%,build-clang/%,$(UNIT_BIN)) \
	  && echo "clang build: 1 passed, 0 failed"

# libFuzzer harnesses of the parsers that read untrusted input
# (tests/fuzz/fuzz_*.c), built with clang, ASan and UBSan into build-fuzz/,
# each run FUZZ_SECONDS on a copy of its corpus (tests/fuzz/run.sh). Each
# harness names the objects it links on its "Objects:" line. Not part of
# `make test`.
FUZZ_SECONDS ?= 30
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	  $(patsubst %.c,build-fuzz/%.o,$(FUZZ_SRC)) \
	  $(addprefix build-fuzz/,$(sort $(shell sed -n 's/^ \* Objects: //p' $(FUZZ_SRC))))
	$(Q)FUZZ_CC=clang FUZZ_LDFLAGS="-fsanitize=fuzzer $(FUZZ_SAN)" \
	  ./tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_SRC)

integration: all tools
	@./tests/integration/run.sh $(BUILD)

# The tree itself: no #include points up the layers (tests/layers.conf),
# and every source file keeps its SPDX line.
check-source:
	@./tests/check_source.sh

test: all tools
	@./tests/run-all.sh

bench: all $(BENCH_BIN) tools
	@./tests/bench/run.sh $(BUILD)

run: all
	@./scripts/run-local.sh $(BUILD)

# What `make run` starts plus Debian's Prometheus (:9090) and Alertmanager
# (:9093) on the files under monitoring/, data in a temporary folder.
run-monitoring: all
	@./scripts/run-monitoring.sh $(BUILD)

# cam-os_VERSION_ARCH.deb in build-pkg/ (dpkg-buildpackage on a clean copy
# of the tree; debian/).
deb:
	@./scripts/build-deb.sh build-pkg

# The image under podman, the compose stack, the Debian package and the log
# shippers (tests/containers/): minutes, so not part of `make test`; .ci/run
# runs it after `make test`. Needs root.
test-containers: all tools
	@./tests/containers/run.sh $(BUILD)

# The monitoring stack rendered into one file, for README's
# `kubectl apply -f deployment/kubernetes/monitoring/` (not kept in git).
k8s-manifests:
	$(KUBECTL) kustomize deployment/kubernetes/monitoring >deployment/kubernetes/monitoring/monitoring.yaml

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/cam-kernel $(BUILD)/cam-exporter $(BUILD)/cam-audit $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d
	for u in kernel/cam-kernel.service exporter/cam-exporter.service; do \
	  sed 's|@PREFIX@|$(PREFIX)|g' $$u >$(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/} && \
	  chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/} || exit 1; done
	install -m 0644 kernel/cam-os.sysusers.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/cam-os.conf

clean:
	rm -rf build build-asan build-tsan build-clang build-fuzz build-pkg

# Modules may add rules of their own (generated files and the like).
include $(sort $(shell find kernel exporter common -name '*.mk'))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
