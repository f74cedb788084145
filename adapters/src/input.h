/*
 * input.h — the adapter's input readers: CSV and JSON Lines case files.
 *
 * An agency hands the adapter a file of cases and their indicators, either
 * CSV (one row per indicator, columns named by a header row) or JSON Lines
 * (one case object per line). The reader turns it into cases, each with its
 * indicators still raw (normalization and hashing happen later), and a list
 * of per-line errors. adapters/INPUT.md is the user's reference for both
 * formats; this header is the programmer's.
 *
 * Rules that shape the API:
 *
 * - Rows of one case may be anywhere in the file, so a case is only complete
 *   at the end of the input. The reader therefore returns the whole file's
 *   cases at once. Bytes can be pushed in as they arrive (adp_input_feed),
 *   so stdin, a spool file and a fuzzer all go through the same code, and
 *   nothing but the parsed cases is kept in memory: the file itself is never
 *   held whole.
 * - Every error is about one line: "line N: reason". An error inside a case
 *   marks the whole case invalid (adp_case.invalid); the caller refuses to
 *   publish an invalid case (no partial cases) unless the user asks to skip
 *   it. An error that cannot be tied to a case (a bad header, a row without a
 *   usable case_ref, a line that is not JSON) has case_idx ADP_INPUT_NO_CASE:
 *   the rows it hides may belong to any case, so a careful caller publishes
 *   nothing when there is one, unless told to skip invalid input.
 * - Raw indicator values are never copied into error messages (they may be
 *   logged), nor is the parser's excerpt of a bad JSON line. Column and key
 *   names, type names, keywords and times are, escaped and shortened, so a
 *   value typed into the wrong column can still appear in one.
 *
 * Not thread safe; one struct adp_input per thread.
 */
#ifndef ADP_INPUT_H
#define ADP_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "deconf/limits.h"

/* Limits (also in INPUT.md). */
#define ADP_INPUT_VALUE_MAX 4096            /* bytes of a raw indicator value */
#define ADP_INPUT_CASE_REF_MAX DECONF_CASE_REF_MAX /* bytes of a case_ref */
#define ADP_INPUT_QUALIFIER_MAX 128         /* bytes of a platform/jurisdiction */
#define ADP_INPUT_POC_MAX DECONF_POC_FIELD_MAX  /* bytes of each point-of-contact field */
#define ADP_INPUT_LINE_MAX (1024 * 1024)    /* bytes of a JSON line or a CSV record */

#define ADP_INPUT_NO_CASE ((size_t)-1)

enum adp_format {
	ADP_FORMAT_AUTO = 0, /* by file extension; for stdin, by the first byte */
	ADP_FORMAT_CSV,
	ADP_FORMAT_JSONL,
};

/* One indicator of a case, as given. */
struct adp_indicator {
	int type;          /* DECONF__V1__INDICATOR_TYPE__* (never UNSPECIFIED) */
	char *qualifier;   /* platform (username) or jurisdiction (vehicle),
			      NUL-terminated UTF-8; NULL for the other types */
	char *value;       /* raw value exactly as given: any bytes but NUL,
			      1..ADP_INPUT_VALUE_MAX; NUL-terminated for
			      convenience, value_len is authoritative */
	size_t value_len;
	int64_t valid_from; /* ms since the epoch, 0 = unset; both set for IP */
	int64_t valid_to;   /* ms, 0 = unset; valid_from <= valid_to when both set */
	unsigned line;      /* source line (first line of a multi-line CSV record) */
};

/* One case: the case-level fields merged from all its rows or lines. */
struct adp_case {
	char *case_ref;     /* 1..128 bytes of printable UTF-8, NUL-terminated */
	char *poc_name;     /* point of contact: UTF-8 without control */
	char *poc_phone;    /* characters, or NULL when not given */
	char *poc_email;
	char *poc_unit;
	int visibility;     /* DECONF__V1__VISIBILITY__VISIBILITY_NORMAL (default)
			       or _RESTRICTED */
	uint32_t caution_flags; /* OR of DECONF__V1__CAUTION_FLAG__* */
	int64_t expires_at; /* ms, 0 = the type's default TTL */
	int op;             /* DECONF__V1__OP__OP_ADD unless the input says
			       renew, remove, close_case or query */
	int event_kind;     /* DECONF__V1__EVENT_KIND__*: the case is an event
			       (its indicators are its cells, event.h); 0 not */
	char *disclose_to;  /* the case's sharing scope, deconf/scope.h's text
			       form (checked), narrowing its agency's; NULL:
			       as the agency's */
	struct adp_indicator *ind; /* in input order; may be empty only for
				      close_case (or when invalid) */
	size_t n_ind;
	unsigned first_line; /* where the case first appears */
	int invalid;        /* 1 if any row/line of this case had an error */
};

struct adp_input_error {
	unsigned line;      /* 1-based source line */
	size_t case_idx;    /* index of the case it invalidated, or ADP_INPUT_NO_CASE */
	const char *msg;    /* "line N: reason" (no file name: the caller adds it) */
	const char *reason; /* the same text after "line N: " */
};

/* The parsed input: cases in first-appearance order, errors in line order. */
struct adp_input;

/*
 * Progress, called after each block read and once at the end with
 * non-decreasing counts. bytes_total is 0 when unknown (a pipe). rows counts
 * CSV records after the header, or non-blank JSON lines.
 */
typedef void(adp_progress_fn)(void *opaque, uint64_t bytes_done, uint64_t bytes_total,
			      uint64_t rows);

/* ------------------------------------------------------------- whole file */

/*
 * Read and parse the file at path ("-" = standard input) in format fmt.
 * ADP_FORMAT_AUTO picks by extension (.csv; .jsonl, .ndjson, .json; any
 * case), and for "-" by the first non-blank byte ('{' or '[' = JSON Lines).
 *
 * At most max_errors errors are kept (0 = no limit); all are counted
 * (adp_input_error_total). progress may be NULL.
 *
 * Returns 0 when the file was read — which says nothing about its content:
 * check adp_input_error_total() and each case's invalid flag. Otherwise *out
 * is NULL and errstr says why: a positive errno for a file that cannot be
 * opened or read ("path: No such file or directory"), DECONF_E_INVAL for an
 * extension AUTO does not know, DECONF_E_NOMEM. On success the caller owns
 * *out and frees it with adp_input_free().
 */
int adp_input_read(struct adp_input **out, const char *path, enum adp_format fmt,
		   size_t max_errors, adp_progress_fn *progress, void *opaque, char *errstr,
		   size_t errstr_size);

/* ---------------------------------------------------- push (streaming) API */

/*
 * The same parser, fed by the caller: adp_input_new, any number of
 * adp_input_feed calls with consecutive pieces of the input (split anywhere,
 * even inside a UTF-8 character or a CRLF), then adp_input_finish once.
 * fmt AUTO decides by the first non-blank byte. The accessors below are
 * meaningful after adp_input_finish.
 *
 * adp_input_feed and adp_input_finish return 0 or DECONF_E_NOMEM (after
 * which the object can only be freed); bad input is never a return code,
 * it is an error in the list. Feeding after adp_input_finish is
 * DECONF_E_INVAL; a second adp_input_finish does nothing.
 */
int adp_input_new(struct adp_input **out, enum adp_format fmt, size_t max_errors);
int adp_input_feed(struct adp_input *in, const void *data, size_t len);
int adp_input_finish(struct adp_input *in);

/* ---------------------------------------------------------------- results */

/* The format actually parsed (AUTO until it has been decided). */
enum adp_format adp_input_format(const struct adp_input *in);

/* CSV records after the header, or non-blank JSON lines, seen so far. */
uint64_t adp_input_rows(const struct adp_input *in);

/*
 * Cases in order of first appearance. The pointer is borrowed: valid until
 * adp_input_free. NULL when i is out of range.
 */
size_t adp_input_case_count(const struct adp_input *in);
const struct adp_case *adp_input_case(const struct adp_input *in, size_t i);

/* Index of the case with this case_ref, or ADP_INPUT_NO_CASE. */
size_t adp_input_case_find(const struct adp_input *in, const char *case_ref, size_t len);

/*
 * Errors kept (at most max_errors), sorted by line, and the number found in
 * all (>= the number kept). Borrowed, valid until adp_input_free.
 */
size_t adp_input_error_count(const struct adp_input *in);
size_t adp_input_error_total(const struct adp_input *in);
const struct adp_input_error *adp_input_error_at(const struct adp_input *in, size_t i);

/* Frees everything, including every string of every case. NULL-safe. */
void adp_input_free(struct adp_input *in);

/* ---------------------------------------------------------------- helpers */

/* "csv", "jsonl" or "auto". */
const char *adp_format_name(enum adp_format fmt);

/*
 * Parse a --format argument: "csv", "jsonl" (or "ndjson", "json"), "auto".
 * Returns 0 or DECONF_E_INVAL.
 */
int adp_format_parse(const char *name, enum adp_format *out);

/* The format of a path by its extension, ADP_FORMAT_AUTO if unknown. */
enum adp_format adp_format_from_path(const char *path);

/*
 * Parse a time as the input formats accept it: RFC 3339 with a zone
 * ("2026-11-01T12:00:00Z", "2026-11-01T14:00:00.250+02:00"), a date
 * ("2026-11-01", midnight UTC) or Unix seconds ("1793534400"); surrounding
 * spaces ignored. Fractions of a second beyond milliseconds are truncated.
 * Stores ms since the epoch in *ms and returns 0, or returns DECONF_E_INVAL
 * and puts the reason (e.g. "month 13 out of range") in why.
 */
int adp_input_parse_time(const char *s, size_t len, int64_t *ms, char *why,
			 size_t why_size);

#endif
