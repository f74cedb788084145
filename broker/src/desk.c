/* desk.c — the watch desk page (see desk.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deconf.pb-c.h"
#include "deconf/enum.h"
#include "deconf/err.h"
#include "deconf/scope.h"
#include "desk.h"
#include "directory.h"
#include "metrics.h"

struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void put(struct buf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 4096) + len;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void lit(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void bprintf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		if (s[0] == 0xE0)
			lo = 0xA0; /* overlong */
		if (s[0] == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		if (s[0] == 0xF0)
			lo = 0x90;
		if (s[0] == 0xF4)
			hi = 0x8F; /* past U+10FFFF */
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

static void esc(struct buf *b, const char *s, size_t len)
{
	static const char fffd[] = "&#xFFFD;";
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(u + i, len - i);
		if (!n) {
			put(b, fffd, sizeof(fffd) - 1);
			i++;
			continue;
		}
		if (n == 1) {
			switch (u[i]) {
			case '&': lit(b, "&amp;"); break;
			case '<': lit(b, "&lt;"); break;
			case '>': lit(b, "&gt;"); break;
			case '"': lit(b, "&quot;"); break;
			case '\'': lit(b, "&#39;"); break;
			default:
				if (u[i] < 0x20 || u[i] == 0x7F)
					put(b, fffd, sizeof(fffd) - 1);
				else
					put(b, s + i, 1);
			}
		} else if ((n == 2 && u[i] == 0xC2 && u[i + 1] < 0xA0) ||
			   /* U+202A..U+202E, U+2066..U+2069: text that reorders
			    * what follows it on the page */
			   (n == 3 && u[i] == 0xE2 &&
			    ((u[i + 1] == 0x80 && u[i + 2] >= 0xAA && u[i + 2] <= 0xAE) ||
			     (u[i + 1] == 0x81 && u[i + 2] >= 0xA6 && u[i + 2] <= 0xA9)))) {
			put(b, fffd, sizeof(fffd) - 1); /* C1 controls, bidi overrides */
		} else
			put(b, s + i, n);
		i += n;
	}
}

static void escs(struct buf *b, const char *s)
{
	esc(b, s, strlen(s));
}

char *brk_desk_escape(const char *s, size_t len)
{
	struct buf b = { 0 };

	lit(&b, "");
	esc(&b, s, len);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ------------------------------------------------------------- the counts */

#define MAX_ROWS 48

/* Series of one family summed by the value of one label. */
struct sums {
	const char *label; /* NULL: all in one */
	double total;
	size_t n;
	struct {
		char name[64];
		double v;
	} row[MAX_ROWS];
};

/* The value of label key in a Prometheus label set, into out. */
static int label_value(const char *labels, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	for (const char *p = labels; p && *p;) {
		if (!strncmp(p, key, kl) && p[kl] == '=' && p[kl + 1] == '"') {
			const char *v = p + kl + 2, *e = strchr(v, '"');
			size_t n = e ? (size_t)(e - v) : strlen(v);
			if (n >= size)
				n = size - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return 1;
		}
		if ((p = strstr(p, "\",")))
			p += 2;
	}
	return 0;
}

static void sum_cb(void *opaque, const char *labels, double v)
{
	struct sums *x = opaque;
	char name[64];
	size_t i;

	x->total += v;
	if (!x->label)
		return;
	if (!label_value(labels, x->label, name, sizeof(name)))
		snprintf(name, sizeof(name), "other");
	for (i = 0; i < x->n && strcmp(x->row[i].name, name); i++)
		;
	if (i == x->n) {
		if (x->n == MAX_ROWS)
			return; /* counted in the total */
		snprintf(x->row[x->n++].name, sizeof(x->row[0].name), "%s", name);
	}
	x->row[i].v += v;
}

static void sum(struct brk_metrics *mx, const char *family, const char *label, struct sums *x)
{
	memset(x, 0, sizeof(*x));
	x->label = label;
	brk_metrics_each(mx, family, sum_cb, x);
}

static void rows(struct buf *b, const struct sums *x, const char *caption, const char *what)
{
	bprintf(b, "<table>\n<caption>%s</caption>\n<tr><th scope=\"col\">%s</th>"
		   "<th scope=\"col\" class=\"n\">count</th></tr>\n",
		caption, what);
	for (size_t i = 0; i < x->n; i++) {
		lit(b, "<tr><td>");
		escs(b, x->row[i].name);
		bprintf(b, "</td><td class=\"n\">%.0f</td></tr>\n", x->row[i].v);
	}
	if (!x->n)
		bprintf(b, "<tr><td colspan=\"2\">none</td></tr>\n");
	lit(b, "</table>\n");
}

/* ------------------------------------------------------------------- page */

static const char style[] =
	"body{font:15px/1.4 system-ui,sans-serif;margin:1rem 2rem;color:#111;background:#fff}"
	"h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}"
	"table{border-collapse:collapse;margin:.4rem 1.5rem .8rem 0;display:inline-table;"
	"vertical-align:top}caption{text-align:left;font-weight:600;padding:.2rem 0}"
	"th,td{border:1px solid #bbb;padding:.2rem .6rem;text-align:left}"
	".n{text-align:right;font-variant-numeric:tabular-nums}"
	".bad{background:#fdd;font-weight:600}.ok{background:#dfd}"
	".bar{display:inline-block;height:.7rem;background:#357}"
	"dl{display:grid;grid-template-columns:max-content max-content;gap:.2rem 1rem}"
	"dt{font-weight:600}dd{margin:0;text-align:right}"
	"a:focus,a:hover{outline:2px solid #357}";

static const char *enum_name(char *buf, size_t size, const ProtobufCEnumDescriptor *d, int v)
{
	return deconf_enum_name(buf, size, d, v, "unspecified");
}

static void agencies(struct buf *b, struct brk_directory *dir)
{
	struct brk_agency a;
	char lv[32], st[32];
	size_t n = dir ? brk_directory_count(dir) : 0;

	bprintf(b, "<h2 id=\"agencies\">Agencies (%zu)</h2>\n", n);
	lit(b, "<table>\n<tr><th scope=\"col\">id</th><th scope=\"col\">name</th>"
	       "<th scope=\"col\">level</th><th scope=\"col\">country</th>"
	       "<th scope=\"col\">status</th><th scope=\"col\">discloses to</th></tr>\n");
	for (size_t i = 0; dir && brk_directory_at(dir, i, &a) == DECONF_OK; i++) {
		int active = a.status == DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE;
		lit(b, "<tr><td>");
		escs(b, a.id);
		lit(b, "</td><td>");
		escs(b, a.name);
		lit(b, "</td><td>");
		escs(b, enum_name(lv, sizeof(lv), &deconf__v1__agency_level__descriptor, a.level));
		lit(b, "</td><td>");
		escs(b, a.country);
		bprintf(b, "</td><td class=\"%s\">", active ? "ok" : "bad");
		escs(b, enum_name(st, sizeof(st), &deconf__v1__agency_status__descriptor, a.status));
		{
			/* its sharing scope, in deconfctl's words */
			char text[512];
			Deconf__V1__DisclosureScope *sc =
				a.scope_len ? deconf__v1__disclosure_scope__unpack(NULL, a.scope_len,
										  a.scope)
					    : NULL;
			lit(b, "</td><td class=\"scope\">");
			escs(b, deconf_scope_text(sc, text, sizeof(text)));
			if (sc)
				deconf__v1__disclosure_scope__free_unpacked(sc, NULL);
		}
		lit(b, "</td></tr>\n");
	}
	if (!n)
		bprintf(b, "<tr><td colspan=\"6\">none known yet</td></tr>\n");
	lit(b, "</table>\n");
}

static void parts(struct buf *b, struct brk_metrics *mx)
{
	struct brk_part_view p[8];
	size_t n = brk_metrics_parts(mx, p, 8);
	char why[512];
	int ready = brk_metrics_is_ready(mx, why, sizeof(why));

	bprintf(b, "<h2 id=\"parts\">Readiness and lag</h2>\n<p class=\"%s\">%s",
		ready ? "ok" : "bad", ready ? "ready" : "not ready: ");
	if (!ready)
		escs(b, why);
	lit(b, "</p>\n<table>\n<tr><th scope=\"col\">part</th><th scope=\"col\">ready</th>"
	       "<th scope=\"col\">state</th><th scope=\"col\" class=\"n\">lag (records)</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		int ok = p[i].ready && !p[i].blocked[0];
		lit(b, "<tr><td>");
		escs(b, p[i].name);
		bprintf(b, "</td><td class=\"%s\">%s</td><td>", ok ? "ok" : "bad", ok ? "yes" : "no");
		if (p[i].blocked[0]) {
			lit(b, "stopped: ");
			escs(b, p[i].blocked);
		} else if (!p[i].ready)
			escs(b, p[i].what);
		else if (p[i].pending_s >= 1)
			bprintf(b, "input not committed for %.0f s", p[i].pending_s);
		else
			lit(b, "running");
		bprintf(b, "</td><td class=\"n\">%lld</td></tr>\n", (long long)p[i].lag);
	}
	lit(b, "</table>\n");
}

/* "2 h 05 min", "45 s": how long since ms (wall ms) at now_s. */
static void waited(struct buf *b, int64_t since_ms, int64_t now_s)
{
	int64_t s = now_s - since_ms / 1000;

	if (s < 0)
		s = 0;
	if (s < 60)
		bprintf(b, "%lld s", (long long)s);
	else if (s < 3600)
		bprintf(b, "%lld min", (long long)(s / 60));
	else
		bprintf(b, "%lld h %02lld min", (long long)(s / 3600), (long long)(s / 60 % 60));
}

static void contact(struct buf *b, const char *agency, const char (*poc)[DECONF_DIR_TEXT_MAX + 1])
{
	lit(b, "<td><b>");
	escs(b, agency);
	lit(b, "</b>");
	for (int i = 0; i < 3; i++)
		if (poc[i][0]) {
			lit(b, "<br>");
			escs(b, poc[i]);
		}
	lit(b, "</td>");
}

/* Open escalations: a cautioned conflict one side has not acknowledged,
 * the longest open first, with both contacts so the desk can phone. */
static void escalations(struct buf *b, struct brk_metrics *mx, int64_t now_s)
{
	struct brk_esc_view *v = malloc(BRK_ESC_VIEW_MAX * sizeof(*v));
	uint64_t open = 0;
	size_t n;

	if (!v) {
		b->oom = 1;
		return;
	}
	n = brk_metrics_escalations(mx, v, BRK_ESC_VIEW_MAX, &open);
	bprintf(b, "<h2 id=\"open-escalations\">Open escalations (%llu)</h2>\n",
		(unsigned long long)open);
	if (!n) {
		lit(b, "<p id=\"no-escalations\">None: every cautioned conflict this broker holds "
		       "was acknowledged in time.</p>\n");
		free(v);
		return;
	}
	lit(b, "<p>A conflict where either side is flagged armed, undercover, active operation or "
	       "victim at risk, and the agency told of it has not acknowledged it. Phone the "
	       "agency that has not; the counterpart is who it should talk to.</p>\n");
	if (open > n)
		bprintf(b, "<p>The %zu longest open of %llu are listed.</p>\n", n,
			(unsigned long long)open);
	lit(b, "<table id=\"escalation-list\">\n<tr><th scope=\"col\">not acknowledged by</th>"
	       "<th scope=\"col\">counterpart</th><th scope=\"col\">caution</th>"
	       "<th scope=\"col\">indicator</th><th scope=\"col\" class=\"n\">waiting since the "
	       "notice</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		char name[DECONF_ENUM_NAME_SIZE];
		const char *sep = "";
		lit(b, "<tr class=\"escalation\">");
		contact(b, v[i].agency, v[i].poc);
		contact(b, v[i].other_agency, v[i].other_poc);
		lit(b, "<td class=\"bad\">");
		for (uint32_t bit = 1; bit; bit <<= 1)
			if (v[i].caution_flags & bit) {
				bprintf(b, "%s%s", sep,
					deconf_enum_name(name, sizeof(name),
							 &deconf__v1__caution_flag__descriptor,
							 (int)bit, "other"));
				sep = ", ";
			}
		lit(b, "</td><td>");
		lit(b, enum_name(name, sizeof(name), &deconf__v1__indicator_type__descriptor,
				 v[i].type));
		lit(b, "</td><td class=\"n\">");
		waited(b, v[i].notified_at, now_s);
		lit(b, "</td></tr>\n");
	}
	lit(b, "</table>\n");
	free(v);
}

/* The latest liaison requests: which two agencies to put in touch, and
 * the reference both were given. */
static void liaisons(struct buf *b, struct brk_metrics *mx)
{
	struct brk_liaison_view v[BRK_LIAISON_VIEW_MAX];
	size_t n = brk_metrics_liaisons(mx, v, BRK_LIAISON_VIEW_MAX);

	bprintf(b, "<h2 id=\"liaison-requests\">Liaison requests (latest %zu)</h2>\n", n);
	if (!n) {
		lit(b, "<p id=\"no-liaisons\">None since this broker started.</p>\n");
		return;
	}
	lit(b, "<p>A conflict across a sharing scope: at least one side was told only that a "
	       "partner outside its scope holds the indicator, with this reference. Put the two "
	       "agencies in touch.</p>\n<table id=\"liaison-list\">\n<tr><th scope=\"col\">at "
	       "(UTC)</th><th scope=\"col\">agency</th><th scope=\"col\">agency</th>"
	       "<th scope=\"col\">reference</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		char at[32], hex[33];
		time_t t = (time_t)(v[i].at / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", &tm);
		for (int k = 0; k < 16; k++)
			snprintf(hex + 2 * k, 3, "%02x", v[i].ref[k]);
		bprintf(b, "<tr class=\"liaison\"><td>%s</td><td>", at);
		escs(b, v[i].agency);
		lit(b, "</td><td>");
		escs(b, v[i].other_agency);
		bprintf(b, "</td><td class=\"mono\">%s</td></tr>\n", hex);
	}
	lit(b, "</table>\n");
}

static void hourly(struct buf *b, struct brk_metrics *mx, int64_t now_s)
{
	double h[BRK_HOURS], max = 0, total = 0;

	brk_metrics_hourly(mx, now_s, h);
	for (int i = 0; i < BRK_HOURS; i++) {
		total += h[i];
		if (h[i] > max)
			max = h[i];
	}
	bprintf(b, "<table>\n<caption>Conflicts per hour, last %d hours (%.0f)</caption>\n"
		   "<tr><th scope=\"col\">hour (UTC)</th><th scope=\"col\" class=\"n\">conflicts"
		   "</th><th scope=\"col\">share</th></tr>\n",
		BRK_HOURS, total);
	for (int i = 0; i < BRK_HOURS; i++) {
		time_t t = (time_t)((now_s / 3600 - i) * 3600);
		struct tm tm;
		char at[32];
		gmtime_r(&t, &tm);
		strftime(at, sizeof(at), "%m-%d %H:00", &tm);
		bprintf(b, "<tr><td>%s%s</td><td class=\"n\">%.0f</td><td><span class=\"bar\" "
			   "style=\"width:%.1frem\"></span></td></tr>\n",
			at, i ? "" : " (now)", h[i], max > 0 ? 10.0 * h[i] / max : 0.0);
	}
	lit(b, "</table>\n");
}

char *brk_desk_render(struct brk_metrics *mx, struct brk_directory *dir, int64_t now_s)
{
	struct buf b = { 0 };
	struct sums *x = malloc(sizeof(*x));
	time_t t = (time_t)now_s;
	struct tm tm;
	char at[64];

	if (!x)
		return NULL;
	gmtime_r(&t, &tm);
	strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S UTC", &tm);
	bprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		    "<meta http-equiv=\"refresh\" content=\"5\">\n"
		    "<title>deconf watch desk</title>\n");
	lit(&b, "<style>");
	put(&b, style, sizeof(style) - 1);
	lit(&b, "</style>\n</head>\n<body>\n");
	bprintf(&b, "<h1>deconf watch desk</h1>\n<p>This broker at %s; the page refreshes every "
		    "5 s. <a href=\"/metrics\">/metrics</a> <a href=\"/readyz\">/readyz</a></p>\n",
		at);

	/* the counts */
	lit(&b, "<h2 id=\"counts\">Counts since this broker started</h2>\n<dl>\n");
	sum(mx, "deconf_conflicts_total", NULL, x);
	bprintf(&b, "<dt>conflicts</dt><dd id=\"conflicts\">%.0f</dd>\n", x->total);
	sum(mx, "deconf_notices_total", NULL, x);
	bprintf(&b, "<dt>notices sent</dt><dd id=\"notices\">%.0f</dd>\n", x->total);
	sum(mx, "deconf_hot_tokens_total", NULL, x);
	bprintf(&b, "<dt>hot tokens</dt><dd id=\"hot\">%.0f</dd>\n", x->total);
	sum(mx, "deconf_escalations_open", NULL, x);
	bprintf(&b, "<dt>open escalations</dt><dd id=\"escalations\">%.0f</dd>\n", x->total);
	sum(mx, "deconf_escalations_total", NULL, x);
	bprintf(&b, "<dt>escalations</dt><dd>%.0f</dd>\n", x->total);
	sum(mx, "deconf_liaisons_total", NULL, x);
	bprintf(&b, "<dt>liaison requests</dt><dd id=\"liaisons\">%.0f</dd>\n", x->total);
	sum(mx, "deconf_rejects_total", NULL, x);
	bprintf(&b, "<dt>rejects</dt><dd id=\"rejects\">%.0f</dd>\n</dl>\n", x->total);
	lit(&b, "<p>Each escalation is also on the ops topic (deconf.ops), and so is each "
		"liaison request: a conflict across a sharing scope, with both agencies and the "
		"pair's reference, for the desk to broker contact.</p>\n");

	/* what needs a person first (escalations, readiness, agencies), then
	 * the long hour-by-hour table */
	escalations(&b, mx, now_s);
	liaisons(&b, mx);
	parts(&b, mx);
	agencies(&b, dir);
	lit(&b, "<h2 id=\"activity\">Activity</h2>\n");
	hourly(&b, mx, now_s);
	sum(mx, "deconf_rejects_total", "reason", x);
	rows(&b, x, "Rejects by reason", "reason");
	sum(mx, "deconf_notices_total", "kind", x);
	rows(&b, x, "Notices by kind", "kind");
	sum(mx, "deconf_outcomes_total", "outcome", x);
	rows(&b, x, "Outcomes agencies recorded on conflicts", "outcome");
	lit(&b, "</body>\n</html>\n");
	free(x);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
