/* test_desk.c — the watch desk page: its one HTML-escaping function, and
 * the page rendered from a filled registry and directory (each agency, the
 * counts, readiness; no markup from agency text, no key or token bytes). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"
#include "desk.h"
#include "directory.h"
#include "metrics.h"

static void check_escape(const char *in, size_t len, const char *want)
{
	char *out = brk_desk_escape(in, len);

	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

#define ESC(lit, want) check_escape(lit, sizeof(lit) - 1, want)
#define R "&#xFFFD;"

static void test_escape(void **state)
{
	(void)state;
	ESC("", "");
	ESC("Bureau of Records", "Bureau of Records");
	ESC("<script>alert(\"x\")</script>", "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
	ESC("a & b's", "a &amp; b&#39;s");
	/* an attribute cannot be closed either way */
	ESC("\" onmouseover='x'", "&quot; onmouseover=&#39;x&#39;");
	/* control characters, DEL, a NUL inside, C1 controls */
	ESC("a\x01" "b\x7f" "c\n\td", "a" R "b" R "c" R R "d");
	ESC("x\0<y", "x" R "&lt;y");
	ESC("\xc2\x85", R);
	/* valid UTF-8 passes: é, €, 𝄞 */
	ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e");
	/* invalid UTF-8: a stray byte, overlong '/', a surrogate, past
	 * U+10FFFF, a sequence cut short (at the end and before '<') */
	ESC("\xff", R);
	ESC("\xc0\xaf", R R);
	ESC("\xe0\x80\xaf", R R R);
	ESC("\xed\xa0\x80", R R R);
	ESC("\xf4\x90\x80\x80", R R R R);
	ESC("ab\xe2\x82", "ab" R R);
	ESC("\xe2\x82<", R R "&lt;");
	/* right-to-left override and isolates: they would reorder the page */
	ESC("a\xe2\x80\xae" "b\xe2\x81\xa6" "c", "a" R "b" R "c");
}

/* -------------------------------------------------------------- the page */

static struct deconf_sign_key *fed;

static void add_agency(struct brk_directory *d, const char *id, const char *name, int status,
		       const char *country)
{
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	struct deconf_sign_key *k = NULL;
	uint8_t pub[DECONF_PUBKEY_LEN], *buf = NULL;
	size_t len = 0;
	char errstr[256];

	assert_int_equal(deconf_sign_key_generate(&k, NULL, 0), 0);
	assert_int_equal(deconf_sign_key_public(k, pub), 0);
	e.agency_id.data = (uint8_t *)id;
	e.agency_id.len = strlen(id);
	e.name = (char *)name;
	e.level = DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL;
	e.country = (char *)country;
	poc.name = "Duty Officer";
	poc.phone = "+1 555 010 0199";
	poc.email = "duty@example.org";
	e.watch_contact = &poc;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = status;
	e.updated_at = 1764300000000;
	assert_int_equal(deconf_envelope_seal(&e.base,
					      DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
					      "federation", fed, &buf, &len),
			 0);
	assert_int_equal(brk_directory_apply(d, id, strlen(id), buf, len, errstr, sizeof(errstr)),
			 0);
	free(buf);
	deconf_sign_key_free(k);
}

/* The longest run of hex digits in s. */
static size_t hex_run(const char *s)
{
	size_t best = 0, n = 0;

	for (; *s; s++) {
		n = isxdigit((unsigned char)*s) ? n + 1 : 0;
		if (n > best)
			best = n;
	}
	return best;
}

static void test_page(void **state)
{
	struct brk_metrics *mx = NULL;
	struct brk_directory *d = NULL;
	int64_t now = 1764300000; /* 2025-11-28 03:20 UTC */
	double h[BRK_HOURS];
	char *page;
	int ingest, matcher;

	(void)state;
	assert_int_equal(deconf_sign_key_generate(&fed, NULL, 0), 0);
	assert_int_equal(brk_directory_new(&d, fed), 0);
	add_agency(d, "us-fbi", "Federal Bureau", DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE,
		   "US");
	add_agency(d, "xx-evil", "<script>alert(1)</script> \"Evil\" & Co",
		   DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_SUSPENDED, "X<");

	assert_int_equal(brk_metrics_new(&mx), 0);
	ingest = brk_metrics_part(mx, "ingest");
	matcher = brk_metrics_part(mx, "matcher");
	brk_metrics_ready(mx, ingest, 1);
	brk_metrics_status(mx, matcher, 0, "restoring partition 3");
	brk_metrics_set_lag(mx, ingest, 4242);
	brk_metrics_add(mx, "deconf_notices_total", "agency=\"us-fbi\",kind=\"conflict\"", 3);
	brk_metrics_add(mx, "deconf_notices_total", "agency=\"xx-evil\",kind=\"conflict\"", 4);
	brk_metrics_add(mx, "deconf_notices_total", "agency=\"xx-evil\",kind=\"query_hit\"", 1);
	brk_metrics_add(mx, "deconf_rejects_total", "agency=\"us-fbi\",reason=\"bad_signature\"", 2);
	brk_metrics_add(mx, "deconf_rejects_total", "agency=\"xx-evil\",reason=\"bad_signature\"", 5);
	brk_metrics_add(mx, "deconf_rejects_total", "agency=\"xx-evil\",reason=\"replay\"", 11);
	brk_metrics_add(mx, "deconf_hot_tokens_total", NULL, 6);
	brk_metrics_set(mx, "deconf_escalations_open", NULL, 9);
	brk_metrics_add(mx, "deconf_outcomes_total", "outcome=\"not_related\"", 2);
	/* conflicts per hour: 3 this hour, 5 two hours ago, 8 a day ago
	 * (outside the 24 hours: not shown), plus the counter itself */
	brk_metrics_add(mx, "deconf_conflicts_total", NULL, 0);
	brk_metrics_conflicts_at(mx, now - 25 * 3600, 8);
	brk_metrics_conflicts_at(mx, now - 2 * 3600, 5);
	brk_metrics_conflicts_at(mx, now, 3);
	brk_metrics_hourly(mx, now, h);
	assert_true(h[0] == 3 && h[1] == 0 && h[2] == 5);
	for (int i = 3; i < BRK_HOURS; i++)
		assert_true(h[i] == 0);

	page = brk_desk_render(mx, d, now);
	assert_non_null(page);
	assert_non_null(strstr(page, "<meta http-equiv=\"refresh\" content=\"5\">"));
	assert_null(strstr(page, "<script"));
	/* each agency, its status; the hostile name as text */
	assert_non_null(strstr(page, "<td>us-fbi</td><td>Federal Bureau</td><td>federal</td>"
				     "<td>US</td><td class=\"ok\">active</td>"));
	assert_non_null(strstr(page, "<td>xx-evil</td><td>&lt;script&gt;alert(1)&lt;/script&gt; "
				     "&quot;Evil&quot; &amp; Co</td><td>federal</td><td>X&lt;</td>"
				     "<td class=\"bad\">suspended</td>"));
	assert_non_null(strstr(page, "Agencies (2)"));
	assert_non_null(strstr(page, "<td class=\"bad\">suspended</td><td class=\"scope\">all</td>"));
	/* the counts */
	assert_non_null(strstr(page, "<dd id=\"notices\">8</dd>"));
	assert_non_null(strstr(page, "<dd id=\"hot\">6</dd>"));
	assert_non_null(strstr(page, "<dd id=\"escalations\">9</dd>"));
	assert_non_null(strstr(page, "<dd id=\"rejects\">18</dd>"));
	assert_non_null(strstr(page, "<td>bad_signature</td><td class=\"n\">7</td>"));
	assert_non_null(strstr(page, "<td>replay</td><td class=\"n\">11</td>"));
	assert_non_null(strstr(page, "<td>conflict</td><td class=\"n\">7</td>"));
	assert_non_null(strstr(page, "<td>not_related</td><td class=\"n\">2</td>"));
	assert_non_null(strstr(page, "<td>11-28 03:00 (now)</td><td class=\"n\">3</td>"));
	assert_non_null(strstr(page, "<td>11-28 01:00</td><td class=\"n\">5</td>"));
	assert_non_null(strstr(page, "last 24 hours (8)"));
	/* readiness and lag */
	assert_non_null(strstr(page, "not ready: matcher not ready (restoring partition 3)"));
	assert_non_null(strstr(page, "<td>ingest</td><td class=\"ok\">yes</td><td>running</td>"
				     "<td class=\"n\">4242</td>"));
	assert_non_null(strstr(page, "<td>matcher</td><td class=\"bad\">no</td>"
				     "<td>restoring partition 3</td>"));
	/* no key bytes (the directory holds each agency's public key) and no
	 * token-like run of hex; no point of contact outside an escalation */
	assert_true(hex_run(page) < 16);
	assert_null(strstr(page, "duty@example.org"));
	assert_non_null(strstr(page, "Open escalations (0)"));
	assert_non_null(strstr(page, "id=\"no-liaisons\""));
	assert_non_null(strstr(page, "id=\"no-escalations\""));
	free(page);

	{
		/* two open escalations, listed as the matcher gave them, with
		 * both contacts as text and how long each has waited */
		struct brk_esc_view v[2];
		memset(v, 0, sizeof(v));
		snprintf(v[0].agency, sizeof(v[0].agency), "us-fbi");
		snprintf(v[0].other_agency, sizeof(v[0].other_agency), "xx-evil");
		snprintf(v[0].poc[0], sizeof(v[0].poc[0]), "SA Dana Reyes");
		snprintf(v[0].poc[1], sizeof(v[0].poc[1]), "+1 202 555 0100");
		snprintf(v[0].other_poc[0], sizeof(v[0].other_poc[0]), "<img src=x onerror=1>");
		v[0].caution_flags = DECONF__V1__CAUTION_FLAG__CAUTION_ARMED |
				     DECONF__V1__CAUTION_FLAG__CAUTION_VICTIM_AT_RISK;
		v[0].type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE;
		v[0].notified_at = (now - 2 * 3600 - 5 * 60) * 1000;
		v[0].escalated_at = (now - 3600) * 1000;
		v[1] = v[0];
		snprintf(v[1].agency, sizeof(v[1].agency), "xx-evil");
		v[1].notified_at = (now - 40) * 1000;
		brk_metrics_set_escalations(mx, v, 2, 7);
		page = brk_desk_render(mx, d, now);
		assert_non_null(page);
		assert_non_null(strstr(page, "Open escalations (7)"));
		assert_non_null(strstr(page, "The 2 longest open of 7 are listed."));
		assert_non_null(strstr(page, "<tr class=\"escalation\"><td><b>us-fbi</b><br>SA Dana "
					     "Reyes<br>+1 202 555 0100</td><td><b>xx-evil</b><br>"
					     "&lt;img src=x onerror=1&gt;</td><td class=\"bad\">armed, "
					     "victim_at_risk</td><td>phone</td><td class=\"n\">2 h 05 "
					     "min</td></tr>"));
		assert_non_null(strstr(page, "<td class=\"n\">40 s</td></tr>"));
		assert_null(strstr(page, "<img"));
		assert_null(strstr(page, "id=\"no-escalations\""));
		free(page);
		brk_metrics_set_escalations(mx, NULL, 0, 0);
	}
	{
		/* liaison requests: newest first, the last 20 of 22; agency ids
		 * as text (hostile ones escaped) */
		struct brk_liaison_view l;
		memset(&l, 0, sizeof(l));
		for (int k = 0; k < 22; k++) {
			snprintf(l.agency, sizeof(l.agency), k == 21 ? "<b>x" : "ag-%d", k);
			snprintf(l.other_agency, sizeof(l.other_agency), "uk-nca");
			memset(l.ref, k, sizeof(l.ref));
			l.at = (now + k) * 1000;
			brk_metrics_add_liaison(mx, &l);
		}
		page = brk_desk_render(mx, d, now);
		assert_non_null(page);
		assert_non_null(strstr(page, "Liaison requests (latest 20)"));
		assert_non_null(strstr(page, "<td>&lt;b&gt;x</td><td>uk-nca</td><td class=\"mono\">"
					     "15151515151515151515151515151515</td>"));
		assert_non_null(strstr(page, "<td>ag-2</td>"));
		assert_null(strstr(page, "<td>ag-1</td>")); /* pushed out */
		assert_true(strstr(page, "<td>&lt;b&gt;x</td>") < strstr(page, "<td>ag-20</td>"));
		free(page);
	}

	/* without a directory: still a page */
	page = brk_desk_render(mx, NULL, now);
	assert_non_null(page);
	assert_non_null(strstr(page, "Agencies (0)"));
	free(page);

	/* an hour's slot is reused a day later, from zero (two hours
	 * ago's, 5, is gone) */
	brk_metrics_conflicts_at(mx, now + 22 * 3600, 1);
	brk_metrics_hourly(mx, now + 22 * 3600, h);
	assert_true(h[0] == 1 && h[22] == 3 && h[23] == 0);

	brk_metrics_free(mx);
	brk_directory_free(d);
	deconf_sign_key_free(fed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
