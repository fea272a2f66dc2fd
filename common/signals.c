/* Blocked signals for sigwait: see signals.h. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "common/signals.h"

#include <pthread.h>

void cam_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}
