/*
 * text_transform: a stateless example driver.
 *
 * Operations (the input is UTF-8 text; ASCII letters change case):
 *   upper, lower    the text in upper or lower case
 *   reverse         the text backwards, character by character
 *   length          the number of bytes and of UTF-8 characters
 *   words           the number of whitespace-separated words
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <cam/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CAM_DRIVER_DEFINE_ABI;

struct state {
	unsigned long calls;
};

int cam_driver_init(const char *config, void **state)
{
	(void)config;
	*state = calloc(1, sizeof(struct state));
	return *state ? CAM_DRIVER_OK : CAM_DRIVER_EFAIL;
}

static int change_case(const char *in, size_t len, int up, struct cam_driver_buf *out)
{
	if (len > out->cap)
		return CAM_DRIVER_ELIMIT;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (up && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!up && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out->data[i] = c;
	}
	out->len = len;
	return CAM_DRIVER_OK;
}

/* Reverses by UTF-8 character: a lead byte and its continuation bytes
 * move together. */
static int reverse(const char *in, size_t len, struct cam_driver_buf *out)
{
	size_t end = len;

	if (len > out->cap)
		return CAM_DRIVER_ELIMIT;
	while (end > 0) {
		size_t start = end - 1;

		while (start > 0 && ((unsigned char)in[start] & 0xC0) == 0x80)
			start--;
		cam_driver_buf_append(out, in + start, end - start);
		end = start;
	}
	return CAM_DRIVER_OK;
}

static int length(const char *in, size_t len, struct cam_driver_buf *out)
{
	size_t chars = 0;
	char buf[64];

	for (size_t i = 0; i < len; i++)
		chars += ((unsigned char)in[i] & 0xC0) != 0x80;
	snprintf(buf, sizeof(buf), "bytes=%zu;chars=%zu", len, chars);
	return cam_driver_buf_puts(out, buf);
}

static int words(const char *in, size_t len, struct cam_driver_buf *out)
{
	size_t n = 0;
	int inword = 0;
	char buf[32];

	for (size_t i = 0; i < len; i++) {
		int space = in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r';

		n += !space && !inword;
		inword = !space;
	}
	snprintf(buf, sizeof(buf), "%zu", n);
	return cam_driver_buf_puts(out, buf);
}

int cam_driver_invoke(void *state, const char *op, const char *in, size_t len,
		      struct cam_driver_buf *out)
{
	struct state *s = state;

	s->calls++;
	if (strcmp(op, "upper") == 0 || strcmp(op, "lower") == 0)
		return change_case(in, len, op[0] == 'u', out);
	if (strcmp(op, "reverse") == 0)
		return reverse(in, len, out);
	if (strcmp(op, "length") == 0)
		return length(in, len, out);
	if (strcmp(op, "words") == 0)
		return words(in, len, out);
	cam_driver_buf_puts(out, "unknown operation");
	return CAM_DRIVER_ENOTSUP;
}

int cam_driver_health(void *state, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "%lu calls", ((struct state *)state)->calls);
	return CAM_DRIVER_HEALTHY;
}

void cam_driver_shutdown(void *state)
{
	free(state);
}
