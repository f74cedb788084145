/*
 * daemon.h — `deconf-adapter run`: the adapter as a service.
 *
 * One thread, one loop, until SIGTERM/SIGINT:
 *   - notices are read from the agency's topic as they arrive (notices.h),
 *     each appended as a JSON line to run.outbox_file and, when
 *     run.webhook_url is set, queued in the ledger for the webhook in the
 *     same transaction that stores the notice;
 *   - every run.poll_interval, the spool directory is scanned: each new
 *     input file (.csv, .jsonl, .ndjson, .json; not hidden; unchanged for
 *     run.settle) is submitted once, then moved to spool/done/ (or
 *     spool/failed/ when its input was refused or unreadable) next to a
 *     NAME.result JSON file saying what happened;
 *   - queued webhook deliveries are POSTed (libcurl); a failure backs off
 *     exponentially up to run.webhook_backoff_max and keeps the notice
 *     queued, so a webhook that is down loses nothing;
 *   - submissions left unconfirmed (Kafka down) are sent again.
 * Writers should create spool files under a hidden name (".x.csv") and
 * rename them into place.
 */
#ifndef ADP_DAEMON_H
#define ADP_DAEMON_H

#include "agency.h"

/*
 * Run until *stop; when *reopen becomes non-zero (SIGHUP), the log file is
 * reopened (after rotation) and *reopen cleared. Returns 0, or an error
 * with errstr (exit status 1/2).
 */
int adp_daemon_run(struct adp_agency *a, volatile int *stop, volatile int *reopen,
		   char *errstr, size_t errstr_size);

#endif
