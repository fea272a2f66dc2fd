/*
 * The security subsystem's verbs: whoami and the tpm_* verbs over the
 * kernel's TPM, their metrics and the "TPM Security" health component.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_SYSCALL_SECURITY_VERBS_H
#define CAM_SYSCALL_SECURITY_VERBS_H

#include "kernel/security/tpm.h"
#include "kernel/syscall/components.h"
#include "kernel/syscall/verbs.h"

typedef struct cam_security_verbs cam_security_verbs;

/* Borrowed pointers: each must outlive the object. */
struct cam_security_verbs_opts {
	cam_verbs *verbs;            /* the rows go here */
	cam_components *components;  /* may be NULL: no health probe */
	cam_tpm *tpm;                /* NULL: no TPM; its verbs answer UNAVAILABLE saying so */
};

/* Registers the TPM families, adds the rows and the probe. 0 or CAM_E*;
 * nothing is left behind on failure. */
int cam_security_verbs_new(const struct cam_security_verbs_opts *o, cam_security_verbs **out);
/* Clears the probe and removes the rows; NULL is a no-op. */
void cam_security_verbs_free(cam_security_verbs *v);

#endif
