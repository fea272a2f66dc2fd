# gRPC module: the FileDescriptorSet that server reflection serves, built by
# protoc (with every import) and embedded as a C array in a generated file
# that joins libcam-kernel.a. od and awk do the embedding (xxd is not
# always installed).
#
# SPDX-License-Identifier: Apache-2.0

GRPC_DESC_PROTOS := cam.proto grpc/health/v1/health.proto \
	grpc/reflection/v1/reflection.proto grpc/reflection/v1alpha/reflection.proto
GRPC_DESC_PB := $(BUILD)/gen/grpc/descriptor_set.pb
GRPC_DESC_C  := $(BUILD)/gen/grpc/descriptor_set.c

$(GRPC_DESC_PB): $(addprefix proto/,$(GRPC_DESC_PROTOS)) kernel/grpc/grpc.mk
	@mkdir -p $(dir $@)
	@echo "  PROTOC  $@"
	$(Q)protoc --proto_path=proto --include_imports \
	  --descriptor_set_out=$@ $(GRPC_DESC_PROTOS)

$(GRPC_DESC_C): $(GRPC_DESC_PB)
	@echo "  EMBED   $<"
	$(Q){ echo '/* Generated from $< by kernel/grpc/grpc.mk. */'; \
	  echo '#include <stddef.h>'; \
	  echo '#include <stdint.h>'; \
	  echo 'extern const uint8_t cam_grpc_descriptor_set[];'; \
	  echo 'extern const size_t cam_grpc_descriptor_set_len;'; \
	  echo 'const uint8_t cam_grpc_descriptor_set[] = {'; \
	  od -An -v -tx1 $< | awk '{ for (i = 1; i <= NF; i++) printf "0x%s,", $$i; printf "\n" }'; \
	  echo '};'; \
	  echo 'const size_t cam_grpc_descriptor_set_len = sizeof(cam_grpc_descriptor_set);'; \
	} > $@.tmp && mv $@.tmp $@

$(LIB_KERNEL): $(GRPC_DESC_C:.c=.o)
