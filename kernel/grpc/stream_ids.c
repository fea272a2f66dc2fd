/*
 * What a connection remembers of its closed streams, so that a frame on
 * one gets what RFC 9113 5.1 says instead of being dropped unseen (the
 * nghttp2 session keeps no closed streams: nghttp2_option_set_no_closed_streams).
 *
 *   - after our own RST_STREAM (a refusal, an early answer): ignored, as
 *     the frame may have been in flight;
 *   - after the client's RST_STREAM: a stream error STREAM_CLOSED;
 *   - after both sides ended it: a connection error STREAM_CLOSED;
 *   - HEADERS on a lower id than one already used, never opened: a
 *     connection error PROTOCOL_ERROR (5.1.1).
 *
 * Three bits per client stream id over a sliding window of the newest
 * STREAM_IDS_WINDOW ids; older ones are forgotten and their frames
 * ignored, which 5.4.2 allows. Client stream ids are odd: index = id >> 1.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "kernel/grpc/internal.h"

#define WORDS (STREAM_IDS_WINDOW / 64)

static void bit_set(uint64_t *bits, uint32_t i, bool on)
{
	uint64_t m = (uint64_t)1 << (i % 64);

	if (on)
		bits[(i / 64) % WORDS] |= m;
	else
		bits[(i / 64) % WORDS] &= ~m;
}

static bool bit_get(const uint64_t *bits, uint32_t i)
{
	return bits[(i / 64) % WORDS] >> (i % 64) & 1;
}

/* Slides the window up to index i, clearing what it leaves behind. */
static void slide(struct cam_grpc__stream_ids *ids, uint32_t i)
{
	if (i <= ids->top)
		return;
	if (i - ids->top >= STREAM_IDS_WINDOW) {
		memset(ids->opened, 0, sizeof(ids->opened));
		memset(ids->reset_by_us, 0, sizeof(ids->reset_by_us));
		memset(ids->reset_by_peer, 0, sizeof(ids->reset_by_peer));
	} else {
		for (uint32_t j = ids->top + 1; j <= i; j++) {
			bit_set(ids->opened, j % STREAM_IDS_WINDOW, false);
			bit_set(ids->reset_by_us, j % STREAM_IDS_WINDOW, false);
			bit_set(ids->reset_by_peer, j % STREAM_IDS_WINDOW, false);
		}
	}
	ids->top = i;
}

static bool in_window(const struct cam_grpc__stream_ids *ids, uint32_t i)
{
	return i <= ids->top && ids->top - i < STREAM_IDS_WINDOW;
}

void cam_grpc__ids_opened(struct cam_grpc__stream_ids *ids, int32_t id)
{
	uint32_t i = (uint32_t)id >> 1;

	slide(ids, i);
	bit_set(ids->opened, i % STREAM_IDS_WINDOW, true);
}

void cam_grpc__ids_reset_by_us(struct cam_grpc__stream_ids *ids, int32_t id)
{
	uint32_t i = (uint32_t)id >> 1;

	if (in_window(ids, i))
		bit_set(ids->reset_by_us, i % STREAM_IDS_WINDOW, true);
}

void cam_grpc__ids_reset_by_peer(struct cam_grpc__stream_ids *ids, int32_t id)
{
	uint32_t i = (uint32_t)id >> 1;

	if (in_window(ids, i))
		bit_set(ids->reset_by_peer, i % STREAM_IDS_WINDOW, true);
}

enum cam_grpc__closed_frame cam_grpc__ids_closed_frame(const struct cam_grpc__stream_ids *ids,
						       int32_t id)
{
	uint32_t i = (uint32_t)id >> 1, k = i % STREAM_IDS_WINDOW;

	if (!in_window(ids, i) || bit_get(ids->reset_by_us, k))
		return CLOSED_FRAME_IGNORE;
	if (bit_get(ids->reset_by_peer, k))
		return CLOSED_FRAME_STREAM_ERROR;
	if (bit_get(ids->opened, k))
		return CLOSED_FRAME_CONN_ERROR;
	return CLOSED_FRAME_NEVER_OPENED;
}
