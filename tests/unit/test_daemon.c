/* test_daemon.c — the run daemon's spool results (adapters/src/daemon.c).
 *
 * adp_daemon_run() scans the spool once before it first asks Kafka for
 * notices, so with *stop already set it processes the spool and returns:
 * no Kafka is needed. A file refused before anything is published never
 * opens a producer either.
 *
 * A spool file's name is whatever was dropped into the directory. Its
 * .result JSON must still be written, whole and valid, and the log and the
 * report must show the name escaped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agency.h"
#include "daemon.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/sign.h"
#include "deconf/text.h"
#include "deconf/token.h"
#include "deconf/util.h"

/* A name that retitles the window, rings the bell, and is not UTF-8. */
#define NAME "bad\x1b]0;owned\x07\xff.csv"
#define NAME_SHOWN "bad\\x1b]0;owned\\x07\\xff.csv"
#define NAME_JSON "bad\x1b]0;owned\x07\xef\xbf\xbd.csv" /* 0xff is U+FFFD */

static char tmpdir[512];
static char logbuf[16384];
static size_t loglen;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_daemon.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	deconf_log_set_sink(NULL, NULL);
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void sink(void *opaque, int level, const char *fac, const char *line)
{
	size_t n = strlen(line);

	if (loglen + n + 2 < sizeof(logbuf)) {
		memcpy(logbuf + loglen, line, n);
		loglen += n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(close(fd), 0);
}

/* An agency whose keys and directories live in tmpdir; extra: one more
 * setting, or NULL. */
static void agency_load_with(struct adp_agency *a, const char *extra)
{
	struct deconf_keyring *ring;
	struct deconf_sign_key *key;
	char errstr[512], p[6][700];
	char *sets[10], *envp[] = { NULL };
	uint32_t epoch;

	snprintf(p[0], sizeof(p[0]), "agency.key_file=%s/federation.keys", tmpdir);
	snprintf(p[1], sizeof(p[1]), "agency.signing_key=%s/agency.pem", tmpdir);
	snprintf(p[2], sizeof(p[2]), "ledger.dir=%s/ledger", tmpdir);
	snprintf(p[3], sizeof(p[3]), "run.spool_dir=%s/spool", tmpdir);
	snprintf(p[4], sizeof(p[4]), "run.outbox_file=%s/notices.jsonl", tmpdir);
	snprintf(p[5], sizeof(p[5]), "%s/spool", tmpdir);
	assert_int_equal(mkdir(p[5], 0700), 0);
	assert_int_equal(deconf_keyring_new(&ring), 0);
	assert_int_equal(deconf_keyring_rotate(ring, &epoch), 0);
	assert_int_equal(deconf_keyring_save(ring, p[0] + strlen("agency.key_file="), 1, errstr,
					     sizeof(errstr)),
			 0);
	deconf_keyring_free(ring);
	assert_int_equal(deconf_sign_key_generate(&key, errstr, sizeof(errstr)), 0);
	assert_int_equal(deconf_sign_key_save_private(key, p[1] + strlen("agency.signing_key="),
						      errstr, sizeof(errstr)),
			 0);
	deconf_sign_key_free(key);
	sets[0] = "agency.id=agency-a";
	for (int i = 0; i < 5; i++)
		sets[i + 1] = p[i];
	sets[6] = "run.settle=0";
	sets[7] = "ledger.map_size=16M";
	sets[8] = "log.level=info";
	sets[9] = (char *)extra;
	if (adp_agency_load(a, NULL, envp, sets, extra ? 10 : 9, errstr, sizeof(errstr)))
		fail_msg("%s", errstr);
}

static void agency_load(struct adp_agency *a)
{
	agency_load_with(a, NULL);
}

static void test_hostile_file_name(void **state)
{
	struct adp_agency a;
	volatile int stop = 1;
	char path[1024], errstr[512], *text;
	size_t len;
	json_t *res, *errors;
	json_error_t jerr;

	agency_load(&a);
	deconf_log_set_sink(sink, NULL);
	/* a header without the required columns: refused, nothing published */
	snprintf(path, sizeof(path), "%s/spool/%s", tmpdir, NAME);
	write_file(path, "case,kind,what\nA-1,phone,+1 555 010 0000\n");
	assert_int_equal(adp_daemon_run(&a, &stop, NULL, errstr, sizeof(errstr)), 0);
	adp_agency_close(&a);

	/* the file was handled: moved aside, with its result next to it */
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/spool/failed/%s", tmpdir, NAME);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/spool/failed/%s.result", tmpdir, NAME);
	if (deconf_file_read(path, 1 << 20, 0, &text, &len, errstr, sizeof(errstr)))
		fail_msg("no .result next to the refused file"); /* errstr names it raw */

	/* ASCII JSON that parses back, with the name and the errors in it */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] > 0x7e ||
		    ((unsigned char)text[i] < 0x20 && text[i] != '\n'))
			fail_msg("byte 0x%02x at %zu of the result", (unsigned char)text[i], i);
	if (!(res = json_loads(text, JSON_REJECT_DUPLICATES, &jerr)))
		fail_msg("the result is not JSON: %s", jerr.text);
	assert_true(json_is_string(json_object_get(res, "file")));
	assert_string_equal(json_string_value(json_object_get(res, "file")), NAME_JSON);
	assert_string_equal(json_string_value(json_object_get(res, "status")), "refused");
	errors = json_object_get(res, "errors");
	assert_true(json_array_size(errors) >= 1);
	for (size_t i = 0; i < json_array_size(errors); i++) {
		const char *e = json_string_value(json_array_get(errors, i));
		assert_non_null(e);
		/* the report shows the name escaped, as on a terminal */
		assert_memory_equal(e, NAME_SHOWN ":", strlen(NAME_SHOWN ":"));
	}
	json_decref(res);
	free(text);

	/* the log names the file escaped, and holds nothing raw of it */
	assert_non_null(strstr(logbuf, "processing "));
	assert_non_null(strstr(logbuf, NAME_SHOWN ": refused"));
	assert_null(memchr(logbuf, 0x1b, loglen));
	assert_null(memchr(logbuf, 0x07, loglen));
	assert_null(memchr(logbuf, 0xff, loglen));
}

/* Notices name a counterpart's investigator: https, or http to this
 * machine only. */
static void test_webhook_url(void **state)
{
	static const char *const ok[] = {
		"https://hooks.example.org/deconf",
		"https://10.1.2.3:8443/x?y=1",
		"http://127.0.0.1:8080/hook",
		"http://127.9.9.9/hook",
		"http://localhost/hook",
		"http://LOCALHOST:81/",
		"http://[::1]:9000/hook",
	};
	static const char *const refused[] = {
		"http://hooks.example.org/deconf", /* clear text across a network */
		"http://10.0.0.1/hook",
		"http://128.0.0.1/hook",
		"http://localhost.example.org/hook",
		"http://[::2]/hook",
		"http://127.0.0.1.nip.io/hook",
		"ftp://127.0.0.1/hook",
		"file:///etc/passwd",
		"gopher://127.0.0.1/",
		"https://user:secret@hooks.example.org/", /* a password in the logs */
		"https://user@hooks.example.org/",
		"not a url",
		"",
	};
	char errstr[512];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (adp_webhook_url_check(ok[i], errstr, sizeof(errstr)))
			fail_msg("%s refused: %s", ok[i], errstr);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		errstr[0] = '\0';
		if (adp_webhook_url_check(refused[i], errstr, sizeof(errstr)) != DECONF_E_CONFIG)
			fail_msg("%s accepted", refused[i]);
		assert_true(errstr[0] != '\0');
	}
	assert_int_equal(adp_webhook_url_check("http://hooks.example.org/", errstr,
					       sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(errstr, "https"));
}

/* run refuses to start with such a webhook, naming the setting. */
static void test_webhook_refused_at_start(void **state)
{
	struct adp_agency a;
	char errstr[1024] = "";
	volatile int stop = 1, reopen = 0;

	(void)state;
	agency_load_with(&a, "run.webhook_url=http://hooks.example.org/deconf");
	assert_int_equal(adp_daemon_run(&a, &stop, &reopen, errstr, sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(errstr, "run.webhook_url"));
	assert_non_null(strstr(errstr, "plain http to hooks.example.org"));
	adp_agency_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook_url),
		cmocka_unit_test_setup_teardown(test_webhook_refused_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_file_name, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
