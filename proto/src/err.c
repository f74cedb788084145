/* err.c — error codes to text, errstr helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deconf/err.h"

static const char *const messages[] = {
	[0] = "success",
	[-DECONF_E_NOMEM] = "out of memory",
	[-DECONF_E_INVAL] = "invalid argument",
	[-DECONF_E_CONFIG] = "bad configuration",
	[-DECONF_E_IO] = "input/output error",
	[-DECONF_E_PERM] = "unsafe file permissions",
	[-DECONF_E_TOOBIG] = "input too large",
	[-DECONF_E_MALFORMED] = "malformed input",
	[-DECONF_E_UNSIGNED] = "signature missing",
	[-DECONF_E_BADSIG] = "bad signature",
	[-DECONF_E_UNKNOWN] = "unknown name or field",
	[-DECONF_E_CRYPTO] = "crypto library error",
	[-DECONF_E_KAFKA] = "Kafka error",
	[-DECONF_E_TIMEOUT] = "timed out",
	[-DECONF_E_EXISTS] = "already exists",
	[-DECONF_E_VERSION] = "unsupported version",
};

const char *deconf_strerror(int rc)
{
	if (rc > 0)
		return strerror(rc);
	if (rc <= DECONF_E__LAST)
		return "unknown error";
	return messages[-rc];
}

int deconf_err_set(char *errstr, size_t errstr_size, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errstr && errstr_size > 0) {
		va_start(ap, fmt);
		vsnprintf(errstr, errstr_size, fmt, ap);
		va_end(ap);
	}
	return rc;
}
