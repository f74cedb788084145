/* csvread.c — CSV case files: physical lines → libcsv records → cases. */
#include <csv.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/err.h"
#include "deconf/util.h"
#include "cases.h"
#include "csvread.h"
#include "intext.h"

#define CSV_SLICE (64 * 1024) /* at most this much is given to libcsv at once */

enum col {
	COL_CASE_REF,
	COL_TYPE,
	COL_VALUE,
	COL_QUALIFIER,
	COL_PLATFORM,
	COL_JURISDICTION,
	COL_VALID_FROM,
	COL_VALID_TO,
	COL_EXPIRES_AT,
	COL_VISIBILITY,
	COL_CAUTION,
	COL_POC_NAME,
	COL_POC_PHONE,
	COL_POC_EMAIL,
	COL_POC_UNIT,
	COL_OP,
	COL_EVENT_KIND,
	COL_LAT,
	COL_LON,
	COL_RADIUS,
	COL_DISCLOSE_TO,
	N_COLS
};

static const char *const col_names[N_COLS] = {
	"case_ref",   "type",	   "value",    "qualifier",  "platform",  "jurisdiction",
	"valid_from", "valid_to",  "expires_at", "visibility", "caution", "poc_name",
	"poc_phone",  "poc_email", "poc_unit", "op",	   "event_kind", "lat",	    "lon",
	"radius_m",   "disclose_to",
};

struct field {
	size_t off, len;
};

struct adp_csvread {
	struct csv_parser p;
	int p_live;
	unsigned line;       /* current physical line */
	int at_line_start;   /* the next byte starts a new physical line */
	int line_content;    /* the current line has a non-blank byte */
	int row_open;        /* a record continues from an earlier line */
	int row_ended;       /* a record ended on the current line */
	int skip_line;       /* drop the rest of this line (after a syntax error) */
	unsigned row_line;   /* first line of the current record */
	size_t row_bytes;    /* bytes of the current record so far */
	unsigned char *buf;  /* fields of the current record */
	size_t buf_len, buf_cap;
	struct field *fld;
	size_t n_fld, fld_cap;
	int header_done, dead;
	size_t n_header;
	int col_idx[N_COLS]; /* field index of each column, -1 when absent */
	struct adp_cases *cs; /* what the records become */
};

static int csv_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int csv_is_term(unsigned char c)
{
	return c == '\n';
}

static void csv_cb_field(void *s, size_t len, void *data);
static void csv_cb_row(int c, void *data);

static void csv_parser_reset(struct adp_csvread *st)
{
	if (st->p_live)
		csv_free(&st->p);
	/* csv_init only fails for a NULL parser; buffers are allocated lazily */
	csv_init(&st->p, CSV_STRICT | CSV_STRICT_FINI);
	csv_set_space_func(&st->p, csv_is_space);
	csv_set_term_func(&st->p, csv_is_term);
	st->p_live = 1;
	st->n_fld = 0;
	st->buf_len = 0;
}

/* Field i of the current record (empty when the column is absent). */
static const char *csv_get(const struct adp_csvread *st, enum col col, size_t *len)
{
	int i = st->col_idx[col];

	if (i < 0 || (size_t)i >= st->n_fld) {
		*len = 0;
		return "";
	}
	*len = st->fld[i].len;
	return (const char *)st->buf + st->fld[i].off;
}

static void csv_header(struct adp_csvread *st, unsigned line)
{
	static const enum col required[] = { COL_CASE_REF, COL_TYPE, COL_VALUE };
	struct adp_cases *cs = st->cs;
	int known = 0;
	size_t before = cs->err_total;
	char b[ADP_INTEXT_SHOWN];

	for (int k = 0; k < N_COLS; k++)
		st->col_idx[k] = -1;
	st->n_header = st->n_fld;
	for (size_t i = 0; i < st->n_fld; i++) {
		const char *name = (const char *)st->buf + st->fld[i].off;
		size_t len = st->fld[i].len;

		adp_intext_trim(&name, &len);
		for (int k = 0; k < N_COLS; k++)
			if (adp_intext_word_eq(name, len, col_names[k])) {
				known++;
				break;
			}
	}
	if (!known) {
		const char *first = (const char *)st->buf + (st->n_fld ? st->fld[0].off : 0);
		size_t len = st->n_fld ? st->fld[0].len : 0;

		adp_cases_error(cs, line, ADP_INPUT_NO_CASE,
				"no header row (first column %s): the first row must name the columns "
				"(case_ref,type,value,...)",
				adp_intext_shown(b, sizeof(b), first, len));
		st->dead = 1;
		return;
	}
	for (size_t i = 0; i < st->n_fld; i++) {
		const char *name = (const char *)st->buf + st->fld[i].off;
		size_t len = st->fld[i].len;
		int col = -1;

		adp_intext_trim(&name, &len);
		for (int k = 0; k < N_COLS && col < 0; k++)
			if (adp_intext_word_eq(name, len, col_names[k]))
				col = k;
		if (!len)
			adp_cases_error(cs, line, ADP_INPUT_NO_CASE, "column %zu has no name",
					i + 1);
		else if (col < 0)
			adp_cases_error(cs, line, ADP_INPUT_NO_CASE,
					"unknown column %s (known: case_ref, type, value, qualifier, "
					"platform, jurisdiction, valid_from, valid_to, expires_at, "
					"visibility, caution, poc_name, poc_phone, poc_email, poc_unit, op, "
					"event_kind, lat, lon, radius_m, disclose_to)",
					adp_intext_shown(b, sizeof(b), name, len));
		else if (st->col_idx[col] >= 0)
			adp_cases_error(cs, line, ADP_INPUT_NO_CASE,
					"column %s appears twice (columns %d and %zu)",
					col_names[col], st->col_idx[col] + 1, i + 1);
		else
			st->col_idx[col] = (int)i;
	}
	for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
		if (st->col_idx[required[k]] < 0)
			adp_cases_error(cs, line, ADP_INPUT_NO_CASE, "missing required column %s",
					col_names[required[k]]);
	/* Columns could be misread: nothing after a bad header is trusted. */
	st->dead = cs->err_total != before;
}

static void csv_row(struct adp_csvread *st, unsigned line)
{
	struct adp_cases *cs = st->cs;
	struct adp_raw_indicator r;
	const char *ref, *s, *vf, *vt;
	size_t ref_len, len, vf_len, vt_len;
	size_t ci;
	int nq = 0;
	static const struct {
		enum col col;
		enum adp_qual_kind kind;
	} quals[] = {
		{ COL_QUALIFIER, ADP_QK_QUALIFIER },
		{ COL_PLATFORM, ADP_QK_PLATFORM },
		{ COL_JURISDICTION, ADP_QK_JURISDICTION },
	};

	ref = csv_get(st, COL_CASE_REF, &ref_len);
	if (st->n_fld != st->n_header) {
		/* columns may be shifted: still invalidate the case if it is readable */
		ci = adp_cases_get(cs, ref, ref_len, line, 1);
		adp_cases_error(cs, line, ci, "%zu fields, but the header has %zu", st->n_fld,
				st->n_header);
		return;
	}
	if ((ci = adp_cases_get(cs, ref, ref_len, line, 0)) == ADP_INPUT_NO_CASE)
		return;

	s = csv_get(st, COL_OP, &len);
	adp_cases_set_op(cs, ci, line, s, len, "op");
	s = csv_get(st, COL_VISIBILITY, &len);
	adp_cases_set_visibility(cs, ci, line, s, len, "visibility");
	s = csv_get(st, COL_CAUTION, &len);
	adp_cases_set_caution(cs, ci, line, s, len, "caution");
	s = csv_get(st, COL_EXPIRES_AT, &len);
	{
		int64_t ms;

		if (adp_cases_time(cs, ci, line, "", "expires_at", s, len, &ms) > 0)
			adp_cases_set(cs, ci, line, ADP_CF_EXPIRES, ms, "expires_at", s, len);
	}
	s = csv_get(st, COL_POC_NAME, &len);
	adp_cases_set_poc(cs, ci, line, ADP_POC_NAME, s, len, "poc_name");
	s = csv_get(st, COL_POC_PHONE, &len);
	adp_cases_set_poc(cs, ci, line, ADP_POC_PHONE, s, len, "poc_phone");
	s = csv_get(st, COL_POC_EMAIL, &len);
	adp_cases_set_poc(cs, ci, line, ADP_POC_EMAIL, s, len, "poc_email");
	s = csv_get(st, COL_POC_UNIT, &len);
	adp_cases_set_poc(cs, ci, line, ADP_POC_UNIT, s, len, "poc_unit");
	s = csv_get(st, COL_EVENT_KIND, &len);
	adp_cases_set_event_kind(cs, ci, line, s, len, "event_kind");
	s = csv_get(st, COL_DISCLOSE_TO, &len);
	adp_cases_set_scope(cs, ci, line, s, len, "disclose_to");

	memset(&r, 0, sizeof(r));
	r.type = csv_get(st, COL_TYPE, &r.type_len);
	r.value = csv_get(st, COL_VALUE, &r.value_len);
	for (size_t k = 0; k < sizeof(quals) / sizeof(quals[0]); k++) {
		s = csv_get(st, quals[k].col, &len);
		adp_intext_trim(&s, &len);
		if (!len)
			continue;
		if (nq++) {
			adp_cases_error(cs, line, ci,
					"give only one of qualifier, platform, jurisdiction");
			return;
		}
		r.qual = s;
		r.qual_len = len;
		r.qual_kind = quals[k].kind;
	}
	{
		/* an event's place */
		static const struct {
			enum col col;
			const char *name;
		} num[] = { { COL_LAT, "lat" }, { COL_LON, "lon" }, { COL_RADIUS, "radius_m" } };
		double *out[] = { &r.lat, &r.lon, &r.radius_m };
		int *has[] = { &r.has_lat, &r.has_lon, &r.has_radius };
		for (size_t k = 0; k < 3; k++) {
			int got;
			s = csv_get(st, num[k].col, &len);
			if ((got = adp_cases_number(cs, ci, line, "", num[k].name, s, len, out[k])) <
			    0)
				r.place_bad = 1;
			*has[k] = got > 0;
		}
	}
	vf = csv_get(st, COL_VALID_FROM, &vf_len);
	vt = csv_get(st, COL_VALID_TO, &vt_len);
	if (adp_cases_time(cs, ci, line, "", "valid_from", vf, vf_len, &r.valid_from) < 0)
		r.times_bad = 1;
	if (adp_cases_time(cs, ci, line, "", "valid_to", vt, vt_len, &r.valid_to) < 0)
		r.times_bad = 1;

	s = r.type;
	len = r.type_len;
	adp_intext_trim(&s, &len);
	if (!len && !r.value_len) {
		/* a close_case row; checked once the case's op is known */
		if (r.qual_len || vf_len || vt_len)
			adp_cases_error(cs, line, ci,
					"type and value are empty but the indicator has "
					"other fields");
		adp_cases_note_blank(cs, ci, line);
		return;
	}
	adp_cases_add_indicator(cs, ci, line, "", &r);
}

/* A record that could not be parsed; line is where it went wrong. */
static void csv_broken(struct adp_csvread *st, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void csv_broken(struct adp_csvread *st, unsigned line, const char *fmt, ...)
{
	struct adp_cases *cs = st->cs;
	size_t ci = ADP_INPUT_NO_CASE;
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (!st->header_done) {
		st->header_done = 1;
		st->dead = 1;
	} else if (st->dead) {
		return;
	} else {
		const char *ref;
		size_t len;

		cs->rows++;
		ref = csv_get(st, COL_CASE_REF, &len);
		if (len)
			ci = adp_cases_get(cs, ref, len, line, 1);
	}
	adp_cases_error(cs, line, ci, "%s", reason);
}

static void csv_cb_field(void *s, size_t len, void *data)
{
	struct adp_csvread *st = data;
	struct adp_cases *cs = st->cs;

	if (cs->fatal)
		return;
	/* +1: the buffer exists even when every field is empty (no NULL + 0) */
	if (DECONF_GROW(st->fld, st->n_fld, st->fld_cap, 32) ||
	    DECONF_GROW_TO(st->buf, st->buf_len + len + 1, st->buf_cap, 4096)) {
		cs->fatal = DECONF_E_NOMEM;
		return;
	}
	if (len)
		memcpy(st->buf + st->buf_len, s, len);
	st->fld[st->n_fld].off = st->buf_len;
	st->fld[st->n_fld].len = len;
	st->n_fld++;
	st->buf_len += len;
}

static void csv_cb_row(int c, void *data)
{
	struct adp_csvread *st = data;
	struct adp_cases *cs = st->cs;

	(void)c;
	st->row_ended = 1;
	if (!cs->fatal) {
		if (!st->header_done) {
			st->header_done = 1;
			csv_header(st, st->row_line);
		} else if (!st->dead) {
			cs->rows++;
			csv_row(st, st->row_line);
		}
	}
	st->n_fld = 0;
	st->buf_len = 0;
}

int adp_csvread_feed(struct adp_csvread *st, const unsigned char *p, size_t len)
{
	struct adp_cases *cs = st->cs;

	while (len) {
		size_t avail = len > CSV_SLICE ? CSV_SLICE : len, seg;
		const unsigned char *nl;

		if (st->at_line_start) {
			st->at_line_start = 0;
			st->line++;
			st->line_content = 0;
			st->row_ended = 0;
			if (!st->row_open) {
				st->row_line = st->line;
				st->row_bytes = 0;
			}
		}
		nl = memchr(p, '\n', avail);
		seg = nl ? (size_t)(nl - p) + 1 : avail;
		for (size_t i = 0; i < seg && !st->line_content; i++)
			st->line_content = !adp_intext_is_blank(p[i]);
		if (!st->skip_line) {
			size_t n;

			st->row_bytes += seg;
			n = csv_parse(&st->p, p, seg, csv_cb_field, csv_cb_row, st);
			if (cs->fatal)
				return cs->fatal;
			if (n < seg) {
				if (csv_error(&st->p) != CSV_EPARSE)
					return cs->fatal = DECONF_E_NOMEM;
				if (p[n] == '"')
					csv_broken(st, st->line,
						   "stray quote: quote the whole field and double each "
						   "quote inside it (\"a \"\"b\"\" c\")");
				else
					csv_broken(st, st->line, "text after the closing quote of a field");
				csv_parser_reset(st);
				st->skip_line = 1;
			} else if (!st->row_ended && (st->row_open || st->line_content) &&
				   st->row_bytes > ADP_INPUT_LINE_MAX) {
				csv_broken(st, st->row_line,
					   "record longer than 1 MiB (an unterminated quote?)");
				csv_parser_reset(st);
				st->skip_line = 1;
			}
			if (cs->fatal)
				return cs->fatal;
		}
		if (nl) {
			st->at_line_start = 1;
			if (st->skip_line) {
				st->skip_line = 0;
				st->row_open = 0;
			} else {
				st->row_open = !st->row_ended && (st->row_open || st->line_content);
			}
		}
		p += seg;
		len -= seg;
	}
	return 0;
}

void adp_csvread_finish(struct adp_csvread *st)
{
	struct adp_cases *cs = st->cs;

	if (!st->skip_line && csv_fini(&st->p, csv_cb_field, csv_cb_row, st))
		csv_broken(st, st->row_line,
			   "unterminated quoted field in the record starting on this line");
	if (!st->header_done && !cs->fatal)
		adp_cases_error(cs, 1, ADP_INPUT_NO_CASE,
				"empty file: the first row must name the columns (case_ref,type,value,...)");
	if (!cs->fatal) {
		adp_cases_check_blank(cs, "type and value are empty (allowed only when op is "
					  "close_case)");
		adp_cases_check_events(cs);
	}
}

int adp_csvread_new(struct adp_csvread **out, struct adp_cases *cs)
{
	struct adp_csvread *st;

	*out = NULL;
	if (!(st = calloc(1, sizeof(*st))))
		return DECONF_E_NOMEM;
	st->cs = cs;
	st->at_line_start = 1;
	csv_parser_reset(st);
	*out = st;
	return DECONF_OK;
}

void adp_csvread_free(struct adp_csvread *st)
{
	if (!st)
		return;
	if (st->p_live)
		csv_free(&st->p);
	free(st->buf);
	free(st->fld);
	free(st);
}
