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
 * Each row may be bound to a field of the program's settings struct
 * (DECONF_CONF_ROW): the conf then keeps that field equal to the row's value
 * from the defaults on, through every layer, so code reads
 * `b->set.matcher_ttl`, never a key by name, and a misspelt field does not
 * compile (as librdkafka's property table binds rows to its struct's
 * offsets). Names stay for what users see: the file, the environment,
 * --set, --help-config and deconf_conf_origin() in error messages.
 *
 * Programs exit with status 2 (DECONF_CONF_EXIT) on a configuration error.
 */
#ifndef DECONF_CONF_H
#define DECONF_CONF_H

#include <stdbool.h>
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

/*
 * The C type of the field a row is bound to, fixed by the row's type:
 * STR, PATH and ENUM go to `const char *` (borrowed from the conf, valid for
 * its lifetime; NULL while unset), INT, DURATION (ms) and SIZE (bytes) to
 * `int64_t`, BOOL to `bool`.
 */
enum deconf_conf_field {
	DECONF_CONF_FIELD_NONE, /* not bound: read by name only */
	DECONF_CONF_FIELD_STR,
	DECONF_CONF_FIELD_INT,
	DECONF_CONF_FIELD_BOOL,
};

struct deconf_conf_def {
	const char *name;           /* "section.key" */
	enum deconf_conf_type type;
	const char *def;            /* default in text form; NULL = unset */
	int64_t min, max;           /* bounds for INT, DURATION (ms), SIZE */
	const char *choices;        /* ENUM only */
	unsigned flags;
	const char *doc;            /* one line */
	size_t offset;              /* of the bound field in the settings struct */
	enum deconf_conf_field field; /* NONE: the row is not bound */
};

/* The field kind a row of type t is bound to (an integer constant). */
#define DECONF_CONF_FIELD_FOR(t)                                                         \
	((t) == DECONF_CONF_BOOL ? DECONF_CONF_FIELD_BOOL                                  \
	 : (t) == DECONF_CONF_INT || (t) == DECONF_CONF_DURATION || (t) == DECONF_CONF_SIZE \
		 ? DECONF_CONF_FIELD_INT                                                   \
		 : DECONF_CONF_FIELD_STR)

/* The field kind of stype's member, from its C type (NONE: no kind fits). */
#define DECONF_CONF_FIELD_OF(stype, member)                                               \
	_Generic(((stype *)0)->member, const char *: DECONF_CONF_FIELD_STR,                \
		 int64_t: DECONF_CONF_FIELD_INT, bool: DECONF_CONF_FIELD_BOOL,             \
		 default: DECONF_CONF_FIELD_NONE)

/* 0, or a compile error when the member's type does not fit the row's. */
#define DECONF_CONF_CHECK_FIELD_(stype, member, t)                                       \
	(0 * sizeof(struct {                                                               \
		 _Static_assert(DECONF_CONF_FIELD_OF(stype, member) == DECONF_CONF_FIELD_FOR(t), \
				"config row bound to " #member ": the field's type does not " \
				"fit the row's (const char * for STR, PATH, ENUM; int64_t "  \
				"for INT, DURATION, SIZE; bool for BOOL)");                  \
		 char c_;                                                                  \
	 }))

/*
 * One table row bound to member of the settings struct stype:
 *
 *   DECONF_CONF_ROW(struct brk_settings, matcher_ttl, "matcher.ttl",
 *                   DECONF_CONF_DURATION, "180d", 1000, 3650 * 86400000LL, NULL, 0,
 *                   "default time an entry lives unless renewed")
 *
 * A member stype does not have, or one whose type does not fit the row's
 * type (see enum deconf_conf_field), does not compile. Programs usually
 * wrap it: #define ROW(m, ...) DECONF_CONF_ROW(struct x_settings, m, __VA_ARGS__).
 */
#define DECONF_CONF_ROW(stype, member, name_, type_, def_, min_, max_, choices_, flags_, \
			doc_)                                                              \
	{ .name = (name_), .type = (type_), .def = (def_), .min = (min_), .max = (max_),   \
	  .choices = (choices_), .flags = (flags_), .doc = (doc_),                         \
	  .offset = offsetof(stype, member) + DECONF_CONF_CHECK_FIELD_(stype, member, type_), \
	  .field = DECONF_CONF_FIELD_FOR(type_) }

/*
 * log.*, the same in every program: a struct deconf_log_settings member of
 * the program's settings struct and its rows, spliced into the program's
 * table. deconfctl takes only log.level (it logs to stderr, as text).
 */
struct deconf_log_settings {
	const char *level;  /* log.level: err|warning|notice|info|debug */
	const char *format; /* log.format: text|json (NULL where the table lacks it) */
	const char *file;   /* log.file; NULL: stderr */
};

#define DECONF_CONF_LOG_LEVEL_ROW(stype, member)                                          \
	DECONF_CONF_ROW(stype, member.level, "log.level", DECONF_CONF_ENUM, "notice", 0, 0, \
			"err|warning|notice|info|debug", 0, "least severe level logged")
#define DECONF_CONF_LOG_OUTPUT_ROWS(stype, member)                                        \
	DECONF_CONF_ROW(stype, member.format, "log.format", DECONF_CONF_ENUM, "text", 0, 0, \
			"text|json", 0, "log line format"),                                \
	DECONF_CONF_ROW(stype, member.file, "log.file", DECONF_CONF_PATH, NULL, 0, 0, NULL, 0, \
			"log file (stderr if unset); reopened on SIGHUP")
#define DECONF_CONF_LOG_ROWS(stype, member)                                               \
	DECONF_CONF_LOG_LEVEL_ROW(stype, member), DECONF_CONF_LOG_OUTPUT_ROWS(stype, member)

struct deconf_conf;

/*
 * A configuration over `table` (borrowed: it must outlive the conf; usually
 * static), with the table's defaults applied. Returns 0, or DECONF_E_NOMEM,
 * or DECONF_E_CONFIG if a default is itself invalid (a programming error).
 */
int deconf_conf_new(struct deconf_conf **out, const struct deconf_conf_def *table,
		    size_t n, char *errstr, size_t errstr_size);

/*
 * deconf_conf_new(), and the bound rows' fields in settings (borrowed: it
 * must outlive the conf; settings_size is its sizeof) kept equal to their
 * values: settings is zeroed, then every value set (defaults, file,
 * environment, command line) is written to its field as it is accepted;
 * a refused value changes nothing. Strings in settings belong to the conf.
 * A table whose bound rows do not fit settings_size, overlap, have a field
 * kind that does not fit their type, or are numbers with neither a default
 * nor REQUIRED (0 would look like a value) is a programming error:
 * DECONF_E_CONFIG with the row named in errstr.
 */
int deconf_conf_new_bound(struct deconf_conf **out, const struct deconf_conf_def *table,
			  size_t n, void *settings, size_t settings_size, char *errstr,
			  size_t errstr_size);
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
 * Getters by name, for tests and code that walks a table; programs read
 * their settings struct instead (deconf_conf_new_bound). `name` must be in the table (asking for a key the table does not
 * have is a programming error and aborts). Strings are borrowed, valid for
 * the conf's lifetime; NULL when unset. Numbers: INT as is, BOOL 0/1,
 * DURATION in ms, SIZE in bytes.
 */
const char *deconf_conf_get_str(const struct deconf_conf *conf, const char *name);
int64_t deconf_conf_get_int(const struct deconf_conf *conf, const char *name);
int deconf_conf_is_set(const struct deconf_conf *conf, const char *name);

/* Where the value of name came from: "default", "file:line", "env NAME"...;
 * NULL for a name the table does not have. For error messages. */
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
