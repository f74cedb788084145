/* cases.c — the case table, case-level merging and the indicator checks. */

/*
 * Shape: cases live in one array in first-appearance order, found again by
 * their case_ref through an open-addressing table of indexes; what merging
 * needs (where each field was first given) sits in a parallel array, so the
 * public struct adp_case stays what the caller reads. Strings go to an
 * arena of large chunks freed at once.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/scope.h"
#include "deconf/text.h"
#include "deconf/token.h"
#include "deconf/util.h"
#include "cases.h"
#include "event.h"
#include "intext.h"
#include "when.h"

#define ARENA_CHUNK (256 * 1024)

/* The messages below spell the limits out. */
_Static_assert(ADP_INPUT_CASE_REF_MAX == 128 && ADP_INPUT_QUALIFIER_MAX == 128 &&
		       ADP_INPUT_POC_MAX == 256,
	       "the limits changed: change the messages that name them");

#define OP_ADD DECONF__V1__OP__OP_ADD
#define OP_CLOSE_CASE DECONF__V1__OP__OP_CLOSE_CASE
#define VIS_NORMAL DECONF__V1__VISIBILITY__VISIBILITY_NORMAL
#define TYPE_IP DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP
#define TYPE_USERNAME DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME
#define TYPE_VEHICLE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE

struct adp_case_meta {
	uint64_t hash;
	size_t ref_len;
	size_t ind_cap;
	unsigned line_cf[ADP_N_CF];    /* where each case field was given, 0 = not yet */
	unsigned line_poc[ADP_N_POC];
	unsigned blank_line;       /* first row/line without indicators */
	unsigned event_line;       /* where its event (place) was given */
	unsigned other_line;       /* its first indicator that is no event */
};

struct adp_cases_err {
	struct adp_input_error e;
	size_t seq; /* for a stable sort */
};

/* ------------------------------------------------------------------ arena */

struct adp_cases_chunk {
	struct adp_cases_chunk *next;
	size_t used, size;
	char data[];
};

/* n bytes, alignment 1 (only strings live here). NULL when out of memory. */
static char *arena_alloc(struct adp_cases_chunk **head, size_t n)
{
	struct adp_cases_chunk *c = *head;
	size_t size;

	if (c && c->size - c->used >= n) {
		c->used += n;
		return c->data + c->used - n;
	}
	size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
	if (!(c = malloc(sizeof(*c) + size)))
		return NULL;
	c->size = size;
	c->used = n;
	if (size == n && *head) {
		/* a big one-off: keep the current chunk's free room in use */
		c->next = (*head)->next;
		(*head)->next = c;
	} else {
		c->next = *head;
		*head = c;
	}
	return c->data;
}

static char *arena_strndup(struct adp_cases_chunk **head, const void *s, size_t n)
{
	char *p = arena_alloc(head, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void arena_free(struct adp_cases_chunk **head)
{
	struct adp_cases_chunk *c, *next;

	for (c = *head; c; c = next) {
		next = c->next;
		free(c);
	}
	*head = NULL;
}

/* ----------------------------------------------------------------- errors */

void adp_cases_error(struct adp_cases *cs, unsigned line, size_t ci, const char *fmt, ...)
{
	char prefix[32], reason[512];
	struct adp_cases_err *r;
	size_t plen, rlen;
	va_list ap;
	char *msg;

	cs->err_total++;
	if (ci != ADP_INPUT_NO_CASE)
		cs->v[ci].invalid = 1;
	if (cs->fatal || (cs->max_errors && cs->n_errs >= cs->max_errors))
		return;
	if (DECONF_GROW(cs->errs, cs->n_errs, cs->cap_errs, 16)) {
		cs->fatal = DECONF_E_NOMEM;
		return;
	}
	plen = (size_t)snprintf(prefix, sizeof(prefix), "line %u: ", line);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	rlen = strlen(reason);
	if (!(msg = arena_alloc(&cs->arena, plen + rlen + 1))) {
		cs->fatal = DECONF_E_NOMEM;
		return;
	}
	memcpy(msg, prefix, plen);
	memcpy(msg + plen, reason, rlen + 1);
	r = &cs->errs[cs->n_errs];
	r->e.line = line;
	r->e.case_idx = ci;
	r->e.msg = msg;
	r->e.reason = msg + plen;
	r->seq = cs->n_errs++;
}

static int err_cmp(const void *a, const void *b)
{
	const struct adp_cases_err *x = a, *y = b;

	if (x->e.line != y->e.line)
		return x->e.line < y->e.line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---------------------------------------------------------------- keywords */

struct name_value {
	const char *name;
	int value;
};

static const struct name_value op_names[] = {
	{ "add", DECONF__V1__OP__OP_ADD },
	{ "renew", DECONF__V1__OP__OP_RENEW },
	{ "remove", DECONF__V1__OP__OP_REMOVE },
	{ "close_case", DECONF__V1__OP__OP_CLOSE_CASE },
	{ "query", DECONF__V1__OP__OP_QUERY },
	{ NULL, 0 },
};

static const struct name_value vis_names[] = {
	{ "normal", DECONF__V1__VISIBILITY__VISIBILITY_NORMAL },
	{ "restricted", DECONF__V1__VISIBILITY__VISIBILITY_RESTRICTED },
	{ NULL, 0 },
};

static const struct name_value caution_names[] = {
	{ "armed", DECONF__V1__CAUTION_FLAG__CAUTION_ARMED },
	{ "undercover", DECONF__V1__CAUTION_FLAG__CAUTION_UNDERCOVER },
	{ "active_operation", DECONF__V1__CAUTION_FLAG__CAUTION_ACTIVE_OPERATION },
	{ "victim_at_risk", DECONF__V1__CAUTION_FLAG__CAUTION_VICTIM_AT_RISK },
	{ "informant", DECONF__V1__CAUTION_FLAG__CAUTION_INFORMANT },
	{ "court_sealed", DECONF__V1__CAUTION_FLAG__CAUTION_COURT_SEALED },
	{ "none", 0 },
	{ NULL, 0 },
};

/* The value of the word s (any ASCII case, surrounding blanks ignored), -1 if unknown. */
static int lookup(const struct name_value *t, const char *s, size_t len)
{
	adp_intext_trim(&s, &len);
	for (; t->name; t++)
		if (adp_intext_word_eq(s, len, t->name))
			return t->value;
	return -1;
}

static int parse_op(const char *s, size_t len)
{
	return lookup(op_names, s, len);
}

static int parse_visibility(const char *s, size_t len)
{
	return lookup(vis_names, s, len);
}

int adp_cases_caution_word(const char *s, size_t len)
{
	return lookup(caution_names, s, len);
}

/*
 * A caution list: words separated by '|', ';' or ','. Returns 0, or -1 with
 * the unknown word in *bad.
 */
static int parse_caution(const char *s, size_t len, uint32_t *flags, const char **bad,
			 size_t *bad_len)
{
	size_t i = 0;

	*flags = 0;
	while (i <= len) {
		size_t j = i;
		const char *w;
		size_t wl;
		int f;

		while (j < len && s[j] != '|' && s[j] != ';' && s[j] != ',')
			j++;
		w = s + i;
		wl = j - i;
		adp_intext_trim(&w, &wl);
		if (wl) {
			if ((f = adp_cases_caution_word(w, wl)) < 0) {
				*bad = w;
				*bad_len = wl;
				return -1;
			}
			*flags |= (uint32_t)f;
		}
		i = j + 1;
	}
	return 0;
}

/* An indicator type name in any ASCII case; 0 if unknown. */
static int parse_type(const char *s, size_t len)
{
	char name[24];

	adp_intext_trim(&s, &len);
	if (!len || len >= sizeof(name))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\0')
			return 0;
		name[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	name[len] = '\0';
	return deconf_indicator_type_parse(name);
}

/* ------------------------------------------------------------------ cases */

/* Check a case_ref; returns NULL or the reason it is refused. */
static const char *case_ref_problem(const unsigned char *ref, size_t len)
{
	if (!len)
		return "case_ref is empty";
	if (len > ADP_INPUT_CASE_REF_MAX)
		return "case_ref is longer than 128 bytes";
	if (memchr(ref, '\0', len))
		return "case_ref contains a NUL byte";
	/* the length and NUL were checked above, with their own messages */
	switch (deconf_text_check(ref, len, len)) {
	case DECONF_TEXT_BAD_UTF8:
		return "case_ref is not valid UTF-8";
	case DECONF_TEXT_CONTROL:
		return "case_ref contains a control character";
	}
	if (ref[0] == ' ' || ref[len - 1] == ' ')
		return "case_ref has leading or trailing spaces";
	return NULL;
}

static size_t slot_find(const struct adp_cases *cs, uint64_t h, const void *ref, size_t len,
			size_t *slot)
{
	size_t mask = cs->n_slots - 1, i = (size_t)h & mask;

	for (; cs->slots[i]; i = (i + 1) & mask) {
		size_t idx = cs->slots[i] - 1;
		const struct adp_case_meta *m = &cs->meta[idx];

		if (m->hash == h && m->ref_len == len && !memcmp(cs->v[idx].case_ref, ref, len))
			return idx;
	}
	if (slot)
		*slot = i;
	return ADP_INPUT_NO_CASE;
}

static int slots_grow(struct adp_cases *cs)
{
	size_t n = cs->n_slots ? cs->n_slots * 2 : 1024;
	uint32_t *s = calloc(n, sizeof(*s));

	if (!s)
		return DECONF_E_NOMEM;
	free(cs->slots);
	cs->slots = s;
	cs->n_slots = n;
	for (size_t idx = 0; idx < cs->n; idx++) {
		size_t i = (size_t)cs->meta[idx].hash & (n - 1);

		while (s[i])
			i = (i + 1) & (n - 1);
		s[i] = (uint32_t)(idx + 1);
	}
	return 0;
}

/*
 * The case with this ref, created on first sight. An unusable ref is an
 * error of line (unless quiet) and gives ADP_INPUT_NO_CASE.
 */
size_t adp_cases_get(struct adp_cases *cs, const void *ref, size_t len, unsigned line,
		       int quiet)
{
	const char *why = case_ref_problem(ref, len);
	struct adp_case *c;
	struct adp_case_meta *m;
	size_t idx, slot = 0;
	uint64_t h;

	if (why) {
		if (!quiet)
			adp_cases_error(cs, line, ADP_INPUT_NO_CASE, "%s", why);
		return ADP_INPUT_NO_CASE;
	}
	if (cs->fatal)
		return ADP_INPUT_NO_CASE;
	h = deconf_hash_bytes(ref, len);
	if (cs->n_slots && (idx = slot_find(cs, h, ref, len, &slot)) != ADP_INPUT_NO_CASE)
		return idx;
	if (cs->n >= UINT32_MAX - 1)
		goto nomem;
	if ((cs->n + 1) * 2 > cs->n_slots) {
		if (slots_grow(cs))
			goto nomem;
		slot_find(cs, h, ref, len, &slot);
	}
	if (cs->n == cs->cap) {
		size_t cap = cs->cap;

		if (DECONF_GROW(cs->v, cs->n, cap, 64))
			goto nomem;
		cap = cs->cap;
		if (DECONF_GROW(cs->meta, cs->n, cap, 64))
			goto nomem;
		cs->cap = cap;
	}
	idx = cs->n;
	c = &cs->v[idx];
	m = &cs->meta[idx];
	memset(c, 0, sizeof(*c));
	memset(m, 0, sizeof(*m));
	if (!(c->case_ref = arena_strndup(&cs->arena, ref, len)))
		goto nomem;
	c->visibility = VIS_NORMAL;
	c->op = OP_ADD;
	c->first_line = line;
	m->hash = h;
	m->ref_len = len;
	cs->slots[slot] = (uint32_t)(idx + 1);
	cs->n++;
	return idx;
nomem:
	cs->fatal = DECONF_E_NOMEM;
	return ADP_INPUT_NO_CASE;
}

static int64_t cf_get(const struct adp_case *c, enum adp_case_field f)
{
	switch (f) {
	case ADP_CF_OP:
		return c->op;
	case ADP_CF_VISIBILITY:
		return c->visibility;
	case ADP_CF_CAUTION:
		return c->caution_flags;
	case ADP_CF_EVENT_KIND:
		return c->event_kind;
	default:
		return c->expires_at;
	}
}

static void cf_put(struct adp_case *c, enum adp_case_field f, int64_t v)
{
	switch (f) {
	case ADP_CF_OP:
		c->op = (int)v;
		break;
	case ADP_CF_VISIBILITY:
		c->visibility = (int)v;
		break;
	case ADP_CF_CAUTION:
		c->caution_flags = (uint32_t)v;
		break;
	case ADP_CF_EVENT_KIND:
		c->event_kind = (int)v;
		break;
	default:
		c->expires_at = v;
		break;
	}
}

/*
 * Case field f is v on line. Given on an earlier row or line with another
 * value, it is a conflict: an error of this line. name and text (the value
 * as written) are for the message.
 */
void adp_cases_set(struct adp_cases *cs, size_t ci, unsigned line, enum adp_case_field f,
		     int64_t v, const char *name, const char *text, size_t text_len)
{
	struct adp_case *c = &cs->v[ci];
	struct adp_case_meta *m = &cs->meta[ci];
	char b[ADP_INTEXT_SHOWN];

	if (m->line_cf[f]) {
		if (cf_get(c, f) != v)
			adp_cases_error(cs, line, ci,
					"%s %s conflicts with the value given on line %u for this case",
					name, adp_intext_shown(b, sizeof(b), text, text_len),
					m->line_cf[f]);
		return;
	}
	cf_put(c, f, v);
	m->line_cf[f] = line;
}

static char **poc_slot(struct adp_case *c, enum adp_poc_field f)
{
	switch (f) {
	case ADP_POC_NAME:
		return &c->poc_name;
	case ADP_POC_PHONE:
		return &c->poc_phone;
	case ADP_POC_EMAIL:
		return &c->poc_email;
	default:
		return &c->poc_unit;
	}
}

/* Free text of a point of contact or a qualifier; returns NULL or the problem. */
static const char *text_problem(const char *s, size_t len, size_t max)
{
	int rc;

	if (len > max)
		return max == ADP_INPUT_POC_MAX ? "is longer than 256 bytes"
						: "is longer than 128 bytes";
	if (memchr(s, '\0', len))
		return "contains a NUL byte";
	/* the length was checked above: what is left is "is not valid UTF-8"
	 * or "contains a control character" */
	if ((rc = deconf_text_check(s, len, max)))
		return deconf_text_problem(rc);
	return NULL;
}

void adp_cases_set_poc(struct adp_cases *cs, size_t ci, unsigned line, enum adp_poc_field f,
			 const char *s, size_t len, const char *name)
{
	struct adp_case_meta *m = &cs->meta[ci];
	const char *why;
	char **slot;

	adp_intext_trim(&s, &len);
	if (!len)
		return;
	if ((why = text_problem(s, len, ADP_INPUT_POC_MAX))) {
		adp_cases_error(cs, line, ci, "%s %s", name, why);
		return;
	}
	slot = poc_slot(&cs->v[ci], f);
	if (m->line_poc[f]) {
		if (strlen(*slot) != len || memcmp(*slot, s, len))
			adp_cases_error(cs, line, ci,
					"%s conflicts with the value given on line %u for this case",
					name, m->line_poc[f]);
		return;
	}
	if (!(*slot = arena_strndup(&cs->arena, s, len))) {
		cs->fatal = DECONF_E_NOMEM;
		return;
	}
	m->line_poc[f] = line;
}

void adp_cases_set_op(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			size_t len, const char *name)
{
	char b[ADP_INTEXT_SHOWN];
	int v;

	adp_intext_trim(&s, &len);
	if (!len)
		return;
	if ((v = parse_op(s, len)) < 0)
		adp_cases_error(cs, line, ci,
				"unknown %s %s (known: add, renew, remove, close_case, query)",
				name, adp_intext_shown(b, sizeof(b), s, len));
	else
		adp_cases_set(cs, ci, line, ADP_CF_OP, v, name, s, len);
}

void adp_cases_set_visibility(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
				size_t len, const char *name)
{
	char b[ADP_INTEXT_SHOWN];
	int v;

	adp_intext_trim(&s, &len);
	if (!len)
		return;
	if ((v = parse_visibility(s, len)) < 0)
		adp_cases_error(cs, line, ci, "unknown %s %s (known: normal, restricted)", name,
				adp_intext_shown(b, sizeof(b), s, len));
	else
		adp_cases_set(cs, ci, line, ADP_CF_VISIBILITY, v, name, s, len);
}

void adp_cases_set_caution(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			     size_t len, const char *name)
{
	const char *bad;
	size_t bad_len;
	uint32_t flags;
	char b[ADP_INTEXT_SHOWN];

	adp_intext_trim(&s, &len);
	if (!len)
		return;
	if (parse_caution(s, len, &flags, &bad, &bad_len))
		adp_cases_error(cs, line, ci,
				"unknown %s flag %s (known: armed, undercover, active_operation, "
				"victim_at_risk, informant, court_sealed, none)",
				name, adp_intext_shown(b, sizeof(b), bad, bad_len));
	else
		adp_cases_set(cs, ci, line, ADP_CF_CAUTION, flags, name, s, len);
}

void adp_cases_set_scope(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			 size_t len, const char *name)
{
	struct adp_case *c = &cs->v[ci];
	Deconf__V1__DisclosureScope *sc = NULL;
	char spec[1024], why[256], b[ADP_INTEXT_SHOWN];

	adp_intext_trim(&s, &len);
	if (!len)
		return;
	if (len >= sizeof(spec) || memchr(s, '\0', len)) {
		adp_cases_error(cs, line, ci, "%s is not a scope", name);
		return;
	}
	memcpy(spec, s, len);
	spec[len] = '\0';
	if (deconf_scope_parse(spec, &sc, why, sizeof(why))) {
		adp_cases_error(cs, line, ci, "%s %s: %s", name,
				adp_intext_shown(b, sizeof(b), s, len), why);
		return;
	}
	/* kept in its own words, so that rows agree by their meaning */
	deconf_scope_text(sc, spec, sizeof(spec));
	deconf_scope_free(sc);
	if (c->disclose_to) {
		if (strcmp(c->disclose_to, spec))
			adp_cases_error(cs, line, ci, "%s %s conflicts with %s given before for this "
						      "case",
					name, adp_intext_shown(b, sizeof(b), s, len), c->disclose_to);
		return;
	}
	if (!(c->disclose_to = arena_strndup(&cs->arena, spec, strlen(spec))))
		cs->fatal = DECONF_E_NOMEM;
}

void adp_cases_set_event_kind(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			      size_t len, const char *name)
{
	char b[ADP_INTEXT_SHOWN];
	int kind;

	adp_intext_trim(&s, &len);
	if (!len)
		return;
	if (!(kind = adp_event_kind_parse(s, len)))
		adp_cases_error(cs, line, ci,
				"unknown %s %s (known: search_warrant, arrest, undercover_meet, "
				"surveillance, knock_and_talk, other)",
				name, adp_intext_shown(b, sizeof(b), s, len));
	else
		adp_cases_set(cs, ci, line, ADP_CF_EVENT_KIND, kind, name, s, len);
}

int adp_cases_number(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		     const char *name, const char *s, size_t len, double *out)
{
	char buf[48], *end, b[ADP_INTEXT_SHOWN];
	double v;

	adp_intext_trim(&s, &len);
	if (!len)
		return 0;
	/* a plain decimal: digits, one point, a sign; no hex, inf, nan or
	 * exponent (strtod would take them all) */
	if (len >= sizeof(buf) || strspn(s, "+-.0123456789") < len)
		goto bad;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtod(buf, &end);
	if (end != buf + len || !isfinite(v))
		goto bad;
	*out = v;
	return 1;
bad:
	adp_cases_error(cs, line, ci, "%s%s %s is not a decimal number", where, name,
			adp_intext_shown(b, sizeof(b), s, len));
	return -1;
}

int adp_cases_add_checked(struct adp_cases *cs, size_t ci, unsigned line, int type,
			  const char *value, size_t value_len, const char *qualifier,
			  int64_t valid_from, int64_t valid_to)
{
	struct adp_case *c = &cs->v[ci];
	struct adp_indicator *ind;

	if (cs->fatal)
		return cs->fatal;
	if (DECONF_GROW(c->ind, c->n_ind, cs->meta[ci].ind_cap, 1))
		goto nomem;
	ind = &c->ind[c->n_ind];
	memset(ind, 0, sizeof(*ind));
	ind->type = type;
	if (!(ind->value = arena_strndup(&cs->arena, value, value_len)))
		goto nomem;
	ind->value_len = value_len;
	if (qualifier &&
	    !(ind->qualifier = arena_strndup(&cs->arena, qualifier, strlen(qualifier))))
		goto nomem;
	ind->valid_from = valid_from;
	ind->valid_to = valid_to;
	ind->line = line;
	c->n_ind++;
	return DECONF_OK;
nomem:
	cs->fatal = DECONF_E_NOMEM;
	return cs->fatal;
}

unsigned adp_cases_event_line(const struct adp_cases *cs, size_t ci)
{
	return cs->meta[ci].event_line;
}

void adp_cases_event_given(struct adp_cases *cs, size_t ci, unsigned line)
{
	cs->meta[ci].event_line = line;
}

void adp_cases_check_events(struct adp_cases *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		const struct adp_case_meta *m = &cs->meta[i];
		struct adp_case *c = &cs->v[i];

		if (m->event_line && m->other_line)
			adp_cases_error(cs, m->event_line > m->other_line ? m->event_line
									  : m->other_line,
					i, "a case with an event holds only the event (line %u "
					   "gave an indicator, line %u the event)",
					m->other_line, m->event_line);
		else if (m->event_line && !c->event_kind)
			adp_cases_error(cs, m->event_line, i,
					"an event needs its event_kind (search_warrant, arrest, "
					"undercover_meet, surveillance, knock_and_talk, other)");
		else if (c->event_kind && !m->event_line && c->op != OP_CLOSE_CASE)
			adp_cases_error(cs, m->line_cf[ADP_CF_EVENT_KIND], i,
					"event_kind given, but no event row (type event, with lat "
					"and lon)");
		if (m->event_line && !m->line_cf[ADP_CF_EXPIRES] && c->n_ind)
			c->expires_at = c->ind[0].valid_to; /* over when it is over */
	}
}

/* A time field as text; 0 = empty (unset), 1 = parsed into *ms, -1 = error reported. */
int adp_cases_time(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		      const char *name, const char *s, size_t len, int64_t *ms)
{
	char why[160], b[ADP_INTEXT_SHOWN];

	adp_intext_trim(&s, &len);
	if (!len)
		return 0;
	if (memchr(s, '\0', len) || adp_when_parse(s, len, ms, why, sizeof(why))) {
		if (memchr(s, '\0', len))
			snprintf(why, sizeof(why), "contains a NUL byte");
		adp_cases_error(cs, line, ci, "%s%s %s: %s", where, name,
				adp_intext_shown(b, sizeof(b), s, len), why);
		return -1;
	}
	return 1;
}

/* ------------------------------------------------------------- indicators */


/* Check one indicator and add it to case ci; every problem is an error. */
void adp_cases_add_indicator(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
			  const struct adp_raw_indicator *r)
{
	struct adp_case *c = &cs->v[ci];
	struct adp_case_meta *m = &cs->meta[ci];
	struct adp_indicator *ind;
	const char *why, *ts = r->type ? r->type : "", *qs = r->qual ? r->qual : "";
	size_t tl = r->type_len, ql = r->qual_len;
	int ok = !r->times_bad && !r->refused && !r->type_bad && !r->value_bad, type = 0;
	char b[ADP_INTEXT_SHOWN];

	adp_intext_trim(&ts, &tl);
	adp_intext_trim(&qs, &ql);
	if (!r->type_bad && adp_intext_word_eq(ts, tl, "event")) {
		adp_event_add(cs, ci, line, where, r);
		return;
	}
	if (!r->type_bad && !m->other_line)
		m->other_line = line;
	if (!r->type_bad && (r->has_lat || r->has_lon || r->has_radius)) {
		adp_cases_error(cs, line, ci, "%slat, lon and radius_m are for an event's row "
					      "(type event)", where);
		ok = 0;
	}
	if (r->type_bad) {
		/* reported */
	} else if (!tl) {
		adp_cases_error(cs, line, ci, "%stype is %s", where, r->type ? "empty" : "missing");
		ok = 0;
	} else if ((type = parse_type(ts, tl)) == DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL) {
		adp_cases_error(cs, line, ci,
				"%sevent_cell is not an indicator to give: an event's cells are made "
				"from its place (a row of type event, with lat and lon)",
				where);
		ok = 0;
	} else if (!type) {
		adp_cases_error(cs, line, ci,
				"%sunknown indicator type %s (known: phone, email, ip, username, url, "
				"domain, md5, sha1, sha256, btc, eth, imei, mac, vehicle; and event "
				"for an event's place)", where,
				adp_intext_shown(b, sizeof(b), ts, tl));
		ok = 0;
	}
	if (r->value_bad) {
		/* reported */
	} else if (!r->value_len) {
		adp_cases_error(cs, line, ci, "%svalue is %s", where,
				r->value ? "empty" : "missing");
		ok = 0;
	} else if (r->value_len > ADP_INPUT_VALUE_MAX) {
		adp_cases_error(cs, line, ci, "%svalue is %zu bytes, longer than %d", where,
				r->value_len, ADP_INPUT_VALUE_MAX);
		ok = 0;
	} else if (memchr(r->value, '\0', r->value_len)) {
		adp_cases_error(cs, line, ci, "%svalue contains a NUL byte", where);
		ok = 0;
	}
	if (ql && (why = text_problem(qs, ql, ADP_INPUT_QUALIFIER_MAX))) {
		adp_cases_error(cs, line, ci, "%squalifier %s", where, why);
		ok = 0;
	}
	if (type == TYPE_USERNAME) {
		if (!ql) {
			adp_cases_error(cs, line, ci,
					"%sa username needs its platform (platform or qualifier)",
					where);
			ok = 0;
		} else if (r->qual_kind == ADP_QK_JURISDICTION) {
			adp_cases_error(cs, line, ci,
					"%sjurisdiction given for a username: use platform", where);
			ok = 0;
		}
	} else if (type == TYPE_VEHICLE) {
		if (!ql) {
			adp_cases_error(cs, line, ci,
					"%sa vehicle needs its jurisdiction (jurisdiction or qualifier)",
					where);
			ok = 0;
		} else if (r->qual_kind == ADP_QK_PLATFORM) {
			adp_cases_error(cs, line, ci,
					"%splatform given for a vehicle: use jurisdiction", where);
			ok = 0;
		}
	} else if (type && ql) {
		adp_cases_error(cs, line, ci,
				"%sa qualifier is only for username (platform) and vehicle (jurisdiction)",
				where);
		ok = 0;
	}
	if (!r->times_bad) {
		if (type == TYPE_IP && (!r->valid_from || !r->valid_to)) {
			adp_cases_error(cs, line, ci,
					"%san ip indicator needs valid_from and valid_to (addresses are "
					"reassigned)", where);
			ok = 0;
		} else if (r->valid_from && r->valid_to && r->valid_from > r->valid_to) {
			adp_cases_error(cs, line, ci, "%svalid_from is after valid_to", where);
			ok = 0;
		}
	}
	if (!ok || cs->fatal)
		return;
	if (DECONF_GROW(c->ind, c->n_ind, m->ind_cap, 1))
		goto nomem;
	ind = &c->ind[c->n_ind];
	memset(ind, 0, sizeof(*ind));
	ind->type = type;
	if (!(ind->value = arena_strndup(&cs->arena, r->value, r->value_len)))
		goto nomem;
	ind->value_len = r->value_len;
	if (ql && !(ind->qualifier = arena_strndup(&cs->arena, qs, ql)))
		goto nomem;
	ind->valid_from = r->valid_from;
	ind->valid_to = r->valid_to;
	ind->line = line;
	c->n_ind++;
	return;
nomem:
	cs->fatal = DECONF_E_NOMEM;
}

/* A row/line of case ci that carries no indicator (fine for close_case). */
void adp_cases_note_blank(struct adp_cases *cs, size_t ci, unsigned line)
{
	if (!cs->meta[ci].blank_line)
		cs->meta[ci].blank_line = line;
}
/* ------------------------------------------------------------ the model */

int adp_cases_new(struct adp_cases **out, size_t max_errors)
{
	struct adp_cases *cs;

	*out = NULL;
	if (!(cs = calloc(1, sizeof(*cs))))
		return DECONF_E_NOMEM;
	cs->max_errors = max_errors;
	*out = cs;
	return DECONF_OK;
}

void adp_cases_free(struct adp_cases *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++)
		free(cs->v[i].ind);
	free(cs->v);
	free(cs->meta);
	free(cs->slots);
	free(cs->errs);
	arena_free(&cs->arena);
	free(cs);
}

size_t adp_cases_find(const struct adp_cases *cs, const void *ref, size_t len)
{
	uint64_t h = deconf_hash_bytes(ref, len);

	return cs->n_slots ? slot_find(cs, h, ref, len, NULL) : ADP_INPUT_NO_CASE;
}

void adp_cases_check_blank(struct adp_cases *cs, const char *reason)
{
	for (size_t i = 0; i < cs->n; i++) {
		const struct adp_case_meta *m = &cs->meta[i];

		if (m->blank_line && cs->v[i].op != OP_CLOSE_CASE)
			adp_cases_error(cs, m->blank_line, i, "%s", reason);
	}
}

void adp_cases_sort_errors(struct adp_cases *cs)
{
	if (cs->n_errs > 1)
		qsort(cs->errs, cs->n_errs, sizeof(*cs->errs), err_cmp);
}

const struct adp_input_error *adp_cases_error_at(const struct adp_cases *cs, size_t i)
{
	return i < cs->n_errs ? &cs->errs[i].e : NULL;
}
