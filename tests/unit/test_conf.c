/* test_conf.c — the config table: layers, origins, errors, parsers, help, and
 * rows bound to a settings struct's fields. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deconf/conf.h"
#include "deconf/err.h"

#define DAY_MS INT64_C(86400000)

static const struct deconf_conf_def table[] = {
	{ .name = "broker.name", .type = DECONF_CONF_STR, .def = "deconf",
	  .doc = "name shown in logs" },
	{ .name = "broker.state_dir", .type = DECONF_CONF_PATH, .def = "/var/lib/deconf",
	  .doc = "state directory" },
	{ .name = "matcher.hot_threshold", .type = DECONF_CONF_INT, .def = "5", .min = 2,
	  .max = 100, .doc = "agencies before a match is hot" },
	{ .name = "matcher.enabled", .type = DECONF_CONF_BOOL, .def = "true",
	  .doc = "run the matcher" },
	{ .name = "matcher.ttl", .type = DECONF_CONF_DURATION, .def = "30s", .min = 1000,
	  .max = 180 * DAY_MS, .doc = "how long an indicator is kept" },
	{ .name = "matcher.max_msg", .type = DECONF_CONF_SIZE, .def = "1M", .min = 1024,
	  .max = INT64_C(1) << 30, .doc = "largest message" },
	{ .name = "log.format", .type = DECONF_CONF_ENUM, .def = "text",
	  .choices = "text|json", .doc = "log line format" },
	{ .name = "broker.agency", .type = DECONF_CONF_STR, .flags = DECONF_CONF_REQUIRED,
	  .doc = "this agency's id" },
	{ .name = "log.file", .type = DECONF_CONF_PATH, .doc = "log file (stderr if unset)" },
	{ .name = "broker.motd", .type = DECONF_CONF_STR, .def = "", .doc = "banner" },
};
#define TABLE_N (sizeof(table) / sizeof(table[0]))

struct fixture {
	char dir[64];
	char path[128];
	struct deconf_conf *conf;
	char errstr[1024];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_conf.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/deconf.conf", f->dir);
	if (deconf_conf_new(&f->conf, table, TABLE_N, f->errstr, sizeof(f->errstr)))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	deconf_conf_free(f->conf);
	unlink(f->path);
	rc = rmdir(f->dir);
	free(f);
	return rc;
}

static void write_conf(struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* "<path>:<line>" into buf */
static const char *at(const struct fixture *f, int line, char *buf, size_t size)
{
	snprintf(buf, size, "%s:%d", f->path, line);
	return buf;
}

/* errstr must start with "<path>:<line>: " followed by rest */
static void assert_err_at(const struct fixture *f, int line, const char *rest)
{
	char expect[512];

	snprintf(expect, sizeof(expect), "%s:%d: %s", f->path, line, rest);
	if (strncmp(f->errstr, expect, strlen(expect)))
		fail_msg("errstr \"%s\" does not start with \"%s\"", f->errstr, expect);
}

static void load_ok(struct fixture *f, const char *text)
{
	write_conf(f, text);
	f->errstr[0] = '\0';
	if (deconf_conf_load_file(f->conf, f->path, f->errstr, sizeof(f->errstr)))
		fail_msg("load failed: %s", f->errstr);
}

static int load(struct fixture *f, const char *text)
{
	write_conf(f, text);
	f->errstr[0] = '\0';
	return deconf_conf_load_file(f->conf, f->path, f->errstr, sizeof(f->errstr));
}

/* ----------------------------------------------------------- defaults */

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct deconf_conf *c = f->conf;

	assert_string_equal(deconf_conf_get_str(c, "broker.name"), "deconf");
	assert_string_equal(deconf_conf_get_str(c, "broker.state_dir"), "/var/lib/deconf");
	assert_int_equal(deconf_conf_get_int(c, "matcher.hot_threshold"), 5);
	assert_string_equal(deconf_conf_get_str(c, "matcher.hot_threshold"), "5");
	assert_int_equal(deconf_conf_get_int(c, "matcher.enabled"), 1);
	assert_int_equal(deconf_conf_get_int(c, "matcher.ttl"), 30000);
	assert_int_equal(deconf_conf_get_int(c, "matcher.max_msg"), 1048576);
	assert_string_equal(deconf_conf_get_str(c, "log.format"), "text");
	assert_string_equal(deconf_conf_get_str(c, "broker.motd"), "");

	for (size_t i = 0; i < TABLE_N; i++)
		if (table[i].def)
			assert_string_equal(deconf_conf_origin(c, table[i].name), "default");

	/* no default: unset, NULL */
	assert_null(deconf_conf_get_str(c, "broker.agency"));
	assert_null(deconf_conf_get_str(c, "log.file"));
	assert_false(deconf_conf_is_set(c, "log.file"));
	assert_true(deconf_conf_is_set(c, "broker.name"));
	assert_null(deconf_conf_origin(c, "no.such.key"));
	assert_int_equal(deconf_conf_kafka_count(c), 0);
}

static void test_required(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(deconf_conf_check(f->conf, f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "broker.agency"));
	assert_non_null(strstr(f->errstr, "required"));
	/* a required string cannot be set empty */
	assert_int_equal(deconf_conf_set_arg(f->conf, "broker.agency=", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_string_equal(f->errstr, "command line: broker.agency: must not be empty");
	assert_int_equal(deconf_conf_check(f->conf, f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);

	assert_int_equal(deconf_conf_set_arg(f->conf, "broker.agency=agency-a", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_check(f->conf, f->errstr, sizeof(f->errstr)), DECONF_OK);
	assert_string_equal(deconf_conf_get_str(f->conf, "broker.agency"), "agency-a");
}

/* ------------------------------------------------------------- layers */

static void test_layers(void **state)
{
	struct fixture *f = *state;
	struct deconf_conf *c = f->conf;
	char o[256];
	char *envp[] = {
		"PATH=/usr/bin:/bin",
		"DECONF_MATCHER_HOT_THRESHOLD=20",
		"DECONF_LOG_FORMAT=text",
		"DECONF_SOMETHING_ELSE=1", /* not ours: ignored */
		"DECONF_=x",
		"DECONF_MATCHER_TTL", /* no '=' */
		"deconf_matcher_enabled=true", /* the prefix is upper case */
		"XDECONF_BROKER_NAME=nope",
		NULL,
	};

	load_ok(f, "# deconf test config\n"               /* 1 */
		   "\n"                                    /* 2 */
		   "[broker]\n"                            /* 3 */
		   "name = from-file\n"                  /* 4 */
		   "agency = agency-a\n"                   /* 5 */
		   "; a comment\n"                         /* 6 */
		   "[matcher]\n"                           /* 7 */
		   "hot_threshold = 10\n"                  /* 8 */
		   "ttl = 5m\n"                            /* 9 */
		   "max_msg=64k\n"                         /* 10 */
		   "enabled = no\n"                        /* 11 */
		   "\n"                                    /* 12 */
		   "[log]\n"                               /* 13 */
		   "format = json\n");                     /* 14 */

	assert_string_equal(deconf_conf_get_str(c, "broker.name"), "from-file");
	assert_string_equal(deconf_conf_origin(c, "broker.name"), at(f, 4, o, sizeof(o)));
	assert_string_equal(deconf_conf_origin(c, "broker.agency"), at(f, 5, o, sizeof(o)));
	assert_int_equal(deconf_conf_get_int(c, "matcher.hot_threshold"), 10);
	assert_string_equal(deconf_conf_origin(c, "matcher.hot_threshold"),
			    at(f, 8, o, sizeof(o)));
	assert_int_equal(deconf_conf_get_int(c, "matcher.ttl"), 5 * 60 * 1000);
	assert_string_equal(deconf_conf_origin(c, "matcher.ttl"), at(f, 9, o, sizeof(o)));
	assert_int_equal(deconf_conf_get_int(c, "matcher.max_msg"), 65536);
	assert_string_equal(deconf_conf_origin(c, "matcher.max_msg"), at(f, 10, o, sizeof(o)));
	assert_int_equal(deconf_conf_get_int(c, "matcher.enabled"), 0);
	assert_string_equal(deconf_conf_origin(c, "matcher.enabled"), at(f, 11, o, sizeof(o)));
	assert_string_equal(deconf_conf_get_str(c, "log.format"), "json");
	assert_string_equal(deconf_conf_origin(c, "log.format"), at(f, 14, o, sizeof(o)));
	/* not in the file: still the default */
	assert_string_equal(deconf_conf_get_str(c, "broker.state_dir"), "/var/lib/deconf");
	assert_string_equal(deconf_conf_origin(c, "broker.state_dir"), "default");

	/* environment over file */
	assert_int_equal(deconf_conf_load_env(c, envp, f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_get_int(c, "matcher.hot_threshold"), 20);
	assert_string_equal(deconf_conf_origin(c, "matcher.hot_threshold"),
			    "environment DECONF_MATCHER_HOT_THRESHOLD");
	assert_string_equal(deconf_conf_get_str(c, "log.format"), "text");
	assert_string_equal(deconf_conf_origin(c, "log.format"), "environment DECONF_LOG_FORMAT");
	assert_string_equal(deconf_conf_get_str(c, "broker.name"), "from-file");
	assert_string_equal(deconf_conf_origin(c, "broker.name"), at(f, 4, o, sizeof(o)));
	assert_int_equal(deconf_conf_get_int(c, "matcher.ttl"), 300000);
	assert_int_equal(deconf_conf_get_int(c, "matcher.enabled"), 0);
	assert_int_equal(deconf_conf_kafka_count(c), 0);

	/* command line over environment */
	assert_int_equal(deconf_conf_set_arg(c, "matcher.hot_threshold=30", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_get_int(c, "matcher.hot_threshold"), 30);
	assert_string_equal(deconf_conf_origin(c, "matcher.hot_threshold"), "command line");
	/* only the first '=' separates */
	assert_int_equal(deconf_conf_set_arg(c, "broker.name=a=b", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_OK);
	assert_string_equal(deconf_conf_get_str(c, "broker.name"), "a=b");
	/* deconf_conf_set keeps the origin it is given */
	assert_int_equal(deconf_conf_set(c, "log.file", "/var/log/deconf.log", "test:7",
					 f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	assert_string_equal(deconf_conf_origin(c, "log.file"), "test:7");
	assert_true(deconf_conf_is_set(c, "log.file"));

	assert_int_equal(deconf_conf_check(c, f->errstr, sizeof(f->errstr)), DECONF_OK);
}

/* A second file overrides the first, key by key. */
static void test_two_files(void **state)
{
	struct fixture *f = *state;
	char o[256];

	load_ok(f, "[matcher]\nhot_threshold = 10\nttl = 1h\n");
	load_ok(f, "\n\n[matcher]\nttl = 2d\n");
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.hot_threshold"), 10);
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.ttl"), 2 * DAY_MS);
	assert_string_equal(deconf_conf_origin(f->conf, "matcher.ttl"),
			    at(f, 4, o, sizeof(o)));
}

/* Indented keys are keys, not continuations of the previous value. */
static void test_indented_keys(void **state)
{
	struct fixture *f = *state;
	char o[256];

	load_ok(f, "[broker]\n"
		   "  name = x\n"
		   "\tagency = y\n"
		   "  [matcher]\n"
		   "    hot_threshold = 7\n");
	assert_string_equal(deconf_conf_get_str(f->conf, "broker.name"), "x");
	assert_string_equal(deconf_conf_get_str(f->conf, "broker.agency"), "y");
	assert_string_equal(deconf_conf_origin(f->conf, "broker.agency"),
			    at(f, 3, o, sizeof(o)));
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.hot_threshold"), 7);

	/* an indented line without '=' is an error, not more of the value */
	assert_int_equal(load(f, "[broker]\nname = a\n  b\n"), DECONF_E_CONFIG);
	assert_err_at(f, 3, "syntax error");
	assert_string_equal(deconf_conf_get_str(f->conf, "broker.name"), "a");
}

/* ------------------------------------------------------------- errors */

static void test_unknown_key(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[broker]\n"
				 "name = x\n"
				 "\n"
				 "# comment\n"
				 "nosuch = 1\n"
				 "agency = y\n"),
			 DECONF_E_CONFIG);
	assert_err_at(f, 5, "broker.nosuch: unknown key");
	/* parsing stopped at the first error */
	assert_null(deconf_conf_get_str(f->conf, "broker.agency"));

	assert_int_equal(load(f, "nosuch = 1\n"), DECONF_E_CONFIG);
	assert_err_at(f, 1, "nosuch: unknown key");

	assert_int_equal(load(f, "; x\n[matcher]\nhot = 3\n"), DECONF_E_CONFIG);
	assert_err_at(f, 3, "matcher.hot: unknown key");
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *section, *name, *value, *reason;
	} cases[] = {
		{ "matcher", "hot_threshold", "abc", "'abc' is not a integer" },
		{ "matcher", "hot_threshold", "12abc", "'12abc' is not a integer" },
		{ "matcher", "hot_threshold", "1.5", "'1.5' is not a integer" },
		{ "matcher", "hot_threshold", "99999999999999999999", "'9999" },
		{ "matcher", "hot_threshold", "1", "'1' is outside [2, 100]" },
		{ "matcher", "hot_threshold", "101", "'101' is outside [2, 100]" },
		{ "matcher", "hot_threshold", "-3", "'-3' is outside [2, 100]" },
		{ "matcher", "enabled", "maybe", "'maybe' is not true or false" },
		{ "matcher", "enabled", "2", "'2' is not true or false" },
		{ "matcher", "ttl", "5", "'5' is not a duration" },
		{ "matcher", "ttl", "5x", "'5x' is not a duration" },
		{ "matcher", "ttl", "-1s", "'-1s' is not a duration" },
		{ "matcher", "ttl", "500ms", "'500ms' is outside [1000, 15552000000] ms" },
		{ "matcher", "ttl", "181d", "'181d' is outside [1000, 15552000000] ms" },
		{ "matcher", "max_msg", "1T", "'1T' is not a size" },
		{ "matcher", "max_msg", "lots", "'lots' is not a size" },
		{ "matcher", "max_msg", "2G", "'2G' is outside [1024, 1073741824] bytes" },
		{ "matcher", "max_msg", "512", "'512' is outside [1024, 1073741824] bytes" },
		{ "log", "format", "xml", "'xml' is not one of text|json" },
		{ "log", "format", "TEXT", "'TEXT' is not one of text|json" },
		{ "log", "format", "tex", "'tex' is not one of text|json" },
		{ "broker", "agency", "", "must not be empty" },
	};
	struct fixture *f = *state;
	char text[512], rest[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t before = deconf_conf_get_int(f->conf, "matcher.hot_threshold");

		snprintf(text, sizeof(text), "# case %zu\n\n[%s]\n%s = %s\n", i,
			 cases[i].section, cases[i].name, cases[i].value);
		if (load(f, text) != DECONF_E_CONFIG)
			fail_msg("case %zu (%s = %s) was accepted", i, cases[i].name,
				 cases[i].value);
		snprintf(rest, sizeof(rest), "%s.%s: %s", cases[i].section, cases[i].name,
			 cases[i].reason);
		assert_err_at(f, 4, rest);
		/* a refused value changes nothing */
		assert_int_equal(deconf_conf_get_int(f->conf, "matcher.hot_threshold"), before);
	}
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.ttl"), 30000);
	assert_string_equal(deconf_conf_get_str(f->conf, "log.format"), "text");

	/* bounds are inclusive */
	load_ok(f, "[matcher]\nhot_threshold = 2\nttl = 180d\nmax_msg = 1G\n");
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.hot_threshold"), 2);
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.ttl"), 180 * DAY_MS);
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.max_msg"), INT64_C(1) << 30);
	load_ok(f, "[matcher]\nhot_threshold = 100\nttl = 1s\nmax_msg = 1k\n");
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.hot_threshold"), 100);
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.ttl"), 1000);
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.max_msg"), 1024);
}

static void test_syntax_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[broker]\n"
				 "name = x\n"
				 "# ok\n"
				 "\n"
				 "garbage\n"
				 "agency = y\n"),
			 DECONF_E_CONFIG);
	assert_err_at(f, 5, "syntax error");
	assert_null(deconf_conf_get_str(f->conf, "broker.agency"));

	assert_int_equal(load(f, "\n\n[broker\nname = x\n"), DECONF_E_CONFIG);
	assert_err_at(f, 3, "syntax error");
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[192];

	snprintf(path, sizeof(path), "%s/no-such.conf", f->dir);
	assert_int_equal(deconf_conf_load_file(f->conf, path, f->errstr, sizeof(f->errstr)),
			 ENOENT);
	assert_non_null(strstr(f->errstr, path));

	/* a directory is not a config file either */
	assert_int_not_equal(deconf_conf_load_file(f->conf, f->dir, f->errstr,
						   sizeof(f->errstr)),
			     DECONF_OK);
	assert_non_null(strstr(f->errstr, f->dir));
}

/* A file whose line 3 is "#" followed by comment_len - 1 bytes of 'c'. */
static int load_long_comment(struct fixture *f, size_t comment_len, const char *eol)
{
	size_t size = comment_len + 128;
	char *text = malloc(size), *p;
	int rc;

	assert_non_null(text);
	p = text + snprintf(text, size, "[broker]%sname = x%s#", eol, eol);
	memset(p, 'c', comment_len - 1);
	p += comment_len - 1;
	snprintf(p, size - (size_t)(p - text), "%sagency = y%s", eol, eol);
	rc = load(f, text);
	free(text);
	return rc;
}

static void test_line_too_long(void **state)
{
	struct fixture *f = *state;
	char o[256], *text;
	size_t n = 9000;

	/* 8192 bytes is the longest line, with "\n" or "\r\n" after it */
	assert_int_equal(load_long_comment(f, 8192, "\n"), DECONF_OK);
	assert_string_equal(deconf_conf_origin(f->conf, "broker.agency"),
			    at(f, 4, o, sizeof(o)));
	assert_int_equal(load_long_comment(f, 8192, "\r\n"), DECONF_OK);
	assert_string_equal(deconf_conf_get_str(f->conf, "broker.agency"), "y");
	assert_int_equal(load_long_comment(f, 8193, "\n"), DECONF_E_CONFIG);
	assert_err_at(f, 3, "line too long");
	assert_int_equal(load_long_comment(f, 8193, "\r\n"), DECONF_E_CONFIG);
	assert_err_at(f, 3, "line too long");
	assert_int_equal(load_long_comment(f, 20000, "\n"), DECONF_E_CONFIG);
	assert_err_at(f, 3, "line too long");

	/* a too-long key line, and one that is the last line of the file */
	text = malloc(n + 64);
	assert_non_null(text);
	memcpy(text, "[broker]\n\n\nname = ", 18);
	memset(text + 18, 'v', n);
	strcpy(text + 18 + n, "\n");
	assert_int_equal(load(f, text), DECONF_E_CONFIG);
	assert_err_at(f, 4, "line too long");
	text[18 + n] = '\0';
	assert_int_equal(load(f, text), DECONF_E_CONFIG);
	assert_err_at(f, 4, "line too long");
	free(text);
}

/* Values up to 4095 bytes; lines far over inih's 200-byte default buffer. */
static void test_long_values(void **state)
{
	struct fixture *f = *state;
	static const size_t lens[] = { 150, 190, 200, 201, 300, 1000, 4000, 4095 };
	char *text = malloc(8192), o[256];

	assert_non_null(text);

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i], len = (size_t)snprintf(text, 8192, "; c\n[broker]\nname = ");

		memset(text + len, 'n', n);
		strcpy(text + len + n, "\nagency = a\n");
		load_ok(f, text);
		assert_int_equal(strlen(deconf_conf_get_str(f->conf, "broker.name")), n);
		assert_string_equal(deconf_conf_origin(f->conf, "broker.name"),
				    at(f, 3, o, sizeof(o)));
		assert_string_equal(deconf_conf_origin(f->conf, "broker.agency"),
				    at(f, 4, o, sizeof(o)));
	}

	/* 4096 is over DECONF_CONF_VALUE_MAX - 1 */
	memset(text, 'n', 4096);
	text[4096] = '\0';
	assert_int_equal(deconf_conf_set(f->conf, "broker.name", text, "test", f->errstr,
					 sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_string_equal(f->errstr, "test: broker.name: value longer than 4095 bytes");
	free(text);
}

static void test_env_errors(void **state)
{
	struct fixture *f = *state;
	char *bad_int[] = { "DECONF_MATCHER_HOT_THRESHOLD=abc", NULL };
	char *bad_bool[] = { "DECONF_MATCHER_ENABLED=perhaps", NULL };

	assert_int_equal(deconf_conf_load_env(f->conf, bad_int, f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_string_equal(f->errstr, "environment DECONF_MATCHER_HOT_THRESHOLD: "
				       "matcher.hot_threshold: 'abc' is not a integer");
	assert_int_equal(deconf_conf_load_env(f->conf, bad_bool, f->errstr,
					      sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "environment DECONF_MATCHER_ENABLED: "
					  "matcher.enabled: "));
	/* NULL and empty environments are fine */
	assert_int_equal(deconf_conf_load_env(f->conf, NULL, f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.hot_threshold"), 5);
}

static void test_set_arg_errors(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(deconf_conf_set_arg(f->conf, "novalue", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_string_equal(f->errstr, "command line: 'novalue' is not key=value");
	assert_int_equal(deconf_conf_set_arg(f->conf, "=x", f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_int_equal(deconf_conf_set_arg(f->conf, "no.such=1", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "command line: no.such: unknown key"));
	assert_int_equal(deconf_conf_set_arg(f->conf, "matcher.ttl=5", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "command line: matcher.ttl: '5' is not a duration"));
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.ttl"), 30000);
	assert_string_equal(deconf_conf_origin(f->conf, "matcher.ttl"), "default");
}

static void test_bad_default(void **state)
{
	static const struct deconf_conf_def bad_int[] = {
		{ .name = "a.ok", .type = DECONF_CONF_STR, .def = "x", .doc = "fine" },
		{ .name = "a.n", .type = DECONF_CONF_INT, .def = "many", .min = 0, .max = 9,
		  .doc = "bad default" },
	};
	static const struct deconf_conf_def out_of_range[] = {
		{ .name = "a.n", .type = DECONF_CONF_INT, .def = "10", .min = 0, .max = 9,
		  .doc = "bad default" },
	};
	struct deconf_conf *conf = (struct deconf_conf *)&conf;
	char errstr[256] = "";

	assert_int_equal(deconf_conf_new(&conf, bad_int, 2, errstr, sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_null(conf);
	assert_non_null(strstr(errstr, "default: a.n: 'many'"));
	assert_int_equal(deconf_conf_new(&conf, out_of_range, 1, errstr, sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_null(conf);
	assert_non_null(strstr(errstr, "a.n: '10' is outside [0, 9]"));
	/* an empty table is a valid table */
	assert_int_equal(deconf_conf_new(&conf, NULL, 0, errstr, sizeof(errstr)), DECONF_OK);
	assert_non_null(conf);
	assert_int_equal(deconf_conf_check(conf, errstr, sizeof(errstr)), DECONF_OK);
	deconf_conf_free(conf);
	deconf_conf_free(NULL);
}

/* -------------------------------------------------------------- kafka */

static void assert_kafka(const struct deconf_conf *c, size_t i, const char *name,
			 const char *value, const char *origin)
{
	const char *n, *v, *o;

	assert_true(i < deconf_conf_kafka_count(c));
	deconf_conf_kafka_get(c, i, &n, &v, &o);
	assert_string_equal(n, name);
	assert_string_equal(v, value);
	assert_string_equal(o, origin);
	/* origin is optional */
	deconf_conf_kafka_get(c, i, &n, &v, NULL);
	assert_string_equal(v, value);
}

static void test_kafka_keys(void **state)
{
	struct fixture *f = *state;
	struct deconf_conf *c = f->conf;
	char o[256];
	char *envp[] = {
		"DECONF_KAFKA_SSL_CA_LOCATION=/etc/deconf/ca.pem",
		"DECONF_KAFKA_ACKS=1",
		NULL,
	};

	load_ok(f, "kafka.bootstrap.servers = first:1\n" /* 1 */
		   "kafka.acks = all\n"                  /* 2 */
		   "\n"                                  /* 3 */
		   "[kafka]\n"                           /* 4 */
		   "bootstrap.servers = second:2\n"      /* 5 */
		   "# x\n"                               /* 6 */
		   "linger.ms = 5\n"                     /* 7 */
		   "[broker]\n"                          /* 8 */
		   "agency = a\n");                      /* 9 */

	/* in the order first set; a later value replaces an earlier one */
	assert_int_equal(deconf_conf_kafka_count(c), 3);
	assert_kafka(c, 0, "bootstrap.servers", "second:2", at(f, 5, o, sizeof(o)));
	assert_kafka(c, 1, "acks", "all", at(f, 2, o, sizeof(o)));
	assert_kafka(c, 2, "linger.ms", "5", at(f, 7, o, sizeof(o)));
	assert_string_equal(deconf_conf_origin(c, "kafka.linger.ms"), at(f, 7, o, sizeof(o)));
	assert_null(deconf_conf_origin(c, "kafka.no.such"));
	assert_string_equal(deconf_conf_get_str(c, "broker.agency"), "a");

	/* DECONF_KAFKA_SSL_CA_LOCATION means ssl.ca.location */
	assert_int_equal(deconf_conf_load_env(c, envp, f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_kafka_count(c), 4);
	assert_kafka(c, 1, "acks", "1", "environment DECONF_KAFKA_ACKS");
	assert_kafka(c, 3, "ssl.ca.location", "/etc/deconf/ca.pem",
		     "environment DECONF_KAFKA_SSL_CA_LOCATION");

	assert_int_equal(deconf_conf_set_arg(c, "kafka.linger.ms=10", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_kafka_count(c), 4);
	assert_kafka(c, 2, "linger.ms", "10", "command line");
	assert_kafka(c, 0, "bootstrap.servers", "second:2", at(f, 5, o, sizeof(o)));

	assert_int_equal(deconf_conf_set_arg(c, "kafka.=x", f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "empty kafka property name"));
	assert_int_equal(deconf_conf_kafka_count(c), 4);
}

/* More kafka keys than the first allocation holds. */
static void test_kafka_many(void **state)
{
	struct fixture *f = *state;
	char name[64], value[64];
	const char *n, *v;

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "kafka.p%d", i);
		snprintf(value, sizeof(value), "v%d", i);
		assert_int_equal(deconf_conf_set(f->conf, name, value, "t", f->errstr,
						 sizeof(f->errstr)),
				 DECONF_OK);
	}
	assert_int_equal(deconf_conf_kafka_count(f->conf), 100);
	for (size_t i = 0; i < 100; i++) {
		deconf_conf_kafka_get(f->conf, i, &n, &v, NULL);
		snprintf(name, sizeof(name), "p%zu", i);
		snprintf(value, sizeof(value), "v%zu", i);
		assert_string_equal(n, name);
		assert_string_equal(v, value);
	}
}

/* ------------------------------------------------------------ parsers */

static void test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} ok[] = {
		{ "500ms", 500 },	   { "30s", 30000 },	      { "5m", 300000 },
		{ "2h", 7200000 },	   { "180d", 180 * DAY_MS }, { "0", 0 },
		{ "0s", 0 },		   { "1ms", 1 },	      { " 7s ", 7000 },
	};
	static const char *const bad[] = {
		"5", "-1s", "5x", "", "s", "ms", "1.5s", "5 s", "5sec", "5S", "1msx", "9223372036854775807d", "99999999999999999999s",
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -42;
		if (deconf_parse_duration_ms(ok[i].s, &v))
			fail_msg("duration '%s' refused", ok[i].s);
		assert_int_equal(v, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -42;
		if (deconf_parse_duration_ms(bad[i], &v) != DECONF_E_INVAL)
			fail_msg("duration '%s' accepted", bad[i]);
		assert_int_equal(v, -42);
	}
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int64_t bytes;
	} ok[] = {
		{ "1k", 1024 },		 { "1K", 1024 },	  { "1M", 1048576 },
		{ "1G", 1073741824 },	 { "512", 512 },	  { "1MB", 1048576 },
		{ "2kB", 2048 },	 { "0", 0 },		  { "10b", 10 },
		{ "8G", INT64_C(8) << 30 },
	};
	static const char *const bad[] = {
		"", "-1", "1T", "1m", "1kk", "k", "1.5M", "abc", "1MBB", "1BM",
		"-1k", "9223372036854775807k", "99999999999999999999",
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -42;
		if (deconf_parse_size(ok[i].s, &v))
			fail_msg("size '%s' refused", ok[i].s);
		assert_int_equal(v, ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -42;
		if (deconf_parse_size(bad[i], &v) != DECONF_E_INVAL)
			fail_msg("size '%s' accepted", bad[i]);
		assert_int_equal(v, -42);
	}
}

static void test_parse_bool(void **state)
{
	static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "Yes", "On" };
	static const char *const no[] = { "false", "no", "off", "0", "FALSE", "No", "OFF" };
	static const char *const bad[] = { "", "2", "truee", "y", "n", "enable", " true" };
	int b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = -1;
		assert_int_equal(deconf_parse_bool(yes[i], &b), DECONF_OK);
		assert_int_equal(b, 1);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = -1;
		assert_int_equal(deconf_parse_bool(no[i], &b), DECONF_OK);
		assert_int_equal(b, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = -1;
		if (deconf_parse_bool(bad[i], &b) != DECONF_E_INVAL)
			fail_msg("bool '%s' accepted", bad[i]);
		assert_int_equal(b, -1);
	}
}

/* --------------------------------------------------------------- help */

/* true if some line of text starts with prefix */
static int has_line(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			return 1;
	return 0;
}

static void test_print_help(void **state)
{
	static const char *const expect[] = {
		"one of: text|json",
		"range: 2..100\n",
		"range: 1000..15552000000 ms\n",
		"range: 1024..1073741824 bytes\n",
		"env: DECONF_BROKER_STATE_DIR\n",
		"env: DECONF_MATCHER_HOT_THRESHOLD\n",
		"env DECONF_KAFKA_BOOTSTRAP_SERVERS",
		"this agency's id (required)\n",
		"kafka.bootstrap.servers",
	};
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	char line[256];

	assert_non_null(out);
	deconf_conf_print_help(table, TABLE_N, out);
	assert_int_equal(fclose(out), 0);
	assert_non_null(text);

	assert_true(has_line(text, "KEY "));
	for (size_t i = 0; i < TABLE_N; i++) {
		const char *type = table[i].type == DECONF_CONF_STR	   ? "string"
				   : table[i].type == DECONF_CONF_PATH	   ? "path"
				   : table[i].type == DECONF_CONF_INT	   ? "integer"
				   : table[i].type == DECONF_CONF_BOOL	   ? "bool"
				   : table[i].type == DECONF_CONF_DURATION ? "duration"
				   : table[i].type == DECONF_CONF_SIZE	   ? "size"
									   : "enum";
		const char *def = !table[i].def ? "-" : *table[i].def ? table[i].def : "\"\"";

		/* "name type default doc", in columns */
		snprintf(line, sizeof(line), "%-32s %-9s %-14s %s", table[i].name, type, def,
			 table[i].doc);
		if (!has_line(text, line))
			fail_msg("no line \"%s\" in:\n%s", line, text);
	}
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		if (!strstr(text, expect[i]))
			fail_msg("no \"%s\" in:\n%s", expect[i], text);
	assert_true(has_line(text, "kafka.* "));
	free(text);
}

/* --------------------------------------------------- deconf_conf_load */

static void test_load_all_layers(void **state)
{
	struct fixture *f = *state;
	char *envp[] = { "DECONF_MATCHER_HOT_THRESHOLD=9", NULL };
	char *sets[] = { "matcher.hot_threshold=11", "log.format=json" };

	write_conf(f, "[broker]\nagency = agency-a\n[matcher]\nhot_threshold = 7\n");
	assert_int_equal(deconf_conf_load(f->conf, f->path, envp, sets, 2, f->errstr,
					  sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_get_int(f->conf, "matcher.hot_threshold"), 11);
	assert_string_equal(deconf_conf_get_str(f->conf, "log.format"), "json");
	assert_string_equal(deconf_conf_get_str(f->conf, "broker.agency"), "agency-a");
}

/* Every kind of failure is DECONF_E_CONFIG, so programs exit 2 on all. */
static void test_load_errors_are_config(void **state)
{
	struct fixture *f = *state;
	char *envp[] = { NULL };
	char *bad_env[] = { "DECONF_MATCHER_HOT_THRESHOLD=1", NULL };
	char *bad_set[] = { "no.such.key=1" };
	char missing[192];

	snprintf(missing, sizeof(missing), "%s/absent.conf", f->dir);
	assert_int_equal(deconf_conf_load(f->conf, missing, envp, NULL, 0, f->errstr,
					  sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, missing));

	write_conf(f, "[broker]\nagency = a\n");
	assert_int_equal(deconf_conf_load(f->conf, f->path, bad_env, NULL, 0, f->errstr,
					  sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "environment DECONF_MATCHER_HOT_THRESHOLD"));
	assert_int_equal(deconf_conf_load(f->conf, f->path, envp, bad_set, 1, f->errstr,
					  sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "command line: no.such.key"));

	/* required key missing: caught by the final check */
	write_conf(f, "[broker]\nname = x\n");
	deconf_conf_free(f->conf);
	assert_int_equal(deconf_conf_new(&f->conf, table, TABLE_N, f->errstr,
					 sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_load(f->conf, f->path, envp, NULL, 0, f->errstr,
					  sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "broker.agency"));
}

/* ';' inside a value is part of the value (a password may hold " ;"). */
static void test_semicolon_in_value(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "; comment line\n# another\n[broker]\nmotd = a ;b # c\n");
	assert_string_equal(deconf_conf_get_str(f->conf, "broker.motd"), "a ;b # c");
}

/* ------------------------------------------------------------ binding */

struct bound {
	const char *name;
	const char *state_dir;
	int64_t hot_threshold;
	bool enabled;
	int64_t ttl;     /* ms */
	int64_t max_msg; /* bytes */
	const char *agency;
	const char *motd;
	struct deconf_log_settings log;
	int64_t not_bound; /* no row: must stay as new_bound left it (0) */
};

#define ROW(m, ...) DECONF_CONF_ROW(struct bound, m, __VA_ARGS__)
static const struct deconf_conf_def bound_table[] = {
	ROW(name, "broker.name", DECONF_CONF_STR, "deconf", 0, 0, NULL, 0, "name"),
	ROW(state_dir, "broker.state_dir", DECONF_CONF_PATH, "/var/lib/deconf", 0, 0, NULL, 0,
	    "state directory"),
	ROW(hot_threshold, "matcher.hot_threshold", DECONF_CONF_INT, "5", 2, 100, NULL, 0,
	    "agencies before a match is hot"),
	ROW(enabled, "matcher.enabled", DECONF_CONF_BOOL, "true", 0, 0, NULL, 0, "run it"),
	ROW(ttl, "matcher.ttl", DECONF_CONF_DURATION, "30s", 1000, 180 * DAY_MS, NULL, 0,
	    "how long"),
	ROW(max_msg, "matcher.max_msg", DECONF_CONF_SIZE, "1M", 1024, INT64_C(1) << 30, NULL, 0,
	    "largest message"),
	ROW(agency, "broker.agency", DECONF_CONF_STR, NULL, 0, 0, NULL, DECONF_CONF_REQUIRED,
	    "this agency's id"),
	ROW(motd, "broker.motd", DECONF_CONF_STR, "", 0, 0, NULL, 0, "banner"),
	DECONF_CONF_LOG_ROWS(struct bound, log),
	/* read by name only */
	{ .name = "broker.extra", .type = DECONF_CONF_INT, .def = "7", .min = 0, .max = 9,
	  .doc = "unbound" },
};
#undef ROW
#define BOUND_N (sizeof(bound_table) / sizeof(bound_table[0]))

/* Every bound row's field holds what the getters say its value is. */
static void assert_fields_match(const struct deconf_conf *c, const struct deconf_conf_def *t,
				size_t n, const void *settings)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = (const char *)settings + t[i].offset;
		const char *s;
		int64_t v;
		bool b;

		switch (t[i].field) {
		case DECONF_CONF_FIELD_NONE: break;
		case DECONF_CONF_FIELD_STR:
			memcpy(&s, p, sizeof(s));
			/* the conf's own string, not a copy */
			if (s != deconf_conf_get_str(c, t[i].name))
				fail_msg("%s: field %s, value %s", t[i].name, s ? s : "NULL",
					 deconf_conf_get_str(c, t[i].name));
			break;
		case DECONF_CONF_FIELD_INT:
			memcpy(&v, p, sizeof(v));
			if (v != deconf_conf_get_int(c, t[i].name))
				fail_msg("%s: field %lld, value %lld", t[i].name, (long long)v,
					 (long long)deconf_conf_get_int(c, t[i].name));
			break;
		case DECONF_CONF_FIELD_BOOL:
			memcpy(&b, p, sizeof(b));
			if (b != (deconf_conf_get_int(c, t[i].name) != 0))
				fail_msg("%s: field %d", t[i].name, (int)b);
			break;
		}
	}
}

static void test_bind_rows(void **state)
{
	(void)state;
	/* each row's offset and kind are its member's, from DECONF_CONF_ROW */
	static const struct {
		size_t offset;
		enum deconf_conf_field field;
	} want[] = {
		{ offsetof(struct bound, name), DECONF_CONF_FIELD_STR },
		{ offsetof(struct bound, state_dir), DECONF_CONF_FIELD_STR },
		{ offsetof(struct bound, hot_threshold), DECONF_CONF_FIELD_INT },
		{ offsetof(struct bound, enabled), DECONF_CONF_FIELD_BOOL },
		{ offsetof(struct bound, ttl), DECONF_CONF_FIELD_INT },
		{ offsetof(struct bound, max_msg), DECONF_CONF_FIELD_INT },
		{ offsetof(struct bound, agency), DECONF_CONF_FIELD_STR },
		{ offsetof(struct bound, motd), DECONF_CONF_FIELD_STR },
		{ offsetof(struct bound, log.level), DECONF_CONF_FIELD_STR },
		{ offsetof(struct bound, log.format), DECONF_CONF_FIELD_STR },
		{ offsetof(struct bound, log.file), DECONF_CONF_FIELD_STR },
		{ 0, DECONF_CONF_FIELD_NONE },
	};

	assert_int_equal(sizeof(want) / sizeof(want[0]), BOUND_N);
	for (size_t i = 0; i < BOUND_N; i++) {
		assert_int_equal(bound_table[i].field, want[i].field);
		if (want[i].field != DECONF_CONF_FIELD_NONE)
			assert_int_equal(bound_table[i].offset, want[i].offset);
	}
	/* the kinds follow the types */
	assert_int_equal(DECONF_CONF_FIELD_FOR(DECONF_CONF_ENUM), DECONF_CONF_FIELD_STR);
	assert_int_equal(DECONF_CONF_FIELD_FOR(DECONF_CONF_PATH), DECONF_CONF_FIELD_STR);
	assert_int_equal(DECONF_CONF_FIELD_FOR(DECONF_CONF_SIZE), DECONF_CONF_FIELD_INT);
	assert_int_equal(DECONF_CONF_FIELD_FOR(DECONF_CONF_DURATION), DECONF_CONF_FIELD_INT);
	assert_int_equal(DECONF_CONF_FIELD_OF(struct bound, not_bound), DECONF_CONF_FIELD_INT);
	assert_int_equal(DECONF_CONF_FIELD_OF(struct bound, log), DECONF_CONF_FIELD_NONE);
}

/* The shared log.* rows are the ones the three programs had. */
static void test_bind_log_rows(void **state)
{
	struct ctl_like {
		int64_t x;
		struct deconf_log_settings log;
	};
	static const struct deconf_conf_def level[] = {
		DECONF_CONF_LOG_LEVEL_ROW(struct ctl_like, log),
	};
	const struct deconf_conf_def *t = &bound_table[8];
	struct ctl_like cl;
	struct deconf_conf *c = NULL;
	char errstr[256];

	(void)state;
	assert_string_equal(t[0].name, "log.level");
	assert_int_equal(t[0].type, DECONF_CONF_ENUM);
	assert_string_equal(t[0].def, "notice");
	assert_string_equal(t[0].choices, "err|warning|notice|info|debug");
	assert_string_equal(t[0].doc, "least severe level logged");
	assert_string_equal(t[1].name, "log.format");
	assert_int_equal(t[1].type, DECONF_CONF_ENUM);
	assert_string_equal(t[1].def, "text");
	assert_string_equal(t[1].choices, "text|json");
	assert_string_equal(t[1].doc, "log line format");
	assert_string_equal(t[2].name, "log.file");
	assert_int_equal(t[2].type, DECONF_CONF_PATH);
	assert_null(t[2].def);
	assert_string_equal(t[2].doc, "log file (stderr if unset); reopened on SIGHUP");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(t[i].flags, 0);

	/* the level alone (deconfctl), bound at its own offset */
	assert_int_equal(level[0].offset, offsetof(struct ctl_like, log.level));
	memset(&cl, 0x5a, sizeof(cl));
	assert_int_equal(deconf_conf_new_bound(&c, level, 1, &cl, sizeof(cl), errstr,
					       sizeof(errstr)),
			 DECONF_OK);
	assert_string_equal(cl.log.level, "notice");
	assert_null(cl.log.format);
	assert_null(cl.log.file);
	assert_int_equal(cl.x, 0);
	assert_int_equal(deconf_conf_set_arg(c, "log.level=debug", errstr, sizeof(errstr)),
			 DECONF_OK);
	assert_string_equal(cl.log.level, "debug");
	assert_int_equal(deconf_conf_set_arg(c, "log.format=json", errstr, sizeof(errstr)),
			 DECONF_E_CONFIG);
	deconf_conf_free(c);
}

static void test_bind_defaults(void **state)
{
	struct bound s;
	struct deconf_conf *c = NULL;
	char errstr[256];

	(void)state;
	memset(&s, 0xa5, sizeof(s)); /* new_bound zeroes what no default sets */
	assert_int_equal(deconf_conf_new_bound(&c, bound_table, BOUND_N, &s, sizeof(s), errstr,
					       sizeof(errstr)),
			 DECONF_OK);
	assert_string_equal(s.name, "deconf");
	assert_string_equal(s.state_dir, "/var/lib/deconf");
	assert_int_equal(s.hot_threshold, 5);
	assert_true(s.enabled);
	assert_int_equal(s.ttl, 30000);
	assert_int_equal(s.max_msg, 1048576);
	assert_null(s.agency);
	assert_string_equal(s.motd, "");
	assert_string_equal(s.log.level, "notice");
	assert_string_equal(s.log.format, "text");
	assert_null(s.log.file);
	assert_int_equal(s.not_bound, 0);
	assert_fields_match(c, bound_table, BOUND_N, &s);
	/* the unbound row is still there by name */
	assert_int_equal(deconf_conf_get_int(c, "broker.extra"), 7);
	deconf_conf_free(c);
}

/* file, then environment, then --set, as deconf_conf_load does; the fields
 * follow every layer, and a refused value leaves its field as it was. */
static void test_bind_layers(void **state)
{
	struct fixture *f = *state;
	struct bound s;
	struct deconf_conf *c = NULL;
	char *const envp[] = { "DECONF_MATCHER_TTL=2m", "DECONF_LOG_FORMAT=json",
			       "DECONF_MATCHER_ENABLED=off", "DECONF_BROKER_NAME=env-name",
			       NULL };
	char *const sets[] = { "broker.name=cli-name", "matcher.max_msg=64k",
			       "log.file=/tmp/x.log", "broker.extra=3" };

	assert_int_equal(deconf_conf_new_bound(&c, bound_table, BOUND_N, &s, sizeof(s),
					       f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	write_conf(f, "[broker]\nagency = agency-a\nname = file-name\nstate_dir = /srv/d\n"
		      "[matcher]\nhot_threshold = 9\nttl = 1h\nenabled = yes\n"
		      "[log]\nlevel = debug\n");
	if (deconf_conf_load(c, f->path, envp, sets, 4, f->errstr, sizeof(f->errstr)))
		fail_msg("load: %s", f->errstr);
	assert_string_equal(s.agency, "agency-a");                   /* file */
	assert_string_equal(s.state_dir, "/srv/d");                  /* file */
	assert_int_equal(s.hot_threshold, 9);                        /* file */
	assert_string_equal(s.log.level, "debug");                   /* file */
	assert_int_equal(s.ttl, 120000);                             /* env over file */
	assert_false(s.enabled);                                     /* env over file */
	assert_string_equal(s.log.format, "json");                   /* env */
	assert_string_equal(s.name, "cli-name");                     /* set over env, file */
	assert_int_equal(s.max_msg, 65536);                          /* set */
	assert_string_equal(s.log.file, "/tmp/x.log");               /* set */
	assert_string_equal(s.motd, "");                             /* default */
	assert_int_equal(s.not_bound, 0);
	assert_int_equal(deconf_conf_get_int(c, "broker.extra"), 3);
	assert_fields_match(c, bound_table, BOUND_N, &s);
	assert_string_equal(deconf_conf_origin(c, "matcher.ttl"), "environment DECONF_MATCHER_TTL");
	assert_string_equal(deconf_conf_origin(c, "broker.name"), "command line");

	/* refused: nothing changes */
	assert_int_equal(deconf_conf_set_arg(c, "matcher.hot_threshold=1", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_int_equal(deconf_conf_set_arg(c, "matcher.enabled=maybe", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_int_equal(deconf_conf_set_arg(c, "log.format=xml", f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_int_equal(s.hot_threshold, 9);
	assert_false(s.enabled);
	assert_string_equal(s.log.format, "json");

	/* a string set again: the field moves to the new copy (ASan sees a
	 * field left on the freed one) */
	assert_int_equal(deconf_conf_set_arg(c, "broker.name=again", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_OK);
	assert_string_equal(s.name, "again");
	assert_int_equal(deconf_conf_set_arg(c, "matcher.enabled=1", f->errstr,
					     sizeof(f->errstr)),
			 DECONF_OK);
	assert_true(s.enabled);
	assert_fields_match(c, bound_table, BOUND_N, &s);
	deconf_conf_free(c);
}

/* The required check is the conf's, bound or not. */
static void test_bind_required(void **state)
{
	struct fixture *f = *state;
	struct bound s;
	struct deconf_conf *c = NULL;
	char *const envp[] = { NULL };

	assert_int_equal(deconf_conf_new_bound(&c, bound_table, BOUND_N, &s, sizeof(s),
					       f->errstr, sizeof(f->errstr)),
			 DECONF_OK);
	assert_int_equal(deconf_conf_load(c, NULL, envp, NULL, 0, f->errstr, sizeof(f->errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(f->errstr, "broker.agency: required key is not set"));
	assert_null(s.agency);
	deconf_conf_free(c);
}

/* What the compiler cannot see is refused when the conf is made. */
static void test_bind_bad_tables(void **state)
{
	struct two {
		int64_t a, b;
	} two;
	static const struct deconf_conf_def same[] = {
		DECONF_CONF_ROW(struct two, a, "x.a", DECONF_CONF_INT, "1", 0, 9, NULL, 0, "a"),
		DECONF_CONF_ROW(struct two, a, "x.b", DECONF_CONF_INT, "2", 0, 9, NULL, 0, "b"),
	};
	static const struct deconf_conf_def kind[] = {
		{ .name = "x.a", .type = DECONF_CONF_BOOL, .def = "true", .doc = "a",
		  .offset = 0, .field = DECONF_CONF_FIELD_INT },
	};
	static const struct deconf_conf_def no_default[] = {
		DECONF_CONF_ROW(struct two, b, "x.b", DECONF_CONF_DURATION, NULL, 0, 9, NULL, 0,
				"b"),
	};
	struct deconf_conf *c = NULL;
	char errstr[256];

	(void)state;
	/* a table bound to a larger struct than it is given */
	assert_int_equal(deconf_conf_new_bound(&c, bound_table, BOUND_N, &two, sizeof(two),
					       errstr, sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_null(c);
	assert_non_null(strstr(errstr, "field outside the settings"));
	assert_int_equal(deconf_conf_new_bound(&c, same, 2, &two, sizeof(two), errstr,
					       sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(errstr, "x.a and x.b are bound to the same field"));
	assert_int_equal(deconf_conf_new_bound(&c, kind, 1, &two, sizeof(two), errstr,
					       sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(errstr, "x.a: bound to a field of the wrong kind"));
	assert_int_equal(deconf_conf_new_bound(&c, no_default, 1, &two, sizeof(two), errstr,
					       sizeof(errstr)),
			 DECONF_E_CONFIG);
	assert_non_null(strstr(errstr, "x.b: a bound duration needs a default"));
	assert_null(c);
	/* without settings, the same tables are read by name as before */
	assert_int_equal(deconf_conf_new(&c, same, 2, errstr, sizeof(errstr)), DECONF_OK);
	assert_int_equal(deconf_conf_get_int(c, "x.b"), 2);
	deconf_conf_free(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_required),
		T(test_layers),
		T(test_two_files),
		T(test_indented_keys),
		T(test_unknown_key),
		T(test_bad_values),
		T(test_syntax_error),
		T(test_missing_file),
		T(test_line_too_long),
		T(test_long_values),
		T(test_env_errors),
		T(test_set_arg_errors),
		cmocka_unit_test(test_bad_default),
		T(test_kafka_keys),
		T(test_kafka_many),
		T(test_load_all_layers),
		T(test_load_errors_are_config),
		T(test_semicolon_in_value),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_print_help),
		cmocka_unit_test(test_bind_rows),
		cmocka_unit_test(test_bind_log_rows),
		cmocka_unit_test(test_bind_defaults),
		T(test_bind_layers),
		T(test_bind_required),
		cmocka_unit_test(test_bind_bad_tables),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
