/* test_notices.c — how the adapter shows a conflict notice (adapters/src/notices.c).
 *
 * A notice carries text other agencies wrote: a hostile one puts terminal
 * escapes, invalid UTF-8 and bidi overrides into its point of contact, its
 * name and its case ref. Whatever the broker let through, the adapter's
 * terminal output must hold no control byte, and its JSON (notices --json,
 * the run daemon's outbox lines and webhook bodies: all adp_notice_json())
 * must be valid, complete and parse back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf.pb-c.h"
#include "deconf/text.h"
#include "notices.h"

#define HOSTILE "\x1b]0;owned\x07\x1b[2J" /* retitle the window, clear the screen */
#define BAD_UTF8 "\xff\xfe"
#define RLO "\xe2\x80\xae"                /* U+202E RIGHT-TO-LEFT OVERRIDE */
#define CSI_C1 "\xc2\x9b"                 /* U+009B, CSI on 8-bit terminals */
#define FFFD "\xef\xbf\xbd"

/* A raw value with a control and a NUL in it (value_len is authoritative). */
static const char VALUE[] = "+1 555\x1b[8m\0hidden";
#define VALUE_LEN (sizeof(VALUE) - 1)

struct fixture {
	Deconf__V1__ConflictNotice n;
	Deconf__V1__Counterpart cp;
	Deconf__V1__PointOfContact poc;
	uint8_t id[16], token[16];
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	deconf__v1__conflict_notice__init(&f->n);
	deconf__v1__counterpart__init(&f->cp);
	deconf__v1__point_of_contact__init(&f->poc);
	for (size_t i = 0; i < sizeof(f->id); i++) {
		f->id[i] = (uint8_t)(0xa0 + i);
		f->token[i] = (uint8_t)i;
	}
	f->poc.name = HOSTILE;
	f->poc.phone = BAD_UTF8;
	f->poc.email = "jane" RLO "moc.evil@";
	f->poc.unit = CSI_C1 "31m red";
	f->cp.agency_id.data = (uint8_t *)"agency-a\x1b";
	f->cp.agency_id.len = 9;
	f->cp.agency_name = "Agency \x1b[31mA" BAD_UTF8;
	f->cp.level = DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE;
	f->cp.country = "U\x07S";
	f->cp.poc = &f->poc;
	f->cp.case_ref.data = (uint8_t *)"A-\x1b[1m\xc0\xaf";
	f->cp.case_ref.len = 8;
	f->cp.caution_flags = 1;
	f->cp.first_seen = INT64_C(1777624200000);
	f->n.notice_id.data = f->id;
	f->n.notice_id.len = sizeof(f->id);
	f->n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT;
	f->n.agency_id.data = (uint8_t *)"agency-b";
	f->n.agency_id.len = 8;
	f->n.case_ref.data = (uint8_t *)"B-1\x7f" RLO;
	f->n.case_ref.len = 7;
	f->n.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE;
	f->n.key_epoch = 3;
	f->n.token.data = f->token;
	f->n.token.len = sizeof(f->token);
	f->n.counterpart = &f->cp;
	f->n.created_at = INT64_C(1778371200000);
}

/* Text for a failure message, escaped: a failing test must not drive the
 * terminal (deconf_text_for_terminal has its own tests in test_text). */
#define SHOWN(buf, s, len) deconf_text_for_terminal((buf), sizeof(buf), (s), (len))

/* assert_string_equal, with the strings shown escaped when it fails */
#define assert_text_equal(got, want) text_equal((got), (want), __LINE__)

static void text_equal(const char *got, const char *want, int line)
{
	char g[1024], w[1024];

	if (!got)
		fail_msg("line %d: got NULL", line);
	if (strcmp(got, want))
		fail_msg("line %d: got \"%s\", expected \"%s\"", line,
			 SHOWN(g, got, strlen(got)), SHOWN(w, want, strlen(want)));
}

/* What fn writes to a FILE, as a malloc'ed string. */
static char *capture(void (*fn)(FILE *, const Deconf__V1__ConflictNotice *, const char *,
				size_t),
		     const Deconf__V1__ConflictNotice *n, const char *value, size_t value_len,
		     size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	fn(f, n, value, value_len);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

/* Terminal output: lines of valid UTF-8 with no C0 (but the newlines), DEL,
 * C1 or bidi control. */
static void assert_terminal_safe(const char *s, size_t len)
{
	const char *line = s, *end = s + len;

	assert_int_equal(strlen(s), len); /* no NUL */
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		int rc = deconf_text_check(line, n, SIZE_MAX);

		if (rc != DECONF_TEXT_OK) {
			char shown[1024];
			fail_msg("line \"%s\": %s", SHOWN(shown, line, n), deconf_text_problem(rc));
		}
		line += n + 1;
	}
	assert_null(memchr(s, 0x1b, len));
	assert_null(memchr(s, 0x07, len));
	assert_null(strstr(s, RLO));
}

static void test_print_escapes(void **state)
{
	struct fixture f;
	size_t len;
	char *out;

	fixture_init(&f);
	out = capture(adp_notice_print, &f.n, VALUE, VALUE_LEN, &len);
	assert_terminal_safe(out, len);
	/* every hostile field is there, visibly escaped */
	assert_non_null(strstr(out, "contact:      \\x1b]0;owned\\x07\\x1b[2J, \\xff\\xfe, "
				    "jane\\u{202E}moc.evil@, \\u{009B}31m red\n"));
	assert_non_null(strstr(out, "also held by: Agency \\x1b[31mA\\xff\\xfe "
				    "(agency-a\\x1b; state, U\\x07S), case A-\\x1b[1m\\xc0\\xaf, "
				    "since 2026-05-01 08:30 UTC\n"));
	assert_non_null(strstr(out, "your case:    B-1\\x7f\\u{202E}, phone "
				    "+1 555\\x1b[8m\\x00hidden\n"));
	assert_non_null(strstr(out, "caution:      armed\n"));
	free(out);
}

static void test_print_escapes_fallbacks(void **state)
{
	struct fixture f;
	size_t len;
	char *out;

	/* no agency name: the id stands in, escaped too; no value in the ledger */
	fixture_init(&f);
	f.cp.agency_name = "";
	f.cp.country = NULL;
	f.poc.phone = "";
	f.n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH;
	out = capture(adp_notice_print, &f.n, NULL, 0, &len);
	assert_terminal_safe(out, len);
	assert_non_null(strstr(out, "matched by:   agency-a\\x1b (agency-a\\x1b; state, ?)"));
	assert_non_null(strstr(out, "contact:      \\x1b]0;owned\\x07\\x1b[2J, "
				    "jane\\u{202E}moc.evil@, "));
	assert_non_null(strstr(out, "(no longer in the ledger)\n"));
	free(out);
}

/* JSON text: printable ASCII only, so no control, C1 or bidi byte either. */
static void assert_json_ascii(const char *s)
{
	char shown[4096];

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail_msg("byte 0x%02x at %zu of %s", *p, (size_t)(p - (const unsigned char *)s),
				 SHOWN(shown, s, strlen(s)));
}

static const char *str_at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is missing or not a string", key);
	return json_string_value(v);
}

static void test_json_complete_and_valid(void **state)
{
	struct fixture f;
	json_error_t err;
	json_t *o, *cp, *poc, *caution;
	char *s;

	fixture_init(&f);
	assert_non_null(s = adp_notice_json(&f.n, VALUE, VALUE_LEN));
	assert_json_ascii(s);
	/* the escapes are visible in the text itself */
	assert_non_null(strcasestr(s, "\"name\":\"\\u001b]0;owned\\u0007\\u001b[2J\""));
	assert_non_null(strcasestr(s, "\"phone\":\"\\ufffd\\ufffd\""));
	assert_non_null(strcasestr(s, "jane\\u202emoc.evil@"));
	assert_non_null(strcasestr(s, "\\u009b31m red"));
	assert_non_null(strcasestr(s, "\"case_ref\":\"B-1\\u007f\\u202e\""));

	/* parses back (jansson checks UTF-8 strictly), with every field */
	if (!(o = json_loads(s, JSON_REJECT_DUPLICATES, &err))) {
		char shown[4096];
		fail_msg("%s: %s", SHOWN(shown, s, strlen(s)), err.text);
	}
	assert_text_equal(str_at(o, "kind"), "conflict");
	assert_text_equal(str_at(o, "type"), "phone");
	assert_text_equal(str_at(o, "case_ref"), "B-1\x7f" RLO);
	/* the raw value: controls kept as data, its NUL replaced */
	assert_text_equal(str_at(o, "value"), "+1 555\x1b[8m" FFFD "hidden");
	assert_non_null(cp = json_object_get(o, "counterpart"));
	assert_text_equal(str_at(cp, "agency_id"), "agency-a\x1b");
	assert_text_equal(str_at(cp, "agency_name"), "Agency \x1b[31mA" FFFD FFFD);
	assert_text_equal(str_at(cp, "country"), "U\x07S");
	assert_text_equal(str_at(cp, "case_ref"), "A-\x1b[1m" FFFD FFFD);
	assert_text_equal(str_at(cp, "level"), "state");
	assert_non_null(poc = json_object_get(cp, "poc"));
	assert_int_equal(json_object_size(poc), 4);
	assert_text_equal(str_at(poc, "name"), HOSTILE);
	assert_text_equal(str_at(poc, "phone"), FFFD FFFD);
	assert_text_equal(str_at(poc, "email"), "jane" RLO "moc.evil@");
	assert_text_equal(str_at(poc, "unit"), CSI_C1 "31m red");
	assert_non_null(caution = json_object_get(cp, "caution"));
	assert_int_equal(json_array_size(caution), 1);
	assert_text_equal(json_string_value(json_array_get(caution, 0)), "armed");
	json_decref(o);
	free(s);
}

/* notices --json prints the same object on one line; the outbox and the
 * webhook body are adp_notice_json() itself. */
static void test_print_json_line(void **state)
{
	struct fixture f;
	size_t len;
	char *out, *s;
	json_t *o;

	fixture_init(&f);
	out = capture(adp_notice_print_json, &f.n, VALUE, VALUE_LEN, &len);
	assert_non_null(s = adp_notice_json(&f.n, VALUE, VALUE_LEN));
	assert_int_equal(len, strlen(s) + 1);
	assert_memory_equal(out, s, strlen(s));
	assert_int_equal(out[len - 1], '\n');
	out[len - 1] = '\0';
	assert_json_ascii(out);
	assert_non_null(o = json_loads(out, 0, NULL));
	json_decref(o);
	free(s);
	free(out);
}

static void test_json_no_value_no_counterpart(void **state)
{
	struct fixture f;
	json_t *o;
	char *s;

	fixture_init(&f);
	f.n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING;
	f.n.counterpart = NULL;
	f.n.expires_at = INT64_C(1798675200000);
	f.n.case_ref.data = (uint8_t *)"\xff";
	f.n.case_ref.len = 1;
	assert_non_null(s = adp_notice_json(&f.n, NULL, 0));
	assert_json_ascii(s);
	assert_non_null(o = json_loads(s, 0, NULL));
	assert_true(json_is_null(json_object_get(o, "value")));
	assert_null(json_object_get(o, "counterpart"));
	assert_text_equal(str_at(o, "case_ref"), FFFD);
	assert_int_equal(json_integer_value(json_object_get(o, "expires_at")),
			 INT64_C(1798675200000));
	json_decref(o);
	free(s);
}

/* An acknowledgment relayed by the broker, and a reminder: in plain words
 * naming the outcome and the agency's own notice, and in JSON. */
static void test_lifecycle_notices(void **state)
{
	struct fixture f;
	uint8_t about[16];
	size_t len;
	char *out;
	json_t *o;

	(void)state;
	fixture_init(&f);
	memset(about, 0xab, sizeof(about));
	f.n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED;
	f.n.outcome = DECONF__V1__OUTCOME__OUTCOME_JOINT_INVESTIGATION;
	f.n.about_notice_id.data = about;
	f.n.about_notice_id.len = sizeof(about);
	out = capture(adp_notice_print, &f.n, VALUE, VALUE_LEN, &len);
	assert_terminal_safe(out, len);
	assert_non_null(strstr(out, "acknowledged  "));
	assert_non_null(strstr(out, "  they recorded: joint investigation (on the conflict of your "
				    "notice abababababababababababababababab)\n"));
	free(out);
	assert_non_null(out = adp_notice_json(&f.n, VALUE, VALUE_LEN));
	assert_non_null(o = json_loads(out, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(o, "outcome")),
			    "joint_investigation");
	assert_string_equal(json_string_value(json_object_get(o, "about_notice_id")),
			    "abababababababababababababababab");
	json_decref(o);
	free(out);

	f.n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_REMINDER;
	f.n.outcome = 0;
	out = capture(adp_notice_print, &f.n, VALUE, VALUE_LEN, &len);
	assert_terminal_safe(out, len);
	assert_non_null(strstr(out, "watch desk was told; acknowledge it with `deconf-adapter ack "
				    "abababababababababababababababab OUTCOME`"));
	assert_null(strstr(out, "they recorded"));
	free(out);
	/* an outcome outside the enum (a newer broker) is named "unknown" */
	f.n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED;
	f.n.outcome = 99;
	out = capture(adp_notice_print, &f.n, VALUE, VALUE_LEN, &len);
	assert_non_null(strstr(out, "they recorded: unknown "));
	free(out);
}

/* An event conflict: shown as the two events (urgent, kinds, their window,
 * the band), never as the cell; the JSON carries the same. */
static void test_event_notice(void **state)
{
	struct fixture f;
	size_t len;
	char *out;
	json_t *o, *cp;

	(void)state;
	fixture_init(&f);
	f.n.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL;
	f.n.urgent = 1;
	f.n.event_kind = DECONF__V1__EVENT_KIND__EVENT_KIND_SEARCH_WARRANT;
	f.n.distance_band_m = 1682;
	f.cp.event_kind = DECONF__V1__EVENT_KIND__EVENT_KIND_UNDERCOVER_MEET;
	f.cp.window_from = INT64_C(1796238000000); /* 2026-12-02 19:00 UTC */
	f.cp.window_to = INT64_C(1796245200000);
	out = capture(adp_notice_print, &f.n, "v1:89c25a3", 10, &len);
	assert_terminal_safe(out, len);
	assert_non_null(strstr(out, "URGENT: another agency plans an operation at the same place "
				    "and time"));
	assert_non_null(strstr(out, "(search warrant)\n"));
	assert_non_null(strstr(out, "  their event:  undercover meet, 2026-12-02 19:00 UTC to "
				    "2026-12-02 21:00 UTC, centre within about 1682 m of yours\n"));
	assert_null(strstr(out, "v1:"));
	free(out);
	assert_non_null(out = adp_notice_json(&f.n, "v1:89c25a3", 10));
	assert_non_null(o = json_loads(out, 0, NULL));
	assert_true(json_is_true(json_object_get(o, "urgent")));
	assert_string_equal(json_string_value(json_object_get(o, "event_kind")), "search_warrant");
	assert_int_equal(json_integer_value(json_object_get(o, "distance_band_m")), 1682);
	cp = json_object_get(o, "counterpart");
	assert_string_equal(json_string_value(json_object_get(cp, "event_kind")),
			    "undercover_meet");
	assert_true(json_integer_value(json_object_get(cp, "window_from")) == f.cp.window_from);
	json_decref(o);
	free(out);
	/* the same cell type in a reminder is no event conflict */
	f.n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_REMINDER;
	assert_false(adp_notice_is_event(&f.n));
}

/* A scoped match: said in plain words, the reference and the liaison
 * desk, never a case reference or the investigator. */
static void test_scoped_notice(void **state)
{
	struct fixture f;
	Deconf__V1__Counterpart cp = DECONF__V1__COUNTERPART__INIT;
	Deconf__V1__PointOfContact lia = DECONF__V1__POINT_OF_CONTACT__INIT;
	uint8_t ref[16];
	size_t len;
	char *out;
	json_t *o;

	(void)state;
	fixture_init(&f);
	memset(ref, 0x5c, sizeof(ref));
	f.n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_SCOPED_MATCH;
	f.n.pair_ref.data = ref;
	f.n.pair_ref.len = sizeof(ref);
	/* no liaison named: a counterpart with nothing in it (what the broker
	 * sends), its bytes fields without data */
	f.n.counterpart = &cp;
	out = capture(adp_notice_print, &f.n, VALUE, VALUE_LEN, &len);
	assert_terminal_safe(out, len);
	assert_non_null(strstr(out, "scoped_match  "));
	assert_non_null(strstr(out, "a partner outside your sharing scope"));
	assert_non_null(strstr(out, "  reference:    5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c (quote it to "
				    "the federation's watch desk)\n"));
	free(out);
	assert_non_null(out = adp_notice_json(&f.n, VALUE, VALUE_LEN));
	free(out);
	/* a liaison desk named */
	cp.agency_id.data = (uint8_t *)"uk-nca";
	cp.agency_id.len = 6;
	cp.agency_name = "National Crime Agency";
	cp.country = "GB";
	lia.name = "NCA International Crime Bureau";
	lia.phone = "+44 20 7238 8000";
	cp.poc = &lia;
	f.n.counterpart = &cp;
	out = capture(adp_notice_print, &f.n, VALUE, VALUE_LEN, &len);
	assert_terminal_safe(out, len);
	assert_non_null(strstr(out, "or their liaison)"));
	assert_non_null(strstr(out, "  liaison of:   National Crime Agency (uk-nca, GB)\n"));
	assert_non_null(strstr(out, "  liaison desk: NCA International Crime Bureau, +44 20 7238 "
				    "8000\n"));
	assert_null(strstr(out, "also held by"));
	free(out);
	assert_non_null(out = adp_notice_json(&f.n, VALUE, VALUE_LEN));
	assert_non_null(o = json_loads(out, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(o, "pair_ref")),
			    "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "scoped_match");
	json_decref(o);
	free(out);
	assert_true(adp_notice_acknowledgeable(&f.n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_print_escapes),
		cmocka_unit_test(test_lifecycle_notices),
		cmocka_unit_test(test_event_notice),
		cmocka_unit_test(test_scoped_notice),
		cmocka_unit_test(test_print_escapes_fallbacks),
		cmocka_unit_test(test_json_complete_and_valid),
		cmocka_unit_test(test_print_json_line),
		cmocka_unit_test(test_json_no_value_no_counterpart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
