/* SPDX-License-Identifier: Apache-2.0 */
/* Whether a listen address ("host:port", "[v6]:port", ":port") stays on
 * this machine: anonymous access is only allowed there by default. */
#ifndef CAM_LISTEN_POLICY_H
#define CAM_LISTEN_POLICY_H

#include <stdbool.h>

bool cam_listen_is_loopback(const char *addr);

#endif
