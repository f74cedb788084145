/* input.c — CSV and JSON Lines case files → cases with raw indicators. */

/*
 * Shape: bytes are pushed in (adp_input_feed), split into physical lines
 * here, and handed to libcsv or jansson; each CSV record / JSON line then
 * goes through the same case table (hash of case_ref → index) and the same
 * field checks. Strings of the result live in one arena freed at once, so a
 * million-row file costs a few hundred large allocations, not millions.
 *
 * CSV line numbers: libcsv reports fields and records but no positions, so
 * the input is fed to it one physical line at a time and only '\n' ends a
 * record ('\r' is treated as blank, so CRLF works and a CR inside a quoted
 * field is kept). A record ends exactly at the '\n' that ends a line; its
 * first line is the first non-blank line after the previous record.
 */
#include <csv.h>
#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/text.h"
#include "deconf/token.h"
#include "input.h"

#define READ_BLOCK (256 * 1024)
#define CSV_SLICE (64 * 1024) /* at most this much is given to libcsv at once */
#define ARENA_CHUNK (256 * 1024)
#define SHOWN 80 /* buffer for a quoted excerpt in a message */
#define MAX_SECONDS INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

#define OP_ADD DECONF__V1__OP__OP_ADD
#define OP_CLOSE_CASE DECONF__V1__OP__OP_CLOSE_CASE
#define VIS_NORMAL DECONF__V1__VISIBILITY__VISIBILITY_NORMAL
#define TYPE_IP DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP
#define TYPE_USERNAME DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME
#define TYPE_VEHICLE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE

static const unsigned char BOM[3] = { 0xef, 0xbb, 0xbf };

/* ------------------------------------------------------------------ arena */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[];
};

struct arena {
	struct arena_chunk *head;
};

/* n bytes, alignment 1 (only strings live here). NULL when out of memory. */
static char *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
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
	if (size == n && a->head) {
		/* a big one-off: keep the current chunk's free room in use */
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	return c->data;
}

static char *arena_strndup(struct arena *a, const void *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

/* ------------------------------------------------------------------ state */

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
	N_COLS
};

static const char *const col_names[N_COLS] = {
	"case_ref",   "type",	   "value",    "qualifier",  "platform",  "jurisdiction",
	"valid_from", "valid_to",  "expires_at", "visibility", "caution", "poc_name",
	"poc_phone",  "poc_email", "poc_unit", "op",
};

/* Which key named the qualifier (they are aliases with a meaning). */
enum qual_kind { QK_NONE, QK_QUALIFIER, QK_PLATFORM, QK_JURISDICTION };

enum poc_field { POC_NAME, POC_PHONE, POC_EMAIL, POC_UNIT, N_POC };

/* Case-level scalar fields, merged across rows with a conflict check. */
enum case_field { CF_OP, CF_VISIBILITY, CF_CAUTION, CF_EXPIRES, N_CF };

struct field {
	size_t off, len;
};

struct csv_state {
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
};

struct jsonl_state {
	unsigned line; /* line being accumulated */
	char *buf;
	size_t len, cap;
	int too_long;
};

struct case_meta {
	uint64_t hash;
	size_t ref_len;
	size_t ind_cap;
	unsigned line_cf[N_CF];    /* where each case field was given, 0 = not yet */
	unsigned line_poc[N_POC];
	unsigned blank_line;       /* first row/line without indicators */
};

struct err_rec {
	struct adp_input_error e;
	size_t seq; /* for a stable sort */
};

struct adp_input {
	enum adp_format fmt;
	size_t max_errors;
	struct arena arena;
	struct adp_case *cases;
	struct case_meta *meta;
	size_t n_cases, cap_cases;
	uint32_t *slots; /* open addressing: case index + 1, 0 = empty */
	size_t n_slots;  /* a power of two, at least twice n_cases */
	struct err_rec *errs;
	size_t n_errs, cap_errs, err_total;
	uint64_t rows;
	int fatal;       /* DECONF_E_NOMEM once memory ran out */
	int finished;
	unsigned bom_seen; /* bytes of a leading BOM matched so far */
	int bom_done;
	unsigned char *sniff; /* blank bytes held while AUTO is undecided */
	size_t sniff_len;
	struct csv_state csv;
	struct jsonl_state jl;
};

/* ----------------------------------------------------------- small helpers */

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t'))
		(*s)++, (*len)--;
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* s (len bytes) equals the lower-case word w, ignoring ASCII case. */
static int word_eq(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && !strncasecmp(s, w, len);
}

/*
 * s as a short quoted excerpt for a message: printable ASCII as is, the
 * rest as \xNN, cut with "..." when long. Never used on indicator values.
 */
static const char *shown(char *buf, size_t size, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t o = 0;

	buf[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (o + 10 >= size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static uint64_t hash_bytes(const void *s, size_t len)
{
	const unsigned char *p = s;
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3);
	return h ^ (h >> 29);
}

/* Grow *arr (of elem bytes) so it holds at least need; doubles. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem, size_t min)
{
	size_t n = *cap ? *cap : min;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (!(p = realloc(*arr, n * elem)))
		return DECONF_E_NOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

/* ----------------------------------------------------------------- errors */

/* Record an error on line; it invalidates case ci (unless ADP_INPUT_NO_CASE). */
static void add_error(struct adp_input *in, unsigned line, size_t ci, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_error(struct adp_input *in, unsigned line, size_t ci, const char *fmt, ...)
{
	char prefix[32], reason[512];
	struct err_rec *r;
	size_t plen, rlen;
	va_list ap;
	char *msg;

	in->err_total++;
	if (ci != ADP_INPUT_NO_CASE)
		in->cases[ci].invalid = 1;
	if (in->fatal || (in->max_errors && in->n_errs >= in->max_errors))
		return;
	if (grow((void **)&in->errs, &in->cap_errs, in->n_errs + 1, sizeof(*in->errs), 16)) {
		in->fatal = DECONF_E_NOMEM;
		return;
	}
	plen = (size_t)snprintf(prefix, sizeof(prefix), "line %u: ", line);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	rlen = strlen(reason);
	if (!(msg = arena_alloc(&in->arena, plen + rlen + 1))) {
		in->fatal = DECONF_E_NOMEM;
		return;
	}
	memcpy(msg, prefix, plen);
	memcpy(msg + plen, reason, rlen + 1);
	r = &in->errs[in->n_errs];
	r->e.line = line;
	r->e.case_idx = ci;
	r->e.msg = msg;
	r->e.reason = msg + plen;
	r->seq = in->n_errs++;
}

static int err_cmp(const void *a, const void *b)
{
	const struct err_rec *x = a, *y = b;

	if (x->e.line != y->e.line)
		return x->e.line < y->e.line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ------------------------------------------------------------------ times */

static int fixed_digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method). */
static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int time_fail(char *why, size_t why_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int time_fail(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if (why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return DECONF_E_INVAL;
}

int adp_input_parse_time(const char *s, size_t len, int64_t *ms, char *why, size_t why_size)
{
	int y, mo, d, h = 0, mi = 0, se = 0, oh, om;
	int64_t secs, frac_ms = 0, off = 0;
	size_t i;

	trim(&s, &len);
	if (!len)
		return time_fail(why, why_size, "empty");
	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == len) {
		int64_t v = 0;

		if (len > 12)
			goto too_big;
		for (i = 0; i < len; i++)
			v = v * 10 + (s[i] - '0');
		if (v > MAX_SECONDS)
			goto too_big;
		*ms = v * 1000;
		return 0;
	}
	if (len < 10 || !fixed_digits(s, 4, &y) || s[4] != '-' || !fixed_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !fixed_digits(s + 8, 2, &d) || (len > 10 && !strchr("Tt ", s[10])))
		return time_fail(why, why_size,
				 "not a time: expected RFC 3339 (2026-11-01T12:00:00Z), "
				 "a date (2026-11-01) or Unix seconds");
	if (mo < 1 || mo > 12)
		return time_fail(why, why_size, "month %02d out of range", mo);
	if (d < 1 || d > days_in_month(y, mo))
		return time_fail(why, why_size, "day %02d out of range for %04d-%02d", d, y, mo);
	secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400;
	if (len > 10) {
		if (len < 19 || !fixed_digits(s + 11, 2, &h) || s[13] != ':' ||
		    !fixed_digits(s + 14, 2, &mi) || s[16] != ':' || !fixed_digits(s + 17, 2, &se))
			return time_fail(why, why_size, "expected the time of day as HH:MM:SS");
		if (h > 23)
			return time_fail(why, why_size, "hour %02d out of range", h);
		if (mi > 59)
			return time_fail(why, why_size, "minute %02d out of range", mi);
		if (se > 60)
			return time_fail(why, why_size, "second %02d out of range", se);
		i = 19;
		if (i < len && s[i] == '.') {
			size_t start = ++i;

			for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				if (i - start < 3)
					frac_ms = frac_ms * 10 + (s[i] - '0');
			if (i == start)
				return time_fail(why, why_size, "expected digits after the decimal point");
			for (size_t k = i - start; k < 3; k++)
				frac_ms *= 10;
		}
		if (i == len)
			return time_fail(why, why_size,
					 "no time zone: add Z (UTC) or an offset like +02:00");
		if (s[i] == 'Z' || s[i] == 'z') {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			if (len - i < 6 || !fixed_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
			    !fixed_digits(s + i + 4, 2, &om))
				return time_fail(why, why_size, "expected the zone offset as +HH:MM");
			if (oh > 23 || om > 59)
				return time_fail(why, why_size, "zone offset out of range");
			off = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
			i += 6;
		} else {
			return time_fail(why, why_size,
					 "expected Z or an offset like +02:00 after the time");
		}
		if (i != len)
			return time_fail(why, why_size, "unexpected text after the time zone");
		secs += h * 3600 + mi * 60 + se - off;
	}
	if (secs < 0)
		return time_fail(why, why_size, "before 1970");
	if (secs > MAX_SECONDS)
		goto too_big;
	*ms = secs * 1000 + frac_ms;
	return 0;
too_big:
	return time_fail(why, why_size,
			 "out of range: Unix time in seconds expected (not milliseconds), "
			 "at most year 9999");
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
	trim(&s, &len);
	for (; t->name; t++)
		if (word_eq(s, len, t->name))
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

static int parse_caution_word(const char *s, size_t len)
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
		trim(&w, &wl);
		if (wl) {
			if ((f = parse_caution_word(w, wl)) < 0) {
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

	trim(&s, &len);
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

static size_t slot_find(const struct adp_input *in, uint64_t h, const void *ref, size_t len,
			size_t *slot)
{
	size_t mask = in->n_slots - 1, i = (size_t)h & mask;

	for (; in->slots[i]; i = (i + 1) & mask) {
		size_t idx = in->slots[i] - 1;
		const struct case_meta *m = &in->meta[idx];

		if (m->hash == h && m->ref_len == len && !memcmp(in->cases[idx].case_ref, ref, len))
			return idx;
	}
	if (slot)
		*slot = i;
	return ADP_INPUT_NO_CASE;
}

static int slots_grow(struct adp_input *in)
{
	size_t n = in->n_slots ? in->n_slots * 2 : 1024;
	uint32_t *s = calloc(n, sizeof(*s));

	if (!s)
		return DECONF_E_NOMEM;
	free(in->slots);
	in->slots = s;
	in->n_slots = n;
	for (size_t idx = 0; idx < in->n_cases; idx++) {
		size_t i = (size_t)in->meta[idx].hash & (n - 1);

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
static size_t case_get(struct adp_input *in, const void *ref, size_t len, unsigned line,
		       int quiet)
{
	const char *why = case_ref_problem(ref, len);
	struct adp_case *c;
	struct case_meta *m;
	size_t idx, slot = 0;
	uint64_t h;

	if (why) {
		if (!quiet)
			add_error(in, line, ADP_INPUT_NO_CASE, "%s", why);
		return ADP_INPUT_NO_CASE;
	}
	if (in->fatal)
		return ADP_INPUT_NO_CASE;
	h = hash_bytes(ref, len);
	if (in->n_slots && (idx = slot_find(in, h, ref, len, &slot)) != ADP_INPUT_NO_CASE)
		return idx;
	if (in->n_cases >= UINT32_MAX - 1)
		goto nomem;
	if ((in->n_cases + 1) * 2 > in->n_slots) {
		if (slots_grow(in))
			goto nomem;
		slot_find(in, h, ref, len, &slot);
	}
	if (in->n_cases == in->cap_cases) {
		size_t cap = in->cap_cases;

		if (grow((void **)&in->cases, &cap, in->n_cases + 1, sizeof(*in->cases), 64))
			goto nomem;
		cap = in->cap_cases;
		if (grow((void **)&in->meta, &cap, in->n_cases + 1, sizeof(*in->meta), 64))
			goto nomem;
		in->cap_cases = cap;
	}
	idx = in->n_cases;
	c = &in->cases[idx];
	m = &in->meta[idx];
	memset(c, 0, sizeof(*c));
	memset(m, 0, sizeof(*m));
	if (!(c->case_ref = arena_strndup(&in->arena, ref, len)))
		goto nomem;
	c->visibility = VIS_NORMAL;
	c->op = OP_ADD;
	c->first_line = line;
	m->hash = h;
	m->ref_len = len;
	in->slots[slot] = (uint32_t)(idx + 1);
	in->n_cases++;
	return idx;
nomem:
	in->fatal = DECONF_E_NOMEM;
	return ADP_INPUT_NO_CASE;
}

static int64_t cf_get(const struct adp_case *c, enum case_field f)
{
	switch (f) {
	case CF_OP:
		return c->op;
	case CF_VISIBILITY:
		return c->visibility;
	case CF_CAUTION:
		return c->caution_flags;
	default:
		return c->expires_at;
	}
}

static void cf_put(struct adp_case *c, enum case_field f, int64_t v)
{
	switch (f) {
	case CF_OP:
		c->op = (int)v;
		break;
	case CF_VISIBILITY:
		c->visibility = (int)v;
		break;
	case CF_CAUTION:
		c->caution_flags = (uint32_t)v;
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
static void case_set(struct adp_input *in, size_t ci, unsigned line, enum case_field f,
		     int64_t v, const char *name, const char *text, size_t text_len)
{
	struct adp_case *c = &in->cases[ci];
	struct case_meta *m = &in->meta[ci];
	char b[SHOWN];

	if (m->line_cf[f]) {
		if (cf_get(c, f) != v)
			add_error(in, line, ci,
				  "%s %s conflicts with the value given on line %u for this case", name,
				  shown(b, sizeof(b), text, text_len), m->line_cf[f]);
		return;
	}
	cf_put(c, f, v);
	m->line_cf[f] = line;
}

static char **poc_slot(struct adp_case *c, enum poc_field f)
{
	switch (f) {
	case POC_NAME:
		return &c->poc_name;
	case POC_PHONE:
		return &c->poc_phone;
	case POC_EMAIL:
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

static void case_set_poc(struct adp_input *in, size_t ci, unsigned line, enum poc_field f,
			 const char *s, size_t len, const char *name)
{
	struct case_meta *m = &in->meta[ci];
	const char *why;
	char **slot;

	trim(&s, &len);
	if (!len)
		return;
	if ((why = text_problem(s, len, ADP_INPUT_POC_MAX))) {
		add_error(in, line, ci, "%s %s", name, why);
		return;
	}
	slot = poc_slot(&in->cases[ci], f);
	if (m->line_poc[f]) {
		if (strlen(*slot) != len || memcmp(*slot, s, len))
			add_error(in, line, ci,
				  "%s conflicts with the value given on line %u for this case", name,
				  m->line_poc[f]);
		return;
	}
	if (!(*slot = arena_strndup(&in->arena, s, len))) {
		in->fatal = DECONF_E_NOMEM;
		return;
	}
	m->line_poc[f] = line;
}

static void case_set_op(struct adp_input *in, size_t ci, unsigned line, const char *s,
			size_t len, const char *name)
{
	char b[SHOWN];
	int v;

	trim(&s, &len);
	if (!len)
		return;
	if ((v = parse_op(s, len)) < 0)
		add_error(in, line, ci,
			  "unknown %s %s (known: add, renew, remove, close_case, query)", name,
			  shown(b, sizeof(b), s, len));
	else
		case_set(in, ci, line, CF_OP, v, name, s, len);
}

static void case_set_visibility(struct adp_input *in, size_t ci, unsigned line, const char *s,
				size_t len, const char *name)
{
	char b[SHOWN];
	int v;

	trim(&s, &len);
	if (!len)
		return;
	if ((v = parse_visibility(s, len)) < 0)
		add_error(in, line, ci, "unknown %s %s (known: normal, restricted)", name,
			  shown(b, sizeof(b), s, len));
	else
		case_set(in, ci, line, CF_VISIBILITY, v, name, s, len);
}

static void case_set_caution(struct adp_input *in, size_t ci, unsigned line, const char *s,
			     size_t len, const char *name)
{
	const char *bad;
	size_t bad_len;
	uint32_t flags;
	char b[SHOWN];

	trim(&s, &len);
	if (!len)
		return;
	if (parse_caution(s, len, &flags, &bad, &bad_len))
		add_error(in, line, ci,
			  "unknown %s flag %s (known: armed, undercover, active_operation, "
			  "victim_at_risk, informant, court_sealed, none)",
			  name, shown(b, sizeof(b), bad, bad_len));
	else
		case_set(in, ci, line, CF_CAUTION, flags, name, s, len);
}

/* A time field as text; 0 = empty (unset), 1 = parsed into *ms, -1 = error reported. */
static int field_time(struct adp_input *in, size_t ci, unsigned line, const char *where,
		      const char *name, const char *s, size_t len, int64_t *ms)
{
	char why[160], b[SHOWN];

	trim(&s, &len);
	if (!len)
		return 0;
	if (memchr(s, '\0', len) || adp_input_parse_time(s, len, ms, why, sizeof(why))) {
		if (memchr(s, '\0', len))
			snprintf(why, sizeof(why), "contains a NUL byte");
		add_error(in, line, ci, "%s%s %s: %s", where, name, shown(b, sizeof(b), s, len), why);
		return -1;
	}
	return 1;
}

/* ------------------------------------------------------------- indicators */

struct raw_indicator {
	const char *type, *value, *qual; /* type, value NULL = key absent (JSON) */
	size_t type_len, value_len, qual_len;
	enum qual_kind qual_kind;
	int64_t valid_from, valid_to;
	int times_bad; /* a time was refused (reported): skip the window checks */
	int type_bad;  /* type / value had the wrong JSON type (reported) */
	int value_bad;
	int refused;   /* something else was refused (reported): check, don't add */
};

/* Check one indicator and add it to case ci; every problem is an error. */
static void add_indicator(struct adp_input *in, size_t ci, unsigned line, const char *where,
			  const struct raw_indicator *r)
{
	struct adp_case *c = &in->cases[ci];
	struct case_meta *m = &in->meta[ci];
	struct adp_indicator *ind;
	const char *why, *ts = r->type ? r->type : "", *qs = r->qual ? r->qual : "";
	size_t tl = r->type_len, ql = r->qual_len;
	int ok = !r->times_bad && !r->refused && !r->type_bad && !r->value_bad, type = 0;
	char b[SHOWN];

	trim(&ts, &tl);
	trim(&qs, &ql);
	if (r->type_bad) {
		/* reported */
	} else if (!tl) {
		add_error(in, line, ci, "%stype is %s", where, r->type ? "empty" : "missing");
		ok = 0;
	} else if (!(type = parse_type(ts, tl))) {
		add_error(in, line, ci,
			  "%sunknown indicator type %s (known: phone, email, ip, username, url, "
			  "domain, md5, sha1, sha256, btc, eth, imei, mac, vehicle)",
			  where, shown(b, sizeof(b), ts, tl));
		ok = 0;
	}
	if (r->value_bad) {
		/* reported */
	} else if (!r->value_len) {
		add_error(in, line, ci, "%svalue is %s", where, r->value ? "empty" : "missing");
		ok = 0;
	} else if (r->value_len > ADP_INPUT_VALUE_MAX) {
		add_error(in, line, ci, "%svalue is %zu bytes, longer than %d", where, r->value_len,
			  ADP_INPUT_VALUE_MAX);
		ok = 0;
	} else if (memchr(r->value, '\0', r->value_len)) {
		add_error(in, line, ci, "%svalue contains a NUL byte", where);
		ok = 0;
	}
	if (ql && (why = text_problem(qs, ql, ADP_INPUT_QUALIFIER_MAX))) {
		add_error(in, line, ci, "%squalifier %s", where, why);
		ok = 0;
	}
	if (type == TYPE_USERNAME) {
		if (!ql) {
			add_error(in, line, ci, "%sa username needs its platform (platform or qualifier)",
				  where);
			ok = 0;
		} else if (r->qual_kind == QK_JURISDICTION) {
			add_error(in, line, ci, "%sjurisdiction given for a username: use platform", where);
			ok = 0;
		}
	} else if (type == TYPE_VEHICLE) {
		if (!ql) {
			add_error(in, line, ci,
				  "%sa vehicle needs its jurisdiction (jurisdiction or qualifier)", where);
			ok = 0;
		} else if (r->qual_kind == QK_PLATFORM) {
			add_error(in, line, ci, "%splatform given for a vehicle: use jurisdiction", where);
			ok = 0;
		}
	} else if (type && ql) {
		add_error(in, line, ci,
			  "%sa qualifier is only for username (platform) and vehicle (jurisdiction)",
			  where);
		ok = 0;
	}
	if (!r->times_bad) {
		if (type == TYPE_IP && (!r->valid_from || !r->valid_to)) {
			add_error(in, line, ci,
				  "%san ip indicator needs valid_from and valid_to (addresses are "
				  "reassigned)",
				  where);
			ok = 0;
		} else if (r->valid_from && r->valid_to && r->valid_from > r->valid_to) {
			add_error(in, line, ci, "%svalid_from is after valid_to", where);
			ok = 0;
		}
	}
	if (!ok || in->fatal)
		return;
	if (grow((void **)&c->ind, &m->ind_cap, c->n_ind + 1, sizeof(*c->ind), 1))
		goto nomem;
	ind = &c->ind[c->n_ind];
	memset(ind, 0, sizeof(*ind));
	ind->type = type;
	if (!(ind->value = arena_strndup(&in->arena, r->value, r->value_len)))
		goto nomem;
	ind->value_len = r->value_len;
	if (ql && !(ind->qualifier = arena_strndup(&in->arena, qs, ql)))
		goto nomem;
	ind->valid_from = r->valid_from;
	ind->valid_to = r->valid_to;
	ind->line = line;
	c->n_ind++;
	return;
nomem:
	in->fatal = DECONF_E_NOMEM;
}

/* A row/line of case ci that carries no indicator (fine for close_case). */
static void note_blank(struct adp_input *in, size_t ci, unsigned line)
{
	if (!in->meta[ci].blank_line)
		in->meta[ci].blank_line = line;
}

/* -------------------------------------------------------------------- CSV */

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

static void csv_parser_reset(struct csv_state *st)
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
static const char *csv_get(const struct csv_state *st, enum col col, size_t *len)
{
	int i = st->col_idx[col];

	if (i < 0 || (size_t)i >= st->n_fld) {
		*len = 0;
		return "";
	}
	*len = st->fld[i].len;
	return (const char *)st->buf + st->fld[i].off;
}

static void csv_header(struct adp_input *in, unsigned line)
{
	static const enum col required[] = { COL_CASE_REF, COL_TYPE, COL_VALUE };
	struct csv_state *st = &in->csv;
	int known = 0;
	size_t before = in->err_total;
	char b[SHOWN];

	for (int k = 0; k < N_COLS; k++)
		st->col_idx[k] = -1;
	st->n_header = st->n_fld;
	for (size_t i = 0; i < st->n_fld; i++) {
		const char *name = (const char *)st->buf + st->fld[i].off;
		size_t len = st->fld[i].len;

		trim(&name, &len);
		for (int k = 0; k < N_COLS; k++)
			if (word_eq(name, len, col_names[k])) {
				known++;
				break;
			}
	}
	if (!known) {
		const char *first = (const char *)st->buf + (st->n_fld ? st->fld[0].off : 0);
		size_t len = st->n_fld ? st->fld[0].len : 0;

		add_error(in, line, ADP_INPUT_NO_CASE,
			  "no header row (first column %s): the first row must name the columns "
			  "(case_ref,type,value,...)",
			  shown(b, sizeof(b), first, len));
		st->dead = 1;
		return;
	}
	for (size_t i = 0; i < st->n_fld; i++) {
		const char *name = (const char *)st->buf + st->fld[i].off;
		size_t len = st->fld[i].len;
		int col = -1;

		trim(&name, &len);
		for (int k = 0; k < N_COLS && col < 0; k++)
			if (word_eq(name, len, col_names[k]))
				col = k;
		if (!len)
			add_error(in, line, ADP_INPUT_NO_CASE, "column %zu has no name", i + 1);
		else if (col < 0)
			add_error(in, line, ADP_INPUT_NO_CASE,
				  "unknown column %s (known: case_ref, type, value, qualifier, "
				  "platform, jurisdiction, valid_from, valid_to, expires_at, "
				  "visibility, caution, poc_name, poc_phone, poc_email, poc_unit, op)",
				  shown(b, sizeof(b), name, len));
		else if (st->col_idx[col] >= 0)
			add_error(in, line, ADP_INPUT_NO_CASE,
				  "column %s appears twice (columns %d and %zu)", col_names[col],
				  st->col_idx[col] + 1, i + 1);
		else
			st->col_idx[col] = (int)i;
	}
	for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
		if (st->col_idx[required[k]] < 0)
			add_error(in, line, ADP_INPUT_NO_CASE, "missing required column %s",
				  col_names[required[k]]);
	/* Columns could be misread: nothing after a bad header is trusted. */
	st->dead = in->err_total != before;
}

static void csv_row(struct adp_input *in, unsigned line)
{
	struct csv_state *st = &in->csv;
	struct raw_indicator r;
	const char *ref, *s, *vf, *vt;
	size_t ref_len, len, vf_len, vt_len;
	size_t ci;
	int nq = 0;
	static const struct {
		enum col col;
		enum qual_kind kind;
	} quals[] = {
		{ COL_QUALIFIER, QK_QUALIFIER },
		{ COL_PLATFORM, QK_PLATFORM },
		{ COL_JURISDICTION, QK_JURISDICTION },
	};

	ref = csv_get(st, COL_CASE_REF, &ref_len);
	if (st->n_fld != st->n_header) {
		/* columns may be shifted: still invalidate the case if it is readable */
		ci = case_get(in, ref, ref_len, line, 1);
		add_error(in, line, ci, "%zu fields, but the header has %zu", st->n_fld,
			  st->n_header);
		return;
	}
	if ((ci = case_get(in, ref, ref_len, line, 0)) == ADP_INPUT_NO_CASE)
		return;

	s = csv_get(st, COL_OP, &len);
	case_set_op(in, ci, line, s, len, "op");
	s = csv_get(st, COL_VISIBILITY, &len);
	case_set_visibility(in, ci, line, s, len, "visibility");
	s = csv_get(st, COL_CAUTION, &len);
	case_set_caution(in, ci, line, s, len, "caution");
	s = csv_get(st, COL_EXPIRES_AT, &len);
	{
		int64_t ms;

		if (field_time(in, ci, line, "", "expires_at", s, len, &ms) > 0)
			case_set(in, ci, line, CF_EXPIRES, ms, "expires_at", s, len);
	}
	s = csv_get(st, COL_POC_NAME, &len);
	case_set_poc(in, ci, line, POC_NAME, s, len, "poc_name");
	s = csv_get(st, COL_POC_PHONE, &len);
	case_set_poc(in, ci, line, POC_PHONE, s, len, "poc_phone");
	s = csv_get(st, COL_POC_EMAIL, &len);
	case_set_poc(in, ci, line, POC_EMAIL, s, len, "poc_email");
	s = csv_get(st, COL_POC_UNIT, &len);
	case_set_poc(in, ci, line, POC_UNIT, s, len, "poc_unit");

	memset(&r, 0, sizeof(r));
	r.type = csv_get(st, COL_TYPE, &r.type_len);
	r.value = csv_get(st, COL_VALUE, &r.value_len);
	for (size_t k = 0; k < sizeof(quals) / sizeof(quals[0]); k++) {
		s = csv_get(st, quals[k].col, &len);
		trim(&s, &len);
		if (!len)
			continue;
		if (nq++) {
			add_error(in, line, ci, "give only one of qualifier, platform, jurisdiction");
			return;
		}
		r.qual = s;
		r.qual_len = len;
		r.qual_kind = quals[k].kind;
	}
	vf = csv_get(st, COL_VALID_FROM, &vf_len);
	vt = csv_get(st, COL_VALID_TO, &vt_len);
	if (field_time(in, ci, line, "", "valid_from", vf, vf_len, &r.valid_from) < 0)
		r.times_bad = 1;
	if (field_time(in, ci, line, "", "valid_to", vt, vt_len, &r.valid_to) < 0)
		r.times_bad = 1;

	s = r.type;
	len = r.type_len;
	trim(&s, &len);
	if (!len && !r.value_len) {
		/* a close_case row; checked once the case's op is known */
		if (r.qual_len || vf_len || vt_len)
			add_error(in, line, ci, "type and value are empty but the indicator has "
						"other fields");
		note_blank(in, ci, line);
		return;
	}
	add_indicator(in, ci, line, "", &r);
}

/* A record that could not be parsed; line is where it went wrong. */
static void csv_broken(struct adp_input *in, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void csv_broken(struct adp_input *in, unsigned line, const char *fmt, ...)
{
	struct csv_state *st = &in->csv;
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

		in->rows++;
		ref = csv_get(st, COL_CASE_REF, &len);
		if (len)
			ci = case_get(in, ref, len, line, 1);
	}
	add_error(in, line, ci, "%s", reason);
}

static void csv_cb_field(void *s, size_t len, void *data)
{
	struct adp_input *in = data;
	struct csv_state *st = &in->csv;

	if (in->fatal)
		return;
	/* +1: the buffer exists even when every field is empty (no NULL + 0) */
	if (grow((void **)&st->fld, &st->fld_cap, st->n_fld + 1, sizeof(*st->fld), 32) ||
	    grow((void **)&st->buf, &st->buf_cap, st->buf_len + len + 1, 1, 4096)) {
		in->fatal = DECONF_E_NOMEM;
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
	struct adp_input *in = data;
	struct csv_state *st = &in->csv;

	(void)c;
	st->row_ended = 1;
	if (!in->fatal) {
		if (!st->header_done) {
			st->header_done = 1;
			csv_header(in, st->row_line);
		} else if (!st->dead) {
			in->rows++;
			csv_row(in, st->row_line);
		}
	}
	st->n_fld = 0;
	st->buf_len = 0;
}

static int csv_feed(struct adp_input *in, const unsigned char *p, size_t len)
{
	struct csv_state *st = &in->csv;

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
			st->line_content = !is_blank(p[i]);
		if (!st->skip_line) {
			size_t n;

			st->row_bytes += seg;
			n = csv_parse(&st->p, p, seg, csv_cb_field, csv_cb_row, in);
			if (in->fatal)
				return in->fatal;
			if (n < seg) {
				if (csv_error(&st->p) != CSV_EPARSE)
					return in->fatal = DECONF_E_NOMEM;
				if (p[n] == '"')
					csv_broken(in, st->line,
						   "stray quote: quote the whole field and double each "
						   "quote inside it (\"a \"\"b\"\" c\")");
				else
					csv_broken(in, st->line, "text after the closing quote of a field");
				csv_parser_reset(st);
				st->skip_line = 1;
			} else if (!st->row_ended && (st->row_open || st->line_content) &&
				   st->row_bytes > ADP_INPUT_LINE_MAX) {
				csv_broken(in, st->row_line,
					   "record longer than 1 MiB (an unterminated quote?)");
				csv_parser_reset(st);
				st->skip_line = 1;
			}
			if (in->fatal)
				return in->fatal;
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

static void csv_finish(struct adp_input *in)
{
	struct csv_state *st = &in->csv;

	if (!st->skip_line && csv_fini(&st->p, csv_cb_field, csv_cb_row, in))
		csv_broken(in, st->row_line,
			   "unterminated quoted field in the record starting on this line");
	if (!st->header_done && !in->fatal)
		add_error(in, 1, ADP_INPUT_NO_CASE,
			  "empty file: the first row must name the columns (case_ref,type,value,...)");
}

/* ------------------------------------------------------------- JSON Lines */

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
static int jtime(struct adp_input *in, size_t ci, unsigned line, const char *where,
		 const char *name, const json_t *v, int64_t *ms)
{
	const char *s;
	size_t len;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (x < 0 || x > MAX_SECONDS) {
			add_error(in, line, ci, "%s%s %lld: out of range: Unix time in seconds expected",
				  where, name, (long long)x);
			return -1;
		}
		*ms = (int64_t)x * 1000;
		return 1;
	}
	if (jstr(v, &s, &len) < 0) {
		add_error(in, line, ci, "%s%s must be a string or an integer (Unix seconds)", where,
			  name);
		return -1;
	}
	return field_time(in, ci, line, where, name, s, len, ms);
}

/* A string-valued key: 1 = *s set, 0 = absent/null, -1 = wrong type (reported). */
static int jstr_field(struct adp_input *in, size_t ci, unsigned line, const char *where,
		      const char *name, const json_t *v, const char **s, size_t *len)
{
	int r = jstr(v, s, len);

	if (r < 0)
		add_error(in, line, ci, "%s%s must be a string", where, name);
	return r;
}

static void jsonl_indicator(struct adp_input *in, size_t ci, unsigned line, size_t idx,
			    json_t *obj)
{
	static const struct {
		const char *key;
		enum qual_kind kind;
	} quals[] = {
		{ "qualifier", QK_QUALIFIER },
		{ "platform", QK_PLATFORM },
		{ "jurisdiction", QK_JURISDICTION },
	};
	struct raw_indicator r;
	char where[48], b[SHOWN];
	const char *key;
	json_t *v;
	int nq = 0;

	snprintf(where, sizeof(where), "indicators[%zu]: ", idx);
	if (!json_is_object(obj)) {
		add_error(in, line, ci, "%sexpected an object {\"type\": ..., \"value\": ...}", where);
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
			if (jtime(in, ci, line, where, "valid_from", v, &r.valid_from) < 0)
				r.times_bad = 1;
		} else if (!strcmp(key, "valid_to")) {
			known = 1;
			if (jtime(in, ci, line, where, "valid_to", v, &r.valid_to) < 0)
				r.times_bad = 1;
		}
		if (sp) {
			if (jstr_field(in, ci, line, where, key, v, sp, lp) < 0)
				*bad = 1;
			continue;
		}
		for (size_t k = 0; !known && k < sizeof(quals) / sizeof(quals[0]); k++) {
			if (strcmp(key, quals[k].key))
				continue;
			known = 1;
			if ((got = jstr_field(in, ci, line, where, key, v, &s, &len)) < 0) {
				r.refused = 1;
			} else if (got > 0 && nq++) {
				add_error(in, line, ci,
					  "%sgive only one of qualifier, platform, jurisdiction", where);
				r.refused = 1;
			} else if (got > 0) {
				r.qual = s;
				r.qual_len = len;
				r.qual_kind = quals[k].kind;
			}
		}
		if (!known) {
			add_error(in, line, ci,
				  "%sunknown key %s (known: type, value, qualifier, platform, "
				  "jurisdiction, valid_from, valid_to)",
				  where, shown(b, sizeof(b), key, strlen(key)));
			r.refused = 1;
		}
	}
	add_indicator(in, ci, line, where, &r);
}

static void jsonl_poc(struct adp_input *in, size_t ci, unsigned line, json_t *poc)
{
	static const char *const keys[N_POC] = { "name", "phone", "email", "unit" };
	static const char *const names[N_POC] = { "poc.name", "poc.phone", "poc.email",
						  "poc.unit" };
	const char *key;
	char b[SHOWN];
	json_t *v;

	if (json_is_null(poc))
		return;
	if (!json_is_object(poc)) {
		add_error(in, line, ci, "poc must be an object {\"name\", \"phone\", \"email\", \"unit\"}");
		return;
	}
	json_object_foreach(poc, key, v) {
		int f = -1;
		const char *s;
		size_t len;

		for (int k = 0; k < N_POC; k++)
			if (!strcmp(key, keys[k]))
				f = k;
		if (f < 0) {
			add_error(in, line, ci, "poc: unknown key %s (known: name, phone, email, unit)",
				  shown(b, sizeof(b), key, strlen(key)));
			continue;
		}
		if (jstr_field(in, ci, line, "", names[f], v, &s, &len) > 0)
			case_set_poc(in, ci, line, (enum poc_field)f, s, len, names[f]);
	}
}

static void jsonl_caution(struct adp_input *in, size_t ci, unsigned line, json_t *v)
{
	const char *s;
	size_t len, i;
	uint32_t flags = 0;
	char b[SHOWN];
	json_t *e;

	if (json_is_null(v))
		return;
	if (jstr(v, &s, &len) > 0) {
		case_set_caution(in, ci, line, s, len, "caution");
		return;
	}
	if (!json_is_array(v)) {
		add_error(in, line, ci, "caution must be an array of strings, e.g. [\"armed\"]");
		return;
	}
	json_array_foreach(v, i, e) {
		int f;

		if (jstr(e, &s, &len) <= 0) {
			add_error(in, line, ci, "caution[%zu] must be a string", i);
			return;
		}
		if ((f = parse_caution_word(s, len)) < 0) {
			add_error(in, line, ci,
				  "unknown caution flag %s (known: armed, undercover, active_operation, "
				  "victim_at_risk, informant, court_sealed, none)",
				  shown(b, sizeof(b), s, len));
			return;
		}
		flags |= (uint32_t)f;
	}
	{
		/* the value as text for a conflict message */
		char text[SHOWN];
		size_t o = 0;

		text[0] = '\0';
		json_array_foreach(v, i, e) {
			int n = snprintf(text + o, sizeof(text) - o, "%s%s", i ? "|" : "",
					 json_string_value(e));

			if (n < 0 || (size_t)n >= sizeof(text) - o)
				break;
			o += (size_t)n;
		}
		case_set(in, ci, line, CF_CAUTION, flags, "caution", text, o);
	}
}

static void jsonl_line(struct adp_input *in, unsigned line, const char *s, size_t n)
{
	json_error_t jerr;
	json_t *root, *v, *inds = NULL;
	const char *key, *ref;
	size_t ref_len, i, ci;
	char b[SHOWN];
	int r, inds_bad = 0;

	if (n && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n && is_blank((unsigned char)s[i]); i++)
		;
	if (i == n)
		return; /* blank line */
	in->rows++;
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
		add_error(in, line, ADP_INPUT_NO_CASE, "not valid JSON: %s at column %d%s", jerr.text,
			  jerr.column, hint);
		return;
	}
	if (!json_is_object(root)) {
		add_error(in, line, ADP_INPUT_NO_CASE,
			  "expected a JSON object (one case per line), not %s",
			  json_is_array(root) ? "an array" : "a scalar");
		goto done;
	}
	r = jstr(json_object_get(root, "case_ref"), &ref, &ref_len);
	if (r <= 0) {
		add_error(in, line, ADP_INPUT_NO_CASE,
			  r < 0 ? "case_ref must be a string" : "case_ref is missing");
		goto done;
	}
	if ((ci = case_get(in, ref, ref_len, line, 0)) == ADP_INPUT_NO_CASE)
		goto done;

	json_object_foreach(root, key, v) {
		const char *t;
		size_t tl;

		if (!strcmp(key, "case_ref")) {
			continue;
		} else if (!strcmp(key, "op")) {
			if (jstr_field(in, ci, line, "", "op", v, &t, &tl) > 0)
				case_set_op(in, ci, line, t, tl, "op");
		} else if (!strcmp(key, "visibility")) {
			if (jstr_field(in, ci, line, "", "visibility", v, &t, &tl) > 0)
				case_set_visibility(in, ci, line, t, tl, "visibility");
		} else if (!strcmp(key, "caution")) {
			jsonl_caution(in, ci, line, v);
		} else if (!strcmp(key, "expires_at")) {
			int64_t ms;

			if (jtime(in, ci, line, "", "expires_at", v, &ms) > 0) {
				char text[32];

				if (json_is_integer(v))
					snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
				else
					snprintf(text, sizeof(text), "%s", json_string_value(v));
				case_set(in, ci, line, CF_EXPIRES, ms, "expires_at", text, strlen(text));
			}
		} else if (!strcmp(key, "poc")) {
			jsonl_poc(in, ci, line, v);
		} else if (!strcmp(key, "indicators")) {
			if (json_is_array(v)) {
				inds = v;
			} else if (!json_is_null(v)) {
				add_error(in, line, ci, "indicators must be an array of objects");
				inds_bad = 1;
			}
		} else {
			add_error(in, line, ci,
				  "unknown key %s (known: case_ref, op, poc, visibility, caution, "
				  "expires_at, indicators)",
				  shown(b, sizeof(b), key, strlen(key)));
		}
	}
	if (inds_bad)
		; /* reported */
	else if (!inds || !json_array_size(inds))
		note_blank(in, ci, line); /* checked once the case's op is known */
	else
		json_array_foreach(inds, i, v)
			jsonl_indicator(in, ci, line, i, v);
done:
	json_decref(root);
}

static int jsonl_feed(struct adp_input *in, const unsigned char *p, size_t len)
{
	struct jsonl_state *st = &in->jl;

	while (len) {
		const unsigned char *nl = memchr(p, '\n', len);
		size_t seg = nl ? (size_t)(nl - p) : len;

		if (!st->too_long) {
			if (nl && !st->len && seg <= ADP_INPUT_LINE_MAX) {
				jsonl_line(in, st->line, (const char *)p, seg); /* in place */
			} else if (st->len + seg > ADP_INPUT_LINE_MAX) {
				st->too_long = 1;
				st->len = 0;
			} else {
				if (grow((void **)&st->buf, &st->cap, st->len + seg, 1, 4096))
					return in->fatal = DECONF_E_NOMEM;
				memcpy(st->buf + st->len, p, seg);
				st->len += seg;
				if (nl) {
					jsonl_line(in, st->line, st->buf, st->len);
					st->len = 0;
				}
			}
		}
		if (nl) {
			if (st->too_long) {
				in->rows++;
				add_error(in, st->line, ADP_INPUT_NO_CASE, "line longer than 1 MiB");
				st->too_long = 0;
			}
			st->line++;
			seg++;
		}
		if (in->fatal)
			return in->fatal;
		p += seg;
		len -= seg;
	}
	return 0;
}

static void jsonl_finish(struct adp_input *in)
{
	struct jsonl_state *st = &in->jl;

	if (st->too_long) {
		in->rows++;
		add_error(in, st->line, ADP_INPUT_NO_CASE, "line longer than 1 MiB");
	} else if (st->len) {
		jsonl_line(in, st->line, st->buf, st->len);
	}
	st->len = 0;
}

/* ------------------------------------------------------------------- feed */

static int feed_format(struct adp_input *in, const unsigned char *p, size_t len)
{
	return in->fmt == ADP_FORMAT_CSV ? csv_feed(in, p, len) : jsonl_feed(in, p, len);
}

static int feed_body(struct adp_input *in, const unsigned char *p, size_t len)
{
	if (in->fmt == ADP_FORMAT_AUTO) {
		size_t i = 0;
		int rc;

		while (i < len && is_blank(p[i]))
			i++;
		if (i == len && in->sniff_len + len <= ADP_INPUT_LINE_MAX) {
			if (!len)
				return 0;
			if (!(in->sniff = realloc(in->sniff, in->sniff_len + len)))
				return in->fatal = DECONF_E_NOMEM;
			memcpy(in->sniff + in->sniff_len, p, len);
			in->sniff_len += len;
			return 0;
		}
		in->fmt = i < len && (p[i] == '{' || p[i] == '[') ? ADP_FORMAT_JSONL : ADP_FORMAT_CSV;
		if (in->sniff_len) {
			rc = feed_format(in, in->sniff, in->sniff_len);
			free(in->sniff);
			in->sniff = NULL;
			in->sniff_len = 0;
			if (rc)
				return rc;
		}
	}
	return feed_format(in, p, len);
}

int adp_input_new(struct adp_input **out, enum adp_format fmt, size_t max_errors)
{
	struct adp_input *in;

	*out = NULL;
	if (fmt != ADP_FORMAT_AUTO && fmt != ADP_FORMAT_CSV && fmt != ADP_FORMAT_JSONL)
		return DECONF_E_INVAL;
	if (!(in = calloc(1, sizeof(*in))))
		return DECONF_E_NOMEM;
	in->fmt = fmt;
	in->max_errors = max_errors;
	in->csv.at_line_start = 1;
	csv_parser_reset(&in->csv);
	in->jl.line = 1;
	*out = in;
	return DECONF_OK;
}

int adp_input_feed(struct adp_input *in, const void *data, size_t len)
{
	const unsigned char *p = data;
	int rc;

	if (in->fatal)
		return in->fatal;
	if (in->finished)
		return DECONF_E_INVAL;
	/* a UTF-8 byte order mark at the very start is dropped, even split */
	while (!in->bom_done && len) {
		if (*p == BOM[in->bom_seen]) {
			p++, len--;
			if (++in->bom_seen == sizeof(BOM))
				in->bom_done = 1;
			continue;
		}
		in->bom_done = 1;
		if (in->bom_seen && (rc = feed_body(in, BOM, in->bom_seen)))
			return rc;
	}
	return len ? feed_body(in, p, len) : 0;
}

int adp_input_finish(struct adp_input *in)
{
	if (in->fatal || in->finished)
		return in->fatal;
	if (!in->bom_done) {
		in->bom_done = 1;
		if (in->bom_seen && feed_body(in, BOM, in->bom_seen))
			return in->fatal;
	}
	if (in->fmt == ADP_FORMAT_CSV)
		csv_finish(in);
	else if (in->fmt == ADP_FORMAT_JSONL)
		jsonl_finish(in);
	/* else AUTO with nothing but blanks: an empty input, nothing to say */
	if (in->fatal)
		return in->fatal;

	/* checks that need the whole case */
	for (size_t i = 0; i < in->n_cases; i++) {
		const struct case_meta *m = &in->meta[i];

		if (m->blank_line && in->cases[i].op != OP_CLOSE_CASE)
			add_error(in, m->blank_line, i,
				  in->fmt == ADP_FORMAT_CSV
					  ? "type and value are empty (allowed only when op is close_case)"
					  : "no indicators (allowed only when op is close_case)");
	}
	if (in->fatal)
		return in->fatal;
	if (in->n_errs > 1)
		qsort(in->errs, in->n_errs, sizeof(*in->errs), err_cmp);

	/* parse-time buffers are no longer needed */
	if (in->csv.p_live)
		csv_free(&in->csv.p);
	in->csv.p_live = 0;
	free(in->csv.buf);
	free(in->csv.fld);
	free(in->jl.buf);
	free(in->sniff);
	in->csv.buf = NULL;
	in->csv.fld = NULL;
	in->jl.buf = NULL;
	in->sniff = NULL;
	in->finished = 1;
	return 0;
}

void adp_input_free(struct adp_input *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n_cases; i++)
		free(in->cases[i].ind);
	free(in->cases);
	free(in->meta);
	free(in->slots);
	free(in->errs);
	if (in->csv.p_live)
		csv_free(&in->csv.p);
	free(in->csv.buf);
	free(in->csv.fld);
	free(in->jl.buf);
	free(in->sniff);
	arena_free(&in->arena);
	free(in);
}

/* -------------------------------------------------------------- whole file */

int adp_input_read(struct adp_input **out, const char *path, enum adp_format fmt,
		   size_t max_errors, adp_progress_fn *progress, void *opaque, char *errstr,
		   size_t errstr_size)
{
	int is_stdin = !strcmp(path, "-"), fd = -1, rc;
	const char *name = is_stdin ? "standard input" : path;
	struct adp_input *in = NULL;
	unsigned char *buf = NULL;
	uint64_t total = 0, done = 0;
	struct stat sb;

	*out = NULL;
	if (fmt == ADP_FORMAT_AUTO && !is_stdin &&
	    (fmt = adp_format_from_path(path)) == ADP_FORMAT_AUTO)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "%s: unknown file extension: name it .csv or .jsonl, or give "
				      "the format (csv or jsonl)",
				      path);
	if (is_stdin) {
		fd = STDIN_FILENO;
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = errno;
		return deconf_err_set(errstr, errstr_size, rc, "%s: %s", path, strerror(rc));
	}
	if (fstat(fd, &sb) == 0) {
		if (S_ISDIR(sb.st_mode)) {
			rc = deconf_err_set(errstr, errstr_size, EISDIR, "%s: %s", name,
					    strerror(EISDIR));
			goto fail;
		}
		if (S_ISREG(sb.st_mode))
			total = (uint64_t)sb.st_size;
	}
	if (!(buf = malloc(READ_BLOCK)) || (rc = adp_input_new(&in, fmt, max_errors))) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "%s: out of memory", name);
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf, READ_BLOCK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = errno;
			deconf_err_set(errstr, errstr_size, rc, "%s: %s", name, strerror(rc));
			goto fail;
		}
		if (n == 0)
			break;
		if ((rc = adp_input_feed(in, buf, (size_t)n))) {
			deconf_err_set(errstr, errstr_size, rc, "%s: out of memory", name);
			goto fail;
		}
		done += (uint64_t)n;
		if (progress)
			progress(opaque, done, total, in->rows);
	}
	if ((rc = adp_input_finish(in))) {
		deconf_err_set(errstr, errstr_size, rc, "%s: out of memory", name);
		goto fail;
	}
	if (progress)
		progress(opaque, done, total, in->rows);
	if (!is_stdin)
		close(fd);
	free(buf);
	*out = in;
	return DECONF_OK;
fail:
	if (fd >= 0 && !is_stdin)
		close(fd);
	free(buf);
	adp_input_free(in);
	return rc;
}

/* ---------------------------------------------------------------- results */

enum adp_format adp_input_format(const struct adp_input *in)
{
	return in->fmt;
}

uint64_t adp_input_rows(const struct adp_input *in)
{
	return in->rows;
}

size_t adp_input_case_count(const struct adp_input *in)
{
	return in->n_cases;
}

const struct adp_case *adp_input_case(const struct adp_input *in, size_t i)
{
	return i < in->n_cases ? &in->cases[i] : NULL;
}

size_t adp_input_case_find(const struct adp_input *in, const char *case_ref, size_t len)
{
	uint64_t h = hash_bytes(case_ref, len);

	return in->n_slots ? slot_find(in, h, case_ref, len, NULL) : ADP_INPUT_NO_CASE;
}

size_t adp_input_error_count(const struct adp_input *in)
{
	return in->n_errs;
}

size_t adp_input_error_total(const struct adp_input *in)
{
	return in->err_total;
}

const struct adp_input_error *adp_input_error_at(const struct adp_input *in, size_t i)
{
	return i < in->n_errs ? &in->errs[i].e : NULL;
}

/* ---------------------------------------------------------------- helpers */

const char *adp_format_name(enum adp_format fmt)
{
	switch (fmt) {
	case ADP_FORMAT_CSV:
		return "csv";
	case ADP_FORMAT_JSONL:
		return "jsonl";
	default:
		return "auto";
	}
}

int adp_format_parse(const char *name, enum adp_format *out)
{
	size_t len = strlen(name);

	if (word_eq(name, len, "csv"))
		*out = ADP_FORMAT_CSV;
	else if (word_eq(name, len, "jsonl") || word_eq(name, len, "ndjson") ||
		 word_eq(name, len, "json"))
		*out = ADP_FORMAT_JSONL;
	else if (word_eq(name, len, "auto"))
		*out = ADP_FORMAT_AUTO;
	else
		return DECONF_E_INVAL;
	return DECONF_OK;
}

enum adp_format adp_format_from_path(const char *path)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

	if (!dot || (slash && dot < slash) || dot == path || dot[-1] == '/')
		return ADP_FORMAT_AUTO;
	dot++;
	if (!strcasecmp(dot, "csv"))
		return ADP_FORMAT_CSV;
	if (!strcasecmp(dot, "jsonl") || !strcasecmp(dot, "ndjson") || !strcasecmp(dot, "json"))
		return ADP_FORMAT_JSONL;
	return ADP_FORMAT_AUTO;
}
