/* notices.c — fetch, verify, deduplicate and show conflict notices. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deconf/enum.h"
#include "deconf/envelope.h"
#include "deconf/err.h"
#include "deconf/kafka.h"
#include "deconf/limits.h"
#include "deconf/log.h"
#include "deconf/text.h"
#include "deconf/util.h"
#include "notices.h"

#define NOTICE_MAX DECONF_NOTICE_ACCEPT_MAX /* above any notice a broker writes */

/* ------------------------------------------------------------ printing */

static const char *const caution_names[] = { "armed", "undercover", "active operation",
					     "victim at risk", "informant", "court sealed" };

static void time_str(char *buf, size_t size, int64_t ms)
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

/*
 * Everything below that came from the wire (the counterpart's names,
 * contact and case ref, the recipient's case ref) was written by another
 * agency, and the raw value from the ledger by whoever wrote the agency's
 * input files: none of it is trusted to have been checked. The terminal
 * gets it through deconf_text_for_terminal(), JSON through
 * deconf_text_utf8_dup().
 */

/* Text for the terminal, escaped, whole unless memory runs out (then cut
 * with "..."). */
static void put_text(FILE *out, const void *s, size_t len)
{
	char small[1024], *buf = small;
	size_t size = sizeof(small);

	if (len > (sizeof(small) - 1) / 4 && len < (SIZE_MAX - 1) / 4 &&
	    (buf = malloc(DECONF_TEXT_TERMINAL_SIZE(len))))
		size = DECONF_TEXT_TERMINAL_SIZE(len);
	else
		buf = small;
	fputs(deconf_text_for_terminal(buf, size, s, len), out);
	if (buf != small)
		free(buf);
}

static void put_str(FILE *out, const char *s)
{
	put_text(out, s, s ? strlen(s) : 0);
}

static void put_bytes(FILE *out, ProtobufCBinaryData b)
{
	put_text(out, b.data, b.len);
}

int adp_notice_is_event(const Deconf__V1__ConflictNotice *n)
{
	return n->type == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL &&
	       (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT ||
		n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH);
}

/* "search warrant" for EVENT_KIND_SEARCH_WARRANT, into buf. */
static const char *event_kind_words(int kind, char *buf, size_t size)
{
	deconf_enum_name(buf, size, &deconf__v1__event_kind__descriptor, kind, "an operation");
	if (strcmp(buf, "an operation") || !size)
		for (char *p = buf; *p; p++)
			if (*p == '_')
				*p = ' ';
	return kind ? buf : "an operation";
}

void adp_notice_print(FILE *out, const Deconf__V1__ConflictNotice *n, const char *value,
		      size_t value_len)
{
	const Deconf__V1__Counterpart *cp = n->counterpart;
	const char *type = deconf_indicator_type_name(n->type);
	char when[40], hex[2 * DECONF_ID_LEN + 1], name[DECONF_ENUM_NAME_SIZE];

	time_str(when, sizeof(when), n->created_at);
	deconf_hex_encode(hex, n->notice_id.data,
			  n->notice_id.len > DECONF_ID_LEN ? DECONF_ID_LEN : n->notice_id.len);
	fprintf(out, "%s  %s  (notice %s)\n",
		deconf_enum_name(name, sizeof(name), &deconf__v1__notice_kind__descriptor, n->kind,
				 "unknown"),
		when, hex);
	if (adp_notice_is_event(n)) {
		/* an event's cell says nothing to a person: the events do */
		fputs("  URGENT: another agency plans an operation at the same place and time\n",
		      out);
		fputs("  your event:   ", out);
		put_bytes(out, n->case_ref);
		fprintf(out, " (%s)\n", event_kind_words(n->event_kind, name, sizeof(name)));
	} else {
		fputs("  your case:    ", out);
		put_bytes(out, n->case_ref);
		fprintf(out, ", %s ", type ? type : "?");
		if (value)
			put_text(out, value, value_len);
		else
			fputs("(no longer in the ledger)", out);
		fputc('\n', out);
	}
	if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH) {
		/* the counterpart's details are withheld by a sharing scope */
		deconf_hex_encode(hex, n->pair_ref.data,
				  n->pair_ref.len > DECONF_ID_LEN ? DECONF_ID_LEN : n->pair_ref.len);
		fputs("  a partner outside your sharing scope (or whose scope you are outside)\n"
		      "  also holds this indicator; who it is and its case are not disclosed.\n",
		      out);
		fprintf(out, "  reference:    %s (quote it to the federation's watch desk%s)\n",
			hex, cp && cp->poc && cp->poc->name && *cp->poc->name ? " or their liaison"
									     : "");
		if (cp && cp->agency_id.len) {
			fputs("  liaison of:   ", out);
			if (cp->agency_name && *cp->agency_name)
				put_str(out, cp->agency_name);
			fputs(" (", out);
			put_bytes(out, cp->agency_id);
			fputs(", ", out);
			put_str(out, cp->country && *cp->country ? cp->country : "?");
			fputs(")\n", out);
		}
		if (cp && cp->poc) {
			const char *f[] = { cp->poc->name, cp->poc->phone, cp->poc->email };
			int any = 0;
			fputs("  liaison desk: ", out);
			for (size_t i = 0; i < 3; i++) {
				if (!f[i] || !*f[i])
					continue;
				if (any++)
					fputs(", ", out);
				put_str(out, f[i]);
			}
			fputs(any ? "\n" : "(none named)\n", out);
		}
		cp = NULL; /* nothing else of it */
	}
	if (cp) {
		const Deconf__V1__PointOfContact *poc = cp->poc;
		int first = 1;

		fprintf(out, "  %s ",
			n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH
				? "matched by:  "
			: adp_notice_is_event(n) ? "planned by:  "
						 : "also held by:");
		if (cp->agency_name && *cp->agency_name)
			put_str(out, cp->agency_name);
		else
			put_bytes(out, cp->agency_id);
		fputs(" (", out);
		put_bytes(out, cp->agency_id);
		fprintf(out, "; %s, ",
			deconf_enum_name(name, sizeof(name), &deconf__v1__agency_level__descriptor,
					 cp->level, "unknown level"));
		put_str(out, cp->country && *cp->country ? cp->country : "?");
		fputc(')', out);
		if (cp->case_ref.len) {
			fputs(", case ", out);
			put_bytes(out, cp->case_ref);
		}
		if (cp->first_seen) {
			time_str(when, sizeof(when), cp->first_seen);
			fprintf(out, ", since %s", when);
		}
		fputc('\n', out);
		if (poc) {
			const char *f[] = { poc->name, poc->phone, poc->email, poc->unit };
			int any = 0;

			fputs("  contact:      ", out);
			for (size_t i = 0; i < 4; i++) {
				if (!f[i] || !*f[i])
					continue;
				if (any++)
					fputs(", ", out);
				put_str(out, f[i]);
			}
			fputc('\n', out);
		}
		if (cp->caution_flags) {
			fputs("  caution:      ", out);
			for (unsigned b = 0; b < 6; b++)
				if (cp->caution_flags & (1u << b)) {
					fprintf(out, "%s%s", first ? "" : ", ", caution_names[b]);
					first = 0;
				}
			fputc('\n', out);
		}
		if (adp_notice_is_event(n)) {
			char from[40], to[40];
			time_str(from, sizeof(from), cp->window_from);
			time_str(to, sizeof(to), cp->window_to);
			fprintf(out, "  their event:  %s, %s to %s, centre within about %u m of yours\n",
				event_kind_words(cp->event_kind, name, sizeof(name)), from, to,
				n->distance_band_m);
		}
		if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH)
			fputs("  your entry is restricted: they were not told; you decide "
			      "whether to reach out\n",
			      out);
	}
	if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED) {
		char words[DECONF_ENUM_NAME_SIZE];

		/* the fallback is returned, not copied */
		snprintf(words, sizeof(words), "%s",
			 deconf_enum_name(name, sizeof(name), &deconf__v1__outcome__descriptor,
					  n->outcome, "unknown"));
		for (char *p = words; *p; p++)
			if (*p == '_')
				*p = ' ';
		fputs("  they recorded: ", out);
		put_str(out, words);
		fputs(" (on the conflict of your notice ", out);
		deconf_hex_encode(hex, n->about_notice_id.data,
				  n->about_notice_id.len > DECONF_ID_LEN ? DECONF_ID_LEN
									 : n->about_notice_id.len);
		fprintf(out, "%s)\n", hex);
	}
	if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_REMINDER) {
		deconf_hex_encode(hex, n->about_notice_id.data,
				  n->about_notice_id.len > DECONF_ID_LEN ? DECONF_ID_LEN
									 : n->about_notice_id.len);
		fprintf(out,
			"  not acknowledged in time, and the conflict carries a caution flag: the "
			"federation's watch desk was told; acknowledge it with `deconf-adapter ack "
			"%s OUTCOME`\n",
			hex);
	}
	if (n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING) {
		time_str(when, sizeof(when), n->expires_at);
		fprintf(out, "  expires:      %s unless renewed\n", when);
	}
}

/*
 * Text as a JSON string. json_string() returns NULL for invalid UTF-8,
 * and json_object_set_new() then drops the field without a word: repair
 * first. NULL only when out of memory.
 */
json_t *adp_json_text(const void *s, size_t len)
{
	char *u = deconf_text_utf8_dup(s, len);
	json_t *j = u ? json_string(u) : NULL;

	free(u);
	return j;
}

static json_t *jtext(const void *s, size_t len)
{
	return adp_json_text(s, len);
}

static json_t *jstr(const char *s)
{
	return jtext(s, s ? strlen(s) : 0);
}

static json_t *jbytes(ProtobufCBinaryData b)
{
	return jtext(b.data, b.len);
}

/* json_object_set_new(), noting a failure (a NULL value: out of memory)
 * in *bad instead of losing the field quietly. */
static void set(json_t *o, const char *key, json_t *v, int *bad)
{
	if (json_object_set_new(o, key, v))
		*bad = 1;
}

/*
 * JSON_ENSURE_ASCII leaves DEL as a raw byte (jansson escapes only what is
 * below 0x20 and above 0x7f): write it as \u007f too, so a JSON line
 * shown on a terminal holds no control byte at all. Outside strings the
 * encoder writes no DEL, so every one is inside a string. Takes s over.
 */
static char *escape_del(char *s)
{
	size_t n = 0, len = strlen(s);
	char *out, *o;

	for (size_t i = 0; i < len; i++)
		n += s[i] == 0x7f;
	if (!n)
		return s;
	if (!(out = malloc(len + 5 * n + 1))) {
		free(s);
		return NULL;
	}
	o = out;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == 0x7f) {
			memcpy(o, "\\u007f", 6);
			o += 6;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	free(s);
	return out;
}

char *adp_notice_json(const Deconf__V1__ConflictNotice *n, const char *value,
		      size_t value_len)
{
	json_t *o = json_object(), *cp;
	char hex[2 * 64 + 1], *s, name[DECONF_ENUM_NAME_SIZE];
	const char *type = deconf_indicator_type_name(n->type);
	int bad = 0;

	if (!o)
		return NULL;
	deconf_hex_encode(hex, n->notice_id.data, n->notice_id.len > 64 ? 64 : n->notice_id.len);
	set(o, "record", json_string("notice"), &bad);
	set(o, "notice_id", json_string(hex), &bad);
	set(o, "kind",
	    json_string(deconf_enum_name(name, sizeof(name), &deconf__v1__notice_kind__descriptor,
					 n->kind, "unknown")),
	    &bad);
	set(o, "case_ref", jbytes(n->case_ref), &bad);
	set(o, "type", json_string(type ? type : "unknown"), &bad);
	set(o, "value", value ? jtext(value, value_len) : json_null(), &bad);
	set(o, "key_epoch", json_integer(n->key_epoch), &bad);
	deconf_hex_encode(hex, n->token.data, n->token.len > 64 ? 64 : n->token.len);
	set(o, "token", json_string(hex), &bad);
	set(o, "created_at", json_integer(n->created_at), &bad);
	if (n->expires_at)
		set(o, "expires_at", json_integer(n->expires_at), &bad);
	if (n->about_notice_id.len) {
		deconf_hex_encode(hex, n->about_notice_id.data,
				  n->about_notice_id.len > 64 ? 64 : n->about_notice_id.len);
		set(o, "about_notice_id", json_string(hex), &bad);
	}
	if (n->pair_ref.len) {
		deconf_hex_encode(hex, n->pair_ref.data, n->pair_ref.len > 64 ? 64 : n->pair_ref.len);
		set(o, "pair_ref", json_string(hex), &bad);
	}
	if (adp_notice_is_event(n)) {
		set(o, "urgent", json_true(), &bad);
		set(o, "event_kind",
		    json_string(deconf_enum_name(name, sizeof(name),
						 &deconf__v1__event_kind__descriptor, n->event_kind,
						 "unknown")),
		    &bad);
		set(o, "distance_band_m", json_integer(n->distance_band_m), &bad);
	}
	if (n->outcome)
		set(o, "outcome",
		    json_string(deconf_enum_name(name, sizeof(name),
						 &deconf__v1__outcome__descriptor, n->outcome,
						 "unknown")),
		    &bad);
	if (n->counterpart) {
		const Deconf__V1__Counterpart *c = n->counterpart;
		json_t *caution = json_array();

		cp = json_object();
		set(cp, "agency_id", jbytes(c->agency_id), &bad);
		set(cp, "agency_name", jstr(c->agency_name), &bad);
		set(cp, "level",
		    json_string(deconf_enum_name(name, sizeof(name),
						 &deconf__v1__agency_level__descriptor, c->level,
						 "unknown level")),
		    &bad);
		set(cp, "country", jstr(c->country), &bad);
		set(cp, "case_ref", c->case_ref.len ? jbytes(c->case_ref) : json_null(), &bad);
		if (c->poc) {
			json_t *poc = json_object();

			set(poc, "name", jstr(c->poc->name), &bad);
			set(poc, "phone", jstr(c->poc->phone), &bad);
			set(poc, "email", jstr(c->poc->email), &bad);
			set(poc, "unit", jstr(c->poc->unit), &bad);
			set(cp, "poc", poc, &bad);
		}
		for (unsigned b = 0; b < 6; b++)
			if ((c->caution_flags & (1u << b)) &&
			    json_array_append_new(caution, json_string(caution_names[b])))
				bad = 1;
		set(cp, "caution", caution, &bad);
		set(cp, "first_seen", json_integer(c->first_seen), &bad);
		if (adp_notice_is_event(n)) {
			set(cp, "event_kind",
			    json_string(deconf_enum_name(name, sizeof(name),
							 &deconf__v1__event_kind__descriptor,
							 c->event_kind, "unknown")),
			    &bad);
			set(cp, "window_from", json_integer(c->window_from), &bad);
			set(cp, "window_to", json_integer(c->window_to), &bad);
		}
		set(o, "counterpart", cp, &bad);
	}
	s = bad ? NULL : adp_json_dumps(o);
	json_decref(o);
	return s;
}

char *adp_json_dumps(const json_t *o)
{
	/* ASCII only: a line shown on a terminal (notices --json) carries no
	 * raw C1 or bidi control either; they are \u escapes. */
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);

	return s ? escape_del(s) : NULL;
}

void adp_notice_print_json(FILE *out, const Deconf__V1__ConflictNotice *n,
			   const char *value, size_t value_len)
{
	char *s = adp_notice_json(n, value, value_len);

	if (!s) {
		deconf_log(DECONF_LOG_ERR, "NOTICES", "out of memory showing a notice");
		return;
	}
	fputs(s, out);
	fputc('\n', out);
	free(s);
}

/* ------------------------------------------------------------ fetching */

/* The raw value behind the notice, from the ledger (borrowed in t). */
static const char *lookup_value(struct adp_ledger_txn *t, const Deconf__V1__ConflictNotice *n,
				size_t *len)
{
	char ref[ADP_LEDGER_CASE_MAX + 1];
	struct adp_entry e;

	if (n->case_ref.len == 0 || n->case_ref.len > ADP_LEDGER_CASE_MAX ||
	    n->token.len != DECONF_TOKEN_LEN)
		return NULL;
	memcpy(ref, n->case_ref.data, n->case_ref.len);
	ref[n->case_ref.len] = '\0';
	if (adp_ledger_get(t, ref, n->token.data, n->key_epoch, &e))
		return NULL;
	*len = e.value_len;
	return e.value;
}

/* The verified notice's recipient (inbox.h). */
static ProtobufCBinaryData addressee(const ProtobufCMessage *m)
{
	return ((const Deconf__V1__ConflictNotice *)m)->agency_id;
}

/* Store one verified notice (inbox.h's take): drop a notice id held
 * already; queue it for the webhook; show it. */
static int take(void *opaque, struct adp_ledger_txn *t, const ProtobufCMessage *msg,
		const rd_kafka_message_t *m, int *fresh)
{
	const struct adp_notices_ctx *ctx = opaque;
	const Deconf__V1__ConflictNotice *n = (const Deconf__V1__ConflictNotice *)msg;
	const char *v;
	size_t vlen = 0;
	int rc;

	*fresh = 0;
	if (adp_ledger_notice_seen(t, n->notice_id.data, n->notice_id.len))
		return DECONF_OK;
	if ((rc = adp_ledger_notice_put(t, n->notice_id.data, n->notice_id.len, m->payload,
					m->len)))
		return rc;
	v = lookup_value(t, n, &vlen);
	if (ctx->queue_webhook) {
		char *body = adp_notice_json(n, v, vlen);
		if (!body)
			return DECONF_E_NOMEM;
		rc = adp_ledger_hook_put(t, n->notice_id.data, n->notice_id.len, body,
					 strlen(body));
		free(body);
		if (rc)
			return rc;
	}
	if (ctx->cb)
		ctx->cb(ctx->opaque, n, v, vlen);
	*fresh = 1;
	return DECONF_OK;
}

void adp_notices_kind_init(struct adp_inbox_kind *k, struct adp_notices_ctx *ctx)
{
	memset(k, 0, sizeof(*k));
	k->kind = "notices";
	k->type = DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE;
	k->desc = &deconf__v1__conflict_notice__descriptor;
	k->max_len = NOTICE_MAX;
	k->addressee = addressee;
	k->take = take;
	k->loss_matters = NULL; /* a lost notice is always a loss */
	k->opaque = ctx;
}

int adp_notices_fetch(struct adp_agency *a, const struct adp_notices_opts *o,
		      struct adp_inbox_stats *st, char *errstr, size_t errstr_size)
{
	struct adp_notices_ctx ctx = { .cb = o->cb, .opaque = o->opaque,
				       .queue_webhook = o->queue_webhook };
	struct adp_inbox_kind k, *kinds[1] = { &k };
	struct adp_inbox_opts io = { .follow = o->follow, .stop = o->stop,
				     .accept_loss = o->accept_loss };
	int rc;

	adp_notices_kind_init(&k, &ctx);
	rc = adp_inbox_read(a, kinds, 1, &io, errstr, errstr_size);
	*st = k.st;
	return rc;
}

/* ------------------------------------------------------------- listing */

struct stored {
	Deconf__V1__ConflictNotice **v;
	size_t n, cap;
};

static int collect(void *opaque, const uint8_t *envelope, size_t len)
{
	struct stored *s = opaque;
	Deconf__V1__Envelope *env = NULL;
	ProtobufCMessage *m = NULL;

	/* verified when it was stored; parse only */
	if (deconf_envelope_unpack(envelope, len, SIZE_MAX, &env, NULL, 0) ||
	    deconf_envelope_payload(env, &deconf__v1__conflict_notice__descriptor, &m, NULL,
				    0)) {
		deconf_msg_free(env);
		return 0;
	}
	deconf_msg_free(env);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		Deconf__V1__ConflictNotice **v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			deconf_msg_free(m);
			return DECONF_E_NOMEM;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (Deconf__V1__ConflictNotice *)m;
	return 0;
}

static int by_time(const void *x, const void *y)
{
	const Deconf__V1__ConflictNotice *a = *(Deconf__V1__ConflictNotice *const *)x;
	const Deconf__V1__ConflictNotice *b = *(Deconf__V1__ConflictNotice *const *)y;

	return a->created_at < b->created_at ? -1 : a->created_at > b->created_at;
}

int adp_notice_acknowledgeable(const Deconf__V1__ConflictNotice *n)
{
	return n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT ||
	       n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH ||
	       n->kind == DECONF__V1__NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH;
}

/* 1 when the broker accepted an acknowledgment of n from this agency. */
static int acked(struct adp_ledger_txn *t, const Deconf__V1__ConflictNotice *n)
{
	struct adp_ack rec;

	return n->notice_id.len == DECONF_ID_LEN && !adp_ledger_ack_get(t, n->notice_id.data, &rec) &&
	       rec.outcomes != 0;
}

/* The notices in t, oldest (or newest) first; unacked: only those this
 * agency could acknowledge and has not. */
static int list_in(struct adp_ledger_txn *t, int newest_first, int unacked, adp_notice_cb *cb,
		   void *opaque)
{
	struct stored s = { 0 };
	int rc;

	rc = adp_ledger_notice_foreach(t, collect, &s);
	if (!rc) {
		if (s.n)
			qsort(s.v, s.n, sizeof(*s.v), by_time);
		for (size_t k = 0; k < s.n; k++) {
			size_t i = newest_first ? s.n - 1 - k : k, vlen = 0;
			const char *v;
			if (unacked && (!adp_notice_acknowledgeable(s.v[i]) || acked(t, s.v[i])))
				continue;
			v = lookup_value(t, s.v[i], &vlen);
			cb(opaque, s.v[i], v, vlen);
		}
	}
	for (size_t i = 0; i < s.n; i++)
		deconf_msg_free(s.v[i]);
	free(s.v);
	return rc;
}

int adp_notices_list_in(struct adp_ledger_txn *t, int newest_first, int unacked,
			adp_notice_cb *cb, void *opaque)
{
	return list_in(t, newest_first, unacked, cb, opaque);
}

int adp_notices_list_ex(struct adp_agency *a, int unacked, adp_notice_cb *cb, void *opaque,
			char *errstr, size_t errstr_size)
{
	struct adp_ledger_txn *t;
	int rc;

	if ((rc = adp_agency_open_ledger(a, errstr, errstr_size)))
		return rc;
	if ((rc = adp_ledger_begin(a->ledger, 1, &t)))
		return rc;
	rc = list_in(t, 0, unacked, cb, opaque);
	adp_ledger_abort(t);
	return rc;
}

int adp_notices_list(struct adp_agency *a, adp_notice_cb *cb, void *opaque, char *errstr,
		     size_t errstr_size)
{
	return adp_notices_list_ex(a, 0, cb, opaque, errstr, errstr_size);
}
