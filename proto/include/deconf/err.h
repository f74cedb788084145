/*
 * deconf/err.h — the error model shared by every deconf module.
 *
 * Functions return int: DECONF_OK (0) on success, a negative DECONF_E_* code
 * for deconf's own errors, or a positive errno value for system errors.
 * Constructors and parsers also fill a caller's `char *errstr, size_t
 * errstr_size` buffer with one sentence a user can act on.
 */
#ifndef DECONF_ERR_H
#define DECONF_ERR_H

#include <stddef.h>

enum {
	DECONF_OK = 0,
	DECONF_E_NOMEM = -1,     /* out of memory */
	DECONF_E_INVAL = -2,     /* invalid argument or value */
	DECONF_E_CONFIG = -3,    /* bad configuration */
	DECONF_E_IO = -4,        /* file could not be read or written */
	DECONF_E_PERM = -5,      /* file permissions are unsafe */
	DECONF_E_TOOBIG = -6,    /* input larger than the configured maximum */
	DECONF_E_MALFORMED = -7, /* input could not be parsed */
	DECONF_E_UNSIGNED = -8,  /* signature missing */
	DECONF_E_BADSIG = -9,    /* signature does not verify */
	DECONF_E_UNKNOWN = -10,  /* unknown field, key, epoch or name */
	DECONF_E_CRYPTO = -11,   /* the crypto library failed */
	DECONF_E_KAFKA = -12,    /* Kafka client error (details logged) */
	DECONF_E_TIMEOUT = -13,  /* timed out */
	DECONF_E_EXISTS = -14,   /* refusing to overwrite */
	DECONF_E_VERSION = -15,  /* unsupported version */
	DECONF_E__LAST = -16,
};

/* A static, human-readable description of rc (negative, 0 or errno). */
const char *deconf_strerror(int rc);

/*
 * printf into errstr (if errstr_size > 0), always NUL-terminated. Returns rc
 * so callers can write `return deconf_err_set(errstr, n, DECONF_E_X, ...)`.
 */
int deconf_err_set(char *errstr, size_t errstr_size, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
