/* daemon.c — spool directory, notices outbox file, webhook (see daemon.h). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "inbox.h"
#include "input.h"
#include "notices.h"
#include "receipts.h"
#include "submit.h"

#define HOOK_BATCH 64
#define RESULT_ERRORS_MAX 100

struct hook_item {
	uint8_t id[64];
	size_t id_len;
	char *body;
	size_t body_len;
};

struct daemon {
	struct adp_agency *a;
	const char *spool, *outbox_path, *webhook;
	int64_t poll_ms, settle_ms, hook_timeout_ms, backoff_max_ms;
	int outbox_fd;
	CURL *curl;
	int64_t hook_next_us, hook_backoff_ms;
	int hook_failing;
	int64_t outbox_next_us;
	volatile int *reopen;
	const struct adp_daemon_opts *opts;
};

/*
 * Text from the wire reaches this file inside notices, as JSON made by
 * adp_notice_json() (outbox lines, webhook bodies). The spool adds its own:
 * a file's name is whatever was dropped into the directory, and the
 * .result JSON repeats it with the submit report. Names are escaped for the
 * log and repaired to valid UTF-8 for JSON (json_string() would return NULL
 * on invalid UTF-8 and the field would vanish).
 */

/* Text as a JSON string, valid UTF-8 first; NULL only when out of memory. */
static json_t *jtext(const char *s)
{
	char *u = deconf_text_utf8_dup(s, strlen(s));
	json_t *j = u ? json_string(u) : NULL;

	free(u);
	return j;
}

/* A spool file's name for a log line. */
static const char *shown(char *buf, size_t size, const char *name)
{
	return deconf_text_for_terminal(buf, size, name, strlen(name));
}

/* ------------------------------------------------------ notices outbox */

/* Append one JSON line (taken over) to run.outbox_file. */
static void append_line(struct daemon *d, char *line, const char *what)
{
	size_t len;

	if (!line)
		deconf_log(DECONF_LOG_ERR, "RUN", "%s: out of memory writing a %s", d->outbox_path,
			   what);
	if (!line || d->outbox_fd < 0) {
		free(line);
		return;
	}
	/* one write per line with O_APPEND: lines never interleave */
	len = strlen(line);
	line[len] = '\n';
	if (write(d->outbox_fd, line, len + 1) != (ssize_t)(len + 1) || fsync(d->outbox_fd))
		deconf_log(DECONF_LOG_ERR, "RUN", "%s: %s", d->outbox_path, strerror(errno));
	free(line);
}

static void on_notice(void *opaque, const Deconf__V1__ConflictNotice *n, const char *value,
		      size_t value_len)
{
	struct daemon *d = opaque;

	append_line(d, adp_notice_json(n, value, value_len), "notice");
}

/* Every receipt decided, by the daemon's reader or inside a submit. */
static void on_receipt(void *opaque, const struct adp_receipt_event *ev)
{
	struct daemon *d = opaque;

	append_line(d, adp_receipt_json(ev), "receipt");
}

/* --------------------------------------------------------------- spool */

static int known_input(const char *name)
{
	return name[0] != '.' && adp_format_from_path(name) != ADP_FORMAT_AUTO;
}

/* Move path into spool/<sub>/, keeping the name (or name.N if taken). */
static int move_aside(const struct daemon *d, const char *name, const char *sub,
		      char *dst, size_t size)
{
	char from[4096], dir[4096];

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", d->spool, sub) >= sizeof(dir) ||
	    (size_t)snprintf(from, sizeof(from), "%s/%s", d->spool, name) >= sizeof(from))
		return ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errno;
	if ((size_t)snprintf(dst, size, "%.2000s/%.1000s", dir, name) >= size)
		return ENAMETOOLONG;
	for (int i = 1; access(dst, F_OK) == 0 && i < 1000; i++)
		snprintf(dst, size, "%.2000s/%.1000s.%d", dir, name, i);
	return rename(from, dst) < 0 ? errno : 0;
}

/* What one spool file's submissions were answered, for its .result. */
struct file_run {
	struct daemon *d;
	json_t *receipts, *unconfirmed;
	int bad;
};

static void file_receipt(void *opaque, const struct adp_receipt_event *ev)
{
	struct file_run *f = opaque;
	json_t *o = adp_receipt_json_object(ev);

	on_receipt(f->d, ev);
	if (!o || json_array_append_new(f->receipts, o))
		f->bad = 1;
}

static void file_unconfirmed(void *opaque, const uint8_t id[ADP_SUBMISSION_ID_LEN])
{
	struct file_run *f = opaque;
	char hex[2 * ADP_SUBMISSION_ID_LEN + 1];

	deconf_hex_encode(hex, id, ADP_SUBMISSION_ID_LEN);
	if (json_array_append_new(f->unconfirmed, json_string(hex)))
		f->bad = 1;
}

/*
 * A spool file's status in its .result: "refused" (its input was refused:
 * moved to failed/), "failed" (it could not be read or handled: failed/),
 * "queued" (Kafka did not take it: sent again by a later round), or, when
 * what it became was delivered, what the federation answered:
 * "confirmed" (every submission accepted), "refused_by_federation" (a
 * submission was refused: "receipts" say why and what happens next),
 * "unconfirmed" (no receipt yet, or --no-wait). Files whose input was
 * taken move to done/ whatever the federation answered: the ledger
 * (`status`) follows what becomes of their entries.
 */
static const char *file_status(int rc, const struct adp_submit_stats *st)
{
	if (rc == DECONF_E_MALFORMED)
		return "refused";
	if (rc == DECONF_E_KAFKA || rc == DECONF_E_TIMEOUT)
		return "queued";
	if (rc)
		return "failed";
	if (st->refused)
		return "refused_by_federation";
	if (st->awaited && (!st->waited || st->unconfirmed))
		return "unconfirmed";
	return "confirmed";
}

static void process_file(struct daemon *d, const char *name)
{
	struct adp_input *in = NULL;
	struct adp_submit_stats st = { 0 };
	struct file_run fr = { .d = d, .receipts = json_array(), .unconfirmed = json_array() };
	struct adp_submit_opts o = { .source = name, .no_wait = d->opts->no_wait,
				     .accept_loss = d->opts->accept_loss,
				     .on_receipt = file_receipt, .on_unconfirmed = file_unconfirmed,
				     .opaque = &fr, .queue_webhook = d->webhook != NULL };
	char path[4096], dst[4096], result[4200], errstr[1024] = "", *report = NULL;
	char esc[1024], esc_result[1024];
	size_t report_len = 0;
	const char *status;
	json_t *res, *errors;
	char *text;
	int rc, bad = !fr.receipts || !fr.unconfirmed;

	snprintf(path, sizeof(path), "%s/%s", d->spool, name);
	deconf_log(DECONF_LOG_NOTICE, "RUN", "processing %s/%s", d->spool,
		   shown(esc, sizeof(esc), name));
	rc = adp_input_read(&in, path, ADP_FORMAT_AUTO, 1000, NULL, NULL, errstr,
			    sizeof(errstr));
	if (!rc) {
		if (!(o.report = open_memstream(&report, &report_len)))
			o.report = stderr;
		rc = adp_submit_input(d->a, in, &o, &st, errstr, sizeof(errstr));
		if (o.report != stderr)
			fclose(o.report);
	}
	status = file_status(rc, &st);
	res = json_pack("{s:o,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "file",
			jtext(name), "status", status, "finished_at", (json_int_t)deconf_now_ms(),
			"cases", (json_int_t)st.cases, "cases_withheld", (json_int_t)st.cases_withheld,
			"indicators", (json_int_t)st.indicators, "refused",
			(json_int_t)st.invalid, "unchanged", (json_int_t)st.unchanged, "ops",
			(json_int_t)st.ops, "submissions", (json_int_t)st.submissions,
			"delivered", (json_int_t)st.delivered, "resent", (json_int_t)st.resent,
			"accepted", (json_int_t)st.accepted, "refused_by_federation",
			(json_int_t)st.refused, "unconfirmed",
			(json_int_t)(st.waited ? st.unconfirmed : st.awaited));
	if (!res || json_object_set(res, "receipts", fr.receipts) ||
	    json_object_set(res, "unconfirmed_submissions", fr.unconfirmed) ||
	    json_object_set_new(res, "waited_for_receipts", json_boolean(st.waited)))
		bad = 1;
	if (fr.bad)
		bad = 1;
	errors = json_array();
	for (char *l = report, *nl; l && *l && json_array_size(errors) < RESULT_ERRORS_MAX;
	     l = nl + 1) {
		if (!(nl = strchr(l, '\n')))
			break;
		*nl = '\0';
		if (json_array_append_new(errors, jtext(l)))
			bad = 1;
	}
	if (rc && errstr[0] && rc != DECONF_E_MALFORMED &&
	    json_object_set_new(res, "error", jtext(errstr)))
		bad = 1;
	if (json_object_set_new(res, "errors", errors))
		bad = 1;
	if ((rc = move_aside(d, name, strcmp(status, "refused") && strcmp(status, "failed")
					      ? "done"
					      : "failed",
			     dst, sizeof(dst)))) {
		/* cannot move: stop looking at it anyway, or we would loop */
		deconf_log(DECONF_LOG_ERR, "RUN", "%s/%s: cannot move aside: %s", d->spool,
			   esc, strerror(rc));
		snprintf(dst, sizeof(dst), "%s", path);
	}
	snprintf(result, sizeof(result), "%s.result", dst);
	shown(esc_result, sizeof(esc_result), result);
	/* a result without its file name or errors would mislead: none instead */
	if (!res || bad || !(text = json_dumps(res, JSON_INDENT(2) | JSON_ENSURE_ASCII))) {
		deconf_log(DECONF_LOG_ERR, "RUN", "%s: out of memory", esc_result);
	} else {
		/* errstr would name the path raw: log the escaped one */
		if ((rc = deconf_file_write(result, text, strlen(text), 0640, 0, errstr,
					    sizeof(errstr))))
			deconf_log(DECONF_LOG_ERR, "RUN", "%s: %s", esc_result,
				   deconf_strerror(rc));
		free(text);
	}
	deconf_log(DECONF_LOG_NOTICE, "RUN", "%s: %s (%llu op(s), %llu refused); result in %s",
		   esc, status, (unsigned long long)st.ops, (unsigned long long)st.invalid,
		   esc_result);
	json_decref(res);
	json_decref(fr.receipts);
	json_decref(fr.unconfirmed);
	free(report);
	adp_input_free(in);
}

static int by_name(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void scan_spool(struct daemon *d)
{
	DIR *dir = opendir(d->spool);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int64_t now = deconf_now_ms();

	if (!dir) {
		deconf_log(DECONF_LOG_ERR, "RUN", "%s: %s", d->spool, strerror(errno));
		return;
	}
	while ((de = readdir(dir))) {
		char path[4096];
		struct stat st;

		if (!known_input(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->spool, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		/* still being written? */
		if ((int64_t)st.st_mtime * 1000 + d->settle_ms > now)
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!v)
				break;
			names = v;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(*names), by_name); /* oldest names first */
	for (size_t i = 0; i < n; i++) {
		process_file(d, names[i]);
		free(names[i]);
	}
	free(names);
}

/* ------------------------------------------------------------- webhook */

static int loopback_host(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char h[64];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	/* libcurl keeps an IPv6 literal's brackets */
	if (n > 2 && n < sizeof(h) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
		return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return 0;
}

int adp_webhook_url_check(const char *url, char *errstr, size_t errstr_size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
	int rc = DECONF_E_CONFIG;

	if (!u)
		return DECONF_E_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		deconf_err_set(errstr, errstr_size, rc, "not a URL (expected https://HOST/PATH)");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		deconf_err_set(errstr, errstr_size, rc,
			       "a user name or password in the URL would be written to logs");
		goto out;
	}
	if (!strcmp(scheme, "https") || (!strcmp(scheme, "http") && loopback_host(host)))
		rc = DECONF_OK;
	else if (!strcmp(scheme, "http"))
		deconf_err_set(errstr, errstr_size, rc,
			       "plain http to %s: notices name investigators and cases, so they "
			       "go over https (http only to this machine: 127.0.0.1, ::1, "
			       "localhost)",
			       host);
	else
		deconf_err_set(errstr, errstr_size, rc, "scheme %s: only https (or http to "
			       "this machine) is allowed", scheme);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(u);
	return rc;
}

struct hook_batch {
	struct hook_item v[HOOK_BATCH];
	size_t n;
};

static int hook_collect(void *opaque, const uint8_t *id, size_t id_len, const char *body,
			size_t body_len)
{
	struct hook_batch *b = opaque;
	struct hook_item *it;

	if (b->n == HOOK_BATCH)
		return 1; /* enough for this round */
	if (id_len > sizeof(it->id))
		return 0;
	it = &b->v[b->n];
	if (!(it->body = malloc(body_len + 1)))
		return DECONF_E_NOMEM;
	memcpy(it->id, id, id_len);
	it->id_len = id_len;
	memcpy(it->body, body, body_len);
	it->body[body_len] = '\0';
	it->body_len = body_len;
	b->n++;
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p, (void)u;
	return size * n;
}

/* POST one body; 0 when the webhook answered 2xx. */
static int post(struct daemon *d, const char *body, size_t len, char *why, size_t why_size)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	long code = 0;
	CURLcode cc;

	curl_easy_reset(d->curl);
	curl_easy_setopt(d->curl, CURLOPT_URL, d->webhook);
	curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, (long)d->hook_timeout_ms);
	curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
	/* the scheme adp_webhook_url_check allowed, never another */
	curl_easy_setopt(d->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, discard);
	cc = curl_easy_perform(d->curl);
	curl_slist_free_all(h);
	if (cc != CURLE_OK) {
		snprintf(why, why_size, "%s", curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(why, why_size, "HTTP status %ld", code);
		return -1;
	}
	return 0;
}

static void deliver_hooks(struct daemon *d)
{
	struct adp_ledger_txn *t;
	struct hook_batch b = { .n = 0 };
	char why[256];

	if (!d->webhook || deconf_mono_us() < d->hook_next_us)
		return;
	if (adp_ledger_begin(d->a->ledger, 1, &t))
		return;
	adp_ledger_hook_foreach(t, hook_collect, &b);
	adp_ledger_abort(t);
	for (size_t i = 0; i < b.n; i++) {
		if (post(d, b.v[i].body, b.v[i].body_len, why, sizeof(why))) {
			d->hook_backoff_ms = d->hook_backoff_ms ? d->hook_backoff_ms * 2 : 1000;
			if (d->hook_backoff_ms > d->backoff_max_ms)
				d->hook_backoff_ms = d->backoff_max_ms;
			d->hook_next_us = deconf_mono_us() + d->hook_backoff_ms * 1000;
			if (!d->hook_failing)
				deconf_log(DECONF_LOG_WARNING, "WEBHOOK",
					   "%s: %s; notices stay queued, retrying with backoff",
					   d->webhook, why);
			d->hook_failing = 1;
			break;
		}
		if (d->hook_failing)
			deconf_log(DECONF_LOG_NOTICE, "WEBHOOK", "%s answers again", d->webhook);
		d->hook_failing = 0;
		d->hook_backoff_ms = 0;
		if (!adp_ledger_begin(d->a->ledger, 0, &t)) {
			if (adp_ledger_hook_del(t, b.v[i].id, b.v[i].id_len))
				adp_ledger_abort(t);
			else
				adp_ledger_commit(t);
		}
	}
	for (size_t i = 0; i < b.n; i++)
		free(b.v[i].body);
}

/* ---------------------------------------------------------------- loop */

/* What a catch-up round reports goes to the log, line by line. */
static void log_report(char *report)
{
	for (char *l = report, *nl; l && *l; l = nl + 1) {
		if (!(nl = strchr(l, '\n')))
			break;
		*nl = '\0';
		deconf_log(DECONF_LOG_NOTICE, "RUN", "%s", l); /* escaped by submit.c and confirm.c */
	}
}

static void idle(void *opaque)
{
	struct daemon *d = opaque;
	struct adp_ledger_txn *t;
	size_t pending = 0;

	if (d->reopen && *d->reopen) {
		*d->reopen = 0;
		if (deconf_log_reopen())
			deconf_log(DECONF_LOG_ERR, "RUN", "could not reopen the log file");
	}
	scan_spool(d);
	deliver_hooks(d);
	/* submissions Kafka did not confirm (it was down), and refused entries
	 * whose reason may have gone (the agency active again): try again */
	if (deconf_mono_us() >= d->outbox_next_us && !adp_ledger_begin(d->a->ledger, 1, &t)) {
		pending = adp_ledger_outbox_count(t) + adp_ledger_sub_count(t, ADP_SUB_REFUSED);
		adp_ledger_abort(t);
		if (pending) {
			struct adp_submit_stats st;
			/* the daemon's reader takes the receipts as they come */
			struct adp_submit_opts o = { .source = "ledger", .no_wait = 1,
						     .accept_loss = d->opts->accept_loss,
						     .on_receipt = on_receipt, .opaque = d,
						     .queue_webhook = d->webhook != NULL };
			char errstr[512], *report = NULL;
			size_t report_len = 0;

			o.report = open_memstream(&report, &report_len);
			if (adp_flush_outbox(d->a, &o, &st, errstr, sizeof(errstr)))
				deconf_log(DECONF_LOG_WARNING, "RUN", "%s", errstr);
			if (o.report) {
				fclose(o.report);
				log_report(report);
			}
			free(report);
		}
		d->outbox_next_us = deconf_mono_us() + 30 * 1000000LL;
	}
}

int adp_daemon_run(struct adp_agency *a, volatile int *stop, volatile int *reopen,
		   char *errstr, size_t errstr_size)
{
	struct adp_daemon_opts opts = { 0 };

	return adp_daemon_run_opts(a, stop, reopen, &opts, errstr, errstr_size);
}

int adp_daemon_run_opts(struct adp_agency *a, volatile int *stop, volatile int *reopen,
			const struct adp_daemon_opts *opts, char *errstr, size_t errstr_size)
{
	struct daemon d = { .a = a, .outbox_fd = -1, .reopen = reopen, .opts = opts };
	struct adp_notices_ctx nctx = { .cb = on_notice, .opaque = &d };
	struct adp_receipts_ctx rctx = { .cb = on_receipt, .opaque = &d };
	struct adp_inbox_kind nk, rk, *kinds[2] = { &nk, &rk };
	struct adp_inbox_opts io = { .follow = 1, .stop = stop, .idle = idle, .opaque = &d,
				     .accept_loss = opts->accept_loss };
	struct stat sb;
	int rc;

	d.spool = a->set.run_spool_dir;
	d.outbox_path = a->set.run_outbox_file;
	d.webhook = a->set.run_webhook_url;
	if (d.webhook && !*d.webhook)
		d.webhook = NULL;
	if (d.webhook && (rc = adp_webhook_url_check(d.webhook, errstr, errstr_size))) {
		char why[512];

		snprintf(why, sizeof(why), "%s", errstr);
		return deconf_err_set(errstr, errstr_size, rc, "%s: run.webhook_url: %s",
				      deconf_conf_origin(a->conf, "run.webhook_url"), why);
	}
	d.poll_ms = a->set.run_poll_interval;
	d.settle_ms = a->set.run_settle;
	d.hook_timeout_ms = a->set.run_webhook_timeout;
	d.backoff_max_ms = a->set.run_webhook_backoff_max;
	io.idle_ms = (int)d.poll_ms;
	nctx.queue_webhook = rctx.queue_webhook = d.webhook != NULL;
	/* zeroed: the last log line reads them even when stopped before a read */
	adp_notices_kind_init(&nk, &nctx);
	adp_receipts_kind_init(&rk, &rctx, a);
	if (stat(d.spool, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: run.spool_dir: %s: not a directory",
				      deconf_conf_origin(a->conf, "run.spool_dir"), d.spool);
	if ((d.outbox_fd = open(d.outbox_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				0600)) < 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: run.outbox_file: %s: %s",
				      deconf_conf_origin(a->conf, "run.outbox_file"), d.outbox_path,
				      strerror(errno));
	if (d.webhook) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if (!(d.curl = curl_easy_init())) {
			close(d.outbox_fd);
			return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM,
					      "libcurl could not start");
		}
	}
	if ((rc = adp_agency_open_keys(a, errstr, errstr_size)) ||
	    (rc = adp_agency_open_ledger(a, errstr, errstr_size)))
		goto out;
	deconf_log(DECONF_LOG_NOTICE, "RUN",
		   "agency %s: watching %s, notices and receipts to %s%s%s", a->id, d.spool,
		   d.outbox_path, d.webhook ? " and " : "", d.webhook ? d.webhook : "");
	idle(&d); /* spool files waiting since before the start */
	/* Kafka down: keep the spool going and retry. Records lost unread
	 * stop the daemon (unless accepted): nothing is skipped silently. */
	while (!*stop && (rc = adp_inbox_read(a, kinds, 2, &io, errstr, errstr_size)) &&
	       rc != DECONF_E_CONFIG && rc != DECONF_E_PERM && !nk.st.stopped_by_loss &&
	       !rk.st.stopped_by_loss) {
		deconf_log(DECONF_LOG_WARNING, "RUN", "reading notices and receipts: %s; retrying",
			   errstr);
		for (int64_t end = deconf_mono_us() + 5000000; !*stop && deconf_mono_us() < end;) {
			idle(&d);
			usleep((useconds_t)(d.poll_ms < 1000 ? d.poll_ms : 1000) * 1000);
		}
	}
	if (*stop && !nk.st.stopped_by_loss && !rk.st.stopped_by_loss)
		rc = DECONF_OK;
	deconf_log(DECONF_LOG_NOTICE, "RUN",
		   "stopping: %llu notice(s) received, %llu refused; %llu receipt(s) received, "
		   "%llu refused",
		   (unsigned long long)nk.st.received, (unsigned long long)nk.st.refused,
		   (unsigned long long)rk.st.received, (unsigned long long)rk.st.refused);
out:
	if (d.curl) {
		curl_easy_cleanup(d.curl);
		curl_global_cleanup();
	}
	close(d.outbox_fd);
	return rc;
}
