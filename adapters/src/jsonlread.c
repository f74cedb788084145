/* jsonlread.c — JSON Lines case files: lines → jansson objects → cases. */
#include <math.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/err.h"
#include "deconf/util.h"
#include "cases.h"
#include "intext.h"
#include "jsonlread.h"
#include "when.h"

struct adp_jsonlread {
	unsigned line; /* line being accumulated */
	char *buf;
	size_t len, cap;
	int too_long;
	struct adp_cases *cs; /* what the lines become */
};

/* 1 = a string (*s, *len), 0 = absent or null, -1 = another JSON type. */
static int jstr(const json_t *v, const char **s, size_t *len)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 1;
}

/* A JSON time: string or integer Unix seconds. 0 unset, 1 ok, -1 error reported. */
static int jtime(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		 const char *name, const json_t *v, int64_t *ms)
{
	const char *s;
	size_t len;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < 0 || x > ADP_WHEN_MAX_SECONDS) {
			adp_cases_error(cs, line, ci,
					"%s%s %lld: out of range: Unix time in seconds expected",
					where, name, (long long)x);
			return -1;
		}
		*ms = (int64_t)x * 1000;
		return 1;
	}
	if (jstr(v, &s, &len) < 0) {
		adp_cases_error(cs, line, ci, "%s%s must be a string or an integer (Unix seconds)",
				where, name);
		return -1;
	}
	return adp_cases_time(cs, ci, line, where, name, s, len, ms);
}

/* A string-valued key: 1 = *s set, 0 = absent/null, -1 = wrong type (reported). */
static int jstr_field(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		      const char *name, const json_t *v, const char **s, size_t *len)
{
	int r = jstr(v, s, len);

	if (r < 0)
		adp_cases_error(cs, line, ci, "%s%s must be a string", where, name);
	return r;
}

static void jsonl_indicator(struct adp_cases *cs, size_t ci, unsigned line, size_t idx,
			    json_t *obj)
{
	static const struct {
		const char *key;
		enum adp_qual_kind kind;
	} quals[] = {
		{ "qualifier", ADP_QK_QUALIFIER },
		{ "platform", ADP_QK_PLATFORM },
		{ "jurisdiction", ADP_QK_JURISDICTION },
	};
	struct adp_raw_indicator r;
	char where[48], b[ADP_INTEXT_SHOWN];
	const char *key;
	json_t *v;
	int nq = 0;

	snprintf(where, sizeof(where), "indicators[%zu]: ", idx);
	if (!json_is_object(obj)) {
		adp_cases_error(cs, line, ci,
				"%sexpected an object {\"type\": ..., \"value\": ...}", where);
		return;
	}
	memset(&r, 0, sizeof(r));
	json_object_foreach(obj, key, v) {
		const char *s, **sp = NULL;
		size_t len, *lp = NULL;
		int got, known = 0, *bad = NULL;

		if (!strcmp(key, "type")) {
			sp = &r.type, lp = &r.type_len, bad = &r.type_bad;
		} else if (!strcmp(key, "value")) {
			sp = &r.value, lp = &r.value_len, bad = &r.value_bad;
		} else if (!strcmp(key, "valid_from")) {
			known = 1;
			if (jtime(cs, ci, line, where, "valid_from", v, &r.valid_from) < 0)
				r.times_bad = 1;
		} else if (!strcmp(key, "valid_to")) {
			known = 1;
			if (jtime(cs, ci, line, where, "valid_to", v, &r.valid_to) < 0)
				r.times_bad = 1;
		} else if (!strcmp(key, "lat") || !strcmp(key, "lon") || !strcmp(key, "radius_m")) {
			/* an event's place: a JSON number, or a string holding one */
			int which = !strcmp(key, "lat") ? 0 : !strcmp(key, "lon") ? 1 : 2;
			double *out = which == 0 ? &r.lat : which == 1 ? &r.lon : &r.radius_m;
			int *has = which == 0 ? &r.has_lat : which == 1 ? &r.has_lon : &r.has_radius;
			known = 1;
			if (json_is_number(v) && isfinite(json_number_value(v))) {
				*out = json_number_value(v);
				*has = 1;
			} else if (!json_is_null(v)) {
				int num = -1;
				if (json_is_string(v))
					num = adp_cases_number(cs, ci, line, where, key,
							       json_string_value(v),
							       json_string_length(v), out);
				else
					adp_cases_error(cs, line, ci, "%s%s must be a number",
							where, key);
				if (num < 0)
					r.place_bad = 1;
				*has = num > 0;
			}
		}
		if (sp) {
			if (jstr_field(cs, ci, line, where, key, v, sp, lp) < 0)
				*bad = 1;
			continue;
		}
		for (size_t k = 0; !known && k < sizeof(quals) / sizeof(quals[0]); k++) {
			if (strcmp(key, quals[k].key))
				continue;
			known = 1;
			if ((got = jstr_field(cs, ci, line, where, key, v, &s, &len)) < 0) {
				r.refused = 1;
			} else if (got > 0 && nq++) {
				adp_cases_error(cs, line, ci,
						"%sgive only one of qualifier, platform, jurisdiction",
						where);
				r.refused = 1;
			} else if (got > 0) {
				r.qual = s;
				r.qual_len = len;
				r.qual_kind = quals[k].kind;
			}
		}
		if (!known) {
			adp_cases_error(cs, line, ci,
					"%sunknown key %s (known: type, value, qualifier, platform, "
					"jurisdiction, valid_from, valid_to, lat, lon, radius_m)", where,
					adp_intext_shown(b, sizeof(b), key, strlen(key)));
			r.refused = 1;
		}
	}
	adp_cases_add_indicator(cs, ci, line, where, &r);
}

static void jsonl_poc(struct adp_cases *cs, size_t ci, unsigned line, json_t *poc)
{
	static const char *const keys[ADP_N_POC] = { "name", "phone", "email", "unit" };
	static const char *const names[ADP_N_POC] = { "poc.name", "poc.phone", "poc.email",
						  "poc.unit" };
	const char *key;
	char b[ADP_INTEXT_SHOWN];
	json_t *v;

	if (json_is_null(poc))
		return;
	if (!json_is_object(poc)) {
		adp_cases_error(cs, line, ci,
				"poc must be an object {\"name\", \"phone\", \"email\", \"unit\"}");
		return;
	}
	json_object_foreach(poc, key, v) {
		int f = -1;
		const char *s;
		size_t len;

		for (int k = 0; k < ADP_N_POC; k++)
			if (!strcmp(key, keys[k]))
				f = k;
		if (f < 0) {
			adp_cases_error(cs, line, ci,
					"poc: unknown key %s (known: name, phone, email, unit)",
					adp_intext_shown(b, sizeof(b), key, strlen(key)));
			continue;
		}
		if (jstr_field(cs, ci, line, "", names[f], v, &s, &len) > 0)
			adp_cases_set_poc(cs, ci, line, (enum adp_poc_field)f, s, len, names[f]);
	}
}

static void jsonl_caution(struct adp_cases *cs, size_t ci, unsigned line, json_t *v)
{
	const char *s;
	size_t len, i;
	uint32_t flags = 0;
	char b[ADP_INTEXT_SHOWN];
	json_t *e;

	if (json_is_null(v))
		return;
	if (jstr(v, &s, &len) > 0) {
		adp_cases_set_caution(cs, ci, line, s, len, "caution");
		return;
	}
	if (!json_is_array(v)) {
		adp_cases_error(cs, line, ci,
				"caution must be an array of strings, e.g. [\"armed\"]");
		return;
	}
	json_array_foreach(v, i, e) {
		int f;

		if (jstr(e, &s, &len) <= 0) {
			adp_cases_error(cs, line, ci, "caution[%zu] must be a string", i);
			return;
		}
		if ((f = adp_cases_caution_word(s, len)) < 0) {
			adp_cases_error(cs, line, ci,
					"unknown caution flag %s (known: armed, undercover, active_operation, "
					"victim_at_risk, informant, court_sealed, none)",
					adp_intext_shown(b, sizeof(b), s, len));
			return;
		}
		flags |= (uint32_t)f;
	}
	{
		/* the value as text for a conflict message */
		char text[ADP_INTEXT_SHOWN];
		size_t o = 0;

		text[0] = '\0';
		json_array_foreach(v, i, e) {
			int n = snprintf(text + o, sizeof(text) - o, "%s%s", i ? "|" : "",
					 json_string_value(e));

			if (n < 0 || (size_t)n >= sizeof(text) - o)
				break;
			o += (size_t)n;
		}
		adp_cases_set(cs, ci, line, ADP_CF_CAUTION, flags, "caution", text, o);
	}
}

static void jsonl_line(struct adp_cases *cs, unsigned line, const char *s, size_t n)
{
	json_error_t jerr;
	json_t *root, *v, *inds = NULL;
	const char *key, *ref;
	size_t ref_len, i, ci;
	char b[ADP_INTEXT_SHOWN];
	int r, inds_bad = 0;

	if (n && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n && adp_intext_is_blank((unsigned char)s[i]); i++)
		;
	if (i == n)
		return; /* blank line */
	cs->rows++;
	/* ALLOW_NUL so that a \u0000 gets the same "NUL byte" error as in CSV */
	root = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (!root) {
		const char *hint = "";
		char *near = strstr(jerr.text, " near '");

		/* jansson quotes the text near the error: often part of a raw value */
		if (near)
			*near = '\0';
		if (s[i] == '[')
			hint = " (a JSON array: JSON Lines wants one case object per line)";
		else if (jerr.position >= (int)n)
			hint = " (JSON Lines: each case is one whole object on one line)";
		adp_cases_error(cs, line, ADP_INPUT_NO_CASE, "not valid JSON: %s at column %d%s",
				jerr.text, jerr.column, hint);
		return;
	}
	if (!json_is_object(root)) {
		adp_cases_error(cs, line, ADP_INPUT_NO_CASE,
				"expected a JSON object (one case per line), not %s",
				json_is_array(root) ? "an array" : "a scalar");
		goto done;
	}
	r = jstr(json_object_get(root, "case_ref"), &ref, &ref_len);
	if (r <= 0) {
		adp_cases_error(cs, line, ADP_INPUT_NO_CASE,
				r < 0 ? "case_ref must be a string" : "case_ref is missing");
		goto done;
	}
	if ((ci = adp_cases_get(cs, ref, ref_len, line, 0)) == ADP_INPUT_NO_CASE)
		goto done;

	json_object_foreach(root, key, v) {
		const char *t;
		size_t tl;

		if (!strcmp(key, "case_ref")) {
			continue;
		} else if (!strcmp(key, "op")) {
			if (jstr_field(cs, ci, line, "", "op", v, &t, &tl) > 0)
				adp_cases_set_op(cs, ci, line, t, tl, "op");
		} else if (!strcmp(key, "visibility")) {
			if (jstr_field(cs, ci, line, "", "visibility", v, &t, &tl) > 0)
				adp_cases_set_visibility(cs, ci, line, t, tl, "visibility");
		} else if (!strcmp(key, "caution")) {
			jsonl_caution(cs, ci, line, v);
		} else if (!strcmp(key, "disclose_to")) {
			if (jstr_field(cs, ci, line, "", "disclose_to", v, &t, &tl) > 0)
				adp_cases_set_scope(cs, ci, line, t, tl, "disclose_to");
		} else if (!strcmp(key, "event_kind")) {
			if (jstr_field(cs, ci, line, "", "event_kind", v, &t, &tl) > 0)
				adp_cases_set_event_kind(cs, ci, line, t, tl, "event_kind");
		} else if (!strcmp(key, "expires_at")) {
			int64_t ms;

			if (jtime(cs, ci, line, "", "expires_at", v, &ms) > 0) {
				char text[32];

				if (json_is_integer(v))
					snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
				else
					snprintf(text, sizeof(text), "%s", json_string_value(v));
				adp_cases_set(cs, ci, line, ADP_CF_EXPIRES, ms, "expires_at", text,
					      strlen(text));
			}
		} else if (!strcmp(key, "poc")) {
			jsonl_poc(cs, ci, line, v);
		} else if (!strcmp(key, "indicators")) {
			if (json_is_array(v)) {
				inds = v;
			} else if (!json_is_null(v)) {
				adp_cases_error(cs, line, ci,
						"indicators must be an array of objects");
				inds_bad = 1;
			}
		} else {
			adp_cases_error(cs, line, ci,
					"unknown key %s (known: case_ref, op, poc, visibility, caution, "
					"expires_at, event_kind, disclose_to, indicators)",
					adp_intext_shown(b, sizeof(b), key, strlen(key)));
		}
	}
	if (inds_bad)
		; /* reported */
	else if (!inds || !json_array_size(inds))
		adp_cases_note_blank(cs, ci, line); /* checked once the case's op is known */
	else
		json_array_foreach(inds, i, v)
			jsonl_indicator(cs, ci, line, i, v);
done:
	json_decref(root);
}

int adp_jsonlread_feed(struct adp_jsonlread *st, const unsigned char *p, size_t len)
{
	struct adp_cases *cs = st->cs;

	while (len) {
		const unsigned char *nl = memchr(p, '\n', len);
		size_t seg = nl ? (size_t)(nl - p) : len;

		if (!st->too_long) {
			if (nl && !st->len && seg <= ADP_INPUT_LINE_MAX) {
				jsonl_line(cs, st->line, (const char *)p, seg); /* in place */
			} else if (st->len + seg > ADP_INPUT_LINE_MAX) {
				st->too_long = 1;
				st->len = 0;
			} else {
				if (DECONF_GROW_TO(st->buf, st->len + seg, st->cap, 4096))
					return cs->fatal = DECONF_E_NOMEM;
				memcpy(st->buf + st->len, p, seg);
				st->len += seg;
				if (nl) {
					jsonl_line(cs, st->line, st->buf, st->len);
					st->len = 0;
				}
			}
		}
		if (nl) {
			if (st->too_long) {
				cs->rows++;
				adp_cases_error(cs, st->line, ADP_INPUT_NO_CASE,
						"line longer than 1 MiB");
				st->too_long = 0;
			}
			st->line++;
			seg++;
		}
		if (cs->fatal)
			return cs->fatal;
		p += seg;
		len -= seg;
	}
	return 0;
}

void adp_jsonlread_finish(struct adp_jsonlread *st)
{
	struct adp_cases *cs = st->cs;

	if (st->too_long) {
		cs->rows++;
		adp_cases_error(cs, st->line, ADP_INPUT_NO_CASE, "line longer than 1 MiB");
	} else if (st->len) {
		jsonl_line(cs, st->line, st->buf, st->len);
	}
	st->len = 0;
	if (!cs->fatal) {
		adp_cases_check_blank(cs, "no indicators (allowed only when op is close_case)");
		adp_cases_check_events(cs);
	}
}

int adp_jsonlread_new(struct adp_jsonlread **out, struct adp_cases *cs)
{
	struct adp_jsonlread *st;

	*out = NULL;
	if (!(st = calloc(1, sizeof(*st))))
		return DECONF_E_NOMEM;
	st->cs = cs;
	st->line = 1;
	*out = st;
	return DECONF_OK;
}

void adp_jsonlread_free(struct adp_jsonlread *st)
{
	if (!st)
		return;
	free(st->buf);
	free(st);
}
