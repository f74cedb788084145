/* log.c — the process-wide log sink. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "deconf/log.h"
#include "deconf/text.h"

#define LOG_LINE_MAX 4096

static struct {
	pthread_mutex_t lock;
	const char *program;
	int level;
	enum deconf_log_format format;
	FILE *file; /* NULL = stderr */
	char *path;
	deconf_log_sink_fn *sink;
	void *sink_opaque;
} logger = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.program = "deconf",
	.level = DECONF_LOG_INFO,
};

static const char *const level_names[] = {
	[DECONF_LOG_ERR] = "err",	  [DECONF_LOG_WARNING] = "warning",
	[DECONF_LOG_NOTICE] = "notice", [DECONF_LOG_INFO] = "info",
	[DECONF_LOG_DEBUG] = "debug",
};

void deconf_log_set_program(const char *program)
{
	__atomic_store_n(&logger.program, program ? program : "deconf", __ATOMIC_RELAXED);
}

void deconf_log_set_level(int level)
{
	__atomic_store_n(&logger.level, level, __ATOMIC_RELAXED);
}

int deconf_log_get_level(void)
{
	return __atomic_load_n(&logger.level, __ATOMIC_RELAXED);
}

void deconf_log_set_format(enum deconf_log_format format)
{
	__atomic_store_n(&logger.format, format, __ATOMIC_RELAXED);
}

int deconf_log_level_parse(const char *name)
{
	for (int i = DECONF_LOG_ERR; i <= DECONF_LOG_DEBUG; i++)
		if (!strcasecmp(name, level_names[i]))
			return i;
	if (!strcasecmp(name, "error"))
		return DECONF_LOG_ERR;
	if (!strcasecmp(name, "warn"))
		return DECONF_LOG_WARNING;
	return -1;
}

const char *deconf_log_level_name(int level)
{
	if (level < DECONF_LOG_ERR)
		return "err";
	if (level > DECONF_LOG_DEBUG)
		return "debug";
	return level_names[level];
}

static FILE *open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	FILE *f;

	if (fd < 0)
		return NULL;
	if (!(f = fdopen(fd, "a"))) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

int deconf_log_open(const char *path)
{
	FILE *f = NULL;
	char *copy = NULL;

	if (path) {
		if (!(copy = strdup(path)))
			return ENOMEM;
		if (!(f = open_log(path))) {
			int e = errno;
			free(copy);
			return e;
		}
	}
	pthread_mutex_lock(&logger.lock);
	if (logger.file)
		fclose(logger.file);
	free(logger.path);
	logger.file = f;
	logger.path = copy;
	pthread_mutex_unlock(&logger.lock);
	return 0;
}

int deconf_log_reopen(void)
{
	FILE *f;
	int rc = 0;

	pthread_mutex_lock(&logger.lock);
	if (logger.path) {
		if ((f = open_log(logger.path))) {
			fclose(logger.file);
			logger.file = f;
		} else {
			rc = errno;
		}
	}
	pthread_mutex_unlock(&logger.lock);
	return rc;
}

void deconf_log_set_sink(deconf_log_sink_fn *fn, void *opaque)
{
	pthread_mutex_lock(&logger.lock);
	logger.sink = fn;
	logger.sink_opaque = opaque;
	pthread_mutex_unlock(&logger.lock);
}

/* Replace control characters so one message is always one line. */
static void scrub(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* Append s to out as JSON string content. */
static size_t json_escape(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

void deconf_vlog(int level, const char *fac, const char *fmt, va_list ap)
{
	char raw[LOG_LINE_MAX], msg[LOG_LINE_MAX], line[LOG_LINE_MAX * 2], ts[40];
	char esc_msg[LOG_LINE_MAX * 2 - 256], esc_fac[64], esc_prog[64], facility[48];
	const char *program = __atomic_load_n(&logger.program, __ATOMIC_RELAXED);
	struct timeval tv;
	struct tm tm;

	if (level > __atomic_load_n(&logger.level, __ATOMIC_RELAXED))
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	scrub(raw);
	/* what is left that a terminal would obey or reorder (C1 controls, bidi
	 * controls) and bytes that are not UTF-8 are shown as escapes: messages
	 * carry names and file names partners chose */
	deconf_text_for_terminal(msg, sizeof(msg), raw, strlen(raw));
	snprintf(facility, sizeof(facility), "%s", fac);
	scrub(facility);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%03dZ",
		 (int)(tv.tv_usec / 1000));
	if (__atomic_load_n(&logger.format, __ATOMIC_RELAXED) == DECONF_LOG_JSON) {
		json_escape(esc_msg, sizeof(esc_msg), msg);
		json_escape(esc_fac, sizeof(esc_fac), facility);
		json_escape(esc_prog, sizeof(esc_prog), program);
		snprintf(line, sizeof(line),
			 "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\",\"pid\":%d,"
			 "\"fac\":\"%s\",\"msg\":\"%s\"}",
			 ts, deconf_log_level_name(level), esc_prog, (int)getpid(), esc_fac,
			 esc_msg);
	} else {
		snprintf(line, sizeof(line), "%s %s[%d] %s %s: %s", ts, program,
			 (int)getpid(), deconf_log_level_name(level), facility, msg);
	}
	pthread_mutex_lock(&logger.lock);
	if (logger.sink) {
		logger.sink(logger.sink_opaque, level, fac, line);
	} else {
		FILE *f = logger.file ? logger.file : stderr;
		fputs(line, f);
		fputc('\n', f);
		fflush(f);
	}
	pthread_mutex_unlock(&logger.lock);
}

void deconf_log(int level, const char *fac, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	deconf_vlog(level, fac, fmt, ap);
	va_end(ap);
}

const char *deconf_log_token(char buf[DECONF_LOG_TOKEN_LEN], const uint8_t *token,
			     size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = len < 4 ? len : 4;

	for (i = 0; i < n; i++) {
		buf[2 * i] = hex[token[i] >> 4];
		buf[2 * i + 1] = hex[token[i] & 15];
	}
	buf[2 * n] = '.';
	buf[2 * n + 1] = '.';
	buf[2 * n + 2] = '\0';
	return buf;
}
