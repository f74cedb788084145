/*
 * deconf/conf.h — table-driven configuration.
 *
 * Each program declares one table of keys (name, type, default, bounds, doc).
 * Values are loaded in order: table defaults → INI file → DECONF_*
 * environment → command line (`--set key=value`), each later layer
 * overriding the earlier. Every value is checked against its type and bounds
 * when it is set; the first bad one gives one line naming where it came from
 * (file:line, environment variable or command line), the key and the reason.
 * After deconf_conf_check() the result is read-only.
 *
 * Keys are "section.name": `name = value` under `[section]` in the file, or
 * DECONF_SECTION_NAME in the environment. Keys under `[kafka]` (kafka.*) are
 * not in the table: they are kept verbatim for librdkafka, which checks them
 * (see deconf/kafka.h); in the environment DECONF_KAFKA_SSL_CA_LOCATION means
 * kafka.ssl.ca.location (Kafka property names have dots, never underscores).
 *
 * Programs exit with status 2 (DECONF_CONF_EXIT) on a configuration error.
 */
#ifndef DECONF_CONF_H
#define DECONF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DECONF_CONF_EXIT 2
#define DECONF_CONF_VALUE_MAX 4096

enum deconf_conf_type {
	DECONF_CONF_STR,      /* any text */
	DECONF_CONF_PATH,     /* a file system path */
	DECONF_CONF_INT,      /* decimal integer within [min, max] */
	DECONF_CONF_BOOL,     /* true/false, yes/no, on/off, 1/0 */
	DECONF_CONF_DURATION, /* number + unit ms|s|m|h|d; stored in ms */
	DECONF_CONF_SIZE,     /* bytes, optional suffix k|M|G (powers of 1024) */
	DECONF_CONF_ENUM,     /* one of `choices`, "a|b|c" */
};

/* The key is required: deconf_conf_check() fails if nothing set it. */
#define DECONF_CONF_REQUIRED 0x1

struct deconf_conf_def {
	const char *name;           /* "section.key" */
	enum deconf_conf_type type;
	const char *def;            /* default in text form; NULL = unset */
	int64_t min, max;           /* bounds for INT, DURATION (ms), SIZE */
	const char *choices;        /* ENUM only */
	unsigned flags;
	const char *doc;            /* one line */
};

struct deconf_conf;

/*
 * A configuration over `table` (borrowed: it must outlive the conf; usually
 * static), with the table's defaults applied. Returns 0, or DECONF_E_NOMEM,
 * or DECONF_E_CONFIG if a default is itself invalid (a programming error).
 */
int deconf_conf_new(struct deconf_conf **out, const struct deconf_conf_def *table,
		    size_t n, char *errstr, size_t errstr_size);
void deconf_conf_free(struct deconf_conf *conf);

/*
 * Load an INI file. A missing file, a syntax error, an unknown key or a bad
 * value fails with DECONF_E_CONFIG (or errno for I/O) and errstr like
 * "broker.conf:12: matcher.hot_threshold: 0 is below the minimum 2".
 */
int deconf_conf_load_file(struct deconf_conf *conf, const char *path, char *errstr,
			  size_t errstr_size);

/* Apply DECONF_* variables from envp (NULL-terminated, e.g. environ). */
int deconf_conf_load_env(struct deconf_conf *conf, char *const *envp, char *errstr,
			 size_t errstr_size);

/* Set one key from a "key=value" assignment (command line). */
int deconf_conf_set_arg(struct deconf_conf *conf, const char *assignment,
			char *errstr, size_t errstr_size);

/* Set one key; origin is shown in errors ("command line", "file:3"...). */
int deconf_conf_set(struct deconf_conf *conf, const char *name, const char *value,
		    const char *origin, char *errstr, size_t errstr_size);

/*
 * What a program does at start, in order: the file at path (skipped when
 * NULL), DECONF_* variables of envp, each "key=value" of sets (command
 * line), then deconf_conf_check(). Every failure, I/O included, returns
 * DECONF_E_CONFIG (or DECONF_E_NOMEM) with one line in errstr; the program
 * prints it and exits with DECONF_CONF_EXIT.
 */
int deconf_conf_load(struct deconf_conf *conf, const char *path, char *const *envp,
		     char *const *sets, size_t n_sets, char *errstr, size_t errstr_size);

/* Final check: every REQUIRED key is set. */
int deconf_conf_check(const struct deconf_conf *conf, char *errstr, size_t errstr_size);

/*
 * Getters. `name` must be in the table (asking for a key the table does not
 * have is a programming error and aborts). Strings are borrowed, valid for
 * the conf's lifetime; NULL when unset. Numbers: INT as is, BOOL 0/1,
 * DURATION in ms, SIZE in bytes.
 */
const char *deconf_conf_get_str(const struct deconf_conf *conf, const char *name);
int64_t deconf_conf_get_int(const struct deconf_conf *conf, const char *name);
int deconf_conf_is_set(const struct deconf_conf *conf, const char *name);

/* Where the value of name came from: "default", "file:line", "env NAME"... */
const char *deconf_conf_origin(const struct deconf_conf *conf, const char *name);

/*
 * The kafka.* keys, in the order they were first set. name is without the
 * "kafka." prefix (e.g. "bootstrap.servers"). Borrowed strings.
 */
size_t deconf_conf_kafka_count(const struct deconf_conf *conf);
void deconf_conf_kafka_get(const struct deconf_conf *conf, size_t i, const char **name,
			   const char **value, const char **origin);

/* Print the table (key, type, default, bounds, doc) for --help-config. */
void deconf_conf_print_help(const struct deconf_conf_def *table, size_t n, FILE *out);

/* Parsers used for values, exposed for command-line flags. */
int deconf_parse_duration_ms(const char *s, int64_t *out);
int deconf_parse_size(const char *s, int64_t *out);
int deconf_parse_bool(const char *s, int *out);

#endif
