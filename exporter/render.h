/*
 * Rendering snapshots as Prometheus text 0.0.4, OpenMetrics 1.0 or the
 * Prometheus protobuf exposition (delimited MetricFamily messages).
 *
 * The exporter renders one or more cam.bus.Snapshot trees (the kernel's, then
 * its own) into a growable buffer that the caller owns and may hand to zlib
 * or to the HTTP server afterwards. The bus carries non-cumulative histogram
 * buckets; the renderer makes them cumulative. Native buckets appear in the
 * protobuf format only: the text formats show what they always showed. Nothing is allocated per line:
 * the buffer grows geometrically, numbers are formatted on the stack, and
 * histogram bounds are formatted once per family.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_EXPORTER_RENDER_H
#define CAM_EXPORTER_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/bus.pb-c.h"

#define CAM_RENDER_CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CAM_RENDER_CONTENT_TYPE_OPENMETRICS \
	"application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CAM_RENDER_CONTENT_TYPE_PROTOBUF \
	"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; " \
	"encoding=delimited"

enum cam_render_format {
	CAM_RENDER_TEXT = 0,        /* Prometheus text exposition 0.0.4 */
	CAM_RENDER_OPENMETRICS = 1, /* OpenMetrics 1.0 text */
	CAM_RENDER_PROTOBUF = 2,    /* delimited io.prometheus.client.MetricFamily */
};
#define CAM_RENDER_FORMATS 3

/* The Content-Type of a format's body. */
const char *cam_render_content_type(enum cam_render_format fmt);

/* A growable byte buffer; data is not NUL-terminated. */
struct cam_render_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Starts b empty with room for hint bytes (0: a small default). */
void cam_render_buf_init(struct cam_render_buf *b, size_t hint);
/* Frees what b holds and leaves it empty; safe on an empty buffer. */
void cam_render_buf_free(struct cam_render_buf *b);
/* Makes room for n more bytes. Aborts when memory runs out. */
void cam_render_buf_reserve(struct cam_render_buf *b, size_t n);
void cam_render_buf_append(struct cam_render_buf *b, const char *s, size_t n);

/* What one cam_render() call wrote and left out. */
struct cam_render_result {
	size_t families;  /* families written */
	size_t series;    /* series written (a histogram series counts once) */
	size_t conflicts; /* families skipped: the name comes again later */
	size_t invalid;   /* series skipped: label or bucket counts do not fit */
};

/*
 * Appends snaps[0..n) to b in order (NULL entries are skipped), then
 * "# EOF" for OpenMetrics. A family whose name also appears in a later
 * snapshot is left out and counted in res->conflicts: the later snapshot
 * wins, so the exporter passes its own snapshot last (the check is linear
 * in the size of the later snapshots: keep them small). A family with no
 * series yet still gets its HELP and TYPE lines. res may be NULL. Never
 * fails; allocation failure aborts.
 */
void cam_render(struct cam_render_buf *b, enum cam_render_format fmt,
		const Cam__Bus__Snapshot *const *snaps, size_t n,
		struct cam_render_result *res);

/*
 * Appends the families of snap (may be NULL) but those that skip (when not
 * NULL) names, which count in res->conflicts, then "# EOF" for OpenMetrics
 * when last: a scrape body in pieces rendered apart (the kernel's
 * families, cached, then the exporter's own, whose names skip refuses
 * from the kernel's), same bytes as cam_render over both. res is zeroed
 * first and may be NULL.
 */
void cam_render_part(struct cam_render_buf *b, enum cam_render_format fmt,
		     const Cam__Bus__Snapshot *snap, bool (*skip)(const char *family),
		     bool last, struct cam_render_result *res);

/* Room cam_render_double needs, NUL included. */
#define CAM_RENDER_DOUBLE_MAX 32

/*
 * Formats v as both formats want it: "NaN", "+Inf", "-Inf", integers as
 * integers, anything else in the shortest %g form that reads back as the
 * same double. Writes a NUL-terminated string to out (CAM_RENDER_DOUBLE_MAX
 * bytes) and returns its length.
 */
size_t cam_render_double(char *out, double v);

#endif
