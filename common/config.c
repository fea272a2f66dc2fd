/*
 * Settings from flags and the environment, as config.h describes.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/error.h"

/* "CAM_GRPC_LISTEN" -> "grpc-listen" */
static void flag_name(const char *env, char *buf, size_t n)
{
	size_t o = 0;

	if (strncmp(env, "CAM_", 4) == 0)
		env += 4;
	for (; *env && o + 1 < n; env++)
		buf[o++] = *env == '_' ? '-' : (char)tolower((unsigned char)*env);
	buf[o] = '\0';
}

static void print_help(const struct cam_option *opts, size_t n,
		       const char *usage, FILE *out)
{
	fprintf(out, "%s\n\nSettings (flag, environment variable, default):\n",
		usage);
	for (size_t i = 0; i < n; i++) {
		char flag[64];

		flag_name(opts[i].env, flag, sizeof(flag));
		fprintf(out, "  --%-24s %s\n      %s (default: %s)\n", flag,
			opts[i].env, opts[i].help, opts[i].def ? opts[i].def : "unset");
	}
	fprintf(out, "  --help                     this text\n"
		     "Flags win over the environment.\n");
}

static struct cam_option *find_flag(struct cam_option *opts, size_t n,
				    const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		char flag[64];

		flag_name(opts[i].env, flag, sizeof(flag));
		if (strlen(flag) == len && strncmp(flag, name, len) == 0)
			return &opts[i];
	}
	return NULL;
}

int cam_config_parse(struct cam_option *opts, size_t n, int argc, char **argv,
		     const char *usage, FILE *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *env = getenv(opts[i].env);
		opts[i].value = (env && env[0]) ? env : opts[i].def;
	}
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq;
		struct cam_option *o;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			print_help(opts, n, usage, stdout);
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(err, "unexpected argument '%s' (see --help)\n", arg);
			return CAM_EINVAL;
		}
		arg += 2;
		eq = strchr(arg, '=');
		o = find_flag(opts, n, arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (!o) {
			fprintf(err, "unknown flag '--%s' (see --help)\n", arg);
			return CAM_EINVAL;
		}
		if (eq) {
			o->value = eq + 1;
		} else if (o->is_bool) {
			o->value = "true";
		} else if (a + 1 < argc) {
			o->value = argv[++a];
		} else {
			fprintf(err, "flag '--%s' needs a value\n", arg);
			return CAM_EINVAL;
		}
	}
	return 0;
}

const char *cam_config_get(const struct cam_option *opts, size_t n,
			   const char *env)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(opts[i].env, env) == 0)
			return opts[i].value;
	return NULL;
}

int cam_config_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };

	if (!s)
		return CAM_EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return CAM_EINVAL;
}

int cam_config_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return CAM_EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return CAM_EINVAL;
	*out = v;
	return 0;
}

const char *cam_config_default_bus_addr(char *buf, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (xdg && xdg[0] == '/')
		snprintf(buf, n, "ipc://%s/cam-os/bus.ipc", xdg);
	else
		snprintf(buf, n, "ipc:///tmp/cam-os-%u/bus.ipc", (unsigned)getuid());
	return buf;
}
