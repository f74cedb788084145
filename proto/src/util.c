/* util.c — hex, bounded file reads, atomic private writes, clocks. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/limits.h"
#include "deconf/util.h"

char *deconf_hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int deconf_hex_decode(uint8_t *out, size_t out_len, const char *in, size_t in_len)
{
	if (in_len != 2 * out_len)
		return DECONF_E_MALFORMED;
	for (size_t i = 0; i < out_len; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return DECONF_E_MALFORMED;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return DECONF_OK;
}

int deconf_file_read(const char *path, size_t max_size, int private_file, char **out,
		     size_t *out_len, char *errstr, size_t errstr_size)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	/* O_NONBLOCK: a FIFO must not hang us before the regular-file check. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		rc = errno;
		return deconf_err_set(errstr, errstr_size, rc, "%s: %s", path, strerror(rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = errno;
		deconf_err_set(errstr, errstr_size, rc, "%s: %s", path, strerror(rc));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "%s: not a regular file", path);
		goto fail;
	}
	if (private_file && (st.st_mode & 077)) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_PERM,
				    "%s: readable by group or others (mode %03o); "
				    "run chmod 600 %s",
				    path, (unsigned)(st.st_mode & 0777), path);
		goto fail;
	}
	if ((size_t)st.st_size > max_size) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_TOOBIG,
				    "%s: %lld bytes, more than the maximum %zu", path,
				    (long long)st.st_size, max_size);
		goto fail;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "%s: out of memory",
				    path);
		goto fail;
	}
	while (len < (size_t)st.st_size &&
	       (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = errno;
			deconf_err_set(errstr, errstr_size, rc, "%s: %s", path, strerror(rc));
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	if (out_len)
		*out_len = len;
	return DECONF_OK;
fail:
	free(buf);
	close(fd);
	return rc;
}

/* Make a rename durable: fsync the directory holding path (best effort). */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!(slash = strrchr(dir, '/')))
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

int deconf_file_write(const char *path, const void *data, size_t len, mode_t mode,
		      int exclusive, char *errstr, size_t errstr_size)
{
	char tmp[PATH_MAX];
	const char *p = data;
	size_t done = 0;
	int fd, rc;

	if (exclusive && access(path, F_OK) == 0)
		return deconf_err_set(errstr, errstr_size, DECONF_E_EXISTS,
				      "%s: already exists; refusing to overwrite it", path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >=
	    sizeof(tmp))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "%s: path too long", path);
	/* A unique name per call, so concurrent writers never share one. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = errno;
		return deconf_err_set(errstr, errstr_size, rc, "%s: %s", tmp, strerror(rc));
	}
	/* mkostemp() makes 0600; set the mode asked for, whatever the umask. */
	if (fchmod(fd, mode) < 0)
		goto fail_errno;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail_errno;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail_errno;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_errno;
	}
	fd = -1;
	if (exclusive ? link(tmp, path) < 0 : rename(tmp, path) < 0)
		goto fail_errno;
	if (exclusive)
		unlink(tmp);
	sync_dir(path);
	return DECONF_OK;
fail_errno:
	rc = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	if (rc == EEXIST)
		return deconf_err_set(errstr, errstr_size, DECONF_E_EXISTS,
				      "%s: already exists; refusing to overwrite it", path);
	return deconf_err_set(errstr, errstr_size, rc, "%s: %s", path, strerror(rc));
}

int deconf_agency_id_valid(const void *id, size_t len)
{
	const unsigned char *p = id;

	if (len < 2 || len > DECONF_AGENCY_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
		      (p[i] == '-' && i > 0)))
			return 0;
	return 1;
}

/* ASCII case-insensitive: does p[0..len) start with (whole = equal) w? */
static int ci_match(const unsigned char *p, size_t len, const char *w, int whole)
{
	size_t n = strlen(w);

	if (whole ? len != n : len < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)w[i])
			return 0;
	}
	return 1;
}

int deconf_agency_id_reserved(const void *id, size_t len)
{
	/* the list and its reasons: deconf/util.h */
	static const char *const names[] = { "admin",	  "anonymous", "broker",   "controller",
					     "deconf",	  "deconfctl", "federation", "kafka",
					     "operator", "root" };
	static const char *const prefixes[] = { "deconf-", "kafka-" };
	const unsigned char *p = id;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ci_match(p, len, names[i], 1))
			return 1;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (ci_match(p, len, prefixes[i], 0))
			return 1;
	return 0;
}

int64_t deconf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t deconf_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int deconf_grow_array(void *arrp, size_t *cap, size_t elem, size_t first)
{
	return deconf_grow_array_to(arrp, cap, *cap + 1, elem, first);
}

int deconf_grow_array_to(void *arrp, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t c = *cap ? *cap : first ? first : 1;
	void *old, *p;

	if (need <= *cap)
		return DECONF_OK;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return DECONF_E_NOMEM;
		c *= 2;
	}
	if (elem && c > SIZE_MAX / elem)
		return DECONF_E_NOMEM;
	memcpy(&old, arrp, sizeof(old));
	if (!(p = realloc(old, c * elem)))
		return DECONF_E_NOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = c;
	return DECONF_OK;
}

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3)                                                               \
	do {                                                                                   \
		v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);                      \
		v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                                         \
		v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                                         \
		v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);                      \
	} while (0)

/* SipHash-2-4 (Aumasson and Bernstein, 2012), as its reference code. */
uint64_t deconf_hash_keyed(const uint8_t key[16], const void *p, size_t len)
{
	const uint8_t *in = p;
	uint64_t k0 = le64(key), k1 = le64(key + 8), m, b = (uint64_t)len << 56;
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575), v1 = k1 ^ UINT64_C(0x646f72616e646f6d),
		 v2 = k0 ^ UINT64_C(0x6c7967656e657261), v3 = k1 ^ UINT64_C(0x7465646279746573);
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t deconf_hash_bytes(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h ^ (h >> 29);
}
