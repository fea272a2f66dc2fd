/*
 * The tpm_* verbs over the kernel's TPM (tpm.h): handlers for the verb
 * table, their metrics, and the "TPM Security" health component.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_VERBS_TPM_H
#define CAM_VERBS_TPM_H

#include "kernel/security/tpm.h"
#include "kernel/syscall/syscall.h"

/*
 * Gives the verbs their TPM (borrowed; NULL: none configured, the verbs
 * answer UNAVAILABLE saying so), registers the duration histogram and the
 * health probe. Call before the server starts, and with NULL once nothing
 * can call the verbs or the probe any more, before closing the TPM.
 * Returns 0 or a CAM_E* code from metric registration.
 */
int cam_tpm_verbs_attach(cam_tpm *t);

int cam_verb_tpm_sign(struct cam_syscall *sc);
int cam_verb_tpm_verify(struct cam_syscall *sc);
int cam_verb_tpm_random(struct cam_syscall *sc);
int cam_verb_tpm_pcr_read(struct cam_syscall *sc);
int cam_verb_tpm_public_key(struct cam_syscall *sc);

#endif
