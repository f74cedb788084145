/* test_log.c — levels, sinks, line scrubbing, JSON, tokens, files and rotation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deconf/log.h"

#define MAX_LINES 16

struct capture {
	int n;
	int level[MAX_LINES];
	char fac[MAX_LINES][64];
	char *line[MAX_LINES];
};

static struct capture cap;

static void capture_sink(void *opaque, int level, const char *fac, const char *line)
{
	struct capture *c = opaque;

	if (c->n >= MAX_LINES)
		return;
	c->level[c->n] = level;
	snprintf(c->fac[c->n], sizeof(c->fac[c->n]), "%s", fac);
	c->line[c->n] = strdup(line);
	c->n++;
}

static void capture_reset(void)
{
	for (int i = 0; i < cap.n; i++)
		free(cap.line[i]);
	memset(&cap, 0, sizeof(cap));
}

static int setup(void **state)
{
	capture_reset();
	deconf_log_set_program("test-log");
	deconf_log_set_level(DECONF_LOG_INFO);
	deconf_log_set_format(DECONF_LOG_TEXT);
	deconf_log_set_sink(capture_sink, &cap);
	return 0;
}

static int teardown(void **state)
{
	deconf_log_set_sink(NULL, NULL);
	assert_int_equal(deconf_log_open(NULL), 0);
	deconf_log_set_format(DECONF_LOG_TEXT);
	deconf_log_set_level(DECONF_LOG_INFO);
	deconf_log_set_program(NULL);
	capture_reset();
	return 0;
}

/* "2026-01-02T03:04:05.678Z" */
static void assert_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd')
			assert_true(isdigit((unsigned char)s[i]));
		else
			assert_int_equal(s[i], shape[i]);
	}
}

static void test_level_filter(void **state)
{
	assert_int_equal(deconf_log_get_level(), DECONF_LOG_INFO);
	deconf_log(DECONF_LOG_DEBUG, "T", "not shown");
	assert_int_equal(cap.n, 0);
	deconf_log(DECONF_LOG_INFO, "T", "shown %d", 1);
	deconf_log(DECONF_LOG_ERR, "T", "shown %d", 2);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.level[0], DECONF_LOG_INFO);
	assert_int_equal(cap.level[1], DECONF_LOG_ERR);

	deconf_log_set_level(DECONF_LOG_WARNING);
	assert_int_equal(deconf_log_get_level(), DECONF_LOG_WARNING);
	deconf_log(DECONF_LOG_NOTICE, "T", "not shown");
	deconf_log(DECONF_LOG_INFO, "T", "not shown");
	assert_int_equal(cap.n, 2);
	deconf_log(DECONF_LOG_WARNING, "T", "shown");
	assert_int_equal(cap.n, 3);

	deconf_log_set_level(DECONF_LOG_DEBUG);
	deconf_log(DECONF_LOG_DEBUG, "T", "now shown");
	assert_int_equal(cap.n, 4);
	assert_non_null(strstr(cap.line[3], "now shown"));
}

static void test_text_line(void **state)
{
	char expect[256];

	deconf_log(DECONF_LOG_WARNING, "MATCHER", "hot threshold %d reached by %s", 7,
		   "agency-a");
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap.level[0], DECONF_LOG_WARNING);
	assert_string_equal(cap.fac[0], "MATCHER");
	assert_timestamp(cap.line[0]);
	assert_int_equal(cap.line[0][24], ' ');
	snprintf(expect, sizeof(expect),
		 "test-log[%d] warning MATCHER: hot threshold 7 reached by agency-a",
		 (int)getpid());
	assert_string_equal(cap.line[0] + strlen("2026-01-02T03:04:05.678Z "), expect);

	/* program name NULL falls back to "deconf" */
	deconf_log_set_program(NULL);
	deconf_log(DECONF_LOG_ERR, "X", "m");
	snprintf(expect, sizeof(expect), " deconf[%d] err X: m", (int)getpid());
	assert_non_null(strstr(cap.line[1], expect));
}

static void test_scrub_control_chars(void **state)
{
	const char *line;

	deconf_log(DECONF_LOG_ERR, "T", "a\nfake 2026-01-01T00:00:00.000Z x[1] err T: b\tc\rd%ce\x7f",
		   0x1b);
	assert_int_equal(cap.n, 1);
	line = cap.line[0];
	for (const char *p = line; *p; p++)
		assert_false((unsigned char)*p < 0x20 || *p == 0x7f);
	assert_non_null(strstr(line, "T: a fake 2026-01-01T00:00:00.000Z x[1] err T: b c d e "));
}

/* C1 and bidi controls and bytes that are not UTF-8 (partner-chosen names
 * end up in messages) are shown as escapes, never written raw. */
static void test_escape_terminal_controls(void **state)
{
	const char *line;

	deconf_log(DECONF_LOG_ERR, "T", "x\xc2\x9b" "2Jy \xe2\x80\xae" " evil \xff\xfe" " z \xc3\xa9");
	assert_int_equal(cap.n, 1);
	line = cap.line[0];
	assert_null(strstr(line, "\xc2\x9b"));
	assert_null(strstr(line, "\xe2\x80\xae"));
	assert_null(strchr(line, '\xff'));
	assert_non_null(strstr(line, "\\u{009B}"));
	assert_non_null(strstr(line, "\\u{202E}"));
	assert_non_null(strstr(line, "\\xff"));
	assert_non_null(strstr(line, "z \xc3\xa9")); /* UTF-8 text is kept */
}

/*
 * A rough JSON checker for one flat object of string and integer values:
 * returns the number of members, or -1 if it is not valid JSON.
 */
static int json_flat_object(const char *s)
{
	int members = 0;

	if (*s++ != '{')
		return -1;
	for (;;) {
		/* key */
		if (*s++ != '"')
			return -1;
		while (*s && *s != '"') {
			if ((unsigned char)*s < 0x20)
				return -1;
			s++;
		}
		if (*s++ != '"' || *s++ != ':')
			return -1;
		/* value */
		if (*s == '"') {
			s++;
			while (*s != '"') {
				if (!*s || (unsigned char)*s < 0x20)
					return -1;
				if (*s == '\\') {
					s++;
					if (*s == 'u') {
						for (int i = 1; i <= 4; i++)
							if (!isxdigit((unsigned char)s[i]))
								return -1;
						s += 4;
					} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
						return -1;
					}
				}
				s++;
			}
			s++;
		} else if (isdigit((unsigned char)*s) || *s == '-') {
			s++;
			while (isdigit((unsigned char)*s))
				s++;
		} else {
			return -1;
		}
		members++;
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s++ != '}')
			return -1;
		return *s ? -1 : members;
	}
}

static void test_json_format(void **state)
{
	char expect[256];

	deconf_log_set_format(DECONF_LOG_JSON);
	deconf_log(DECONF_LOG_NOTICE, "FA\"C", "say \"hi\" C:\\dir\n{x}");
	assert_int_equal(cap.n, 1);
	assert_int_equal(json_flat_object(cap.line[0]), 6);
	assert_memory_equal(cap.line[0], "{\"ts\":\"", 7);
	assert_timestamp(cap.line[0] + 7);
	assert_non_null(strstr(cap.line[0], "\",\"level\":\"notice\",\"prog\":\"test-log\","));
	snprintf(expect, sizeof(expect), "\"pid\":%d,", (int)getpid());
	assert_non_null(strstr(cap.line[0], expect));
	assert_non_null(strstr(cap.line[0], "\"fac\":\"FA\\\"C\","));
	/* the newline was scrubbed to a space before escaping */
	assert_non_null(strstr(cap.line[0], "\"msg\":\"say \\\"hi\\\" C:\\\\dir {x}\"}"));

	deconf_log_set_format(DECONF_LOG_TEXT);
	deconf_log(DECONF_LOG_NOTICE, "F", "plain");
	assert_int_equal(json_flat_object(cap.line[1]), -1);
	assert_non_null(strstr(cap.line[1], " notice F: plain"));
}

/* Very long messages are cut, and the JSON line stays valid (no half escape). */
static void test_long_message(void **state)
{
	char *big = malloc(20000);

	assert_non_null(big);
	memset(big, '"', 19999);
	big[19999] = '\0';
	deconf_log_set_format(DECONF_LOG_JSON);
	deconf_log(DECONF_LOG_ERR, "T", "%s", big);
	memset(big, '\\', 19999);
	deconf_log(DECONF_LOG_ERR, "T", "x%s", big);
	deconf_log_set_format(DECONF_LOG_TEXT);
	memset(big, 'a', 19999);
	deconf_log(DECONF_LOG_ERR, "T", "%s", big);
	free(big);

	assert_int_equal(cap.n, 3);
	assert_int_equal(json_flat_object(cap.line[0]), 6);
	assert_int_equal(json_flat_object(cap.line[1]), 6);
	assert_true(strlen(cap.line[0]) < 8192);
	assert_true(strlen(cap.line[1]) < 8192);
	assert_true(strlen(cap.line[2]) < 8192);
	assert_non_null(strstr(cap.line[2], "T: aaaa"));
}

static void vlog_helper(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vlog_helper(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	deconf_vlog(level, "V", fmt, ap);
	va_end(ap);
}

static void test_vlog(void **state)
{
	vlog_helper(DECONF_LOG_INFO, "%s=%d", "n", 42);
	vlog_helper(DECONF_LOG_DEBUG, "%s", "hidden");
	assert_int_equal(cap.n, 1);
	assert_non_null(strstr(cap.line[0], " info V: n=42"));
}

static void test_level_parse(void **state)
{
	assert_int_equal(deconf_log_level_parse("err"), DECONF_LOG_ERR);
	assert_int_equal(deconf_log_level_parse("error"), DECONF_LOG_ERR);
	assert_int_equal(deconf_log_level_parse("ERROR"), DECONF_LOG_ERR);
	assert_int_equal(deconf_log_level_parse("warning"), DECONF_LOG_WARNING);
	assert_int_equal(deconf_log_level_parse("warn"), DECONF_LOG_WARNING);
	assert_int_equal(deconf_log_level_parse("Warn"), DECONF_LOG_WARNING);
	assert_int_equal(deconf_log_level_parse("notice"), DECONF_LOG_NOTICE);
	assert_int_equal(deconf_log_level_parse("info"), DECONF_LOG_INFO);
	assert_int_equal(deconf_log_level_parse("INFO"), DECONF_LOG_INFO);
	assert_int_equal(deconf_log_level_parse("debug"), DECONF_LOG_DEBUG);
	assert_int_equal(deconf_log_level_parse("verbose"), -1);
	assert_int_equal(deconf_log_level_parse("infos"), -1);
	assert_int_equal(deconf_log_level_parse("inf"), -1);
	assert_int_equal(deconf_log_level_parse(""), -1);

	assert_string_equal(deconf_log_level_name(DECONF_LOG_ERR), "err");
	assert_string_equal(deconf_log_level_name(DECONF_LOG_WARNING), "warning");
	assert_string_equal(deconf_log_level_name(DECONF_LOG_NOTICE), "notice");
	assert_string_equal(deconf_log_level_name(DECONF_LOG_INFO), "info");
	assert_string_equal(deconf_log_level_name(DECONF_LOG_DEBUG), "debug");
	/* librdkafka's emerg/alert/crit and anything beyond debug clamp */
	assert_string_equal(deconf_log_level_name(0), "err");
	assert_string_equal(deconf_log_level_name(2), "err");
	assert_string_equal(deconf_log_level_name(8), "debug");
	for (int l = DECONF_LOG_ERR; l <= DECONF_LOG_DEBUG; l++)
		assert_int_equal(deconf_log_level_parse(deconf_log_level_name(l)), l);
}

static void test_token(void **state)
{
	static const uint8_t token[] = { 0x3f, 0xa2, 0xc4, 0x01, 0xff, 0xee, 0xdd };
	static const uint8_t zero[4] = { 0 };
	char buf[DECONF_LOG_TOKEN_LEN + 1];

	memset(buf, '#', sizeof(buf));
	assert_ptr_equal(deconf_log_token(buf, token, sizeof(token)), buf);
	assert_string_equal(buf, "3fa2c401..");
	assert_int_equal(strlen(buf), DECONF_LOG_TOKEN_LEN - 1);
	assert_int_equal(buf[DECONF_LOG_TOKEN_LEN], '#');

	assert_string_equal(deconf_log_token(buf, token, 4), "3fa2c401..");
	/* shorter than 4 bytes: only what there is */
	assert_string_equal(deconf_log_token(buf, token, 2), "3fa2..");
	assert_string_equal(deconf_log_token(buf, token, 0), "..");
	assert_string_equal(deconf_log_token(buf, zero, 4), "00000000..");
}

/* ------------------------------------------------------------ log files */

struct tmpdir {
	char dir[64];
	char log[128];
	char rotated[128];
};

static void tmpdir_make(struct tmpdir *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_log.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->log, sizeof(t->log), "%s/deconf.log", t->dir);
	snprintf(t->rotated, sizeof(t->rotated), "%s/deconf.log.1", t->dir);
}

static void tmpdir_remove(struct tmpdir *t)
{
	unlink(t->log);
	unlink(t->rotated);
	assert_int_equal(rmdir(t->dir), 0);
}

/* The whole file as a string (caller frees), "" if missing. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n = 0;

	assert_non_null(buf);
	if (f) {
		n = fread(buf, 1, 65535, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_file_and_rotation(void **state)
{
	struct tmpdir t;
	struct stat st;
	char *a, *b;
	mode_t old_umask = umask(022);

	tmpdir_make(&t);
	deconf_log_set_sink(NULL, NULL);
	assert_int_equal(deconf_log_open(t.log), 0);
	umask(old_umask);
	assert_int_equal(stat(t.log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);

	deconf_log(DECONF_LOG_INFO, "ROT", "first message");
	deconf_log(DECONF_LOG_DEBUG, "ROT", "filtered message");
	/* logrotate renames the file; we keep writing to it until reopened */
	assert_int_equal(rename(t.log, t.rotated), 0);
	deconf_log(DECONF_LOG_INFO, "ROT", "second message");
	assert_int_equal(deconf_log_reopen(), 0);
	assert_int_equal(stat(t.log, &st), 0);
	deconf_log(DECONF_LOG_INFO, "ROT", "third message");

	a = slurp(t.rotated);
	b = slurp(t.log);
	assert_int_equal(count_lines(a), 2);
	assert_non_null(strstr(a, "test-log["));
	assert_non_null(strstr(a, "] info ROT: first message\n"));
	assert_non_null(strstr(a, "] info ROT: second message\n"));
	assert_null(strstr(a, "filtered"));
	assert_null(strstr(a, "third"));
	assert_int_equal(count_lines(b), 1);
	assert_non_null(strstr(b, "] info ROT: third message\n"));
	free(a);
	free(b);

	/* a custom sink takes over from the file, and NULL gives it back */
	deconf_log_set_sink(capture_sink, &cap);
	deconf_log(DECONF_LOG_INFO, "ROT", "to the sink");
	deconf_log_set_sink(NULL, NULL);
	deconf_log(DECONF_LOG_INFO, "ROT", "fourth message");
	assert_int_equal(cap.n, 1);
	b = slurp(t.log);
	assert_null(strstr(b, "to the sink"));
	assert_non_null(strstr(b, "fourth message"));
	assert_int_equal(count_lines(b), 2);
	free(b);

	/* opening appends to an existing file */
	assert_int_equal(deconf_log_open(t.rotated), 0);
	deconf_log(DECONF_LOG_INFO, "ROT", "appended");
	a = slurp(t.rotated);
	assert_int_equal(count_lines(a), 3);
	assert_non_null(strstr(a, "first message"));
	assert_non_null(strstr(a, "appended"));
	free(a);

	tmpdir_remove(&t);
}

/* A failed open keeps the previous sink; a failed reopen keeps the file. */
static void test_file_open_failure(void **state)
{
	struct tmpdir t;
	char bad[160], *a;

	tmpdir_make(&t);
	deconf_log_set_sink(NULL, NULL);
	assert_int_equal(deconf_log_open(t.log), 0);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/x.log", t.dir);
	assert_int_equal(deconf_log_open(bad), ENOENT);
	deconf_log(DECONF_LOG_INFO, "F", "still here");

	/* the new file cannot be created (a directory is in the way, which
	 * stops root too): reopen fails, logging goes on to the renamed file */
	assert_int_equal(rename(t.log, t.rotated), 0);
	assert_int_equal(mkdir(t.log, 0700), 0);
	assert_int_equal(deconf_log_reopen(), EISDIR);
	deconf_log(DECONF_LOG_INFO, "F", "after failed reopen");
	assert_int_equal(rmdir(t.log), 0);

	a = slurp(t.rotated);
	assert_non_null(strstr(a, "F: still here\n"));
	assert_non_null(strstr(a, "F: after failed reopen\n"));
	assert_int_equal(count_lines(a), 2);
	free(a);
	tmpdir_remove(&t);
}

/* deconf_log_open(NULL) goes back to stderr; reopen is then a no-op. */
static void test_back_to_stderr(void **state)
{
	struct tmpdir t;
	char errpath[160], *a, *e;
	int fd, saved;

	tmpdir_make(&t);
	deconf_log_set_sink(NULL, NULL);
	assert_int_equal(deconf_log_open(t.log), 0);
	deconf_log(DECONF_LOG_INFO, "S", "in the file");
	assert_int_equal(deconf_log_open(NULL), 0);

	snprintf(errpath, sizeof(errpath), "%s/stderr", t.dir);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	deconf_log(DECONF_LOG_INFO, "S", "on stderr");
	assert_int_equal(deconf_log_reopen(), 0);
	deconf_log(DECONF_LOG_INFO, "S", "still on stderr");
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(fd);

	a = slurp(t.log);
	e = slurp(errpath);
	assert_int_equal(count_lines(a), 1);
	assert_non_null(strstr(a, "S: in the file\n"));
	assert_int_equal(count_lines(e), 2);
	assert_non_null(strstr(e, "S: on stderr\n"));
	assert_non_null(strstr(e, "S: still on stderr\n"));
	free(a);
	free(e);
	assert_int_equal(unlink(errpath), 0);
	tmpdir_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrub_control_chars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escape_terminal_controls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlog, setup, teardown),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_token),
		cmocka_unit_test_setup_teardown(test_file_and_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_open_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_back_to_stderr, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
