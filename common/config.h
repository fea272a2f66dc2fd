/*
 * Configuration from the environment and the command line.
 *
 * Each program describes its settings in one table of cam_option; every
 * setting has an environment variable (CAM_GRPC_LISTEN) and a flag of the
 * same meaning (--grpc-listen). Flags win over the environment, which wins
 * over the default. --help prints the table with defaults.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_CONFIG_H
#define CAM_CONFIG_H

#include <stddef.h>
#include <stdio.h>

struct cam_option {
	const char *env;  /* "CAM_GRPC_LISTEN"; the flag is derived from it */
	const char *def;  /* default; NULL means unset */
	const char *help;
	const char *value; /* filled by cam_config_parse */
	int is_bool;       /* flag may be given alone: --profiling-enabled */
};

/*
 * Fills opts[i].value. Returns 0 to go on, 1 when --help or --version was
 * answered (exit 0), CAM_EINVAL on an unknown flag or missing value (the
 * reason is printed to err).
 */
int cam_config_parse(struct cam_option *opts, size_t n, int argc, char **argv,
		     const char *usage, FILE *err);

/* The value of setting `env`, or NULL when unset. */
const char *cam_config_get(const struct cam_option *opts, size_t n,
			   const char *env);
/* Parses a boolean ("true", "1", "yes", "on" and their opposites). */
int cam_config_bool(const char *s, int *out);
/* Parses an integer within [min, max]. */
int cam_config_long(const char *s, long min, long max, long *out);

/* Default bus address: ipc://$XDG_RUNTIME_DIR/cam-os/bus.ipc, else
 * ipc:///tmp/cam-os-$UID/bus.ipc. Writes into buf; returns buf. */
const char *cam_config_default_bus_addr(char *buf, size_t n);

#endif
