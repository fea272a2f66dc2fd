/*
 * Native systemd journal entries for the logger (common/log.c).
 *
 * Under systemd a service's stderr is a stream to journald, which would
 * store each JSON line as one MESSAGE at the unit's default priority. When
 * stderr is that stream (JOURNAL_STREAM names its device and inode), the
 * logger sends each line as a journal entry instead: PRIORITY from the
 * level, MESSAGE from the message, and every JSON field as CAM_<KEY>, so
 * `journalctl -p warning` and `journalctl -o json` work as operators expect.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CAM_LOG_JOURNAL_H
#define CAM_LOG_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

/* True when fd 2 is the journal stream JOURNAL_STREAM ("DEV:INO") names. */
bool cam_log_journal_detect(void);

/*
 * Sends one finished JSON log line (len bytes, its '\n' included or not)
 * as a journal entry with SYSLOG_IDENTIFIER=identifier. Returns 0, CAM_EPROTO
 * when the line is not a flat JSON object, or CAM_EIO when journald refused
 * it; on error the caller writes the line to stderr instead.
 */
int cam_log_journal_send(const char *line, size_t len, const char *identifier);

#endif
