/* status.c — per case, what the federation holds, from the ledger (see status.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "notices.h"
#include "receipts.h"
#include "status.h"

struct walk {
	struct adp_ledger_txn *t;
	adp_case_status_fn *fn;
	void *opaque;
	struct adp_status_totals *tot;
	char ref[ADP_LEDGER_CASE_MAX + 1];
	struct adp_case_status cs;
	struct adp_status_refusal *rf;
	size_t n_rf, cap_rf;
	int open;
	int named; /* cases asked for by name: each is shown, even empty */
};

static void flush_case(struct walk *w)
{
	struct adp_case_status *cs = &w->cs;

	if (!w->open)
		return;
	cs->case_ref = w->ref;
	cs->refusals = w->rf;
	cs->n_refusals = w->n_rf;
	if (w->named || cs->confirmed + cs->pending + cs->queued + cs->removing + cs->refused +
			    cs->remove_refused) {
		w->tot->cases++;
		w->tot->confirmed += cs->confirmed;
		w->tot->pending += cs->pending;
		w->tot->queued += cs->queued;
		w->tot->removing += cs->removing;
		w->tot->refused += cs->refused;
		w->tot->remove_refused += cs->remove_refused;
		w->fn(w->opaque, cs);
	}
	memset(cs, 0, sizeof(*cs));
	w->n_rf = 0;
	w->open = 0;
}

/* The refusal group of e (its submission and reason), made when new. */
static int refusal(struct walk *w, const struct adp_entry *e, int removal)
{
	struct adp_status_refusal *g;
	struct adp_sub s;

	for (size_t i = 0; i < w->n_rf; i++)
		if (!memcmp(w->rf[i].submission_id, e->submission_id, ADP_SUBMISSION_ID_LEN) &&
		    w->rf[i].reason == e->reason && w->rf[i].removal == removal) {
			w->rf[i].entries++;
			return DECONF_OK;
		}
	if (DECONF_GROW(w->rf, w->n_rf, w->cap_rf, 4))
		return DECONF_E_NOMEM;
	g = &w->rf[w->n_rf++];
	memset(g, 0, sizeof(*g));
	memcpy(g->submission_id, e->submission_id, ADP_SUBMISSION_ID_LEN);
	g->reason = e->reason;
	g->removal = removal;
	g->entries = 1;
	g->decided_at = e->decided_at;
	g->op_index = -1;
	/* the detail stays with the submission (ledger.h) */
	if (!adp_ledger_sub_get(w->t, e->submission_id, &s) && s.status == ADP_SUB_REFUSED) {
		size_t n = s.detail_len < sizeof(g->detail) - 1 ? s.detail_len
								 : sizeof(g->detail) - 1;
		memcpy(g->detail, s.detail, n);
		g->detail[n] = '\0';
		g->op_index = s.op_index;
	}
	return DECONF_OK;
}

static int entry_cb(void *opaque, const char *case_ref, const struct adp_entry *e)
{
	struct walk *w = opaque;
	struct adp_case_status *cs = &w->cs;

	if (!w->open || strcmp(w->ref, case_ref)) {
		flush_case(w);
		snprintf(w->ref, sizeof(w->ref), "%s", case_ref);
		w->open = 1;
	}
	switch (e->state) {
	case ADP_ENTRY_PENDING: cs->queued++; break;
	case ADP_ENTRY_SENT: cs->pending++; break;
	case ADP_ENTRY_REMOVING: cs->removing++; break;
	case ADP_ENTRY_CONFIRMED: cs->confirmed++; break;
	case ADP_ENTRY_REFUSED: cs->refused++; return refusal(w, e, 0);
	case ADP_ENTRY_REMOVE_REFUSED: cs->remove_refused++; return refusal(w, e, 1);
	default: break; /* QUERY: asked, never registered */
	}
	return 0;
}

int adp_status_walk(struct adp_agency *a, const char *const *cases, size_t n_cases,
		    adp_case_status_fn *fn, void *opaque, struct adp_status_totals *tot,
		    char *errstr, size_t errstr_size)
{
	struct walk w = { .fn = fn, .opaque = opaque, .tot = tot, .named = n_cases > 0 };
	char meta[64];
	int rc;

	memset(tot, 0, sizeof(*tot));
	if ((rc = adp_agency_open_ledger(a, errstr, errstr_size)))
		return rc;
	if ((rc = adp_ledger_begin(a->ledger, 1, &w.t)))
		return deconf_err_set(errstr, errstr_size, rc, "ledger: %s", deconf_strerror(rc));
	if (!n_cases) {
		rc = adp_ledger_foreach(w.t, NULL, entry_cb, &w);
		if (!rc)
			flush_case(&w);
	}
	for (size_t i = 0; i < n_cases && !rc; i++) {
		size_t len = strlen(cases[i]);

		if (!len || len > ADP_LEDGER_CASE_MAX) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					    "a case ref is 1 to %d bytes", ADP_LEDGER_CASE_MAX);
			break;
		}
		rc = adp_ledger_foreach(w.t, cases[i], entry_cb, &w);
		if (!rc && !w.open) { /* nothing held: said so */
			struct adp_case_status none = { .case_ref = cases[i] };
			fn(opaque, &none);
		}
		if (!rc)
			flush_case(&w);
	}
	if (!rc) {
		tot->subs_waiting = adp_ledger_sub_count(w.t, ADP_SUB_SENT) +
				    adp_ledger_outbox_count(w.t);
		tot->subs_refused = adp_ledger_sub_count(w.t, ADP_SUB_REFUSED);
		for (int p = 0; p < 64; p++) { /* agency topics have one partition */
			int64_t v;
			snprintf(meta, sizeof(meta), "notices.lost.%d", p);
			if (!adp_ledger_meta_get(w.t, meta, &v))
				tot->notices_lost += v;
			snprintf(meta, sizeof(meta), "receipts.lost.%d", p);
			if (!adp_ledger_meta_get(w.t, meta, &v))
				tot->receipts_lost += v;
		}
	} else if (!*errstr) {
		deconf_err_set(errstr, errstr_size, rc, "ledger: %s", deconf_strerror(rc));
	}
	adp_ledger_abort(w.t);
	free(w.rf);
	return rc;
}

/* -------------------------------------------------------------- showing */

static void when(char *buf, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

static void put_text(FILE *out, const char *s)
{
	char buf[DECONF_TEXT_TERMINAL_SIZE(ADP_SUB_DETAIL_MAX + 1)];

	fputs(deconf_text_for_terminal(buf, sizeof(buf), s, strlen(s)), out);
}

void adp_status_print(FILE *out, const struct adp_case_status *cs)
{
	const char *sep = "";
	char name[64], at[40], hex[17];

	put_text(out, cs->case_ref);
	fputs(": ", out);
#define PART(n, what)                                                                      \
	if (n) {                                                                           \
		fprintf(out, "%s%llu %s", sep, (unsigned long long)(n), what);             \
		sep = ", ";                                                                \
	}
	PART(cs->confirmed, "confirmed");
	PART(cs->pending, "pending (sent, no receipt yet)");
	PART(cs->queued, "queued (not yet delivered to Kafka)");
	PART(cs->removing, "being withdrawn");
	PART(cs->refused, "refused");
	PART(cs->remove_refused, "withdrawal refused");
#undef PART
	if (!*sep)
		fputs("nothing held in the ledger", out);
	fputc('\n', out);
	for (size_t i = 0; i < cs->n_refusals; i++) {
		const struct adp_status_refusal *g = &cs->refusals[i];

		deconf_hex_encode(hex, g->submission_id, 8);
		when(at, sizeof(at), g->decided_at);
		fprintf(out, "  %s (%s), %llu entr%s, submission %s, %s: ",
			g->removal ? "withdrawal refused" : "refused",
			adp_reason_name(g->reason, name, sizeof(name)),
			(unsigned long long)g->entries, g->entries == 1 ? "y" : "ies", hex, at);
		put_text(out, g->detail[0] ? g->detail : "(no detail kept)");
		fprintf(out, "\n    next: %s\n", adp_refusal_next(adp_refusal_rule(g->reason)));
	}
}

void adp_status_print_totals(FILE *out, const struct adp_status_totals *tot)
{
	fprintf(out,
		"total: %llu case(s); entries: %llu confirmed, %llu pending, %llu queued, "
		"%llu being withdrawn, %llu refused, %llu withdrawal(s) refused; %llu "
		"submission(s) waiting for a receipt, %llu refused kept\n",
		(unsigned long long)tot->cases, (unsigned long long)tot->confirmed,
		(unsigned long long)tot->pending, (unsigned long long)tot->queued,
		(unsigned long long)tot->removing, (unsigned long long)tot->refused,
		(unsigned long long)tot->remove_refused, (unsigned long long)tot->subs_waiting,
		(unsigned long long)tot->subs_refused);
	if (tot->notices_lost || tot->receipts_lost)
		fprintf(out, "lost and accepted: %lld notice record(s), %lld receipt record(s)\n",
			(long long)tot->notices_lost, (long long)tot->receipts_lost);
}

static void put_json(FILE *out, json_t *o)
{
	char *s = o ? adp_json_dumps(o) : NULL;

	if (!s) {
		deconf_log(DECONF_LOG_ERR, "STATUS", "out of memory writing JSON");
	} else {
		fputs(s, out);
		fputc('\n', out);
	}
	free(s);
	json_decref(o);
}

void adp_status_print_json(FILE *out, const struct adp_case_status *cs)
{
	json_t *o = json_object(), *rf = json_array();
	char name[64], hex[2 * ADP_SUBMISSION_ID_LEN + 1];
	int bad = !o || !rf;

	bad |= json_object_set_new(o, "record", json_string("case"));
	bad |= json_object_set_new(o, "case_ref", adp_json_text(cs->case_ref, strlen(cs->case_ref)));
	bad |= json_object_set_new(o, "confirmed", json_integer((json_int_t)cs->confirmed));
	bad |= json_object_set_new(o, "pending", json_integer((json_int_t)cs->pending));
	bad |= json_object_set_new(o, "queued", json_integer((json_int_t)cs->queued));
	bad |= json_object_set_new(o, "removing", json_integer((json_int_t)cs->removing));
	bad |= json_object_set_new(o, "refused", json_integer((json_int_t)cs->refused));
	bad |= json_object_set_new(o, "removal_refused",
				   json_integer((json_int_t)cs->remove_refused));
	for (size_t i = 0; rf && i < cs->n_refusals; i++) {
		const struct adp_status_refusal *g = &cs->refusals[i];
		json_t *r = json_object();

		deconf_hex_encode(hex, g->submission_id, ADP_SUBMISSION_ID_LEN);
		bad |= !r;
		bad |= json_object_set_new(r, "reason", json_string(adp_reason_name(
								g->reason, name, sizeof(name))));
		bad |= json_object_set_new(r, "removal", json_boolean(g->removal));
		bad |= json_object_set_new(r, "entries", json_integer((json_int_t)g->entries));
		bad |= json_object_set_new(r, "submission_id", json_string(hex));
		bad |= json_object_set_new(r, "decided_at", json_integer(g->decided_at));
		bad |= json_object_set_new(r, "op_index", json_integer(g->op_index));
		bad |= json_object_set_new(r, "detail", adp_json_text(g->detail, strlen(g->detail)));
		bad |= json_object_set_new(
			r, "next", json_string(adp_refusal_next(adp_refusal_rule(g->reason))));
		bad |= json_array_append_new(rf, r);
	}
	if (o && rf)
		bad |= json_object_set_new(o, "refusals", rf);
	else
		json_decref(rf);
	if (bad) {
		json_decref(o);
		o = NULL;
	}
	put_json(out, o);
}

void adp_status_print_totals_json(FILE *out, const struct adp_status_totals *tot)
{
	json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "record",
			      "totals", "cases", (json_int_t)tot->cases, "confirmed",
			      (json_int_t)tot->confirmed, "pending", (json_int_t)tot->pending,
			      "queued", (json_int_t)tot->queued, "removing",
			      (json_int_t)tot->removing, "refused", (json_int_t)tot->refused,
			      "removal_refused", (json_int_t)tot->remove_refused,
			      "submissions_waiting", (json_int_t)tot->subs_waiting,
			      "submissions_refused", (json_int_t)tot->subs_refused,
			      "notices_lost", (json_int_t)tot->notices_lost, "receipts_lost",
			      (json_int_t)tot->receipts_lost);

	put_json(out, o);
}
