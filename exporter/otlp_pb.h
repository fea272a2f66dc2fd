/*
 * Building blocks shared by the OTLP metrics and logs encoders: attributes
 * (KeyValue), the resource and the instrumentation scope, made in an arena
 * (otlp_arena.h) with the protobuf-c types generated from the vendored
 * OpenTelemetry files (proto/opentelemetry/).
 *
 * Strings are not copied: a message points at its caller's strings, which
 * must outlive the packing of the request.
 *
 * The resource of the kernel's metrics and logs: service.name (cam-kernel,
 * or OTEL_SERVICE_NAME), service.instance.id (the kernel's instance id,
 * new at every start), service.version, then the operator's attributes
 * (OTEL_RESOURCE_ATTRIBUTES, CAM_K8S_POD_NAME as k8s.pod.name,
 * CAM_K8S_NAMESPACE as k8s.namespace.name) and telemetry.sdk.name.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_OTLP_PB_H
#define CAM_EXPORTER_OTLP_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter/otlp_arena.h"
#include "exporter/otlp_kv.h"
#include "proto/opentelemetry/proto/common/v1/common.pb-c.h"
#include "proto/opentelemetry/proto/resource/v1/resource.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue cam_otlp_pb_kv;
typedef Opentelemetry__Proto__Resource__V1__Resource cam_otlp_pb_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope cam_otlp_pb_scope;

/* One attribute of each value type. */
cam_otlp_pb_kv *cam_otlp_pb_str(struct cam_otlp_arena *a, const char *key, const char *val);
cam_otlp_pb_kv *cam_otlp_pb_int(struct cam_otlp_arena *a, const char *key, int64_t val);
cam_otlp_pb_kv *cam_otlp_pb_double(struct cam_otlp_arena *a, const char *key, double val);
cam_otlp_pb_kv *cam_otlp_pb_bool(struct cam_otlp_arena *a, const char *key, bool val);

/*
 * The resource of a process: service.name (attrs' service.name when
 * service_from_attrs, else service), service.instance.id (instance, left
 * out when empty), service.version (version, idem), every other attribute
 * of attrs in order, and telemetry.sdk.name "cam-os".
 */
cam_otlp_pb_resource *cam_otlp_pb_resource_new(struct cam_otlp_arena *a,
					       const struct cam_otlp_kv_list *attrs,
					       bool service_from_attrs, const char *service,
					       const char *instance, const char *version);

cam_otlp_pb_scope *cam_otlp_pb_scope_new(struct cam_otlp_arena *a, const char *name,
					 const char *version);

/* 16 or 8 bytes from 32 or 16 lower-case hex digits into the arena; false
 * (out empty) when hex is not exactly that. */
bool cam_otlp_pb_hex_id(struct cam_otlp_arena *a, const char *hex, size_t bytes,
			ProtobufCBinaryData *out);

#endif
