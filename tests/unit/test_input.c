/* test_input.c — the adapter's CSV and JSON Lines readers (adapters/src/input.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "input.h"

#ifndef DEMO_DIR
#error "DEMO_DIR must name deploy/demo (a compile definition)"
#endif

#define T_PHONE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE
#define T_EMAIL DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL
#define T_IP DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP
#define T_USERNAME DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME
#define T_URL DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_URL
#define T_SHA256 DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA256
#define T_VEHICLE DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE
#define OP_ADD DECONF__V1__OP__OP_ADD
#define OP_REMOVE DECONF__V1__OP__OP_REMOVE
#define OP_CLOSE DECONF__V1__OP__OP_CLOSE_CASE
#define VIS_NORMAL DECONF__V1__VISIBILITY__VISIBILITY_NORMAL
#define VIS_RESTRICTED DECONF__V1__VISIBILITY__VISIBILITY_RESTRICTED
#define C_ARMED DECONF__V1__CAUTION_FLAG__CAUTION_ARMED
#define C_UNDERCOVER DECONF__V1__CAUTION_FLAG__CAUTION_UNDERCOVER
#define C_ACTIVE DECONF__V1__CAUTION_FLAG__CAUTION_ACTIVE_OPERATION
#define C_INFORMANT DECONF__V1__CAUTION_FLAG__CAUTION_INFORMANT

/* Times used below, computed independently (Python datetime). */
#define MS_2026_11_01_1200Z INT64_C(1793534400000)
#define MS_2026_11_01 INT64_C(1793491200000)
#define MS_2026_05_01_0830Z INT64_C(1777624200000)
#define MS_2026_06_30_235959Z INT64_C(1782863999000)
#define MS_2026_05_10 INT64_C(1778371200000)
#define MS_2026_05_12_0600Z INT64_C(1778565600000)
#define MS_2026_12_31 INT64_C(1798675200000)

#define HEADER "case_ref,type,value\n"

static char tmpdir[512];
static unsigned file_seq;

/* ---------------------------------------------------------------- helpers */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_input.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write len bytes to a fresh file with extension ext; returns its path (static). */
static const char *write_file(const char *ext, const void *data, size_t len)
{
	static char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/in%u.%s", tmpdir, ++file_seq, ext);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Parse a string as a file of the given extension; fails the test on a read error. */
static struct adp_input *parse_n(const char *ext, const void *data, size_t len)
{
	struct adp_input *in = NULL;
	char errstr[256] = "";
	const char *path = write_file(ext, data, len);

	if (adp_input_read(&in, path, ADP_FORMAT_AUTO, 0, NULL, NULL, errstr, sizeof(errstr)))
		fail_msg("adp_input_read: %s", errstr);
	assert_non_null(in);
	return in;
}

static struct adp_input *parse(const char *ext, const char *text)
{
	return parse_n(ext, text, strlen(text));
}

/* The same through the push API, chunk bytes at a time. */
static struct adp_input *parse_chunked(enum adp_format fmt, const void *data, size_t len,
				       size_t chunk)
{
	const unsigned char *p = data;
	struct adp_input *in;

	assert_int_equal(adp_input_new(&in, fmt, 0), DECONF_OK);
	for (size_t o = 0; o < len; o += chunk)
		assert_int_equal(adp_input_feed(in, p + o, len - o < chunk ? len - o : chunk), 0);
	assert_int_equal(adp_input_finish(in), 0);
	return in;
}

static void dump_errors(const struct adp_input *in)
{
	for (size_t i = 0; i < adp_input_error_count(in); i++)
		print_message("  error: %s\n", adp_input_error_at(in, i)->msg);
}

static void assert_no_errors(const struct adp_input *in)
{
	if (adp_input_error_total(in)) {
		dump_errors(in);
		fail_msg("%zu unexpected errors", adp_input_error_total(in));
	}
}

/* Index of the error on line whose reason contains text, or fail. */
static size_t expect_error(const struct adp_input *in, unsigned line, const char *text)
{
	for (size_t i = 0; i < adp_input_error_count(in); i++) {
		const struct adp_input_error *e = adp_input_error_at(in, i);

		if (e->line == line && strstr(e->reason, text))
			return i;
	}
	dump_errors(in);
	fail_msg("no error on line %u containing \"%s\"", line, text);
	return 0;
}

static const struct adp_case *find_case(const struct adp_input *in, const char *ref)
{
	size_t i = adp_input_case_find(in, ref, strlen(ref));

	assert_true(i != ADP_INPUT_NO_CASE);
	return adp_input_case(in, i);
}

/* ----------------------------------------------------------------- events */

/*
 * An event, given in CSV and in JSON Lines, becomes the same case: its
 * kind, its cells (EVENT_CELL indicators with a cover:/parent: qualifier
 * and the event's window; at least one COVER), an expiry at the window's
 * end; the address is dropped. Bad places, windows and mixes are errors on
 * their line.
 */
static void test_events(void **state)
{
	static const char csv[] =
		"case_ref,type,value,event_kind,lat,lon,radius_m,valid_from,valid_to,caution\n"
		"EV-1,event,1400 Main St,search_warrant,32.78,-96.80,300,"
		"2026-12-12T18:00:00Z,2026-12-12T23:00:00Z,armed\n";
	static const char jsonl[] =
		"{\"case_ref\": \"EV-1\", \"event_kind\": \"SEARCH_WARRANT\", \"caution\": "
		"\"armed\", \"indicators\": [{\"type\": \"event\", \"value\": \"1400 Main St\", "
		"\"lat\": 32.78, \"lon\": \"-96.80\", \"radius_m\": 300, \"valid_from\": "
		"\"2026-12-12T18:00:00Z\", \"valid_to\": \"2026-12-12T23:00:00Z\"}]}\n";
	struct adp_input *a = parse(".csv", csv), *b = parse(".jsonl", jsonl), *in;
	const struct adp_case *ca, *cb;
	size_t covers = 0;

	(void)state;
	assert_no_errors(a);
	assert_no_errors(b);
	ca = find_case(a, "EV-1");
	cb = find_case(b, "EV-1");
	assert_int_equal(ca->event_kind, DECONF__V1__EVENT_KIND__EVENT_KIND_SEARCH_WARRANT);
	assert_int_equal(cb->event_kind, ca->event_kind);
	assert_int_equal(ca->n_ind, cb->n_ind);
	assert_in_range(ca->n_ind, 2, DECONF_EVENT_CELLS_MAX);
	assert_true(ca->expires_at == ca->ind[0].valid_to);
	for (size_t i = 0; i < ca->n_ind; i++) {
		const struct adp_indicator *x = &ca->ind[i], *y = &cb->ind[i];
		assert_int_equal(x->type, DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL);
		assert_string_equal(x->value, y->value);
		assert_string_equal(x->qualifier, y->qualifier);
		assert_int_equal(strncmp(x->value, "v1:", 3), 0);
		assert_null(strstr(x->value, "Main"));
		assert_true(x->valid_from == y->valid_from && x->valid_to == y->valid_to);
		covers += !strncmp(x->qualifier, "cover:", 6);
	}
	assert_true(covers >= 1);
	adp_input_free(a);
	adp_input_free(b);

	in = parse(".csv",
		   "case_ref,type,value,event_kind,lat,lon,radius_m,valid_from,valid_to\n"
		   "E2,event,,arrest,91,0,,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E3,event,,arrest,10,0x1p3,,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E4,event,,arrest,10,10,9000,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E5,event,,arrest,10,10,,2026-12-12T18:00:00Z,\n"
		   "E6,event,,arrest,10,10,,2026-12-12T18:00:00Z,2026-12-30T18:00:00Z\n"
		   "E7,event,,,10,10,,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E8,event,,parade,10,10,,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E9,event,,arrest,10,10,,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E9,event,,arrest,11,10,,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E10,event,,arrest,,10,,2026-12-12T18:00:00Z,2026-12-12T19:00:00Z\n"
		   "E11,phone,+15550100,arrest,,,,,\n"
		   "E12,event_cell,v1:89c25,,,,,,\n");
	expect_error(in, 2, "latitude");
	expect_error(in, 3, "is not a decimal number");
	expect_error(in, 4, "radius");
	expect_error(in, 5, "needs valid_from and valid_to");
	expect_error(in, 6, "at most 14 days");
	expect_error(in, 7, "needs its event_kind");
	expect_error(in, 8, "unknown event_kind");
	expect_error(in, 10, "one place");
	expect_error(in, 11, "needs lat and lon");
	expect_error(in, 12, "event_kind given, but no event row");
	expect_error(in, 13, "event_cell is not an indicator to give");
	for (size_t i = 0; i < adp_input_case_count(in); i++)
		assert_true(adp_input_case(in, i)->invalid);
	adp_input_free(in);
}

/* A case's sharing scope (disclose_to), in CSV and JSON Lines: kept in its
 * own words; rows that say it differently but mean the same agree; a bad
 * one, or one that means something else, is an error on its line. */
static void test_disclose_to(void **state)
{
	struct adp_input *a = parse(".csv",
				    "case_ref,type,value,disclose_to\n"
				    "C-1,email,a@example.org,country:us\n"
				    "C-1,email,b@example.org,country:US\n"
				    "C-2,email,c@example.org,\n"
				    "C-3,email,d@example.org,country:US\n"
				    "C-3,email,e@example.org,none\n"
				    "C-4,email,f@example.org,planet:earth\n");
	struct adp_input *b = parse(".jsonl",
				    "{\"case_ref\": \"C-1\", \"disclose_to\": \"country:US,liaison\", "
				    "\"indicators\": [{\"type\": \"email\", \"value\": "
				    "\"a@example.org\"}]}\n");

	(void)state;
	assert_string_equal(find_case(a, "C-1")->disclose_to, "country:US");
	assert_null(find_case(a, "C-2")->disclose_to);
	expect_error(a, 6, "conflicts with country:US given before");
	expect_error(a, 7, "not a scope term");
	assert_false(find_case(a, "C-1")->invalid);
	assert_true(find_case(a, "C-3")->invalid && find_case(a, "C-4")->invalid);
	assert_no_errors(b);
	assert_string_equal(find_case(b, "C-1")->disclose_to, "country:US,liaison");
	adp_input_free(a);
	adp_input_free(b);
}

/* ------------------------------------------------------------------- CSV */

static void test_csv_basic(void **state)
{
	struct adp_input *in = parse("csv",
		"case_ref,type,value,qualifier,valid_from,valid_to,expires_at,visibility,"
		"caution,poc_name,poc_phone,poc_email,poc_unit,op\n"
		"CR-1,phone,+1 202 555 0143,,,,2026-11-01,restricted,armed|undercover,"
		"Det. Ana Ruiz,+1 202 555 0100,aruiz@example.org,Unit 7,add\n"
		"CR-1,username,NightOwl,instagram,2026-11-01,2026-11-01T12:00:00Z,,,,,,,,\n"
		"CR-2,ip,192.0.2.7,,2026-11-01T14:00:00+02:00,1793534400,,,,,,,,\n");
	const struct adp_case *c;

	assert_no_errors(in);
	assert_int_equal(adp_input_format(in), ADP_FORMAT_CSV);
	assert_int_equal(adp_input_rows(in), 3);
	assert_int_equal(adp_input_case_count(in), 2);

	c = adp_input_case(in, 0);
	assert_string_equal(c->case_ref, "CR-1");
	assert_int_equal(c->first_line, 2);
	assert_int_equal(c->op, OP_ADD);
	assert_int_equal(c->visibility, VIS_RESTRICTED);
	assert_int_equal(c->caution_flags, C_ARMED | C_UNDERCOVER);
	assert_int_equal(c->expires_at, MS_2026_11_01);
	assert_string_equal(c->poc_name, "Det. Ana Ruiz");
	assert_string_equal(c->poc_phone, "+1 202 555 0100");
	assert_string_equal(c->poc_email, "aruiz@example.org");
	assert_string_equal(c->poc_unit, "Unit 7");
	assert_false(c->invalid);
	assert_int_equal(c->n_ind, 2);
	assert_int_equal(c->ind[0].type, T_PHONE);
	assert_string_equal(c->ind[0].value, "+1 202 555 0143");
	assert_int_equal(c->ind[0].value_len, 15);
	assert_null(c->ind[0].qualifier);
	assert_int_equal(c->ind[0].valid_from, 0);
	assert_int_equal(c->ind[0].valid_to, 0);
	assert_int_equal(c->ind[0].line, 2);
	assert_int_equal(c->ind[1].type, T_USERNAME);
	assert_string_equal(c->ind[1].qualifier, "instagram");
	assert_string_equal(c->ind[1].value, "NightOwl");
	assert_int_equal(c->ind[1].valid_from, MS_2026_11_01);
	assert_int_equal(c->ind[1].valid_to, MS_2026_11_01_1200Z);
	assert_int_equal(c->ind[1].line, 3);

	c = adp_input_case(in, 1);
	assert_string_equal(c->case_ref, "CR-2");
	assert_int_equal(c->visibility, VIS_NORMAL); /* default */
	assert_int_equal(c->caution_flags, 0);
	assert_int_equal(c->expires_at, 0);
	assert_null(c->poc_name);
	assert_int_equal(c->n_ind, 1);
	assert_int_equal(c->ind[0].type, T_IP);
	assert_int_equal(c->ind[0].valid_from, MS_2026_11_01_1200Z);
	assert_int_equal(c->ind[0].valid_to, MS_2026_11_01_1200Z);
	assert_null(adp_input_case(in, 2));
	adp_input_free(in);
}

static void test_csv_rfc4180_quoting(void **state)
{
	/* line 2: quoted comma; 3: doubled quotes; 4-6: one record over three
	 * lines; 7: a valid row; 8: an error whose line must still be right */
	struct adp_input *in = parse("csv",
		"case_ref,type,value,poc_unit\n"
		"\"CR,1\",email,\"a,b@example.com\",\"Unit 7, Squad B\"\n"
		"CR-2,url,\"http://example.com/?q=\"\"x\"\"\",\"The \"\"Night\"\" Desk\"\n"
		"CR-3,url,\"http://example.com/a\nb\",\"first line\n"
		"second line\"\n"
		"CR-4,phone,\"  +1 202 555 0144  \",\n"
		"CR-5,fone,+1 202 555 0145,\n");
	const struct adp_case *c;

	assert_int_equal(adp_input_case_count(in), 5);
	c = find_case(in, "CR,1");
	assert_string_equal(c->ind[0].value, "a,b@example.com");
	assert_string_equal(c->poc_unit, "Unit 7, Squad B");
	c = find_case(in, "CR-2");
	assert_string_equal(c->ind[0].value, "http://example.com/?q=\"x\"");
	assert_string_equal(c->poc_unit, "The \"Night\" Desk");
	c = find_case(in, "CR-3");
	assert_string_equal(c->ind[0].value, "http://example.com/a\nb");
	assert_int_equal(c->ind[0].line, 4); /* a record's line is its first line */
	/* a newline is fine in a value (normalization judges it), not in a poc */
	assert_null(c->poc_unit);
	assert_true(c->invalid);
	expect_error(in, 4, "poc_unit contains a control character");
	c = find_case(in, "CR-4");
	assert_int_equal(c->first_line, 7);
	assert_string_equal(c->ind[0].value, "  +1 202 555 0144  "); /* quoted: kept */
	assert_false(c->invalid);
	c = find_case(in, "CR-5");
	assert_true(c->invalid);
	assert_int_equal(adp_input_error_total(in), 2);
	expect_error(in, 8, "unknown indicator type \"fone\"");
	assert_string_equal(adp_input_error_at(in, 1)->msg,
			    "line 8: unknown indicator type \"fone\" (known: phone, email, ip, "
			    "username, url, domain, md5, sha1, sha256, btc, eth, imei, mac, vehicle; and event for an event's place)");
	adp_input_free(in);
}

static void test_csv_crlf(void **state)
{
	struct adp_input *in = parse("csv",
		"case_ref,type,value,poc_unit\r\n"
		"CR-1,phone,+1 202 555 0143,Unit 7\r\n"
		"CR-1,email,\"x@example.com\",\"two\r\nlines\"\r\n"
		"\r\n"
		"CR-2,fone,+1 202 555 0145,\r\n"
		"CR-3,phone,+1 202 555 0146,\r\n");
	const struct adp_case *c;

	assert_int_equal(adp_input_case_count(in), 3);
	c = find_case(in, "CR-1");
	assert_int_equal(c->n_ind, 2);
	assert_string_equal(c->ind[0].value, "+1 202 555 0143"); /* no '\r' */
	assert_string_equal(c->ind[1].value, "x@example.com");
	assert_int_equal(c->ind[1].line, 3);
	assert_string_equal(c->poc_unit, "Unit 7");
	/* a quoted CRLF makes the record two lines; in a point of contact it is
	 * a control character */
	expect_error(in, 3, "poc_unit contains a control character");
	expect_error(in, 6, "unknown indicator type");
	assert_int_equal(adp_input_error_total(in), 2);
	assert_int_equal(find_case(in, "CR-3")->first_line, 7);
	adp_input_free(in);
}

static void test_csv_bom(void **state)
{
	static const char text[] = "\xef\xbb\xbf"
				   "case_ref,type,value\n"
				   "CR-1,phone,+1 202 555 0143\n";
	struct adp_input *in = parse("csv", text);

	assert_no_errors(in);
	assert_int_equal(adp_input_case_count(in), 1);
	adp_input_free(in);

	/* split inside the BOM, and through AUTO detection */
	in = parse_chunked(ADP_FORMAT_AUTO, text, strlen(text), 1);
	assert_no_errors(in);
	assert_int_equal(adp_input_format(in), ADP_FORMAT_CSV);
	assert_int_equal(adp_input_case_count(in), 1);
	adp_input_free(in);

	/* a BOM-like start that is not one is data, not dropped */
	in = parse("csv", "\xef\xbb" "case_ref,type,value\n");
	expect_error(in, 1, "unknown column \"\\xef\\xbbcase_ref\"");
	adp_input_free(in);
}

static void test_csv_header_errors(void **state)
{
	struct adp_input *in;
	const struct adp_input_error *e;

	in = parse("csv", "case_ref,type,value,colour\nCR-1,phone,+1 202 555 0143,red\n");
	assert_int_equal(adp_input_error_total(in), 1);
	e = adp_input_error_at(in, 0);
	assert_int_equal(e->line, 1);
	assert_true(e->case_idx == ADP_INPUT_NO_CASE);
	assert_non_null(strstr(e->msg, "line 1: unknown column \"colour\" (known: case_ref,"));
	assert_int_equal(adp_input_case_count(in), 0); /* nothing read after a bad header */
	adp_input_free(in);

	in = parse("csv", "case_ref,value\n");
	expect_error(in, 1, "missing required column type");
	adp_input_free(in);

	in = parse("csv", "Case_Ref , TYPE,value,type\n");
	expect_error(in, 1, "column type appears twice (columns 2 and 4)");
	adp_input_free(in);

	in = parse("csv", "case_ref,,type,value\n");
	expect_error(in, 1, "column 2 has no name");
	adp_input_free(in);

	in = parse("csv", "CR-1,phone,+1 202 555 0143\n");
	expect_error(in, 1, "no header row (first column \"CR-1\")");
	assert_int_equal(adp_input_error_total(in), 1);
	adp_input_free(in);

	in = parse("csv", " , ,\n"); /* only empty names (found by fuzzing: UB) */
	expect_error(in, 1, "no header row (first column \"\")");
	adp_input_free(in);

	in = parse("csv", "");
	expect_error(in, 1, "empty file");
	adp_input_free(in);

	/* header only: nothing to do, nothing wrong; blank lines before it are counted */
	in = parse("csv", "\n\nCASE_REF,Type,Value,Platform\n");
	assert_no_errors(in);
	assert_int_equal(adp_input_case_count(in), 0);
	adp_input_free(in);
	in = parse("csv", "\n\ncase_ref,type,value,bogus\n");
	expect_error(in, 3, "unknown column \"bogus\"");
	adp_input_free(in);
}

static void test_csv_row_errors(void **state)
{
	char text[16384], big[ADP_INPUT_VALUE_MAX + 2];
	struct adp_input *in;
	size_t n;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = (size_t)snprintf(text, sizeof(text),
		"case_ref,type,value,qualifier,valid_from,valid_to,expires_at,visibility,caution,op,poc_name\n"
		"OK-1,phone,+1 202 555 0101,,,,,,,,\n"                     /* 2 */
		"E-3,fone,+1 202 555 0102,,,,,,,,\n"                       /* 3 */
		"E-4,phone,,,,,,,,,\n"                                     /* 4 */
		"E-5,url,%s,,,,,,,,\n"                                     /* 5 */
		",phone,+1 202 555 0105,,,,,,,,\n"                         /* 6 */
		"E-7,phone,+1 202 555 0106,,,,,secret,,,\n"                /* 7 */
		"E-8,phone,+1 202 555 0107,,,,,,armed|sneaky,,\n"          /* 8 */
		"E-9,phone,+1 202 555 0108,,,,,,,delete,\n"                /* 9 */
		"E-10,phone,+1 202 555 0109,,,,next week,,,,\n"            /* 10 */
		"E-11,phone,+1 202 555 0110,,2026-11-01T12:00:00,,,,,,\n"  /* 11 */
		"E-12,ip,192.0.2.12,,2026-11-01,,,,,,\n"                   /* 12 */
		"E-13,email,x@example.com,,2026-11-02,2026-11-01,,,,,\n"   /* 13 */
		"E-14,username,nightowl,,,,,,,,\n"                         /* 14 */
		"E-15,phone,+1 202 555 0115,instagram,,,,,,,\n"            /* 15 */
		"E-16,phone,+1 202 555 0116,,,,,,,\n"                      /* 16: 10 fields */
		"E-17,phone,+1 202 555 0117,,,,,,,,,\n"                    /* 17: 12 fields */
		"E-18,,+1 202 555 0118,,,,,,,,\n"                          /* 18 */
		"E-19,phone,+1 202 555 0119,,,,,,,,\"Det.\x01Ruiz\"\n"     /* 19 */
		"OK-20,url,%s,,,,,,,,\n",                                  /* 20: exactly 4096 */
		big, big + 1);
	assert_true(n < sizeof(text));
	in = parse_n("csv", text, n);

	expect_error(in, 3, "unknown indicator type \"fone\"");
	expect_error(in, 4, "value is empty");
	expect_error(in, 5, "value is 4097 bytes, longer than 4096");
	expect_error(in, 6, "case_ref is empty");
	expect_error(in, 7, "unknown visibility \"secret\" (known: normal, restricted)");
	expect_error(in, 8, "unknown caution flag \"sneaky\"");
	expect_error(in, 9, "unknown op \"delete\" (known: add, renew, remove, close_case, query)");
	expect_error(in, 10, "expires_at \"next week\": not a time");
	expect_error(in, 11, "valid_from \"2026-11-01T12:00:00\": no time zone");
	expect_error(in, 12, "an ip indicator needs valid_from and valid_to");
	expect_error(in, 13, "valid_from is after valid_to");
	expect_error(in, 14, "a username needs its platform");
	expect_error(in, 15, "a qualifier is only for username (platform) and vehicle");
	expect_error(in, 16, "10 fields, but the header has 11");
	expect_error(in, 17, "12 fields, but the header has 11");
	expect_error(in, 18, "type is empty");
	expect_error(in, 19, "poc_name contains a control character");
	assert_int_equal(adp_input_error_total(in), 17);

	/* each error invalidates its own case only */
	assert_false(find_case(in, "OK-1")->invalid);
	assert_false(find_case(in, "OK-20")->invalid);
	assert_int_equal(find_case(in, "OK-20")->ind[0].value_len, ADP_INPUT_VALUE_MAX);
	for (unsigned l = 3; l <= 19; l++) {
		char ref[16];

		if (l == 6)
			continue; /* no case_ref: no case */
		snprintf(ref, sizeof(ref), "E-%u", l);
		assert_true(find_case(in, ref)->invalid);
	}
	/* errors are in line order and name their case */
	for (size_t i = 1; i < adp_input_error_count(in); i++)
		assert_true(adp_input_error_at(in, i - 1)->line <= adp_input_error_at(in, i)->line);
	assert_true(adp_input_error_at(in, expect_error(in, 6, "case_ref"))->case_idx ==
		    ADP_INPUT_NO_CASE);
	assert_string_equal(
		adp_input_case(in, adp_input_error_at(in, expect_error(in, 3, "fone"))->case_idx)
			->case_ref,
		"E-3");
	adp_input_free(in);
}

static void test_csv_case_ref_checks(void **state)
{
	char text[1024], ref[ADP_INPUT_CASE_REF_MAX + 2];
	struct adp_input *in;
	size_t n;

	memset(ref, 'R', sizeof(ref) - 1);
	ref[sizeof(ref) - 1] = '\0';
	n = (size_t)snprintf(text, sizeof(text),
			     HEADER
			     "%s,phone,+1 202 555 0101\n"    /* 2: 129 bytes */
			     "%s,phone,+1 202 555 0101\n"    /* 3: 128 bytes: fine */
			     "CR-\xff,phone,+1 202 555 0101\n"   /* 4 */
			     "CR-\xc3\xa9,phone,+1 202 555 0101\n" /* 5: é, fine */
			     "\"CR\t1\",phone,+1 202 555 0101\n" /* 6 */
			     "\" CR-1\",phone,+1 202 555 0101\n" /* 7 */
			     "CR-\xc0\xaf,phone,+1 202 555 0101\n", /* 8: overlong '/' */
			     ref, ref + 1);
	in = parse_n("csv", text, n);
	expect_error(in, 2, "case_ref is longer than 128 bytes");
	expect_error(in, 4, "case_ref is not valid UTF-8");
	expect_error(in, 6, "case_ref contains a control character");
	expect_error(in, 7, "case_ref has leading or trailing spaces");
	expect_error(in, 8, "case_ref is not valid UTF-8");
	assert_int_equal(adp_input_error_total(in), 5);
	assert_int_equal(adp_input_case_count(in), 2);
	find_case(in, "CR-\xc3\xa9");
	adp_input_free(in);
}

static void test_csv_nul_bytes(void **state)
{
	static const char text[] = HEADER "CR-1,phone,+1 202\0 555 0101\n"
					  "CR\0-2,phone,+1 202 555 0102\n"
					  "CR-3,phone,+1 202 555 0103\n";
	struct adp_input *in = parse_n("csv", text, sizeof(text) - 1);

	expect_error(in, 2, "value contains a NUL byte");
	expect_error(in, 3, "case_ref contains a NUL byte");
	assert_int_equal(adp_input_error_total(in), 2);
	assert_true(find_case(in, "CR-1")->invalid);
	assert_false(find_case(in, "CR-3")->invalid);
	adp_input_free(in);
}

static void test_csv_syntax_errors(void **state)
{
	struct adp_input *in = parse("csv",
		HEADER
		"CR-1,phone,+1 202\"555 0101\n"          /* 2: stray quote */
		"CR-2,phone,\"+1 202 555 0102\"x\n"      /* 3: text after closing quote */
		"CR-3,phone,+1 202 555 0103\n"           /* 4: resynchronized */
		"CR-1,email,x@example.com\n"             /* 5 */
		"CR-4,phone,\"+1 202 555\n"              /* 6: never closed */
		"0104\n");
	const struct adp_case *c;

	expect_error(in, 2, "stray quote");
	expect_error(in, 3, "text after the closing quote");
	expect_error(in, 6, "unterminated quoted field");
	assert_int_equal(adp_input_error_total(in), 3);
	/* the case of a broken record is invalid when its case_ref was read */
	assert_true(find_case(in, "CR-1")->invalid);
	assert_true(find_case(in, "CR-2")->invalid);
	assert_true(find_case(in, "CR-4")->invalid);
	c = find_case(in, "CR-3");
	assert_false(c->invalid);
	assert_int_equal(c->first_line, 4);
	assert_int_equal(find_case(in, "CR-1")->n_ind, 1); /* line 5 still read */
	adp_input_free(in);
}

static void test_csv_record_too_long(void **state)
{
	size_t big = ADP_INPUT_LINE_MAX + 100, n = 0;
	char *text = malloc(big + 256);
	struct adp_input *in;

	assert_non_null(text);
	n += (size_t)sprintf(text + n, HEADER "CR-1,url,\"http://example.com/");
	memset(text + n, 'a', big);
	n += big;
	n += (size_t)sprintf(text + n, "\nCR-2,phone,+1 202 555 0102\n");
	in = parse_n("csv", text, n);
	expect_error(in, 2, "record longer than 1 MiB");
	assert_int_equal(adp_input_error_total(in), 1);
	assert_true(find_case(in, "CR-1")->invalid);
	assert_false(find_case(in, "CR-2")->invalid);
	assert_int_equal(find_case(in, "CR-2")->first_line, 3);
	adp_input_free(in);
	free(text);
}

static void test_csv_conflicts(void **state)
{
	struct adp_input *in = parse("csv",
		"case_ref,type,value,visibility,caution,poc_phone,expires_at,op\n"
		"CR-1,phone,+1 202 555 0101,restricted,armed|undercover,+1 202 555 0100,2026-11-01,\n"
		"CR-2,phone,+1 202 555 0102,,,,,\n"
		/* the same values written differently, or empty: no conflict */
		"CR-1,email,a@example.com,RESTRICTED, undercover ; armed ,+1 202 555 0100,"
		"2026-11-01T00:00:00Z,add\n"
		"CR-1,email,b@example.com,,,,,\n"
		/* conflicts: each on the later line */
		"CR-1,email,c@example.com,normal,,,,\n"                    /* 6 */
		"CR-1,email,d@example.com,,armed,,,\n"                     /* 7 */
		"CR-1,email,e@example.com,,,+1 202 555 0199,,\n"           /* 8 */
		"CR-1,email,f@example.com,,,,2026-11-02,\n"                /* 9 */
		"CR-1,email,g@example.com,,,,,remove\n");                 /* 10 */
	const struct adp_case *c = find_case(in, "CR-1");

	expect_error(in, 6, "visibility \"normal\" conflicts with the value given on line 2");
	expect_error(in, 7, "caution \"armed\" conflicts with the value given on line 2");
	expect_error(in, 8, "poc_phone conflicts with the value given on line 2");
	expect_error(in, 9, "expires_at \"2026-11-02\" conflicts with the value given on line 2");
	expect_error(in, 10, "op \"remove\" conflicts with the value given on line 4");
	assert_int_equal(adp_input_error_total(in), 5);
	assert_true(c->invalid);
	assert_int_equal(c->visibility, VIS_RESTRICTED); /* the first value stays */
	assert_int_equal(c->caution_flags, C_ARMED | C_UNDERCOVER);
	assert_false(find_case(in, "CR-2")->invalid);
	adp_input_free(in);
}

static void test_csv_invalid_case_isolated(void **state)
{
	struct adp_input *in = parse("csv",
		HEADER
		"A,phone,+1 202 555 0101\n"
		"B,phone,+1 202 555 0102\n"
		"C,phone,+1 202 555 0103\n"
		"B,sha256,not-a-type-error-but-fine\n"
		"B,fone,+1 202 555 0104\n"
		"A,email,a@example.com\n");
	const struct adp_input_error *e;

	assert_int_equal(adp_input_error_total(in), 1);
	e = adp_input_error_at(in, 0);
	assert_int_equal(e->line, 6);
	assert_string_equal(adp_input_case(in, e->case_idx)->case_ref, "B");
	assert_false(find_case(in, "A")->invalid);
	assert_true(find_case(in, "B")->invalid);
	assert_false(find_case(in, "C")->invalid);
	assert_int_equal(find_case(in, "A")->n_ind, 2);
	/* the good rows of an invalid case are kept for reporting */
	assert_int_equal(find_case(in, "B")->n_ind, 2);
	adp_input_free(in);
}

static void test_csv_merge_nonadjacent(void **state)
{
	struct adp_input *in = parse("csv",
		"case_ref,type,value,poc_name,op\n"
		"A,phone,+1 202 555 0101,,\n"
		"B,phone,+1 202 555 0102,,\n"
		"A,email,a@example.com,Det. Ana Ruiz,\n"
		"C,phone,+1 202 555 0103,,\n"
		"B,email,b@example.com,,remove\n"
		"A,phone,+1 202 555 0101,,\n");
	const struct adp_case *c;

	assert_no_errors(in);
	assert_int_equal(adp_input_case_count(in), 3);
	assert_string_equal(adp_input_case(in, 0)->case_ref, "A");
	assert_string_equal(adp_input_case(in, 1)->case_ref, "B");
	assert_string_equal(adp_input_case(in, 2)->case_ref, "C");
	c = adp_input_case(in, 0);
	assert_int_equal(c->n_ind, 3); /* duplicates are kept: dedup follows normalization */
	assert_int_equal(c->ind[0].line, 2);
	assert_int_equal(c->ind[1].line, 4);
	assert_int_equal(c->ind[2].line, 7);
	assert_string_equal(c->poc_name, "Det. Ana Ruiz"); /* from a later row */
	c = adp_input_case(in, 1);
	assert_int_equal(c->op, OP_REMOVE); /* given on its second row */
	assert_int_equal(c->n_ind, 2);
	adp_input_free(in);
}

static void test_csv_close_case(void **state)
{
	struct adp_input *in = parse("csv",
		"case_ref,type,value,op,valid_from\n"
		"A,,,close_case,\n"           /* 2: fine */
		"B,,,,\n"                     /* 3: fine: B's op comes on line 5 */
		"C,,,,\n"                     /* 4: C is an add: no indicator */
		"B,,,close_case,\n"           /* 5 */
		"D,phone,+1 202 555 0104,close_case,\n" /* 6: indicators are allowed */
		"E,,,close_case,2026-11-01\n"); /* 7: an empty indicator with a time */

	assert_false(find_case(in, "A")->invalid);
	assert_int_equal(find_case(in, "A")->op, OP_CLOSE);
	assert_int_equal(find_case(in, "A")->n_ind, 0);
	assert_false(find_case(in, "B")->invalid);
	assert_true(find_case(in, "C")->invalid);
	expect_error(in, 4, "type and value are empty (allowed only when op is close_case)");
	assert_false(find_case(in, "D")->invalid);
	assert_int_equal(find_case(in, "D")->n_ind, 1);
	expect_error(in, 7, "type and value are empty but the indicator has other fields");
	assert_int_equal(adp_input_error_total(in), 2);
	adp_input_free(in);
}

static void test_csv_qualifiers(void **state)
{
	struct adp_input *in = parse("csv",
		"case_ref,type,value,platform,jurisdiction,qualifier\n"
		"A,username,nightowl,instagram,,\n"   /* 2 */
		"A,vehicle,7ABC123,,US-CA,\n"         /* 3 */
		"A,Username,owl2,,,telegram\n"        /* 4: qualifier for either */
		"B,vehicle,7ABC124,instagram,,\n"     /* 5 */
		"C,username,owl3,,US-CA,\n"           /* 6 */
		"D,username,owl4,x,,y\n"              /* 7 */
		"E,vehicle,7ABC125,,,\n");            /* 8 */
	const struct adp_case *c = find_case(in, "A");

	assert_false(c->invalid);
	assert_int_equal(c->n_ind, 3);
	assert_string_equal(c->ind[0].qualifier, "instagram");
	assert_string_equal(c->ind[1].qualifier, "US-CA");
	assert_int_equal(c->ind[2].type, T_USERNAME);
	assert_string_equal(c->ind[2].qualifier, "telegram");
	expect_error(in, 5, "platform given for a vehicle: use jurisdiction");
	expect_error(in, 6, "jurisdiction given for a username: use platform");
	expect_error(in, 7, "give only one of qualifier, platform, jurisdiction");
	expect_error(in, 8, "a vehicle needs its jurisdiction");
	assert_int_equal(adp_input_error_total(in), 4);
	adp_input_free(in);
}

static void test_csv_chunked_equals_whole(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf" "case_ref,type,value,poc_unit,valid_from,valid_to\r\n"
		"A,url,\"http://example.com/x\r\ny\",\"Unit, 7\",,\r\n"
		"\r\n"
		"B,ip,192.0.2.1,,2026-11-01,2026-11-01T12:00:00Z\r\n"
		"B,ip,198.51.100.9,,,\r\n"
		"C,url,\"a\"\"b\r\n\r\nc\",,,\r\n"
		"A,email,q@example.org,\"Unit, 7\",,";
	struct adp_input *whole = parse_chunked(ADP_FORMAT_CSV, text, sizeof(text) - 1,
						sizeof(text));

	expect_error(whole, 6, "an ip indicator needs valid_from and valid_to");
	assert_int_equal(adp_input_error_total(whole), 1);
	assert_int_equal(find_case(whole, "A")->ind[0].value_len, 23);
	assert_int_equal(find_case(whole, "C")->first_line, 7);
	assert_memory_equal(find_case(whole, "C")->ind[0].value, "a\"b\r\n\r\nc", 8);
	assert_int_equal(find_case(whole, "A")->ind[1].line, 10);
	for (size_t chunk = 1; chunk <= 7; chunk++) {
		struct adp_input *in = parse_chunked(ADP_FORMAT_CSV, text, sizeof(text) - 1, chunk);

		assert_int_equal(adp_input_case_count(in), adp_input_case_count(whole));
		assert_int_equal(adp_input_error_total(in), adp_input_error_total(whole));
		assert_string_equal(adp_input_error_at(in, 0)->msg,
				    adp_input_error_at(whole, 0)->msg);
		for (size_t i = 0; i < adp_input_case_count(in); i++) {
			const struct adp_case *a = adp_input_case(in, i), *b = adp_input_case(whole, i);

			assert_string_equal(a->case_ref, b->case_ref);
			assert_int_equal(a->n_ind, b->n_ind);
			assert_int_equal(a->first_line, b->first_line);
			for (size_t k = 0; k < a->n_ind; k++) {
				assert_int_equal(a->ind[k].value_len, b->ind[k].value_len);
				assert_memory_equal(a->ind[k].value, b->ind[k].value, a->ind[k].value_len);
				assert_int_equal(a->ind[k].line, b->ind[k].line);
			}
		}
		adp_input_free(in);
	}
	adp_input_free(whole);
}

static void test_max_errors(void **state)
{
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), HEADER);
	struct adp_input *in = NULL;
	char errstr[128];
	const char *path;

	for (int i = 0; i < 10; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "CR-%d,fone,1\n", i);
	path = write_file("csv", text, n);
	assert_int_equal(adp_input_read(&in, path, ADP_FORMAT_AUTO, 3, NULL, NULL, errstr,
					sizeof(errstr)),
			 0);
	assert_int_equal(adp_input_error_count(in), 3);
	assert_int_equal(adp_input_error_total(in), 10);
	assert_int_equal(adp_input_error_at(in, 2)->line, 4);
	assert_null(adp_input_error_at(in, 3));
	/* cases beyond the kept errors are still invalid */
	for (size_t i = 0; i < adp_input_case_count(in); i++)
		assert_true(adp_input_case(in, i)->invalid);
	adp_input_free(in);
}

/* ------------------------------------------------------------ JSON Lines */

static void test_jsonl_happy(void **state)
{
	struct adp_input *in = parse("jsonl",
		"{\"case_ref\": \"CR-1\", \"op\": \"add\", \"visibility\": \"restricted\", "
		"\"caution\": [\"armed\", \"informant\"], \"expires_at\": \"2026-11-01\", "
		"\"poc\": {\"name\": \"Det. Ana Ruiz\", \"phone\": \"+1 202 555 0100\", "
		"\"email\": \"aruiz@example.org\", \"unit\": \"Unit 7\"}, "
		"\"indicators\": [{\"type\": \"phone\", \"value\": \"+1 202 555 0143\"}, "
		"{\"type\": \"username\", \"platform\": \"instagram\", \"value\": \"NightOwl\", "
		"\"valid_from\": 1793534400, \"valid_to\": null}, "
		"{\"type\": \"ip\", \"value\": \"2001:db8::1\", \"valid_from\": \"2026-11-01\", "
		"\"valid_to\": \"2026-11-01T14:00:00+02:00\"}]}\r\n"
		"\n"
		"   \r\n"
		"{\"case_ref\": \"CR-2\", \"op\": \"close_case\"}\n"
		"{\"case_ref\": \"CR-3\", \"indicators\": [{\"type\": \"vehicle\", "
		"\"jurisdiction\": \"US-CA\", \"value\": \"7ABC123\", \"qualifier\": null}]}");
	const struct adp_case *c;

	assert_no_errors(in);
	assert_int_equal(adp_input_format(in), ADP_FORMAT_JSONL);
	assert_int_equal(adp_input_rows(in), 3);
	assert_int_equal(adp_input_case_count(in), 3);
	c = adp_input_case(in, 0);
	assert_string_equal(c->case_ref, "CR-1");
	assert_int_equal(c->op, OP_ADD);
	assert_int_equal(c->visibility, VIS_RESTRICTED);
	assert_int_equal(c->caution_flags, C_ARMED | C_INFORMANT);
	assert_int_equal(c->expires_at, MS_2026_11_01);
	assert_string_equal(c->poc_name, "Det. Ana Ruiz");
	assert_string_equal(c->poc_phone, "+1 202 555 0100");
	assert_string_equal(c->poc_email, "aruiz@example.org");
	assert_string_equal(c->poc_unit, "Unit 7");
	assert_int_equal(c->n_ind, 3);
	assert_int_equal(c->ind[0].type, T_PHONE);
	assert_string_equal(c->ind[0].value, "+1 202 555 0143");
	assert_int_equal(c->ind[1].type, T_USERNAME);
	assert_string_equal(c->ind[1].qualifier, "instagram");
	assert_int_equal(c->ind[1].valid_from, MS_2026_11_01_1200Z);
	assert_int_equal(c->ind[1].valid_to, 0);
	assert_int_equal(c->ind[2].valid_from, MS_2026_11_01);
	assert_int_equal(c->ind[2].valid_to, MS_2026_11_01_1200Z);
	c = adp_input_case(in, 1);
	assert_int_equal(c->op, OP_CLOSE);
	assert_int_equal(c->n_ind, 0);
	assert_int_equal(c->first_line, 4);
	c = adp_input_case(in, 2);
	assert_int_equal(c->first_line, 5);
	assert_string_equal(c->ind[0].qualifier, "US-CA");
	assert_int_equal(c->ind[0].line, 5);
	adp_input_free(in);
}

static void test_jsonl_errors(void **state)
{
	static const char text[] =
		"{\"case_ref\": \"OK-1\", \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n" /* 1 */
		"{\"case_ref\": \"E-2\", \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]\n" /* 2 */
		"[{\"case_ref\": \"E-3\"}]\n"                                                          /* 3 */
		"\"E-4\"\n"                                                                            /* 4 */
		"{\"indicators\": []}\n"                                                               /* 5 */
		"{\"case_ref\": 6}\n"                                                                  /* 6 */
		"{\"case_ref\": \"E-7\", \"colour\": \"red\", \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n"
		"{\"case_ref\": \"E-8\", \"poc\": {\"fax\": \"1\"}, \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n"
		"{\"case_ref\": \"E-9\", \"indicators\": [{\"type\": \"phone\", \"value\": \"1\", \"note\": \"x\"}]}\n"
		"{\"case_ref\": \"E-10\", \"indicators\": [{\"type\": \"phone\", \"value\": \"a\\u0000b\"}]}\n"
		"{\"case_ref\": \"E-\\u0000\", \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n"
		"{\"case_ref\": \"E-12\", \"indicators\": [{\"type\": \"phone\", \"value\": 5550101}]}\n"
		"{\"case_ref\": \"E-13\", \"indicators\": [{\"type\": \"phone\"}]}\n"
		"{\"case_ref\": \"E-14\", \"indicators\": [{\"type\": \"ip\", \"value\": \"192.0.2.1\"}]}\n"
		"{\"case_ref\": \"E-15\", \"indicators\": [{\"type\": \"phone\", \"value\": \"1\", \"valid_from\": 1.5}]}\n"
		"{\"case_ref\": \"E-16\", \"caution\": [\"armed\", \"sneaky\"], \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n"
		"{\"case_ref\": \"E-17\"}\n"
		"{\"case_ref\": \"E-18\", \"indicators\": {\"type\": \"phone\"}}\n"
		"{\"case_ref\": \"E-19\", \"case_ref\": \"E-19b\"}\n"
		"{\"case_ref\": \"E-\xff\"}\n"
		"{\"case_ref\": \"E-21\", \"poc\": {\"name\": \"Det.\\u0007Ruiz\"}, \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n"
		"{\"case_ref\": \"E-22\", \"indicators\": [\"phone\"]}\n"
		"{\"case_ref\": \"E-23\", \"expires_at\": -5, \"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n"
		"{\"case_ref\": \"OK-24\", \"indicators\": [{\"type\": \"PHONE\", \"value\": \"1\"}]}\n";
	struct adp_input *in = parse_n("jsonl", text, sizeof(text) - 1);

	expect_error(in, 2, "not valid JSON");
	expect_error(in, 3, "expected a JSON object (one case per line), not an array");
	/* jansson's "near '...'" excerpt (often part of a raw value) is not echoed */
	assert_null(strstr(adp_input_error_at(in, expect_error(in, 12, "value"))->msg, "5550101"));
	for (size_t i = 0; i < adp_input_error_count(in); i++)
		assert_null(strstr(adp_input_error_at(in, i)->msg, "near '"));
	expect_error(in, 4, "expected a JSON object (one case per line), not a scalar");
	expect_error(in, 5, "case_ref is missing");
	expect_error(in, 6, "case_ref must be a string");
	expect_error(in, 7, "unknown key \"colour\"");
	expect_error(in, 8, "poc: unknown key \"fax\"");
	expect_error(in, 9, "indicators[0]: unknown key \"note\"");
	expect_error(in, 10, "indicators[0]: value contains a NUL byte");
	expect_error(in, 11, "case_ref contains a NUL byte");
	expect_error(in, 12, "indicators[0]: value must be a string");
	expect_error(in, 13, "indicators[0]: value is missing");
	expect_error(in, 14, "indicators[0]: an ip indicator needs valid_from and valid_to");
	expect_error(in, 15, "indicators[0]: valid_from must be a string or an integer");
	expect_error(in, 16, "unknown caution flag \"sneaky\"");
	expect_error(in, 17, "no indicators (allowed only when op is close_case)");
	expect_error(in, 18, "indicators must be an array of objects");
	expect_error(in, 19, "duplicate object key");
	expect_error(in, 20, "not valid JSON");
	expect_error(in, 21, "poc.name contains a control character");
	expect_error(in, 22, "indicators[0]: expected an object");
	expect_error(in, 23, "expires_at -5: out of range");
	assert_int_equal(adp_input_error_total(in), 22);
	assert_false(find_case(in, "OK-1")->invalid);
	assert_false(find_case(in, "OK-24")->invalid);
	for (int i = 7; i <= 23; i++) {
		char ref[16];

		if (i == 11 || i == 19 || i == 20)
			continue; /* no readable case_ref */
		snprintf(ref, sizeof(ref), "E-%d", i);
		assert_true(find_case(in, ref)->invalid);
	}
	/* unparseable lines cannot name their case */
	assert_true(adp_input_error_at(in, expect_error(in, 2, "JSON"))->case_idx ==
		    ADP_INPUT_NO_CASE);
	adp_input_free(in);
}

static void test_jsonl_hints(void **state)
{
	struct adp_input *in = parse("json", "[\n{\"case_ref\": \"A\",\n  \"op\": \"add\"}\n]\n");

	expect_error(in, 1, "a JSON array: JSON Lines wants one case object per line");
	expect_error(in, 2, "one whole object on one line");
	adp_input_free(in);
}

static void test_jsonl_merge(void **state)
{
	struct adp_input *in = parse("ndjson",
		"{\"case_ref\": \"A\", \"visibility\": \"restricted\", \"poc\": {\"name\": \"Ana\"}, "
		"\"indicators\": [{\"type\": \"phone\", \"value\": \"1\"}]}\n"
		"{\"case_ref\": \"B\", \"indicators\": [{\"type\": \"phone\", \"value\": \"2\"}]}\n"
		"{\"case_ref\": \"A\", \"visibility\": \"restricted\", \"poc\": {\"name\": \"Ana\", "
		"\"unit\": \"7\"}, \"indicators\": [{\"type\": \"email\", \"value\": \"a@example.com\"}]}\n"
		"{\"case_ref\": \"B\", \"caution\": \"armed|undercover\", \"indicators\": "
		"[{\"type\": \"phone\", \"value\": \"3\"}]}\n"
		"{\"case_ref\": \"B\", \"caution\": [\"undercover\"], \"indicators\": "
		"[{\"type\": \"phone\", \"value\": \"4\"}]}\n");
	const struct adp_case *a = find_case(in, "A"), *b = find_case(in, "B");

	assert_false(a->invalid);
	assert_int_equal(a->n_ind, 2);
	assert_int_equal(a->ind[1].line, 3);
	assert_string_equal(a->poc_unit, "7");
	assert_true(b->invalid);
	assert_int_equal(b->caution_flags, C_ARMED | C_UNDERCOVER);
	expect_error(in, 5, "caution \"undercover\" conflicts with the value given on line 4");
	assert_int_equal(adp_input_error_total(in), 1);
	adp_input_free(in);
}

static void test_jsonl_line_too_long(void **state)
{
	size_t big = ADP_INPUT_LINE_MAX + 10, n = 0, n1;
	char *text = malloc(big + 256);
	struct adp_input *in;

	assert_non_null(text);
	n += (size_t)sprintf(text + n, "{\"case_ref\": \"A\", \"indicators\": [{\"type\": \"url\", \"value\": \"");
	memset(text + n, 'a', big);
	n += big;
	n1 = n += (size_t)sprintf(text + n, "\"}]}");
	n += (size_t)sprintf(text + n, "\n{\"case_ref\": \"B\", \"op\": \"close_case\"}\n");
	in = parse_n("jsonl", text, n);
	expect_error(in, 1, "line longer than 1 MiB");
	assert_int_equal(adp_input_error_total(in), 1);
	assert_int_equal(adp_input_case_count(in), 1);
	assert_int_equal(find_case(in, "B")->first_line, 2);
	adp_input_free(in);

	/* the same, pushed in small pieces and without a final newline */
	in = parse_chunked(ADP_FORMAT_JSONL, text, n1, 4096);
	expect_error(in, 1, "line longer than 1 MiB");
	assert_int_equal(adp_input_error_total(in), 1);
	adp_input_free(in);
	free(text);
}

/* ------------------------------------------------------------------ times */

static void test_times(void **state)
{
	static const struct {
		const char *in;
		int64_t ms;
	} good[] = {
		{ "2026-11-01T12:00:00Z", MS_2026_11_01_1200Z },
		{ "2026-11-01T14:00:00+02:00", MS_2026_11_01_1200Z },
		{ "2026-11-01T06:30:00-05:30", MS_2026_11_01_1200Z },
		{ "2026-11-01t12:00:00z", MS_2026_11_01_1200Z },
		{ "2026-11-01 12:00:00Z", MS_2026_11_01_1200Z },
		{ "  2026-11-01T12:00:00Z ", MS_2026_11_01_1200Z },
		{ "2026-11-01T12:00:00.250Z", MS_2026_11_01_1200Z + 250 },
		{ "2026-11-01T12:00:00.1Z", MS_2026_11_01_1200Z + 100 },
		{ "2026-11-01T12:00:00.123456789+00:00", MS_2026_11_01_1200Z + 123 },
		{ "2026-11-01", MS_2026_11_01 },
		{ "1793534400", MS_2026_11_01_1200Z },
		{ "2024-02-29", INT64_C(1709164800000) },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "9999-12-31T23:59:59Z", INT64_C(253402300799000) },
		{ "253402300799", INT64_C(253402300799000) },
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "2026-11-01T12:00:00", "no time zone" },
		{ "2026-13-01", "month 13 out of range" },
		{ "2026-00-01", "month 00 out of range" },
		{ "2026-11-31", "day 31 out of range for 2026-11" },
		{ "2023-02-29", "day 29 out of range for 2023-02" },
		{ "2026-11-01T24:00:00Z", "hour 24 out of range" },
		{ "2026-11-01T12:60:00Z", "minute 60 out of range" },
		{ "2026-11-01T12:00Z", "expected the time of day as HH:MM:SS" },
		{ "2026-11-01T12:00:00+2:00", "expected the zone offset as +HH:MM" },
		{ "2026-11-01T12:00:00+24:00", "zone offset out of range" },
		{ "2026-11-01T12:00:00.Z", "expected digits after the decimal point" },
		{ "2026-11-01T12:00:00Zjunk", "unexpected text after the time zone" },
		{ "2026-11-01T12:00:00 UTC", "expected Z or an offset" },
		{ "11/01/2026", "not a time" },
		{ "-1793534400", "not a time" },
		{ "1793534400000", "out of range: Unix time in seconds expected (not milliseconds)" },
		{ "1969-12-31", "before 1970" },
		{ "1970-01-01T00:30:00+01:00", "before 1970" },
		{ "", "empty" },
	};
	char why[160];
	int64_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -1;
		if (adp_input_parse_time(good[i].in, strlen(good[i].in), &ms, why, sizeof(why)))
			fail_msg("\"%s\": %s", good[i].in, why);
		if (ms != good[i].ms)
			fail_msg("\"%s\": %lld, expected %lld", good[i].in, (long long)ms,
				 (long long)good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(adp_input_parse_time(bad[i].in, strlen(bad[i].in), &ms, why,
						      sizeof(why)),
				 DECONF_E_INVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("\"%s\": \"%s\", expected \"%s\"", bad[i].in, why, bad[i].why);
	}
}

static void test_ip_window(void **state)
{
	struct adp_input *in = parse("csv",
		"case_ref,type,value,valid_from,valid_to\n"
		"A,ip,192.0.2.1,2026-11-01,2026-11-01T12:00:00Z\n" /* 2: fine */
		"B,ip,192.0.2.2,,\n"                               /* 3 */
		"C,ip,192.0.2.3,2026-11-01,\n"                     /* 4 */
		"D,ip,192.0.2.4,,2026-11-01\n"                     /* 5 */
		"E,ip,192.0.2.5,2026-11-02,2026-11-01\n"           /* 6 */
		"F,ip,2001:db8::5,2026-11-01,2026-11-01\n"         /* 7: an instant is fine */
		"G,email,g@example.com,,2026-11-01\n");            /* 8: open start is fine */

	assert_false(find_case(in, "A")->invalid);
	expect_error(in, 3, "an ip indicator needs valid_from and valid_to");
	expect_error(in, 4, "an ip indicator needs valid_from and valid_to");
	expect_error(in, 5, "an ip indicator needs valid_from and valid_to");
	expect_error(in, 6, "valid_from is after valid_to");
	assert_false(find_case(in, "F")->invalid);
	assert_false(find_case(in, "G")->invalid);
	assert_int_equal(adp_input_error_total(in), 4);
	adp_input_free(in);
}

/* --------------------------------------------------- files, formats, I/O */

static void test_missing_file(void **state)
{
	struct adp_input *in = (struct adp_input *)1;
	char errstr[1024];
	char path[600];

	snprintf(path, sizeof(path), "%s/no-such.csv", tmpdir);
	assert_int_equal(adp_input_read(&in, path, ADP_FORMAT_AUTO, 0, NULL, NULL, errstr,
					sizeof(errstr)),
			 ENOENT);
	assert_null(in);
	assert_non_null(strstr(errstr, "no-such.csv: No such file or directory"));
	assert_string_equal(errstr + strlen(path), ": No such file or directory");

	assert_int_equal(adp_input_read(&in, tmpdir, ADP_FORMAT_CSV, 0, NULL, NULL, errstr,
					sizeof(errstr)),
			 EISDIR);
	assert_non_null(strstr(errstr, ": Is a directory"));

	snprintf(path, sizeof(path), "%s/cases.txt", tmpdir);
	assert_int_equal(adp_input_read(&in, path, ADP_FORMAT_AUTO, 0, NULL, NULL, errstr,
					sizeof(errstr)),
			 DECONF_E_INVAL);
	assert_non_null(strstr(errstr, "cases.txt: unknown file extension"));
}

static void test_formats(void **state)
{
	static const char jsonl[] = "\n  {\"case_ref\": \"A\", \"op\": \"close_case\"}\n";
	enum adp_format f;
	struct adp_input *in;
	char path[600], errstr[128];
	int fd, saved;

	assert_int_equal(adp_format_from_path("x.csv"), ADP_FORMAT_CSV);
	assert_int_equal(adp_format_from_path("dir.v2/x.CSV"), ADP_FORMAT_CSV);
	assert_int_equal(adp_format_from_path("x.jsonl"), ADP_FORMAT_JSONL);
	assert_int_equal(adp_format_from_path("x.ndjson"), ADP_FORMAT_JSONL);
	assert_int_equal(adp_format_from_path("x.json"), ADP_FORMAT_JSONL);
	assert_int_equal(adp_format_from_path("x.txt"), ADP_FORMAT_AUTO);
	assert_int_equal(adp_format_from_path("dir.csv/x"), ADP_FORMAT_AUTO);
	assert_int_equal(adp_format_from_path(".csv"), ADP_FORMAT_AUTO);
	assert_int_equal(adp_format_parse("CSV", &f), 0);
	assert_int_equal(f, ADP_FORMAT_CSV);
	assert_int_equal(adp_format_parse("ndjson", &f), 0);
	assert_int_equal(f, ADP_FORMAT_JSONL);
	assert_int_equal(adp_format_parse("xml", &f), DECONF_E_INVAL);
	assert_string_equal(adp_format_name(ADP_FORMAT_JSONL), "jsonl");

	/* an explicit format wins over the extension */
	snprintf(path, sizeof(path), "%s", write_file("txt", jsonl, sizeof(jsonl) - 1));
	assert_int_equal(adp_input_read(&in, path, ADP_FORMAT_JSONL, 0, NULL, NULL, errstr,
					sizeof(errstr)),
			 0);
	assert_no_errors(in);
	assert_int_equal(find_case(in, "A")->first_line, 2);
	adp_input_free(in);

	/* standard input: AUTO sniffs the first non-blank byte */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	assert_int_equal(adp_input_read(&in, "-", ADP_FORMAT_AUTO, 0, NULL, NULL, errstr,
					sizeof(errstr)),
			 0);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	assert_int_equal(adp_input_format(in), ADP_FORMAT_JSONL);
	assert_no_errors(in);
	assert_int_equal(adp_input_case_count(in), 1);
	adp_input_free(in);

	/* blank-only input under AUTO: nothing, no error */
	in = parse_chunked(ADP_FORMAT_AUTO, " \n\r\n", 4, 1);
	assert_no_errors(in);
	assert_int_equal(adp_input_case_count(in), 0);
	adp_input_free(in);
}

struct progress_log {
	uint64_t calls, last_done, last_rows, total;
	int decreasing;
};

static void on_progress(void *opaque, uint64_t done, uint64_t total, uint64_t rows)
{
	struct progress_log *p = opaque;

	if (done < p->last_done || rows < p->last_rows)
		p->decreasing = 1;
	p->calls++;
	p->last_done = done;
	p->last_rows = rows;
	p->total = total;
}

static void test_progress(void **state)
{
	size_t rows = 40000, cap = rows * 48 + 64, n;
	struct progress_log log = { 0 };
	struct adp_input *in;
	char errstr[128], *text = malloc(cap);
	const char *path;

	assert_non_null(text);
	n = (size_t)snprintf(text, cap, HEADER);
	for (size_t i = 0; i < rows; i++)
		n += (size_t)snprintf(text + n, cap - n, "CR-%zu,phone,+1 202 555 01%02zu\n",
				      i % 997, i % 100);
	path = write_file("csv", text, n);
	assert_int_equal(adp_input_read(&in, path, ADP_FORMAT_AUTO, 0, on_progress, &log, errstr,
					sizeof(errstr)),
			 0);
	assert_no_errors(in);
	assert_true(log.calls >= 3); /* > 1 MB in 256 KiB blocks, plus the end */
	assert_false(log.decreasing);
	assert_int_equal(log.total, n);
	assert_int_equal(log.last_done, n);
	assert_int_equal(log.last_rows, rows);
	assert_int_equal(adp_input_case_count(in), 997);
	adp_input_free(in);
	free(text);
}

/* Both demo files parse cleanly and describe the same cases. */
static void test_demo_files(void **state)
{
	struct adp_input *csv = NULL, *jl = NULL;
	char errstr[256];
	const struct adp_case *c;

	if (adp_input_read(&csv, DEMO_DIR "/example.csv", ADP_FORMAT_AUTO, 0, NULL, NULL, errstr,
			   sizeof(errstr)))
		fail_msg("%s", errstr);
	if (adp_input_read(&jl, DEMO_DIR "/example.jsonl", ADP_FORMAT_AUTO, 0, NULL, NULL, errstr,
			   sizeof(errstr)))
		fail_msg("%s", errstr);
	assert_no_errors(csv);
	assert_no_errors(jl);
	assert_int_equal(adp_input_case_count(csv), 3);
	assert_int_equal(adp_input_case_count(jl), 3);
	for (size_t i = 0; i < 3; i++) {
		const struct adp_case *a = adp_input_case(csv, i), *b = adp_input_case(jl, i);

		assert_string_equal(a->case_ref, b->case_ref);
		assert_int_equal(a->op, b->op);
		assert_int_equal(a->visibility, b->visibility);
		assert_int_equal(a->caution_flags, b->caution_flags);
		assert_int_equal(a->expires_at, b->expires_at);
		assert_string_equal(a->poc_name, b->poc_name);
		assert_string_equal(a->poc_phone, b->poc_phone);
		assert_string_equal(a->poc_email, b->poc_email);
		assert_string_equal(a->poc_unit, b->poc_unit);
		assert_int_equal(a->n_ind, b->n_ind);
		for (size_t k = 0; k < a->n_ind; k++) {
			assert_int_equal(a->ind[k].type, b->ind[k].type);
			assert_string_equal(a->ind[k].value, b->ind[k].value);
			assert_int_equal(a->ind[k].valid_from, b->ind[k].valid_from);
			assert_int_equal(a->ind[k].valid_to, b->ind[k].valid_to);
			if (a->ind[k].qualifier || b->ind[k].qualifier)
				assert_string_equal(a->ind[k].qualifier, b->ind[k].qualifier);
		}
	}
	c = find_case(csv, "ICAC-2026-0117");
	assert_int_equal(c->n_ind, 4);
	assert_int_equal(c->caution_flags, C_ARMED | C_ACTIVE);
	assert_int_equal(c->expires_at, MS_2026_12_31);
	assert_int_equal(c->ind[3].type, T_IP);
	assert_int_equal(c->ind[3].valid_from, MS_2026_05_10);
	assert_int_equal(c->ind[3].valid_to, MS_2026_05_12_0600Z + INT64_C(4) * 3600 * 1000);
	c = find_case(csv, "TF-2026-031");
	assert_int_equal(c->visibility, VIS_RESTRICTED);
	assert_int_equal(c->ind[0].valid_from, MS_2026_05_01_0830Z);
	assert_int_equal(c->ind[0].valid_to, MS_2026_06_30_235959Z);
	assert_int_equal(c->ind[1].type, T_VEHICLE);
	assert_int_equal(c->ind[2].type, T_URL);
	assert_int_equal(c->ind[3].type, T_SHA256);
	c = find_case(csv, "TPD-2025-009");
	assert_int_equal(c->op, OP_CLOSE);
	assert_int_equal(c->n_ind, 0);
	adp_input_free(csv);
	adp_input_free(jl);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 200k rows: 50k cases of 4 rows each, spread over the file. Prints the rate. */
static void test_big_csv(void **state)
{
	size_t rows = 200000, cases = 50000, cap = rows * 110 + 256, n;
	struct adp_input *in;
	char errstr[128], *text = malloc(cap);
	const char *path;
	double t0, dt;

	assert_non_null(text);
	n = (size_t)snprintf(text, cap, "case_ref,type,value,valid_from,valid_to,poc_name\n");
	for (size_t i = 0; i < rows; i++) {
		size_t c = i % cases;

		if (i % 4 == 3)
			n += (size_t)snprintf(text + n, cap - n,
					      "AGENCY-CASE-%06zu,ip,198.51.100.%zu,2026-05-01T08:30:00Z,"
					      "1782863999,Det. %zu\n",
					      c, i % 256, c);
		else
			n += (size_t)snprintf(text + n, cap - n,
					      "AGENCY-CASE-%06zu,email,user%zu@example.com,,,\n", c, i);
	}
	path = write_file("csv", text, n);
	free(text);
	t0 = now_s();
	assert_int_equal(adp_input_read(&in, path, ADP_FORMAT_AUTO, 100, NULL, NULL, errstr,
					sizeof(errstr)),
			 0);
	dt = now_s() - t0;
	print_message("[ INFO     ] %zu rows (%.1f MB) in %.3f s: %.0f rows/s\n", rows,
		      (double)n / 1e6, dt, (double)rows / dt);
	assert_no_errors(in);
	assert_int_equal(adp_input_case_count(in), cases);
	assert_int_equal(adp_input_rows(in), rows);
	for (size_t i = 0; i < cases; i += 4999)
		assert_int_equal(adp_input_case(in, i)->n_ind, 4);
	/* rows of case c all have i % 4 == c % 4: case 3 holds the ip rows */
	assert_int_equal(adp_input_case(in, 3)->ind[3].type, T_IP);
	assert_int_equal(adp_input_case(in, 3)->ind[3].valid_to, MS_2026_06_30_235959Z);
	adp_input_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_basic),
		cmocka_unit_test(test_csv_rfc4180_quoting),
		cmocka_unit_test(test_csv_crlf),
		cmocka_unit_test(test_csv_bom),
		cmocka_unit_test(test_csv_header_errors),
		cmocka_unit_test(test_csv_row_errors),
		cmocka_unit_test(test_csv_case_ref_checks),
		cmocka_unit_test(test_csv_nul_bytes),
		cmocka_unit_test(test_csv_syntax_errors),
		cmocka_unit_test(test_csv_record_too_long),
		cmocka_unit_test(test_csv_conflicts),
		cmocka_unit_test(test_csv_invalid_case_isolated),
		cmocka_unit_test(test_csv_merge_nonadjacent),
		cmocka_unit_test(test_csv_close_case),
		cmocka_unit_test(test_csv_qualifiers),
		cmocka_unit_test(test_csv_chunked_equals_whole),
		cmocka_unit_test(test_max_errors),
		cmocka_unit_test(test_jsonl_happy),
		cmocka_unit_test(test_jsonl_errors),
		cmocka_unit_test(test_jsonl_hints),
		cmocka_unit_test(test_jsonl_merge),
		cmocka_unit_test(test_jsonl_line_too_long),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_ip_window),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_demo_files),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_disclose_to),
		cmocka_unit_test(test_big_csv),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
