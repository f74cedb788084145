/*
 * deconf/log.h — levelled, facility-tagged logging.
 *
 * One process-wide sink (the only mutable global in deconf): stderr by
 * default, or a file that SIGHUP handlers can ask to reopen, in text or JSON
 * Lines form. Messages are single lines: control characters in the formatted
 * text are replaced, so outside input cannot forge log lines.
 *
 * Privacy rule: never log a raw indicator or its canonical form. Log its
 * token prefix (deconf_log_token()) instead.
 */
#ifndef DECONF_LOG_H
#define DECONF_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* syslog severities, the same numbers librdkafka uses for its log levels */
enum deconf_log_level {
	DECONF_LOG_ERR = 3,
	DECONF_LOG_WARNING = 4,
	DECONF_LOG_NOTICE = 5,
	DECONF_LOG_INFO = 6,
	DECONF_LOG_DEBUG = 7,
};

enum deconf_log_format {
	DECONF_LOG_TEXT = 0, /* 2026-01-02T03:04:05.678Z prog[pid] warning FAC: msg */
	DECONF_LOG_JSON = 1, /* {"ts":..,"level":..,"prog":..,"fac":..,"msg":..} */
};

/* A custom sink receives the finished line (no trailing newline). */
typedef void(deconf_log_sink_fn)(void *opaque, int level, const char *fac,
				 const char *line);

/* Set the program name shown in each line (borrowed, must outlive logging). */
void deconf_log_set_program(const char *program);
void deconf_log_set_level(int level);
int deconf_log_get_level(void);
void deconf_log_set_format(enum deconf_log_format format);

/*
 * Log to the file at path (appending, created 0640), or to stderr if path is
 * NULL. Returns 0 or errno; on failure the previous sink stays.
 */
int deconf_log_open(const char *path);

/* Reopen the current log file (after rotation). Returns 0 or errno. */
int deconf_log_reopen(void);

/* Route lines to fn instead of a file (tests, embedding); NULL restores. */
void deconf_log_set_sink(deconf_log_sink_fn *fn, void *opaque);

/* Parse "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int deconf_log_level_parse(const char *name);
const char *deconf_log_level_name(int level);

void deconf_log(int level, const char *fac, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void deconf_vlog(int level, const char *fac, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * The loggable stand-in for an indicator: the first 4 bytes of its token in
 * hex followed by "…" style "..", e.g. "3fa2c401..". Writes into buf and
 * returns it.
 */
#define DECONF_LOG_TOKEN_LEN 11
const char *deconf_log_token(char buf[DECONF_LOG_TOKEN_LEN], const uint8_t *token,
			     size_t len);

#endif
