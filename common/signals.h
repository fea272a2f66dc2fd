/*
 * Signal handling shared by both programs: SIGTERM, SIGINT and SIGHUP are
 * blocked in every thread and taken by main with sigwait, so no handler
 * ever runs on a thread that holds a lock; SIGPIPE is ignored (a peer that
 * hangs up shows as EPIPE instead).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SIGNALS_H
#define CAM_SIGNALS_H

#include <signal.h>

/* Call before any thread starts (threads inherit the mask). *set gets the
 * signals to sigwait for. */
void cam_signals_block(sigset_t *set);

#endif
