/* input.c — CSV and JSON Lines case files → cases with raw indicators. */

/*
 * Shape: bytes are pushed in (adp_input_feed); a leading UTF-8 BOM is
 * dropped and, for AUTO, the format is decided by the first non-blank byte;
 * then the reader of that format (csvread.c, jsonlread.c) turns them into
 * the case model (cases.c), which holds every check and every result. This
 * file is the entry points and the accessors of input.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deconf/err.h"
#include "cases.h"
#include "csvread.h"
#include "input.h"
#include "intext.h"
#include "jsonlread.h"
#include "when.h"

#define READ_BLOCK (256 * 1024)

static const unsigned char BOM[3] = { 0xef, 0xbb, 0xbf };

struct adp_input {
	enum adp_format fmt;
	struct adp_cases *cs;
	struct adp_csvread *csv;     /* the reader of fmt, once it is decided */
	struct adp_jsonlread *jl;
	int finished;
	unsigned bom_seen; /* bytes of a leading BOM matched so far */
	int bom_done;
	unsigned char *sniff; /* blank bytes held while AUTO is undecided */
	size_t sniff_len;
};

/* ------------------------------------------------------------------- feed */

static int feed_format(struct adp_input *in, const unsigned char *p, size_t len)
{
	if (in->fmt == ADP_FORMAT_CSV) {
		if (!in->csv && adp_csvread_new(&in->csv, in->cs))
			return in->cs->fatal = DECONF_E_NOMEM;
		return adp_csvread_feed(in->csv, p, len);
	}
	if (!in->jl && adp_jsonlread_new(&in->jl, in->cs))
		return in->cs->fatal = DECONF_E_NOMEM;
	return adp_jsonlread_feed(in->jl, p, len);
}

static int feed_body(struct adp_input *in, const unsigned char *p, size_t len)
{
	if (in->fmt == ADP_FORMAT_AUTO) {
		size_t i = 0;
		int rc;

		while (i < len && adp_intext_is_blank(p[i]))
			i++;
		if (i == len && in->sniff_len + len <= ADP_INPUT_LINE_MAX) {
			if (!len)
				return 0;
			if (!(in->sniff = realloc(in->sniff, in->sniff_len + len)))
				return in->cs->fatal = DECONF_E_NOMEM;
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
	if (adp_cases_new(&in->cs, max_errors)) {
		free(in);
		return DECONF_E_NOMEM;
	}
	in->fmt = fmt;
	*out = in;
	return DECONF_OK;
}

int adp_input_feed(struct adp_input *in, const void *data, size_t len)
{
	const unsigned char *p = data;
	int rc;

	if (in->cs->fatal)
		return in->cs->fatal;
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
	if (in->cs->fatal || in->finished)
		return in->cs->fatal;
	if (!in->bom_done) {
		in->bom_done = 1;
		if (in->bom_seen && feed_body(in, BOM, in->bom_seen))
			return in->cs->fatal;
	}
	/* a given format has its say even on an empty input ("empty file");
	 * AUTO with nothing but blanks is an empty input: nothing to say */
	if (in->fmt != ADP_FORMAT_AUTO && feed_format(in, NULL, 0))
		return in->cs->fatal;
	/* each reader ends with the checks that need every row of a case */
	if (in->csv)
		adp_csvread_finish(in->csv);
	else if (in->jl)
		adp_jsonlread_finish(in->jl);
	if (in->cs->fatal)
		return in->cs->fatal;
	adp_cases_sort_errors(in->cs);

	/* parse-time buffers are no longer needed */
	adp_csvread_free(in->csv);
	adp_jsonlread_free(in->jl);
	free(in->sniff);
	in->csv = NULL;
	in->jl = NULL;
	in->sniff = NULL;
	in->finished = 1;
	return 0;
}

void adp_input_free(struct adp_input *in)
{
	if (!in)
		return;
	adp_cases_free(in->cs);
	adp_csvread_free(in->csv);
	adp_jsonlread_free(in->jl);
	free(in->sniff);
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
			progress(opaque, done, total, in->cs->rows);
	}
	if ((rc = adp_input_finish(in))) {
		deconf_err_set(errstr, errstr_size, rc, "%s: out of memory", name);
		goto fail;
	}
	if (progress)
		progress(opaque, done, total, in->cs->rows);
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
	return in->cs->rows;
}

size_t adp_input_case_count(const struct adp_input *in)
{
	return in->cs->n;
}

const struct adp_case *adp_input_case(const struct adp_input *in, size_t i)
{
	return i < in->cs->n ? &in->cs->v[i] : NULL;
}

size_t adp_input_case_find(const struct adp_input *in, const char *case_ref, size_t len)
{
	return adp_cases_find(in->cs, case_ref, len);
}

size_t adp_input_error_count(const struct adp_input *in)
{
	return in->cs->n_errs;
}

size_t adp_input_error_total(const struct adp_input *in)
{
	return in->cs->err_total;
}

const struct adp_input_error *adp_input_error_at(const struct adp_input *in, size_t i)
{
	return adp_cases_error_at(in->cs, i);
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

	if (adp_intext_word_eq(name, len, "csv"))
		*out = ADP_FORMAT_CSV;
	else if (adp_intext_word_eq(name, len, "jsonl") || adp_intext_word_eq(name, len, "ndjson") ||
		 adp_intext_word_eq(name, len, "json"))
		*out = ADP_FORMAT_JSONL;
	else if (adp_intext_word_eq(name, len, "auto"))
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

int adp_input_parse_time(const char *s, size_t len, int64_t *ms, char *why, size_t why_size)
{
	return adp_when_parse(s, len, ms, why, why_size);
}
