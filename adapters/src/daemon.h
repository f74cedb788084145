/*
 * daemon.h — `deconf-adapter run`: the adapter as a service.
 *
 * One thread, one loop, until SIGTERM/SIGINT:
 *   - notices and receipts are read from the agency's topics as they
 *     arrive (one inbox reader, inbox.h), each appended as a JSON line to
 *     run.outbox_file — {"record": "notice", ...} (notices.h) or
 *     {"record": "receipt", ...} (receipts.h) — and, when run.webhook_url
 *     is set, queued in the ledger for the webhook in the same transaction
 *     that stores it;
 *   - every run.poll_interval, the spool directory is scanned: each new
 *     input file (.csv, .jsonl, .ndjson, .json; not hidden; unchanged for
 *     run.settle) is submitted once and, unless no_wait, its receipts are
 *     waited for (submit.confirm_timeout); then it is moved to spool/done/
 *     (or spool/failed/ when its input was refused or unreadable) next to a
 *     NAME.result JSON file saying what happened: its status
 *     ("confirmed", "refused_by_federation", "unconfirmed", "queued",
 *     "refused", "failed"), counts, and the receipts of its submissions
 *     ("receipts": each as in the outbox file; "unconfirmed_submissions":
 *     the ids without one);
 *   - queued webhook deliveries are POSTed (libcurl); a failure backs off
 *     exponentially up to run.webhook_backoff_max and keeps the notice or
 *     receipt queued, so a webhook that is down loses nothing;
 *   - every 30 s, submissions left undelivered (Kafka down) are sent again,
 *     and refused entries whose reason has gone (receipts.h) are sent again.
 * Records of the notices or receipts topic deleted before they were read
 * stop the daemon with exit status 1 (inbox.h), unless accept_loss.
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

struct adp_daemon_opts {
	int no_wait;     /* do not wait for each spool file's receipts */
	int accept_loss; /* records lost unread: record the loss and go on */
};

/* The same with options (adp_daemon_run: all 0). */
int adp_daemon_run_opts(struct adp_agency *a, volatile int *stop, volatile int *reopen,
			const struct adp_daemon_opts *opts, char *errstr, size_t errstr_size);

/*
 * Whether url may receive notices: https, or plain http only to a loopback
 * host (127.0.0.0/8, ::1, localhost) — a notice names a counterpart's
 * investigator and case, and must not cross a network in clear. No user
 * name or password in the URL (it would land in logs). 0, or
 * DECONF_E_CONFIG with the reason in errstr. Parsed by libcurl, the parser
 * that will send the request.
 */
int adp_webhook_url_check(const char *url, char *errstr, size_t errstr_size);

#endif
