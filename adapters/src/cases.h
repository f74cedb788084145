/*
 * cases.h — the case model the input readers fill, and its checks.
 *
 * A reader (csvread.c, jsonlread.c) only splits its format into fields;
 * everything about what a case may hold lives here, so both formats give
 * the same messages: the case table (a case_ref names one case wherever its
 * rows are; found again through a hash table), the case-level fields merged
 * across rows with a conflict check, every indicator checked before it is
 * added, and the per-line error list ("line N: reason").
 *
 * Strings of the result (case refs, values, qualifiers, contacts, error
 * messages) live in an arena freed with the cases, so a million-row file
 * costs a few hundred large allocations, not millions.
 *
 * Out of memory sets cs->fatal to DECONF_E_NOMEM; from then on every call
 * does nothing, and the owner can only free. Not thread safe.
 */
#ifndef ADP_CASES_H
#define ADP_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "input.h"

struct adp_case_meta;
struct adp_cases_err;
struct adp_cases_chunk;

/*
 * Readers read fatal and err_total, and count rows (CSV records after the
 * header, non-blank JSON lines) for progress. The rest is the module's.
 */
struct adp_cases {
	struct adp_case *v;          /* cases in first-appearance order */
	struct adp_case_meta *meta;  /* what merging needs, parallel to v */
	size_t n, cap;
	uint32_t *slots;             /* open addressing: case index + 1, 0 = empty */
	size_t n_slots;              /* a power of two, at least twice n */
	struct adp_cases_err *errs;
	size_t n_errs, cap_errs, err_total, max_errors;
	struct adp_cases_chunk *arena;
	uint64_t rows;
	int fatal;                   /* DECONF_E_NOMEM once memory ran out */
};

/* Case-level scalar fields, merged across rows with a conflict check. */
enum adp_case_field {
	ADP_CF_OP,
	ADP_CF_VISIBILITY,
	ADP_CF_CAUTION,
	ADP_CF_EXPIRES,
	ADP_CF_EVENT_KIND,
	ADP_N_CF
};

enum adp_poc_field { ADP_POC_NAME, ADP_POC_PHONE, ADP_POC_EMAIL, ADP_POC_UNIT, ADP_N_POC };

/* Which key named an indicator's qualifier (they are aliases with a meaning). */
enum adp_qual_kind { ADP_QK_NONE, ADP_QK_QUALIFIER, ADP_QK_PLATFORM, ADP_QK_JURISDICTION };

/* One indicator as a reader found it; strings are borrowed for the call. */
struct adp_raw_indicator {
	const char *type, *value, *qual; /* type, value NULL = key absent (JSON) */
	size_t type_len, value_len, qual_len;
	enum adp_qual_kind qual_kind;
	int64_t valid_from, valid_to;
	int times_bad; /* a time was refused (reported): skip the window checks */
	int type_bad;  /* type / value had the wrong JSON type (reported) */
	int value_bad;
	int refused;   /* something else was refused (reported): check, don't add */
	/* an event's place (type "event"): its centre and radius */
	double lat, lon, radius_m;
	int has_lat, has_lon, has_radius;
	int place_bad; /* a coordinate was refused (reported) */
};

/* An empty model keeping at most max_errors errors (0 = all). Returns 0 or
 * DECONF_E_NOMEM; the caller frees *out with adp_cases_free. */
int adp_cases_new(struct adp_cases **out, size_t max_errors);

/* Frees the cases, their strings and the errors. NULL-safe. */
void adp_cases_free(struct adp_cases *cs);

/* Record an error of line ("line N: " + the formatted reason); it
 * invalidates case ci unless ci is ADP_INPUT_NO_CASE. Always counted. */
void adp_cases_error(struct adp_cases *cs, unsigned line, size_t ci, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The index of the case with this ref, created on first sight. An unusable
 * ref is an error of line (unless quiet) and gives ADP_INPUT_NO_CASE.
 */
size_t adp_cases_get(struct adp_cases *cs, const void *ref, size_t len, unsigned line,
		     int quiet);

/* Index of the case with this ref, or ADP_INPUT_NO_CASE. */
size_t adp_cases_find(const struct adp_cases *cs, const void *ref, size_t len);

/*
 * Case field f is v on line. Given on an earlier row or line with another
 * value, it is a conflict: an error of this line. name and text (the value
 * as written) are for the message.
 */
void adp_cases_set(struct adp_cases *cs, size_t ci, unsigned line, enum adp_case_field f,
		   int64_t v, const char *name, const char *text, size_t text_len);

/*
 * The field named name of case ci as text (s, len), checked and merged:
 * blank means "not given". op, visibility and caution are keywords in any
 * ASCII case (caution: words separated by '|', ';' or ',').
 */
void adp_cases_set_poc(struct adp_cases *cs, size_t ci, unsigned line, enum adp_poc_field f,
		       const char *s, size_t len, const char *name);
void adp_cases_set_op(struct adp_cases *cs, size_t ci, unsigned line, const char *s, size_t len,
		      const char *name);
void adp_cases_set_visibility(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			      size_t len, const char *name);
void adp_cases_set_caution(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			   size_t len, const char *name);

/* The case narrows its agency's sharing scope (disclose_to: deconf/scope.h's
 * text form, e.g. "country:US"); given on several rows, it must agree. */
void adp_cases_set_scope(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			 size_t len, const char *name);

/* The case is an event of this kind (event_kind: search_warrant, arrest,
 * undercover_meet, surveillance, knock_and_talk, other). */
void adp_cases_set_event_kind(struct adp_cases *cs, size_t ci, unsigned line, const char *s,
			      size_t len, const char *name);

/*
 * A number field (a coordinate, a radius) as text: 0 = blank (unset), 1 =
 * parsed into *out (a finite decimal number), -1 = refused (an error of
 * line, prefixed by where and name).
 */
int adp_cases_number(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		     const char *name, const char *s, size_t len, double *out);

/*
 * Add an indicator that is already checked (an event's cell, made here,
 * not read): value and qualifier are copied. 0, or DECONF_E_NOMEM (then
 * cs->fatal is set).
 */
int adp_cases_add_checked(struct adp_cases *cs, size_t ci, unsigned line, int type,
			  const char *value, size_t value_len, const char *qualifier,
			  int64_t valid_from, int64_t valid_to);

/* Where case ci's event was given (0: none yet); marks it given on line. */
unsigned adp_cases_event_line(const struct adp_cases *cs, size_t ci);
void adp_cases_event_given(struct adp_cases *cs, size_t ci, unsigned line);

/* Once the whole input is read: a case with an event holds nothing else
 * and has its event_kind; an event_kind without an event (but to close
 * it) is an error; an event's entries expire when its window ends unless
 * expires_at says otherwise. */
void adp_cases_check_events(struct adp_cases *cs);

/* The flag of one caution word (0 for "none"), -1 if unknown. */
int adp_cases_caution_word(const char *s, size_t len);

/*
 * A time field of case ci as text: 0 = blank (unset), 1 = parsed into *ms,
 * -1 = refused (an error of line, prefixed by where and name).
 */
int adp_cases_time(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
		   const char *name, const char *s, size_t len, int64_t *ms);

/* Check one indicator and add it to case ci; every problem is an error of
 * line, prefixed by where ("" or "indicators[2]: "). */
void adp_cases_add_indicator(struct adp_cases *cs, size_t ci, unsigned line, const char *where,
			     const struct adp_raw_indicator *r);

/* A row/line of case ci that carries no indicator (fine for close_case). */
void adp_cases_note_blank(struct adp_cases *cs, size_t ci, unsigned line);

/* Once the whole input is read: each case with a blank row that is not a
 * close_case gets the error reason, on its first blank row. */
void adp_cases_check_blank(struct adp_cases *cs, const char *reason);

/* Sort the errors kept by line (stable). */
void adp_cases_sort_errors(struct adp_cases *cs);

/* Error i kept, or NULL. Borrowed, valid until adp_cases_free. */
const struct adp_input_error *adp_cases_error_at(const struct adp_cases *cs, size_t i);

#endif
