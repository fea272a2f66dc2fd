# Driver runtime build rules (included by the top Makefile).
#
# Builds cam-driver-host (the helper process each driver runs in) and the
# driver shared objects with their manifests:
#   $(BUILD)/drivers/NAME/       example drivers (text_transform, kv_cache)
#   $(BUILD)/drivers-test/NAME/  test drivers (crash, hang, error, leak, and
#                                badinit, nosym, badabi that must be refused)
# Each manifest.json is made from its manifest.json.in with @SHA256@
# replaced by the sha256sum of the object just built, so the hash check
# passes for exactly that build.
#
# These are built with DRIVER_CFLAGS, never with the sanitizer CFLAGS of
# unit-asan/unit-tsan: they run in their own processes, and an
# address-space limit (memory_limit_mb) does not mix with ASan's shadow.
#
# SPDX-License-Identifier: Apache-2.0

DRIVER_CFLAGS := $(STD) -O2 -g $(WARN) -fPIC -fvisibility=hidden -Iinclude
HOST_BIN      := $(BUILD)/cam-driver-host
DRIVER_ARTIFACTS :=

# cam_driver NAME, SOURCE, MANIFEST TEMPLATE, FOLDER, EXTRA CFLAGS
define cam_driver
$(4)/$(1)/$(1).so: $(2) include/cam/driver.h
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$@"
	$(Q)$(CC) $(DRIVER_CFLAGS) $(5) -shared $$< -o $$@
$(4)/$(1)/manifest.json: $(3) $(4)/$(1)/$(1).so
	@echo "  GEN     $$@"
	$(Q)sed "s/@SHA256@/$$$$(sha256sum $(4)/$(1)/$(1).so | cut -d' ' -f1)/" $(3) > $$@.tmp && mv $$@.tmp $$@
DRIVER_ARTIFACTS += $(4)/$(1)/$(1).so $(4)/$(1)/manifest.json
endef

DRIVER_EXAMPLES := text_transform kv_cache
DRIVER_TESTS    := crash hang error leak
$(foreach d,$(DRIVER_EXAMPLES),$(eval $(call cam_driver,$(d),drivers/examples/$(d)/$(d).c,drivers/examples/$(d)/manifest.json.in,$(BUILD)/drivers,)))
$(foreach d,$(DRIVER_TESTS),$(eval $(call cam_driver,$(d),drivers/test/$(d)/$(d).c,drivers/test/$(d)/manifest.json.in,$(BUILD)/drivers-test,)))
$(eval $(call cam_driver,badinit,drivers/test/broken/broken.c,drivers/test/broken/badinit.json.in,$(BUILD)/drivers-test,-DBAD_INIT))
$(eval $(call cam_driver,nosym,drivers/test/broken/broken.c,drivers/test/broken/nosym.json.in,$(BUILD)/drivers-test,-DNO_HEALTH))
$(eval $(call cam_driver,badabi,drivers/test/broken/broken.c,drivers/test/broken/badabi.json.in,$(BUILD)/drivers-test,-DBAD_ABI))

$(HOST_BIN): drivers/host/cam-driver-host.c kernel/drivers/wire.h common/grpc_status.h include/cam/driver.h
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(STD) -O2 -g $(WARN) -I. $< -ldl -lpthread -o $@

.PHONY: drivers install-drivers
drivers: $(HOST_BIN) $(DRIVER_ARTIFACTS)
all unit: drivers

# make install: the driver ABI header, the helper program and the example
# drivers (point CAM_DRIVERS_DIR at $(PREFIX)/lib/cam-os/drivers).
install: install-drivers
install-drivers: drivers
	install -d $(DESTDIR)$(PREFIX)/include/cam $(DESTDIR)$(PREFIX)/bin
	install -m 0644 include/cam/driver.h $(DESTDIR)$(PREFIX)/include/cam/
	install -m 0755 $(HOST_BIN) $(DESTDIR)$(PREFIX)/bin/
	for d in $(DRIVER_EXAMPLES); do \
	  install -d $(DESTDIR)$(PREFIX)/lib/cam-os/drivers/$$d && \
	  install -m 0644 $(BUILD)/drivers/$$d/$$d.so $(BUILD)/drivers/$$d/manifest.json \
	    $(DESTDIR)$(PREFIX)/lib/cam-os/drivers/$$d/ || exit 1; done
