/*
 * test_console.c — the analyst's console (`deconf-adapter serve`) of an
 * agency that has received notices, on the real Kafka and the real broker.
 *
 * Two agencies hold the same e-mail address, each spelled its own way;
 * agency B's point of contact carries HTML ("<script>..."), which the
 * broker lets through (it is valid text) and the console must show inert.
 * Agency A's console, fetched with libcurl:
 *   - every request without the token's cookie gets 403, and so do a
 *     wrong token, a Host that is not the address served (DNS rebinding),
 *     and a lookup POST without this console's Origin (CSRF);
 *   - the notices page shows A's own case and A's raw value next to B's
 *     notice, B's text escaped; its filters keep and drop it; the status
 *     page shows A's case confirmed; the lookup box finds A's case and the
 *     notice for a value typed in another spelling;
 *   - nothing of B's raw values is on any page (they never reach A at
 *     all: asserted anyway), and the looked-up value is in no log;
 *   - pages carry the security headers; a non-loopback --listen is
 *     refused.
 * The command line's filters (`notices --case --kind --new`) are checked
 * on the same ledger. Then A acknowledges the notice through the console's
 * POST /ack: refused (403, nothing recorded) without the cookie or this
 * console's Origin; with both, accepted by the federation, B receives the
 * ACKNOWLEDGED notice, and the "unacknowledged" filter drops it.
 *
 * With --browser SCRIPT SHOTS, the same federation is set up with the
 * broker's watch desk on and cautioned conflicts escalating after 2 s;
 * A's console, B's console and B's `run` daemon are started, and SCRIPT
 * (tests/browser/console.py) drives headless Chromium against the three
 * pages, saving screenshots under SHOTS: tests/run.sh runs it so.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "fed.h"

#define ACTIVE DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE
#define STATE DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE
#define FEDERAL DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_FEDERAL

/* A's raw values, B's raw values (never on A's pages). */
#define A_EMAIL "shared.target@example.org"
#define A_PHONE "+1 555 010 7001"
#define B_EMAIL "Shared.Target@EXAMPLE.org"
#define B_DOMAIN "b-private-target.example"
#define B_POC "<script>alert(1)</script>"
#define LOOKED_UP "SHARED.target@Example.ORG"

static const char *bootstrap;
static pid_t broker_pid, serve_pid, serve_pid_b, run_pid_b;
/* the browser run: the broker's watch desk on this port, and cautioned
 * conflicts escalate after 2 s (0: neither) */
static int desk_port;

static void kill_children(void)
{
	pid_t v[] = { serve_pid, serve_pid_b, run_pid_b, broker_pid };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i] > 0)
			kill(v[i], SIGKILL);
}

struct world {
	struct fed f;
	char bconf[256], log[256], serve_out[320];
	char url[256];     /* http://127.0.0.1:PORT/login?token=... */
	char base[80];     /* http://127.0.0.1:PORT */
	char host[64];     /* 127.0.0.1:PORT */
	char cookie[160];  /* deconf_console=... */
	int a, b;
};

/* Wait until agency i's `notices --json` holds needle (fetching). */
static void wait_notice(struct world *w, int i, const char *needle)
{
	char *out = NULL;
	int ok = 0;

	for (int round = 0; round < 60 && !ok; round++) {
		if (round)
			sleep(1);
		assert_int_equal(fed_adapter(&w->f, i, &out, "notices --json"), 0);
		ok = strstr(out, needle) != NULL;
		free(out);
	}
	assert_true(ok);
}

/* The federation: A and B share an e-mail; both confirmed; A notified. */
static void world_new(struct world *w)
{
	char path[320], *out = NULL;

	memset(w, 0, sizeof(*w));
	assert_int_equal(fed_new(&w->f, bootstrap, 2), 0);
	snprintf(w->log, sizeof(w->log), "%s/run.log", w->f.dir);
	/* each adapter run's output goes to the log (teardown looks for
	 * sanitizer reports there) */
	w->f.adapter_bin = ADAPTER_BIN;
	w->f.adapter_log = w->log;
	assert_true((w->a = fed_agency(&w->f, "agency-a", "Agency A", STATE, "US", ACTIVE)) >= 0);
	assert_true((w->b = fed_agency(&w->f, "agency-b", "Agency B", FEDERAL, "US", ACTIVE)) >=
		    0);
	assert_int_equal(fed_adapter_setup(&w->f, w->a, NULL), 0);
	assert_int_equal(fed_adapter_setup(&w->f, w->b, NULL), 0);
	if (desk_port)
		snprintf(path, sizeof(path),
			 "[matcher]\nescalate_after = 2s\n[http]\nport = %d\n", desk_port);
	assert_int_equal(fed_broker_conf(&w->f, "1", desk_port ? path : NULL, w->bconf,
					 sizeof(w->bconf)),
			 0);
	assert_true((broker_pid = fed_broker_start(BROKER_BIN, w->bconf, w->log)) > 0);

	assert_int_equal(fed_adapter_file(&w->f, w->a, "a.csv",
					  "case_ref,type,value,poc_name\n"
					  "A-7,email," A_EMAIL ",Det. Ada\n"
					  "A-7,phone," A_PHONE ",Det. Ada\n",
					  NULL, 0),
			 0);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "submit a.csv"), 0);
	free(out);
	assert_int_equal(fed_adapter_file(&w->f, w->b, "b.csv",
					  "case_ref,type,value,poc_name,caution\n"
					  "B-3,email," B_EMAIL "," B_POC ",armed\n"
					  "B-3,domain," B_DOMAIN "," B_POC ",armed\n",
					  NULL, 0),
			 0);
	assert_int_equal(fed_adapter(&w->f, w->b, &out, "submit b.csv"), 0);
	free(out);
	wait_notice(w, w->a, "\"agency_id\":\"agency-b\"");
}

/* Start `serve` for agency i on a free port; fills w->url, base, host. */
static void serve_start_conf(struct world *w, int i, const char *conf_name)
{
	char dir[256], conf[320];
	char *text = NULL, *p = NULL, *end;
	size_t scheme;

	fed_adapter_dir(&w->f, i, dir, sizeof(dir));
	snprintf(conf, sizeof(conf), "%s/%s", dir, conf_name);
	snprintf(w->serve_out, sizeof(w->serve_out), "%s/serve%s.out", dir,
		 strcmp(conf_name, "agency.conf") ? "-2" : "");
	serve_pid = fork();
	assert_true(serve_pid >= 0);
	if (serve_pid == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(w->serve_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(ADAPTER_BIN, ADAPTER_BIN, "-c", conf, "serve", "--listen", "127.0.0.1:0",
		      (char *)NULL);
		_exit(127);
	}
	for (int k = 0; k < 200; k++) {
		free(text);
		text = fed_slurp(w->serve_out);
		if ((p = strstr(text, "://127.0.0.1:")) && strchr(p, '\n'))
			break;
		usleep(50000);
	}
	assert_non_null(p = strstr(text, "://127.0.0.1:"));
	while (p > text && p[-1] >= 'a' && p[-1] <= 'z')
		p--; /* back to the scheme */
	scheme = (size_t)(strstr(p, "://") - p) + 3;
	assert_non_null(end = strchr(p, '\n'));
	*end = '\0';
	snprintf(w->url, sizeof(w->url), "%s", p);
	assert_non_null(strstr(w->url, "/login?token="));
	assert_int_equal(strlen(strstr(w->url, "token=") + 6), 64);
	snprintf(w->host, sizeof(w->host), "%.*s", (int)(strstr(p, "/login") - p - scheme),
		 p + scheme);
	snprintf(w->base, sizeof(w->base), "%.*s%s", (int)scheme, p, w->host);
	free(text);
}

static void serve_start(struct world *w, int i)
{
	serve_start_conf(w, i, "agency.conf");
}

/* SIGTERM, and it must exit 0. */
static void stop_child(pid_t *pid)
{
	int st;

	assert_int_equal(kill(*pid, SIGTERM), 0);
	assert_int_equal(waitpid(*pid, &st, 0), *pid);
	*pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void serve_stop(void)
{
	stop_child(&serve_pid);
}

/* `deconf-adapter run` for agency i in its directory, output in run.out:
 * what fetches its notices while its analyst has the console open. */
static pid_t run_start(struct world *w, int i)
{
	char dir[256], out[320];
	pid_t pid;

	fed_adapter_dir(&w->f, i, dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/spool", dir);
	assert_int_equal(mkdir(out, 0700), 0);
	snprintf(out, sizeof(out), "%s/run.out", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || chdir(dir))
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(ADAPTER_BIN, ADAPTER_BIN, "-c", "agency.conf", "run", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* ------------------------------------------------------------ HTTP */

struct resp {
	long status;
	char *body, *headers;
	size_t len, hlen;
};

struct sink {
	char *buf;
	size_t len;
};

static size_t sink_cb(char *p, size_t size, size_t n, void *opaque)
{
	struct sink *k = opaque;
	size_t add = size * n;
	char *b = realloc(k->buf, k->len + add + 1);

	if (!b)
		return 0;
	memcpy(b + k->len, p, add);
	k->len += add;
	b[k->len] = '\0';
	k->buf = b;
	return add;
}

/* HTTPS: the CA that issued the console's certificate, and the client
 * certificate and key to present (NULL: none). */
static struct {
	const char *ca, *cert, *key;
} tls;

/*
 * One request: method GET, or POST with body; cookie (NULL: none);
 * extra headers (NULL-terminated list). No redirect followed. The
 * transfer must succeed (an HTTP answer, whatever its status).
 */
static void http(const char *url, const char *body, const char *cookie,
		 const char *const *extra, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct sink b = { 0 }, h = { 0 };

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (tls.ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca);
	if (tls.cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, tls.cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, tls.key);
	}
	if (cookie)
		curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	for (size_t i = 0; extra && extra[i]; i++)
		hl = curl_slist_append(hl, extra[i]);
	if (hl)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = b.buf ? b.buf : strdup("");
	r->len = b.len;
	r->headers = h.buf ? h.buf : strdup("");
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

/* A POST made on a thread of its own; done once it has its answer. */
struct post_job {
	const char *url, *body, *cookie;
	const char *const *hdr;
	struct resp r;
	int done;
};

static void *post_thread(void *opaque)
{
	struct post_job *j = opaque;

	http(j->url, j->body, j->cookie, j->hdr, &j->r);
	__atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	free(r->headers);
}

static void get(struct world *w, const char *path, int with_cookie, struct resp *r)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", w->base, path);
	http(url, NULL, with_cookie ? w->cookie : NULL, NULL, r);
}

/* Nothing of agency B's raw values on a page of A's. */
static void assert_nothing_of_b(const char *page)
{
	assert_null(strstr(page, B_EMAIL));
	assert_null(strstr(page, "Shared.Target"));
	assert_null(strstr(page, B_DOMAIN));
	assert_null(strstr(page, "b-private-target"));
	assert_null(strstr(page, "<script"));
}

static void assert_secure_headers(const struct resp *r)
{
	assert_non_null(strstr(r->headers, "Content-Security-Policy: default-src 'none'; "
					   "style-src 'unsafe-inline'"));
	assert_non_null(strstr(r->headers, "X-Content-Type-Options: nosniff"));
	assert_non_null(strstr(r->headers, "Cache-Control: no-store"));
}

/* ------------------------------------------------------------ tests */

static void test_access(void **state)
{
	struct world *w = *state;
	struct resp r;
	char url[512], *p;
	static const char *const paths[] = { "/", "/status", "/lookup", "/nowhere",
					     "/?case=A-7", "/login", "/login?token=" };

	/* no cookie: 403, whatever the page */
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		get(w, paths[i], 0, &r);
		if (r.status != 403)
			fail_msg("%s without the token: %ld", paths[i], r.status);
		assert_null(strstr(r.body, A_EMAIL));
		assert_secure_headers(&r);
		resp_free(&r);
	}
	/* a wrong token, of the right length */
	snprintf(url, sizeof(url), "%s", w->url);
	p = strstr(url, "token=") + 6;
	p[0] = p[0] == 'a' ? 'b' : 'a';
	http(url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.headers, "Set-Cookie"));
	resp_free(&r);
	/* a forged cookie */
	http(w->base, NULL, "deconf_console=0000000000000000000000000000000000000000000000000000000000000000", NULL, &r);
	assert_int_equal(r.status, 403);
	resp_free(&r);

	/* the printed URL: a cookie, HttpOnly and SameSite=Strict, and away */
	http(w->url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 303);
	assert_non_null(p = strstr(r.headers, "Set-Cookie: deconf_console="));
	assert_non_null(strstr(p, "HttpOnly"));
	assert_non_null(strstr(p, "SameSite=Strict"));
	assert_non_null(strstr(r.headers, "Location: /"));
	snprintf(w->cookie, sizeof(w->cookie), "%.*s", (int)strcspn(p + 12, ";\r\n"), p + 12);
	assert_int_equal(strlen(w->cookie), strlen("deconf_console=") + 64);
	resp_free(&r);

	/* with it: the page; with another Host (DNS rebinding): 403 */
	get(w, "/", 1, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	{
		const char *const hdr[] = { "Host: evil.example:80", NULL };
		http(w->base, NULL, w->cookie, hdr, &r);
		assert_int_equal(r.status, 403);
		resp_free(&r);
	}
}

static void test_pages(void **state)
{
	struct world *w = *state;
	struct resp r;

	get(w, "/", 1, &r);
	assert_int_equal(r.status, 200);
	assert_secure_headers(&r);
	assert_non_null(strstr(r.headers, "Content-Type: text/html; charset=utf-8"));
	/* A's own case and raw value, next to B's notice */
	assert_non_null(strstr(r.body, "A-7"));
	assert_non_null(strstr(r.body, "<span class=\"value\">" A_EMAIL "</span>"));
	assert_non_null(strstr(r.body, "Agency B"));
	assert_non_null(strstr(r.body, "B-3"));
	assert_non_null(strstr(r.body, "armed"));
	/* B's contact, escaped */
	assert_non_null(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_nothing_of_b(r.body);
	/* no asset, no script of the page's own */
	assert_null(strstr(r.body, "src="));
	assert_null(strstr(r.body, "<link"));
	resp_free(&r);

	/* filters keep it and drop it */
	get(w, "/?case=A-7&kind=conflict&caution=armed&since=2020-01-01", 1, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "1 of 1 notice(s) shown"));
	assert_non_null(strstr(r.body, A_EMAIL));
	resp_free(&r);
	static const char *const drop[] = { "/?case=A-8", "/?kind=query_hit",
					    "/?caution=undercover", "/?since=2999-01-01",
					    "/?until=2020-01-01" };
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		get(w, drop[i], 1, &r);
		assert_int_equal(r.status, 200);
		if (!strstr(r.body, "No notice matches these filters") || strstr(r.body, A_EMAIL))
			fail_msg("%s did not drop the notice", drop[i]);
		resp_free(&r);
	}
	get(w, "/?kind=%3Cscript%3E", 1, &r);
	assert_int_equal(r.status, 400);
	assert_null(strstr(r.body, "<script"));
	resp_free(&r);

	/* receipts and refusals */
	get(w, "/status", 1, &r);
	assert_int_equal(r.status, 200);
	assert_secure_headers(&r);
	assert_non_null(strstr(r.body, "<th scope=\"row\">A-7</th><td>2</td>"));
	assert_nothing_of_b(r.body);
	resp_free(&r);
}

static void test_lookup(void **state)
{
	struct world *w = *state;
	char url[256], origin[128], *log;
	struct resp r;

	snprintf(url, sizeof(url), "%s/lookup", w->base);
	snprintf(origin, sizeof(origin), "Origin: %s", w->base);
	{
		/* A's e-mail, typed another way: canonicalized here, found */
		const char *const hdr[] = { origin, NULL };
		http(url, "type=email&value=SHARED.target%40Example.ORG&qualifier=", w->cookie, hdr,
		     &r);
		assert_int_equal(r.status, 200);
		assert_secure_headers(&r);
		assert_non_null(strstr(r.body, "Canonical form: <span class=\"value\">" A_EMAIL));
		assert_non_null(strstr(r.body, "<th scope=\"row\">A-7</th><td><span "
					       "class=\"value\">" A_EMAIL "</span></td><td>confirmed"));
		assert_non_null(strstr(r.body, "Agency B"));
		assert_nothing_of_b(r.body);
		resp_free(&r);
		/* a value no case holds */
		http(url, "type=phone&value=%2B1+555+010+7999", w->cookie, hdr, &r);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "None of this agency&#39;s cases holds it."));
		assert_non_null(strstr(r.body, "No notice about it."));
		resp_free(&r);
		/* A's phone: held, no notice */
		http(url, "type=phone&value=%2B15550107001", w->cookie, hdr, &r);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "A-7"));
		assert_non_null(strstr(r.body, "No notice about it."));
		resp_free(&r);
		/* a value the normalizer refuses: said, 400 */
		http(url, "type=email&value=%3Cscript%3E", w->cookie, hdr, &r);
		assert_int_equal(r.status, 400);
		assert_null(strstr(r.body, "<script"));
		resp_free(&r);
	}
	{
		/* CSRF: no Origin, another Origin, a foreign Referer: 403 */
		const char *const none[] = { NULL };
		const char *const evil[] = { "Origin: http://evil.example", NULL };
		const char *const null_o[] = { "Origin: null", NULL };
		const char *const ref[] = { "Referer: http://evil.example/", NULL };
		const char *const *bad[] = { none, evil, null_o, ref };

		for (size_t i = 0; i < 4; i++) {
			http(url, "type=email&value=" A_EMAIL, w->cookie, bad[i], &r);
			assert_int_equal(r.status, 403);
			assert_null(strstr(r.body, A_EMAIL));
			resp_free(&r);
		}
		/* without the cookie, even from the right origin */
		const char *const hdr[] = { origin, NULL };
		http(url, "type=email&value=" A_EMAIL, NULL, hdr, &r);
		assert_int_equal(r.status, 403);
		resp_free(&r);
	}
	/* never logged */
	log = fed_slurp(w->serve_out);
	assert_null(strstr(log, "SHARED.target"));
	assert_null(strstr(log, "7999"));
	free(log);
}

/* notices --case --kind --caution --new on the same ledger. */
static void test_cli_filters(void **state)
{
	struct world *w = *state;
	char *out = NULL;

	assert_int_equal(
		fed_adapter(&w->f, w->a, &out, "notices --offline --case A-7 --kind conflict"), 0);
	assert_non_null(strstr(out, A_EMAIL));
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --case A-8"), 0);
	assert_null(strstr(out, A_EMAIL));
	assert_null(strstr(out, "A-7"));
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --caution undercover"), 0);
	assert_null(strstr(out, "A-7"));
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --since 2999-01-01"), 0);
	assert_null(strstr(out, "A-7"));
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --kind bogus"), 2);
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --since 2026-13-40"), 2);
	free(out);
	/* every notice was printed before: nothing new */
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --new --json"), 0);
	assert_null(strstr(out, "\"record\":\"notice\""));
	free(out);
	/* a second conflict (A's phone): the only new one */
	assert_int_equal(fed_adapter_file(&w->f, w->b, "b2.csv",
					  "case_ref,type,value\nB-4,phone,+1 (555) 010-7001\n", NULL, 0),
			 0);
	assert_int_equal(fed_adapter(&w->f, w->b, &out, "submit b2.csv"), 0);
	free(out);
	{
		int ok = 0;
		for (int round = 0; round < 60 && !ok; round++) {
			if (round)
				sleep(1);
			assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --new --json"), 0);
			ok = strstr(out, "\"case_ref\":\"B-4\"") != NULL;
			if (ok) /* the old one is not new */
				assert_null(strstr(out, "\"case_ref\":\"B-3\""));
			free(out);
		}
		assert_true(ok);
	}
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --new --json"), 0);
	assert_null(strstr(out, "\"record\":\"notice\""));
	free(out);
	/* without --new: everything, as before */
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --json"), 0);
	assert_non_null(strstr(out, "\"case_ref\":\"B-4\""));
	assert_non_null(strstr(out, "\"case_ref\":\"B-3\""));
	free(out);
}

/* The notices page's "acknowledged" line of A's one notice. */
static void assert_ack_line(struct world *w, const char *line)
{
	struct resp r;

	get(w, "/", 1, &r);
	assert_int_equal(r.status, 200);
	if (!strstr(r.body, line))
		fail_msg("no '%s' on the notices page", line);
	resp_free(&r);
}

static void test_ack(void **state)
{
	struct world *w = *state;
	char url[256], origin[128], id[33], body[128], *out = NULL, *p;
	struct resp r;

	/* A's first notice (the e-mail), as `notices` shows it, oldest first */
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --json"), 0);
	assert_non_null(p = strstr(out, "\"notice_id\":\""));
	snprintf(id, sizeof(id), "%.32s", p + 13);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	free(out);
	snprintf(url, sizeof(url), "%s/ack", w->base);
	snprintf(origin, sizeof(origin), "Origin: %s", w->base);
	snprintf(body, sizeof(body), "notice=%s&outcome=counterpart_contacted", id);

	/* unacknowledged: listed, with its form */
	get(w, "/?unacked=1", 1, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, A_EMAIL));
	assert_null(strstr(r.body, "No unacknowledged notice."));
	assert_non_null(strstr(r.body, "<form class=\"ack\" method=\"post\" action=\"/ack\""));
	assert_non_null(strstr(r.body, id));
	resp_free(&r);
	assert_ack_line(w, "<dd class=\"ack\">not acknowledged</dd>");
	{
		/* CSRF: no Origin, another one, a foreign Referer; no cookie */
		const char *const none[] = { NULL };
		const char *const evil[] = { "Origin: http://evil.example", NULL };
		const char *const ref[] = { "Referer: http://evil.example/", NULL };
		const char *const *bad[] = { none, evil, ref };
		const char *const hdr[] = { origin, NULL };

		for (size_t i = 0; i < 3; i++) {
			http(url, body, w->cookie, bad[i], &r);
			assert_int_equal(r.status, 403);
			resp_free(&r);
		}
		http(url, body, NULL, hdr, &r);
		assert_int_equal(r.status, 403);
		resp_free(&r);
		/* a malformed form and an unknown outcome: 400, nothing sent */
		http(url, "notice=%3Cscript%3E&outcome=seen", w->cookie, hdr, &r);
		assert_int_equal(r.status, 400);
		assert_null(strstr(r.body, "<script"));
		resp_free(&r);
		snprintf(body, sizeof(body), "notice=%s&outcome=unspecified", id);
		http(url, body, w->cookie, hdr, &r);
		assert_int_equal(r.status, 400);
		resp_free(&r);
		/* a notice A never got: said, nothing sent */
		http(url, "notice=00112233445566778899aabbccddeeff&outcome=seen", w->cookie, hdr,
		     &r);
		assert_int_equal(r.status, 404);
		assert_non_null(strstr(r.body, "no notice 00112233445566778899aabbccddeeff"));
		resp_free(&r);
	}
	/* nothing recorded by any of them: no acks record at all */
	assert_ack_line(w, "<dd class=\"ack\">not acknowledged</dd>");

	/* from the console's own page: published, and the receipt said */
	{
		const char *const hdr[] = { origin, NULL };

		snprintf(body, sizeof(body), "notice=%s&outcome=counterpart_contacted", id);
		http(url, body, w->cookie, hdr, &r);
		assert_int_equal(r.status, 200);
		assert_secure_headers(&r);
		if (!strstr(r.body, "Accepted: the federation recorded counterpart_contacted"))
			fail_msg("not accepted: %s", r.body);
		assert_null(strstr(r.body, "done"));
		resp_free(&r);
	}
	assert_ack_line(w, "<dd class=\"ack\">counterpart_contacted</dd>");
	/* B, the counterpart, is told */
	wait_notice(w, w->b, "\"kind\":\"acknowledged\"");
	assert_int_equal(fed_adapter(&w->f, w->b, &out, "notices --offline --json"), 0);
	assert_non_null(p = strstr(out, "\"kind\":\"acknowledged\""));
	assert_non_null(strstr(p, "\"outcome\":\"counterpart_contacted\""));
	free(out);
	/* and the filter no longer lists it, as `notices --unacked` */
	get(w, "/?unacked=1", 1, &r);
	assert_int_equal(r.status, 200);
	/* (test_cli_filters gave A a second conflict, on its phone: that one
	 * is still unacknowledged) */
	if (strstr(r.body, id) || strstr(r.body, A_EMAIL))
		fail_msg("still listed: %s", strstr(r.body, "<section"));
	assert_non_null(strstr(r.body, "<span class=\"value\">" A_PHONE "</span>"));
	resp_free(&r);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --unacked --json"), 0);
	assert_null(strstr(out, id));
	free(out);
}

/* Log in to the console started last (w->url): fills w->cookie. */
static void login(struct world *w)
{
	struct resp r;
	char *p;

	http(w->url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 303);
	assert_non_null(p = strstr(r.headers, "Set-Cookie: deconf_console="));
	snprintf(w->cookie, sizeof(w->cookie), "%.*s", (int)strcspn(p + 12, ";\r\n"), p + 12);
	resp_free(&r);
}

/* Kafka out of reach: the read-only pages still work, the acknowledgment
 * says it was not delivered, and nothing is recorded as acknowledged. */
static void test_ack_no_kafka(void **state)
{
	struct world *w = *state;
	char url[256], origin[128], id[33], body[128], *out = NULL, *p;
	const char *const hdr[] = { origin, NULL };
	struct resp r;

	/* A's unacknowledged conflict (the phone one, from test_cli_filters) */
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --unacked --json"), 0);
	assert_non_null(p = strstr(out, "\"notice_id\":\""));
	snprintf(id, sizeof(id), "%.32s", p + 13);
	free(out);
	serve_stop();
	/* (serve_start reads the URL from serve_out: not the last one's) */
	unlink(w->serve_out);
	/* a port nothing listens on */
	assert_int_equal(setenv("DECONF_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1", 1), 0);
	serve_start(w, w->a);
	unsetenv("DECONF_KAFKA_BOOTSTRAP_SERVERS");
	login(w);
	get(w, "/status", 1, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	snprintf(url, sizeof(url), "%s/ack", w->base);
	snprintf(origin, sizeof(origin), "Origin: %s", w->base);
	snprintf(body, sizeof(body), "notice=%s&outcome=seen", id);
	{
		/* the acknowledgment waits for Kafka (5 s); pages are served
		 * meanwhile: a GET made after it started ends before it does */
		struct post_job job = { .url = url, .body = body, .cookie = w->cookie, .hdr = hdr };
		pthread_t th;
		struct resp g;
		int post_done_first;
		assert_int_equal(pthread_create(&th, NULL, post_thread, &job), 0);
		usleep(500000);
		get(w, "/status", 1, &g);
		post_done_first = __atomic_load_n(&job.done, __ATOMIC_SEQ_CST);
		assert_int_equal(g.status, 200);
		resp_free(&g);
		assert_int_equal(pthread_join(th, NULL), 0);
		assert_false(post_done_first);
		r = job.r;
	}
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "Kafka could not be reached"));
	assert_null(strstr(r.body, "Accepted"));
	resp_free(&r);
	/* still unacknowledged, here and for `notices --unacked` */
	get(w, "/?unacked=1", 1, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, id));
	assert_non_null(strstr(r.body, "not acknowledged (last sent: seen, waiting for the "
				       "federation's receipt)"));
	resp_free(&r);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --unacked --json"), 0);
	assert_non_null(strstr(out, id));
	free(out);
	/* back to the real Kafka for what follows */
	serve_stop();
	unlink(w->serve_out);
	serve_start(w, w->a);
	login(w);
}

/* Make the PKI of the client-certificate test in dir with openssl(1): an
 * analysts' CA, the console's certificate (127.0.0.1), an analyst's
 * client certificate, one for servers only, and one from another CA. */
static void make_pki(const char *dir)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
		 "(set -e; cd '%s'; umask 077\n"
		 "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > srv.ext\n"
		 "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext\n"
		 "k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key; }\n"
		 "ca() { k $1; openssl req -x509 -new -key $1.key -out $1.pem -days 2 -subj \"/CN=$2\"; }\n"
		 "crt() { k $1; openssl req -new -key $1.key -out $1.csr -subj \"/CN=$2\";"
		 " openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -CAcreateserial -days 2"
		 " -extfile $4 -out $1.pem; }\n"
		 "ca ca 'Agency A analysts CA'; ca evil 'Someone else CA'\n"
		 "crt srv 127.0.0.1 ca srv.ext\n"
		 "crt ada 'Det. Ada Analyst' ca cli.ext\n"
		 "crt srvonly 'Not a client' ca srv.ext\n"
		 "crt mallory 'Mallory' evil cli.ext\n"
		 ") >/dev/null 2>&1",
		 dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * The console over HTTPS with the analysts' client certificates
 * (console.tls_cert, tls_key, client_ca): a certificate the agency's CA
 * issued for client use lets its holder in without the token, and it can
 * act (an acknowledgment, logged with its subject); no certificate, one
 * from another CA, or one for servers only gets 403; the token still
 * works, and its cookie is Secure; a POST must come from the https origin.
 * Settings that do not go together are refused with exit 2.
 */
static void test_client_cert(void **state)
{
	struct world *w = *state, tw = *w;
	char dir[256], tdir[300], conf[320], text[1024], path[4][340], url[256], origin[128];
	char body[128], id[33], *out = NULL, *p;
	pid_t keep = serve_pid;
	struct resp r;

	fed_adapter_dir(&w->f, w->a, dir, sizeof(dir));
	snprintf(tdir, sizeof(tdir), "%s/tls", dir);
	assert_int_equal(mkdir(tdir, 0700), 0);
	make_pki(tdir);
	snprintf(conf, sizeof(conf), "%s/agency.conf", dir);
	p = fed_slurp(conf);
	snprintf(text, sizeof(text),
		 "[console]\ntls_cert = %s/srv.pem\ntls_key = %s/srv.key\nclient_ca = %s/ca.pem\n",
		 tdir, tdir, tdir);
	snprintf(conf, sizeof(conf), "%s/agency-tls.conf", dir);
	{
		char *all = malloc(strlen(p) + strlen(text) + 1);
		assert_non_null(all);
		strcpy(all, p);
		strcat(all, text);
		assert_int_equal(fed_write_file(conf, all), 0);
		free(all);
	}
	free(p);

	serve_start_conf(&tw, w->a, "agency-tls.conf");
	serve_pid_b = serve_pid;
	serve_pid = keep;
	assert_int_equal(strncmp(tw.url, "https://127.0.0.1:", 18), 0);
	p = fed_slurp(tw.serve_out);
	assert_non_null(strstr(p, "with a client certificate issued by"));
	free(p);
	snprintf(path[0], sizeof(path[0]), "%s/ca.pem", tdir);
	tls.ca = path[0];

	/* no certificate, no cookie: 403, nothing shown */
	get(&tw, "/", 0, &r);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body, "client certificate"));
	assert_null(strstr(r.body, A_EMAIL));
	resp_free(&r);
	/* the analyst's certificate: A's notices, A's raw value */
	snprintf(path[1], sizeof(path[1]), "%s/ada.pem", tdir);
	snprintf(path[2], sizeof(path[2]), "%s/ada.key", tdir);
	tls.cert = path[1];
	tls.key = path[2];
	get(&tw, "/", 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, A_EMAIL));
	assert_nothing_of_b(r.body);
	assert_secure_headers(&r);
	resp_free(&r);
	/* another CA's, and a certificate for servers only: 403 */
	{
		const char *bad[] = { "mallory", "srvonly" };
		for (size_t i = 0; i < 2; i++) {
			snprintf(path[1], sizeof(path[1]), "%s/%s.pem", tdir, bad[i]);
			snprintf(path[2], sizeof(path[2]), "%s/%s.key", tdir, bad[i]);
			get(&tw, "/", 0, &r);
			assert_int_equal(r.status, 403);
			assert_null(strstr(r.body, A_EMAIL));
			resp_free(&r);
		}
	}
	/* the token still works, over HTTPS; its cookie is Secure */
	tls.cert = tls.key = NULL;
	http(tw.url, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 303);
	assert_non_null(strstr(r.headers, "; Secure"));
	resp_free(&r);

	/* acting with the certificate: from the https origin only; the log
	 * says whose certificate it was */
	snprintf(path[1], sizeof(path[1]), "%s/ada.pem", tdir);
	snprintf(path[2], sizeof(path[2]), "%s/ada.key", tdir);
	tls.cert = path[1];
	tls.key = path[2];
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --offline --json"), 0);
	assert_non_null(p = strstr(out, "\"notice_id\":\""));
	snprintf(id, sizeof(id), "%.32s", p + 13);
	free(out);
	snprintf(url, sizeof(url), "%s/ack", tw.base);
	snprintf(body, sizeof(body), "notice=%s&outcome=joint_investigation", id);
	{
		const char *const plain[] = { text, NULL };
		const char *const hdr[] = { origin, NULL };
		snprintf(text, sizeof(text), "Origin: http://%s", tw.host);
		http(url, body, NULL, plain, &r);
		assert_int_equal(r.status, 403);
		resp_free(&r);
		snprintf(origin, sizeof(origin), "Origin: %s", tw.base);
		http(url, body, NULL, hdr, &r);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "Accepted: the federation recorded "
					      "joint_investigation"));
		resp_free(&r);
	}
	p = fed_slurp(tw.serve_out);
	assert_non_null(strstr(p, "as joint_investigation, for CN=Det. Ada Analyst"));
	free(p);
	memset(&tls, 0, sizeof(tls));
	stop_child(&serve_pid_b);

	/* settings that do not go together, and a key others can read */
	snprintf(text, sizeof(text), "console.client_ca=%s/ca.pem", tdir);
	assert_int_equal(
		fed_adapter(&w->f, w->a, &out, "--set '%s' serve --listen 127.0.0.1:0", text), 2);
	assert_non_null(strstr(out, "console.tls_cert and console.tls_key go together"));
	free(out);
	snprintf(path[3], sizeof(path[3]), "%s/srv.key", tdir);
	assert_int_equal(chmod(path[3], 0644), 0);
	assert_int_equal(fed_adapter(&w->f, w->a, &out,
				     "--set console.tls_cert=%s/srv.pem --set console.tls_key=%s "
				     "serve --listen 127.0.0.1:0",
				     tdir, path[3]),
			 2);
	assert_non_null(strstr(out, "srv.key"));
	free(out);
}

static void test_refused_listen(void **state)
{
	struct world *w = *state;
	char *out = NULL;

	assert_int_equal(fed_adapter(&w->f, w->a, &out, "serve --listen 0.0.0.0:0"), 2);
	assert_non_null(strstr(out, "not a loopback address"));
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "serve --listen nowhere"), 2);
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "serve --new"), 2);
	free(out);
}

static int setup(void **state)
{
	static struct world w;

	world_new(&w);
	serve_start(&w, w.a);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	char cmd[1200];

	serve_stop();
	assert_int_equal(fed_broker_stop(broker_pid), 0);
	broker_pid = 0;
	/* a sanitizer report in any run fails the test */
	snprintf(cmd, sizeof(cmd), "cat '%s' >> '%s'; grep -q 'Sanitizer\\|runtime error' '%s'",
		 w->serve_out, w->log, w->log);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", w->log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", w->log);
	}
	fed_free(&w->f);
	return 0;
}

/* --browser SCRIPT SHOTS: the federation (its watch desk on, cautioned
 * conflicts escalating after 2 s), A's console, B's console with B's
 * `run` fetching its notices, and the browser. */
static int browser(const char *script, const char *shots)
{
	struct world w;
	char cmd[4096], b_url[256];
	int st;

	desk_port = fed_free_port();
	world_new(&w);
	run_pid_b = run_start(&w, w.b);
	serve_start(&w, w.b);
	snprintf(b_url, sizeof(b_url), "%s", w.url);
	serve_pid_b = serve_pid;
	serve_pid = 0;
	serve_start(&w, w.a);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 '%s' --url '%s' --shots '%s' --own-value '%s' "
		 "--own-case A-7 --foreign-value '%s' --foreign-value '%s' "
		 "--counterpart-url '%s' --counterpart-value '%s' --counterpart-case B-3 "
		 "--desk-url 'http://127.0.0.1:%d/desk' --own-value-2 '%s'",
		 script, w.url, shots, A_EMAIL, B_EMAIL, B_DOMAIN, b_url, B_EMAIL, desk_port,
		 A_PHONE);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		/* what B's daemon and consoles said, to see why */
		snprintf(cmd, sizeof(cmd), "cd '%s/%s' && tail -n 30 run.out serve.out >&2", w.f.dir,
			 w.f.ag[w.b].id);
		if (system(cmd))
			fprintf(stderr, "no log of agency B's daemon\n");
	}
	serve_stop();
	stop_child(&serve_pid_b);
	stop_child(&run_pid_b);
	assert_int_equal(fed_broker_stop(broker_pid), 0);
	broker_pid = 0;
	fed_free(&w.f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access),      cmocka_unit_test(test_pages),
		cmocka_unit_test(test_lookup),      cmocka_unit_test(test_cli_filters),
		cmocka_unit_test(test_ack),         cmocka_unit_test(test_ack_no_kafka),
		cmocka_unit_test(test_refused_listen), cmocka_unit_test(test_client_cert),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set: no Kafka (skipped)\n");
		return 77;
	}
	atexit(kill_children);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc == 4 && !strcmp(argv[1], "--browser"))
		return browser(argv[2], argv[3]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
