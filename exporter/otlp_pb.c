/*
 * The OTLP building blocks of otlp_pb.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "exporter/otlp_pb.h"

#include <string.h>


typedef Opentelemetry__Proto__Common__V1__AnyValue any_value;

static cam_otlp_pb_kv *kv_new(struct cam_otlp_arena *a, const char *key, any_value **v)
{
	cam_otlp_pb_kv *kv = cam_otlp_arena_alloc(a, sizeof(*kv));

	opentelemetry__proto__common__v1__key_value__init(kv);
	*v = cam_otlp_arena_alloc(a, sizeof(**v));
	opentelemetry__proto__common__v1__any_value__init(*v);
	kv->key = (char *)key;
	kv->value = *v;
	return kv;
}

cam_otlp_pb_kv *cam_otlp_pb_str(struct cam_otlp_arena *a, const char *key, const char *val)
{
	any_value *v;
	cam_otlp_pb_kv *kv = kv_new(a, key, &v);

	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v->string_value = (char *)val;
	return kv;
}

cam_otlp_pb_kv *cam_otlp_pb_int(struct cam_otlp_arena *a, const char *key, int64_t val)
{
	any_value *v;
	cam_otlp_pb_kv *kv = kv_new(a, key, &v);

	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	v->int_value = val;
	return kv;
}

cam_otlp_pb_kv *cam_otlp_pb_double(struct cam_otlp_arena *a, const char *key, double val)
{
	any_value *v;
	cam_otlp_pb_kv *kv = kv_new(a, key, &v);

	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
	v->double_value = val;
	return kv;
}

cam_otlp_pb_kv *cam_otlp_pb_bool(struct cam_otlp_arena *a, const char *key, bool val)
{
	any_value *v;
	cam_otlp_pb_kv *kv = kv_new(a, key, &v);

	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	v->bool_value = val;
	return kv;
}

static bool ours(const char *key)
{
	return !strcmp(key, "service.name") || !strcmp(key, "service.instance.id") ||
	       !strcmp(key, "service.version") || !strcmp(key, "telemetry.sdk.name");
}

cam_otlp_pb_resource *cam_otlp_pb_resource_new(struct cam_otlp_arena *a,
					       const struct cam_otlp_kv_list *attrs,
					       bool service_from_attrs, const char *service,
					       const char *instance, const char *version)
{
	cam_otlp_pb_resource *r = cam_otlp_arena_alloc(a, sizeof(*r));
	size_t n = 0, cap = 4 + (attrs ? attrs->n : 0);
	const char *name = service;

	opentelemetry__proto__resource__v1__resource__init(r);
	r->attributes = cam_otlp_arena_alloc(a, cap * sizeof(*r->attributes));
	if (service_from_attrs && attrs && cam_otlp_kv_get(attrs, "service.name"))
		name = cam_otlp_kv_get(attrs, "service.name");
	r->attributes[n++] = cam_otlp_pb_str(a, "service.name", name);
	if (instance && instance[0])
		r->attributes[n++] = cam_otlp_pb_str(a, "service.instance.id", instance);
	if (version && version[0])
		r->attributes[n++] = cam_otlp_pb_str(a, "service.version", version);
	for (size_t i = 0; attrs && i < attrs->n; i++)
		if (!ours(attrs->kv[i].key))
			r->attributes[n++] = cam_otlp_pb_str(a, attrs->kv[i].key,
							     attrs->kv[i].value);
	r->attributes[n++] = cam_otlp_pb_str(a, "telemetry.sdk.name", "cam-os");
	r->n_attributes = n;
	return r;
}

cam_otlp_pb_scope *cam_otlp_pb_scope_new(struct cam_otlp_arena *a, const char *name,
					 const char *version)
{
	cam_otlp_pb_scope *s = cam_otlp_arena_alloc(a, sizeof(*s));

	opentelemetry__proto__common__v1__instrumentation_scope__init(s);
	s->name = (char *)name;
	s->version = (char *)version;
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool cam_otlp_pb_hex_id(struct cam_otlp_arena *a, const char *hex, size_t bytes,
			ProtobufCBinaryData *out)
{
	uint8_t *b;

	out->len = 0;
	out->data = NULL;
	if (!hex || strlen(hex) != 2 * bytes)
		return false;
	b = cam_otlp_arena_alloc(a, bytes);
	for (size_t i = 0; i < bytes; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	out->data = b;
	out->len = bytes;
	return true;
}
