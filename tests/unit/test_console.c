/* test_console.c — the analyst's console's HTML and request parsing
 * (adapters/src/console_html.c, console.c, nfilter.c).
 *
 * A notice carries text other agencies wrote; the ledger carries raw
 * values from files that could hold anything. Rendered into a page, none
 * of it may open a tag, leave an attribute, start an entity or hide
 * itself: every '<' of the page must be one this program wrote.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "console_html.h"
#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/text.h"
#include "nfilter.h"

#define SCRIPT "<script>alert(1)</script>"
#define HOSTILE SCRIPT "\"'><img src=x onerror=alert(2)>&amp;\x1b[2J\xff\xfe\xe2\x80\xae"

/* The tags console_html.c writes: any other "<" in a page came from text. */
static const char *const own_tags[] = {
	"!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3",
	"nav", "a ", "a>", "main", "p>", "p ", "form", "label", "input", "select", "option",
	"button", "article", "dl", "dt", "dd", "span", "em>", "strong", "br>", "table",
	"thead", "tbody", "tr", "th", "td", "section", "/",
};

static void assert_only_own_markup(const char *page)
{
	for (const char *p = strchr(page, '<'); p; p = strchr(p + 1, '<')) {
		size_t i;

		for (i = 0; i < sizeof(own_tags) / sizeof(own_tags[0]); i++)
			if (!strncmp(p + 1, own_tags[i], strlen(own_tags[i])))
				break;
		if (i == sizeof(own_tags) / sizeof(own_tags[0]))
			fail_msg("a tag not written by the console: %.40s", p);
	}
	assert_null(strstr(page, "<script"));
	assert_null(strstr(page, "<img"));
	assert_null(strstr(page, "onerror=alert(2)>"));
	/* no raw control byte (the page's own newlines aside), valid UTF-8 */
	for (const char *p = page; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			fail_msg("control byte 0x%02x in the page", (unsigned char)*p);
	assert_int_equal(deconf_text_check(page, strlen(page), SIZE_MAX), DECONF_TEXT_CONTROL);
	{
		/* with the newlines gone, nothing else is a control */
		char *copy = strdup(page);
		for (char *p = copy; *p; p++)
			if (*p == '\n')
				*p = ' ';
		assert_int_equal(deconf_text_check(copy, strlen(copy), SIZE_MAX), DECONF_TEXT_OK);
		free(copy);
	}
}

static void test_escape(void **state)
{
	struct adp_html h = { 0 };
	static const char nul[] = "a\0b";
	char *s;

	(void)state;
	adp_html_text(&h, HOSTILE, strlen(HOSTILE));
	adp_html_raw(&h, "|");
	adp_html_text(&h, nul, 3);
	adp_html_raw(&h, "|");
	adp_html_text(&h, "\xc2\x9b\x7f\t\r\n", 6);
	assert_non_null(s = adp_html_take(&h, NULL));
	assert_string_equal(s, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x "
			       "onerror=alert(2)&gt;&amp;amp;\\x1b[2J\\xff\\xfe\\u{202E}"
			       "|a\\x00b|\\u{009B}\\x7f\\x09\\x0d\\x0a");
	free(s);
	/* printable UTF-8 stays as it is */
	adp_html_str(&h, "Zoë · 東京");
	assert_non_null(s = adp_html_take(&h, NULL));
	assert_string_equal(s, "Zoë · 東京");
	free(s);
	/* NULL and empty: nothing */
	adp_html_str(&h, NULL);
	adp_html_text(&h, NULL, 0);
	assert_null(adp_html_take(&h, NULL)); /* nothing was written */
}

static void test_hostile_notice(void **state)
{
	Deconf__V1__ConflictNotice n = DECONF__V1__CONFLICT_NOTICE__INIT;
	Deconf__V1__Counterpart cp = DECONF__V1__COUNTERPART__INIT;
	Deconf__V1__PointOfContact poc = DECONF__V1__POINT_OF_CONTACT__INIT;
	struct adp_html h = { 0 };
	struct adp_html_filters f = { HOSTILE, "conflict\"><script>", HOSTILE, HOSTILE, NULL, NULL };
	uint8_t id[16], token[16];
	char *page;

	(void)state;
	memset(id, 0xab, sizeof(id));
	memset(token, 1, sizeof(token));
	poc.name = HOSTILE;
	poc.phone = HOSTILE;
	poc.email = HOSTILE;
	poc.unit = HOSTILE;
	cp.agency_id.data = (uint8_t *)HOSTILE;
	cp.agency_id.len = strlen(HOSTILE);
	cp.agency_name = HOSTILE;
	cp.country = HOSTILE;
	cp.case_ref.data = (uint8_t *)HOSTILE;
	cp.case_ref.len = strlen(HOSTILE);
	cp.caution_flags = 1 | 4 | 0x80000000u;
	cp.level = 99;
	cp.poc = &poc;
	n.notice_id.data = id;
	n.notice_id.len = sizeof(id);
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT;
	n.case_ref.data = (uint8_t *)HOSTILE;
	n.case_ref.len = strlen(HOSTILE);
	n.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL;
	n.token.data = token;
	n.token.len = sizeof(token);
	n.created_at = 1790000000000;
	n.counterpart = &cp;

	adp_html_begin(&h, HOSTILE, ADP_PAGE_NOTICES, HOSTILE);
	adp_html_notice_filters(&h, &f);
	adp_html_notice(&h, &n, HOSTILE, strlen(HOSTILE), NULL);
	n.kind = 77; /* a kind this build does not know */
	adp_html_notice(&h, &n, NULL, 0, NULL);
	adp_html_message(&h, "error", HOSTILE);
	adp_html_lookup_form(&h, "email\"><script>", HOSTILE);
	adp_html_end(&h);
	assert_int_equal(h.failed, 0);
	assert_non_null(page = adp_html_take(&h, NULL));
	assert_only_own_markup(page);
	/* what was escaped is there to read */
	assert_non_null(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(page, "<span class=\"value\">&lt;script&gt;"));
	assert_non_null(strstr(page, "armed, active_operation, unknown flag"));
	assert_non_null(strstr(page, "(no longer in the ledger)"));
	/* a filter given back in an attribute stays inside it */
	assert_non_null(strstr(page, "value=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;"));
	free(page);
}

/* Count the occurrences of needle in s. */
static size_t count(const char *s, const char *needle)
{
	size_t k = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		k++;
	return k;
}

/* The acknowledge form: on the notices an agency acknowledges, and only
 * there; the outcomes as the ledger holds them, the unconfirmed one never
 * shown as held; hostile text around it still escaped. */
static void test_ack_form(void **state)
{
	Deconf__V1__ConflictNotice n = DECONF__V1__CONFLICT_NOTICE__INIT;
	Deconf__V1__Counterpart cp = DECONF__V1__COUNTERPART__INIT;
	struct adp_html h = { 0 };
	struct adp_html_filters f = { HOSTILE, NULL, NULL, NULL, NULL, "1" };
	struct adp_ack ack = { 0 };
	uint8_t id[16];
	char *page;

	(void)state;
	memset(id, 0xcd, sizeof(id));
	cp.agency_id.data = (uint8_t *)HOSTILE;
	cp.agency_id.len = strlen(HOSTILE);
	cp.agency_name = HOSTILE;
	n.notice_id.data = id;
	n.notice_id.len = sizeof(id);
	n.case_ref.data = (uint8_t *)HOSTILE;
	n.case_ref.len = strlen(HOSTILE);
	n.type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL;
	n.counterpart = &cp;

	/* a conflict never acknowledged */
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT;
	adp_html_notice_filters(&h, &f);
	adp_html_notice(&h, &n, HOSTILE, strlen(HOSTILE), NULL);
	assert_non_null(page = adp_html_take(&h, NULL));
	assert_only_own_markup(page);
	assert_non_null(strstr(page, "name=\"unacked\" type=\"checkbox\" value=\"1\" checked"));
	assert_int_equal(count(page, "action=\"/ack\""), 1);
	assert_non_null(strstr(page, "<input type=\"hidden\" name=\"notice\" "
				     "value=\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\">"));
	assert_non_null(strstr(page, "<dd class=\"ack\">not acknowledged</dd>"));
	assert_non_null(strstr(page, "<option value=\"counterpart_contacted\">"));
	assert_non_null(strstr(page, "<option value=\"deconflicted\">"));
	assert_null(strstr(page, "value=\"unspecified\""));
	free(page);

	/* accepted outcomes; the last one sent was refused */
	ack.outcomes = 1u << DECONF__V1__OUTCOME__OUTCOME_SEEN |
		       1u << DECONF__V1__OUTCOME__OUTCOME_DECONFLICTED;
	ack.last = DECONF__V1__OUTCOME__OUTCOME_JOINT_INVESTIGATION;
	ack.state = ADP_ACK_REFUSED;
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_RESTRICTED_MATCH;
	adp_html_notice(&h, &n, NULL, 0, &ack);
	assert_non_null(page = adp_html_take(&h, NULL));
	assert_only_own_markup(page);
	assert_int_equal(count(page, "action=\"/ack\""), 1);
	assert_non_null(strstr(page, "<dd class=\"ack\">seen, deconflicted (last sent: "
				     "joint_investigation, refused by the federation)</dd>"));
	free(page);

	/* sent, no receipt: not acknowledged yet */
	memset(&ack, 0, sizeof(ack));
	ack.last = DECONF__V1__OUTCOME__OUTCOME_NOT_RELATED;
	ack.state = ADP_ACK_SENT;
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT;
	adp_html_notice(&h, &n, NULL, 0, &ack);
	assert_non_null(page = adp_html_take(&h, NULL));
	assert_non_null(strstr(page, "not acknowledged (last sent: not_related, waiting for "
				     "the federation's receipt)"));
	free(page);

	{
		/* the counterpart's outcome, and a reminder: both name the
		 * notice they are about, as a link on the page */
		uint8_t about[40];
		memset(about, 0xab, sizeof(about));
		n.about_notice_id.data = about;
		n.about_notice_id.len = sizeof(about); /* too long: cut to an id */
		n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_ACKNOWLEDGED;
		n.outcome = DECONF__V1__OUTCOME__OUTCOME_JOINT_INVESTIGATION;
		adp_html_notice(&h, &n, NULL, 0, NULL);
		n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_REMINDER;
		adp_html_notice(&h, &n, NULL, 0, NULL);
		n.outcome = 0;
		n.about_notice_id.len = 0;
		assert_non_null(page = adp_html_take(&h, NULL));
		assert_only_own_markup(page);
		assert_non_null(strstr(page, "<dt>They recorded</dt><dd class=\"outcome\">"
					     "joint_investigation</dd>"));
		assert_non_null(strstr(page, "<a href=\"#n-abababababababababababababababab\">"
					     "abababababababababababababababab</a>"));
		assert_int_equal(count(page, "href=\"#n-abab"), 2);
		assert_non_null(strstr(page, "the federation's watch desk was told"));
		assert_null(strstr(page, "action=\"/ack\""));
		free(page);
	}

	/* notices an agency does not acknowledge: no form, no state */
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_QUERY_HIT;
	adp_html_notice(&h, &n, HOSTILE, strlen(HOSTILE), NULL);
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_EXPIRY_WARNING;
	adp_html_notice(&h, &n, HOSTILE, strlen(HOSTILE), NULL);
	n.kind = 77;
	adp_html_notice(&h, &n, HOSTILE, strlen(HOSTILE), NULL);
	/* a conflict whose id is not a whole id: no form to post it */
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT;
	n.notice_id.len = 5;
	adp_html_notice(&h, &n, HOSTILE, strlen(HOSTILE), NULL);
	assert_int_equal(h.failed, 0);
	assert_non_null(page = adp_html_take(&h, NULL));
	assert_only_own_markup(page);
	assert_null(strstr(page, "/ack"));
	assert_null(strstr(page, "class=\"ack\""));
	assert_int_equal(count(page, "</article>"), 4);
	free(page);

	/* unticked */
	f.unacked = NULL;
	adp_html_notice_filters(&h, &f);
	assert_non_null(page = adp_html_take(&h, NULL));
	assert_non_null(strstr(page, "name=\"unacked\" type=\"checkbox\" value=\"1\">"));
	free(page);
}

static void test_hostile_status(void **state)
{
	struct adp_status_refusal rf = { .reason = 14, .entries = 2, .op_index = 0 };
	struct adp_case_status cs = { .case_ref = HOSTILE, .refused = 2, .refusals = &rf,
				      .n_refusals = 1 };
	struct adp_status_totals tot = { .cases = 1, .refused = 2, .notices_lost = 1 };
	struct adp_html h = { 0 };
	char *page;

	(void)state;
	snprintf(rf.detail, sizeof(rf.detail), "%s", HOSTILE);
	adp_html_begin(&h, "agency-a", ADP_PAGE_STATUS, "Receipts and refusals");
	adp_html_raw(&h, "<table><tbody>");
	adp_html_status_case(&h, &cs);
	adp_html_raw(&h, "</tbody></table>");
	adp_html_status_totals(&h, &tot);
	adp_html_end(&h);
	assert_non_null(page = adp_html_take(&h, NULL));
	assert_only_own_markup(page);
	assert_non_null(strstr(page, "refused</strong> (bad_text)"));
	free(page);
}

static void test_form_field(void **state)
{
	static const char body[] = "type=email&value=a%2Bb+c%40Example.org%00x&qualifier=&bad=%4";
	char out[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(adp_console_form_field(body, strlen(body), "type", out, sizeof(out), &len),
			 0);
	assert_string_equal(out, "email");
	assert_int_equal(adp_console_form_field(body, strlen(body), "value", out, sizeof(out), &len),
			 0);
	assert_int_equal(len, 19);
	assert_memory_equal(out, "a+b c@Example.org\0x", 19);
	assert_int_equal(adp_console_form_field(body, strlen(body), "qualifier", out, sizeof(out),
						&len),
			 0);
	assert_int_equal(len, 0);
	assert_int_equal(adp_console_form_field(body, strlen(body), "bad", out, sizeof(out), &len),
			 DECONF_E_INVAL);
	assert_int_equal(adp_console_form_field(body, strlen(body), "missing", out, sizeof(out),
						&len),
			 DECONF_E_UNKNOWN);
	/* "val" is not "value" */
	assert_int_equal(adp_console_form_field(body, strlen(body), "val", out, sizeof(out), &len),
			 DECONF_E_UNKNOWN);
	/* too long for out: refused, not cut */
	assert_int_equal(adp_console_form_field(body, strlen(body), "value", out, 8, &len),
			 DECONF_E_INVAL);
	/* the body is bounded by len, not by a NUL */
	assert_int_equal(adp_console_form_field("type=ip", 6, "type", out, sizeof(out), &len), 0);
	assert_string_equal(out, "i");
}

static void test_listen(void **state)
{
	struct sockaddr_in6 sa;
	size_t len;
	int lo = -1;
	char err[256];

	(void)state;
	assert_int_equal(adp_console_parse_listen("127.0.0.1:8470", &sa, &len, &lo, err,
						  sizeof(err)),
			 0);
	assert_int_equal(lo, 1);
	assert_int_equal(adp_console_parse_listen("127.8.9.10:0", &sa, &len, &lo, err, sizeof(err)),
			 0);
	assert_int_equal(lo, 1);
	assert_int_equal(adp_console_parse_listen("[::1]:80", &sa, &len, &lo, err, sizeof(err)), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(adp_console_parse_listen("0.0.0.0:80", &sa, &len, &lo, err, sizeof(err)),
			 0);
	assert_int_equal(lo, 0);
	assert_int_equal(adp_console_parse_listen("192.168.1.5:80", &sa, &len, &lo, err,
						  sizeof(err)),
			 0);
	assert_int_equal(lo, 0);
	assert_int_equal(adp_console_parse_listen("[::]:80", &sa, &len, &lo, err, sizeof(err)), 0);
	assert_int_equal(lo, 0);
	static const char *const bad[] = { "8470", ":8470", "127.0.0.1", "127.0.0.1:",
					   "127.0.0.1:65536", "127.0.0.1:-1", "example.org:80",
					   "::1:80", "127.0.0.1:80x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (adp_console_parse_listen(bad[i], &sa, &len, &lo, err, sizeof(err)) !=
		    DECONF_E_CONFIG)
			fail_msg("'%s' accepted", bad[i]);
}

static void test_filter(void **state)
{
	Deconf__V1__ConflictNotice n = DECONF__V1__CONFLICT_NOTICE__INIT;
	Deconf__V1__Counterpart cp = DECONF__V1__COUNTERPART__INIT;
	struct adp_nfilter f = { 0 };
	int64_t ms;
	char err[256];

	(void)state;
	n.case_ref.data = (uint8_t *)"A-1";
	n.case_ref.len = 3;
	n.kind = DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT;
	n.created_at = 1793534400000; /* 2026-11-01T12:00:00Z */
	assert_true(adp_nfilter_match(&f, &n));
	f.case_ref = "A-1";
	assert_true(adp_nfilter_match(&f, &n));
	f.case_ref = "A-";
	assert_false(adp_nfilter_match(&f, &n)); /* exact, not a prefix */
	f.case_ref = "A-10";
	assert_false(adp_nfilter_match(&f, &n));
	f.case_ref = NULL;
	f.kind = adp_nfilter_kind("query_hit");
	assert_int_equal(f.kind, DECONF__V1__NOTICE_KIND__NOTICE_KIND_QUERY_HIT);
	assert_false(adp_nfilter_match(&f, &n));
	f.kind = adp_nfilter_kind("conflict");
	assert_true(adp_nfilter_match(&f, &n));
	assert_int_equal(adp_nfilter_kind("bogus"), 0);
	f.caution = adp_nfilter_caution("armed");
	assert_int_equal(f.caution, 1);
	assert_false(adp_nfilter_match(&f, &n)); /* no counterpart */
	n.counterpart = &cp;
	cp.caution_flags = 4;
	assert_false(adp_nfilter_match(&f, &n));
	cp.caution_flags = 5;
	assert_true(adp_nfilter_match(&f, &n));
	assert_int_equal(adp_nfilter_caution("none"), 0);
	f.caution = 0;
	assert_int_equal(adp_nfilter_date("2026-11-01", 0, &f.since, err, sizeof(err)), 0);
	assert_int_equal(adp_nfilter_date("2026-11-01", 1, &f.until, err, sizeof(err)), 0);
	assert_true(adp_nfilter_match(&f, &n));
	assert_int_equal(f.until - f.since, 86400000 - 1);
	assert_int_equal(adp_nfilter_date("2026-11-02", 0, &f.since, err, sizeof(err)), 0);
	assert_false(adp_nfilter_match(&f, &n));
	f.since = 0;
	assert_int_equal(adp_nfilter_date("2026-11-01T11:59:59Z", 1, &f.until, err, sizeof(err)), 0);
	assert_false(adp_nfilter_match(&f, &n));
	assert_int_equal(adp_nfilter_date("2026-13-01", 0, &ms, err, sizeof(err)), DECONF_E_INVAL);
	assert_non_null(strstr(err, "is not a date"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),       cmocka_unit_test(test_hostile_notice),
		cmocka_unit_test(test_ack_form),
		cmocka_unit_test(test_hostile_status), cmocka_unit_test(test_form_field),
		cmocka_unit_test(test_listen),       cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
