/* kquota.c — Kafka client quotas over Kafka's own protocol (see kquota.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deconf/err.h"
#include "deconf/log.h"
#include "deconf/util.h"
#include "kquota.h"

#define KQ_API_VERSIONS 18
#define KQ_API_DESCRIBE 48
#define KQ_API_ALTER 49
#define KQ_UNSUPPORTED_VERSION 35 /* Kafka's error code */

#define KQ_CLIENT_ID "deconfctl"
#define KQ_TIMEOUT_MS 10000
#define KQ_REQUEST_MAX (1 << 20)
#define KQ_ALTER_BATCH 64 /* users per AlterClientQuotas: bounds request and response */
#define KQ_SERVERS_MAX 64
#define KQ_TEXT_MAX 200   /* bytes of server text kept in a message */
#define KQ_AWAIT_MS 100   /* between describes while an alteration propagates */
#define KQ_USER_ENTITY "user"

static const char *const kq_keys[3] = { "producer_byte_rate", "consumer_byte_rate",
					"request_percentage" };

static double kq_val(const struct brk_kquota *q, int k)
{
	return k == 0 ? q->producer_byte_rate : k == 1 ? q->consumer_byte_rate
						       : q->request_percentage;
}

static void kq_set_val(struct brk_kquota *q, int k, double v)
{
	if (k == 0)
		q->producer_byte_rate = v;
	else if (k == 1)
		q->consumer_byte_rate = v;
	else
		q->request_percentage = v;
}

static void kq_init(struct brk_kquota *q, const char *user)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->user, sizeof(q->user), "%s", user ? user : "");
	for (int k = 0; k < 3; k++)
		kq_set_val(q, k, BRK_KQUOTA_UNSET);
}

int brk_kquota_equal(const struct brk_kquota *a, const struct brk_kquota *b)
{
	for (int k = 0; k < 3; k++) {
		double x = kq_val(a, k), y = kq_val(b, k);
		if (brk_kquota_is_set(x) != brk_kquota_is_set(y) ||
		    (brk_kquota_is_set(x) && x != y))
			return 0;
	}
	return 1;
}

/* Server text for a message: bounded, and every byte outside printable
 * ASCII shown as '?', so a server cannot send terminal escapes or forge
 * lines through an error message. */
static void kq_text(char *out, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	if (!size)
		return;
	for (size_t i = 0; i < len && i < KQ_TEXT_MAX && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (len > KQ_TEXT_MAX && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* "NAME (code)" for a Kafka error code. librdkafka's names for codes below
 * -1 are its own client-side errors, not Kafka's: not used for those. */
static const char *kq_err_name(int16_t code, char *buf, size_t size)
{
	if (code >= -1)
		snprintf(buf, size, "%s (%d)", rd_kafka_err2name((rd_kafka_resp_err_t)code), code);
	else
		snprintf(buf, size, "unknown error (%d)", code);
	return buf;
}

/* ------------------------------------------------------------ encoding */

/* A request being built; rc sticks at the first failure. */
struct kq_buf {
	uint8_t *p;
	size_t len, cap;
	int rc;
};

static void kq_put(struct kq_buf *b, const void *data, size_t n)
{
	if (b->rc || !n)
		return;
	if (n > KQ_REQUEST_MAX - b->len) {
		b->rc = DECONF_E_TOOBIG;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p;
		while (cap < b->len + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->rc = DECONF_E_NOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* Kafka's integers are big-endian two's complement. */
static void kq_put_be(struct kq_buf *b, uint64_t v, size_t n)
{
	uint8_t t[8];

	for (size_t i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	kq_put(b, t, n);
}

static void kq_put_i8(struct kq_buf *b, int8_t v)
{
	kq_put_be(b, (uint8_t)v, 1);
}

static void kq_put_i16(struct kq_buf *b, int16_t v)
{
	kq_put_be(b, (uint16_t)v, 2);
}

static void kq_put_i32(struct kq_buf *b, int32_t v)
{
	kq_put_be(b, (uint32_t)v, 4);
}

/* FLOAT64: the IEEE 754 binary64 bits, big-endian. */
static void kq_put_f64(struct kq_buf *b, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	kq_put_be(b, u, 8);
}

/* STRING (INT16 length, then the bytes); NULLABLE_STRING: NULL is -1. */
static void kq_put_str(struct kq_buf *b, const char *s)
{
	size_t len;

	if (!s) {
		kq_put_i16(b, -1);
		return;
	}
	if ((len = strlen(s)) > INT16_MAX) {
		if (!b->rc)
			b->rc = DECONF_E_TOOBIG;
		return;
	}
	kq_put_i16(b, (int16_t)len);
	kq_put(b, s, len);
}

/* ------------------------------------------------------------ decoding */

/* A response being read. Past a failure (bad set) every read yields 0, so a
 * parser can read a whole structure and check once; loops also test bad. */
struct kq_rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static uint64_t kq_get_be(struct kq_rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[r->off + i];
	r->off += n;
	return v;
}

static int16_t kq_i16(struct kq_rd *r)
{
	uint16_t u = (uint16_t)kq_get_be(r, 2);
	int16_t v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static int32_t kq_i32(struct kq_rd *r)
{
	uint32_t u = (uint32_t)kq_get_be(r, 4);
	int32_t v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static double kq_f64(struct kq_rd *r)
{
	uint64_t u = kq_get_be(r, 8);
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

/* STRING or NULLABLE_STRING: *s points into the response (not terminated),
 * NULL for a null string. A length beyond the bytes left sets bad. */
static void kq_str(struct kq_rd *r, int nullable, const char **s, size_t *n)
{
	int16_t len = kq_i16(r);

	*s = NULL;
	*n = 0;
	if (r->bad || (len == -1 && nullable))
		return;
	if (len < 0 || (size_t)len > r->len - r->off) {
		r->bad = 1;
		return;
	}
	*s = (const char *)r->p + r->off;
	*n = (size_t)len;
	r->off += (size_t)len;
}

/* An ARRAY's count; -1 for a null array where that is allowed. A count
 * larger than the bytes left (every element takes at least one) sets bad
 * and returns 0, so no loop runs on a count the response cannot hold. */
static int32_t kq_array(struct kq_rd *r, int nullable)
{
	int32_t n = kq_i32(r);

	if (r->bad)
		return 0;
	if (n == -1 && nullable)
		return -1;
	if (n < 0 || (size_t)n > r->len - r->off) {
		r->bad = 1;
		return 0;
	}
	return n;
}

static int kq_is(const char *s, size_t n, const char *want)
{
	return s && n == strlen(want) && !memcmp(s, want, n);
}

static int kq_begin(struct kq_rd *r, const uint8_t *buf, size_t len, int32_t corr,
		    const char *what, char *errstr, size_t errstr_size)
{
	int32_t got;

	r->p = buf;
	r->len = buf ? len : 0;
	r->off = 0;
	r->bad = 0;
	if (len > BRK_KQUOTA_RESPONSE_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_TOOBIG,
				      "%s response of %zu bytes, more than %d", what, len,
				      BRK_KQUOTA_RESPONSE_MAX);
	got = kq_i32(r);
	if (r->bad)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s response shorter than its header", what);
	if (got != corr)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s response with correlation id %d, expected %d (not the "
				      "answer to this request)",
				      what, got, corr);
	return 0;
}

static int kq_end(const struct kq_rd *r, const char *what, char *errstr, size_t errstr_size)
{
	if (r->bad)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s response truncated or with a bad length (%zu bytes)",
				      what, r->len);
	if (r->off != r->len)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s response with %zu unexpected bytes after its end", what,
				      r->len - r->off);
	return 0;
}

int brk_kquota_parse_api_versions(const uint8_t *buf, size_t len, int32_t correlation_id,
				  char *errstr, size_t errstr_size)
{
	static const struct {
		int16_t key;
		const char *name;
	} need[2] = { { KQ_API_DESCRIBE, "DescribeClientQuotas" },
		      { KQ_API_ALTER, "AlterClientQuotas" } };
	int16_t min[2] = { 0 }, max[2] = { 0 }, err;
	int found[2] = { 0, 0 }, rc;
	struct kq_rd r;
	int32_t n;
	char name[64];

	if ((rc = kq_begin(&r, buf, len, correlation_id, "ApiVersions", errstr, errstr_size)))
		return rc;
	err = kq_i16(&r);
	n = kq_array(&r, 0);
	for (int32_t i = 0; i < n && !r.bad; i++) {
		int16_t key = kq_i16(&r), lo = kq_i16(&r), hi = kq_i16(&r);
		for (int k = 0; k < 2 && !r.bad; k++) {
			if (key != need[k].key)
				continue;
			if (found[k])
				return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
						      "ApiVersions response lists API key %d twice",
						      key);
			found[k] = 1;
			min[k] = lo;
			max[k] = hi;
		}
	}
	if ((rc = kq_end(&r, "ApiVersions", errstr, errstr_size)))
		return rc;
	if (err)
		return deconf_err_set(errstr, errstr_size,
				      err == KQ_UNSUPPORTED_VERSION ? DECONF_E_VERSION
								    : DECONF_E_KAFKA,
				      "ApiVersions v0 refused: %s",
				      kq_err_name(err, name, sizeof(name)));
	for (int k = 0; k < 2; k++) {
		if (!found[k])
			return deconf_err_set(errstr, errstr_size, DECONF_E_VERSION,
					      "the server does not offer %s (API key %d) at all; "
					      "client quotas need Kafka 2.6 or later",
					      need[k].name, need[k].key);
		if (min[k] > 0 || max[k] < 0)
			return deconf_err_set(errstr, errstr_size, DECONF_E_VERSION,
					      "the server offers %s (API key %d) in versions %d..%d "
					      "only; this client speaks version 0",
					      need[k].name, need[k].key, min[k], max[k]);
	}
	return 0;
}

int brk_kquota_parse_describe(const uint8_t *buf, size_t len, int32_t correlation_id,
			      const char *user, struct brk_kquota *out, char *errstr,
			      size_t errstr_size)
{
	const char *what = "DescribeClientQuotas", *s;
	char msg[KQ_TEXT_MAX + 8] = "", name[64];
	int seen_key[3] = { 0, 0, 0 }, rc;
	int32_t entries, seen = 0;
	struct kq_rd r;
	int16_t err;
	size_t sl;

	kq_init(out, user);
	if (!user || strlen(user) > BRK_KQUOTA_USER_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "bad user name");
	if ((rc = kq_begin(&r, buf, len, correlation_id, what, errstr, errstr_size)))
		return rc;
	(void)kq_i32(&r); /* throttle time: one describe per user, nothing to pace */
	err = kq_i16(&r);
	kq_str(&r, 1, &s, &sl);
	kq_text(msg, sizeof(msg), s, sl);
	entries = kq_array(&r, 1);
	for (int32_t i = 0; i < entries && !r.bad; i++) {
		int32_t comps = kq_array(&r, 0), vals;
		int ours = comps == 1;

		for (int32_t j = 0; j < comps && !r.bad; j++) {
			const char *type, *ename;
			size_t tl, nl;
			kq_str(&r, 0, &type, &tl);
			kq_str(&r, 1, &ename, &nl);
			ours = ours && kq_is(type, tl, KQ_USER_ENTITY) && kq_is(ename, nl, user);
		}
		vals = kq_array(&r, 0);
		if (r.bad)
			break;
		if (!ours) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
					    "%s response with an entry for another entity than "
					    "User:%s",
					    what, user);
			goto fail;
		}
		if (seen++) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
					    "%s response with two entries for User:%s", what, user);
			goto fail;
		}
		for (int32_t j = 0; j < vals && !r.bad; j++) {
			const char *key;
			size_t kl;
			double v;
			kq_str(&r, 0, &key, &kl);
			v = kq_f64(&r);
			for (int k = 0; k < 3 && !r.bad; k++) {
				if (!kq_is(key, kl, kq_keys[k]))
					continue;
				if (seen_key[k]++) {
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
							    "%s response gives %s twice", what,
							    kq_keys[k]);
					goto fail;
				}
				if (!isfinite(v)) {
					rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
							    "%s response: %s of User:%s is not a "
							    "finite number",
							    what, kq_keys[k], user);
					goto fail;
				}
				kq_set_val(out, k, v);
			}
		}
	}
	if ((rc = kq_end(&r, what, errstr, errstr_size)))
		goto fail;
	if (err) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_KAFKA, "%s User:%s: %s%s%s", what,
				    user, kq_err_name(err, name, sizeof(name)), msg[0] ? ": " : "",
				    msg);
		goto fail;
	}
	if (entries < 0) {
		/* Kafka sends null entries only with an error (and its own client
		 * would fail on them): not an answer. */
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				    "%s response with neither entries nor an error", what);
		goto fail;
	}
	return 0;
fail:
	kq_init(out, user);
	return rc;
}

/* Append to errstr at *off, keeping it terminated; stops when full. */
static void kq_append(char *errstr, size_t errstr_size, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void kq_append(char *errstr, size_t errstr_size, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (!errstr || *off + 1 >= errstr_size)
		return;
	va_start(ap, fmt);
	w = vsnprintf(errstr + *off, errstr_size - *off, fmt, ap);
	va_end(ap);
	if (w > 0)
		*off = *off + (size_t)w < errstr_size ? *off + (size_t)w : errstr_size - 1;
}

int brk_kquota_parse_alter(const uint8_t *buf, size_t len, int32_t correlation_id,
			   const char *const *users, size_t n, char *errstr, size_t errstr_size)
{
	const char *what = "AlterClientQuotas";
	unsigned char *seen = NULL;
	size_t off = 0, n_err = 0;
	struct kq_rd r;
	int32_t entries;
	int rc;

	if ((rc = kq_begin(&r, buf, len, correlation_id, what, errstr, errstr_size)))
		return rc;
	if (!(seen = calloc(n ? n : 1, 1)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	if (errstr && errstr_size)
		errstr[0] = '\0';
	(void)kq_i32(&r); /* throttle time */
	entries = kq_array(&r, 0);
	if (!r.bad && (size_t)entries != n) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				    "%s response with %d entries for %zu users", what, entries, n);
		goto out;
	}
	for (int32_t i = 0; i < entries && !r.bad; i++) {
		char msg[KQ_TEXT_MAX + 8], name[64];
		int16_t err = kq_i16(&r);
		int32_t comps;
		const char *s;
		size_t sl, idx = n;
		int ok;

		kq_str(&r, 1, &s, &sl);
		kq_text(msg, sizeof(msg), s, sl);
		comps = kq_array(&r, 0);
		ok = comps == 1;
		for (int32_t j = 0; j < comps && !r.bad; j++) {
			const char *type, *ename;
			size_t tl, nl;
			kq_str(&r, 0, &type, &tl);
			kq_str(&r, 1, &ename, &nl);
			if (!ok || !kq_is(type, tl, KQ_USER_ENTITY) || !ename) {
				ok = 0;
				continue;
			}
			for (idx = 0; idx < n && !kq_is(ename, nl, users[idx]); idx++)
				;
		}
		if (r.bad)
			break;
		if (!ok || idx == n) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
					    "%s response with an entry for an entity that was not "
					    "altered",
					    what);
			goto out;
		}
		if (seen[idx]++) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
					    "%s response with two entries for User:%s", what,
					    users[idx]);
			goto out;
		}
		if (err) {
			kq_append(errstr, errstr_size, &off, "%sUser:%s: %s%s%s",
				  n_err ? "; " : "AlterClientQuotas refused: ", users[idx],
				  kq_err_name(err, name, sizeof(name)), msg[0] ? ": " : "", msg);
			n_err++;
		}
	}
	if ((rc = kq_end(&r, what, errstr, errstr_size)))
		goto out;
	rc = n_err ? DECONF_E_KAFKA : 0;
out:
	free(seen);
	return rc;
}

/* ---------------------------------------------------------- connection */

struct kq_settings {
	const char *servers, *ca, *cert, *key, *key_password, *crl, *ciphers, *curves, *sigalgs;
	int tls, check_name, timeout_ms;
};

struct kq_server {
	char host[256], port[8], label[272];
};

struct kq_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl; /* owns rbio and wbio */
	BIO *rbio, *wbio;
	int timeout_ms;
	int32_t corr;
	const char *phase; /* what is under way, for messages */
	char server[272];
};

static int kq_settings_get(const struct deconf_conf *conf, struct kq_settings *s, char *errstr,
			   size_t errstr_size)
{
	const char *proto = NULL, *verify = NULL, *endpoint = NULL, *bad = NULL, *bad_origin = NULL;
	const char *proto_origin = NULL, *verify_origin = NULL, *endpoint_origin = NULL;
	struct {
		const char *name;
		const char **field;
	} ssl_keys[] = {
		{ "ssl.ca.location", &s->ca },
		{ "ssl.certificate.location", &s->cert },
		{ "ssl.key.location", &s->key },
		{ "ssl.key.password", &s->key_password },
		{ "ssl.crl.location", &s->crl },
		{ "ssl.cipher.suites", &s->ciphers },
		{ "ssl.curves.list", &s->curves },
		{ "ssl.sigalgs.list", &s->sigalgs },
		{ "ssl.endpoint.identification.algorithm", &endpoint },
	};

	memset(s, 0, sizeof(*s));
	s->check_name = 1;
	s->timeout_ms = KQ_TIMEOUT_MS;
	if (!conf)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "no configuration to reach Kafka with");
	for (size_t i = 0; i < deconf_conf_kafka_count(conf); i++) {
		const char *name, *value, *origin;
		size_t k, nk = sizeof(ssl_keys) / sizeof(ssl_keys[0]);

		deconf_conf_kafka_get(conf, i, &name, &value, &origin);
		for (k = 0; k < nk && strcmp(name, ssl_keys[k].name); k++)
			;
		if (k < nk) {
			*ssl_keys[k].field = value;
			if (ssl_keys[k].field == &endpoint)
				endpoint_origin = origin;
		} else if (!strcmp(name, "bootstrap.servers")) {
			s->servers = value;
		} else if (!strcmp(name, "security.protocol")) {
			proto = value;
			proto_origin = origin;
		} else if (!strcmp(name, "enable.ssl.certificate.verification")) {
			verify = value;
			verify_origin = origin;
		} else if (!strcmp(name, "socket.timeout.ms")) {
			char *end;
			long v;
			errno = 0;
			v = strtol(value, &end, 10);
			if (errno || end == value || *end || v < 10 || v > 300000)
				return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
						      "%s: kafka.socket.timeout.ms = %s: not a "
						      "number of milliseconds in 10..300000",
						      origin, value);
			s->timeout_ms = (int)v;
		} else if (!bad && (!strncmp(name, "ssl.", 4) || !strncmp(name, "ssl_", 4))) {
			bad = name;
			bad_origin = origin;
		}
	}
	if (!s->servers || !s->servers[0])
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "kafka.bootstrap.servers is not set");
	if (!proto || !strcasecmp(proto, "plaintext"))
		return 0;
	if (strcasecmp(proto, "ssl"))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: kafka.security.protocol = %s: the quota client speaks "
				      "plaintext or ssl only",
				      proto_origin, proto);
	s->tls = 1;
	if (bad)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: kafka.%s is not supported by the quota client (it reads "
				      "ssl.ca.location, ssl.certificate.location, ssl.key.location, "
				      "ssl.key.password, ssl.crl.location, ssl.cipher.suites, "
				      "ssl.curves.list, ssl.sigalgs.list and "
				      "ssl.endpoint.identification.algorithm)",
				      bad_origin, bad);
	if (verify) {
		int on;
		if (deconf_parse_bool(verify, &on) || !on)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "%s: kafka.enable.ssl.certificate.verification = %s: "
					      "the quota client always verifies the server's "
					      "certificate",
					      verify_origin, verify);
	}
	if (endpoint && !strcasecmp(endpoint, "none"))
		s->check_name = 0;
	else if (endpoint && strcasecmp(endpoint, "https"))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "%s: kafka.ssl.endpoint.identification.algorithm = %s: not "
				      "https or none",
				      endpoint_origin, endpoint);
	if (!s->cert != !s->key)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "kafka.ssl.certificate.location and kafka.ssl.key.location "
				      "go together: set both or neither");
	return 0;
}

/* bootstrap.servers as librdkafka reads it: comma-separated host:port,
 * optionally prefixed "proto://"; [v6]:port; a bare host means port 9092. */
static int kq_servers(const char *list, struct kq_server *out, size_t max, size_t *n,
		      char *errstr, size_t errstr_size)
{
	const char *p = list;

	*n = 0;
	for (;;) {
		const char *tok, *sep, *host, *port = NULL, *colon;
		size_t len, hl, pl = 0;

		p += strspn(p, ", \t");
		if (!*p)
			break;
		tok = p;
		len = strcspn(p, ", \t");
		p += len;
		if ((sep = memmem(tok, len, "://", 3))) {
			len -= (size_t)(sep + 3 - tok);
			tok = sep + 3;
		}
		host = tok;
		hl = len;
		if (len && tok[0] == '[') {
			const char *close = memchr(tok, ']', len);
			if (!close || (close + 1 < tok + len && close[1] != ':'))
				goto bad;
			host = tok + 1;
			hl = (size_t)(close - host);
			if (close + 1 < tok + len) {
				port = close + 2;
				pl = (size_t)(tok + len - port);
			}
		} else if ((colon = memchr(tok, ':', len)) &&
			   !memchr(colon + 1, ':', (size_t)(tok + len - colon - 1))) {
			hl = (size_t)(colon - tok);
			port = colon + 1;
			pl = (size_t)(tok + len - port);
		} /* else no port, or a bare IPv6 address: port 9092 */
		if (!hl || hl >= sizeof(out->host) || (port && (!pl || pl > 5)))
			goto bad;
		for (size_t i = 0; port && i < pl; i++)
			if (port[i] < '0' || port[i] > '9')
				goto bad;
		if (*n == max)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "kafka.bootstrap.servers names more than %zu servers",
					      max);
		memcpy(out[*n].host, host, hl);
		out[*n].host[hl] = '\0';
		snprintf(out[*n].port, sizeof(out[*n].port), "%.*s", port ? (int)pl : 4,
			 port ? port : "9092");
		if (atoi(out[*n].port) < 1 || atoi(out[*n].port) > 65535)
			goto bad;
		snprintf(out[*n].label, sizeof(out[*n].label),
			 strchr(out[*n].host, ':') ? "[%s]:%s" : "%s:%s", out[*n].host,
			 out[*n].port);
		(*n)++;
		continue;
bad:
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "kafka.bootstrap.servers: '%.*s' is not host:port", (int)len,
				      tok);
	}
	if (!*n)
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "kafka.bootstrap.servers names no server");
	return 0;
}

/* The last OpenSSL error as text (the queue is cleared). */
static const char *kq_ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, size);
	else
		snprintf(buf, size, "no reason given");
	ERR_clear_error();
	return buf;
}

static int kq_tls_ctx(struct kq_conn *c, const struct kq_settings *s, char *errstr,
		      size_t errstr_size)
{
	char why[256];
	struct stat st;

	ERR_clear_error();
	if (!(c->ctx = SSL_CTX_new(TLS_client_method())))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CRYPTO, "TLS context: %s",
				      kq_ssl_reason(why, sizeof(why)));
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (s->ca && strcmp(s->ca, "probe")) {
		int dir = !stat(s->ca, &st) && S_ISDIR(st.st_mode);
		if (SSL_CTX_load_verify_locations(c->ctx, dir ? NULL : s->ca,
						  dir ? s->ca : NULL) != 1)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "kafka.ssl.ca.location %s: %s", s->ca,
					      kq_ssl_reason(why, sizeof(why)));
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "the system's CA certificates: %s",
				      kq_ssl_reason(why, sizeof(why)));
	}
	if (s->crl) {
		X509_STORE *store = SSL_CTX_get_cert_store(c->ctx);
		X509_LOOKUP *lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
		if (!lu || X509_load_crl_file(lu, s->crl, X509_FILETYPE_PEM) <= 0)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "kafka.ssl.crl.location %s: %s", s->crl,
					      kq_ssl_reason(why, sizeof(why)));
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	}
	if ((s->ciphers && SSL_CTX_set_cipher_list(c->ctx, s->ciphers) != 1) ||
	    (s->curves && SSL_CTX_set1_curves_list(c->ctx, s->curves) != 1) ||
	    (s->sigalgs && SSL_CTX_set1_sigalgs_list(c->ctx, s->sigalgs) != 1))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
				      "kafka.ssl.cipher.suites, curves.list or sigalgs.list: %s",
				      kq_ssl_reason(why, sizeof(why)));
	if (s->cert) {
		/* OpenSSL's default password callback reads the userdata. */
		if (s->key_password)
			SSL_CTX_set_default_passwd_cb_userdata(c->ctx, (void *)s->key_password);
		if (SSL_CTX_use_certificate_chain_file(c->ctx, s->cert) != 1)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "kafka.ssl.certificate.location %s: %s", s->cert,
					      kq_ssl_reason(why, sizeof(why)));
		if (SSL_CTX_use_PrivateKey_file(c->ctx, s->key, SSL_FILETYPE_PEM) != 1)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "kafka.ssl.key.location %s: %s", s->key,
					      kq_ssl_reason(why, sizeof(why)));
		if (SSL_CTX_check_private_key(c->ctx) != 1)
			return deconf_err_set(errstr, errstr_size, DECONF_E_CONFIG,
					      "kafka.ssl.key.location %s does not match "
					      "kafka.ssl.certificate.location %s",
					      s->key, s->cert);
	}
	return 0;
}

/* Wait for events on the socket until the deadline (monotonic µs). */
static int kq_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = (deadline - deconf_mono_us() + 999) / 1000;
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return DECONF_E_TIMEOUT;
		if ((r = poll(&p, 1, (int)left)) > 0)
			return 0; /* errors and hang-ups show in the next call */
		if (r == 0)
			return DECONF_E_TIMEOUT;
		if (errno != EINTR)
			return DECONF_E_IO;
	}
}

static int kq_io_err(const struct kq_conn *c, int rc, const char *detail, const char *hint,
		     char *errstr, size_t errstr_size)
{
	if (rc == DECONF_E_TIMEOUT)
		return deconf_err_set(errstr, errstr_size, rc, "%s: no progress in %s within %d ms",
				      c->server, c->phase, c->timeout_ms);
	return deconf_err_set(errstr, errstr_size, DECONF_E_IO, "%s: %s during %s%s%s%s",
			      c->server, detail, c->phase, hint ? " (" : "", hint ? hint : "",
			      hint ? ")" : "");
}

static int kq_sock_send(struct kq_conn *c, const uint8_t *p, size_t len, int64_t deadline,
			char *errstr, size_t errstr_size)
{
	while (len) {
		ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
		int rc;

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return kq_io_err(c, DECONF_E_IO, strerror(errno), NULL, errstr,
					 errstr_size);
		if ((rc = kq_wait(c->fd, POLLOUT, deadline)))
			return kq_io_err(c, rc, "poll failed", NULL, errstr, errstr_size);
	}
	return 0;
}

/* Receive at least one byte (at most size). */
static int kq_sock_recv(struct kq_conn *c, uint8_t *buf, size_t size, size_t *got,
			int64_t deadline, char *errstr, size_t errstr_size)
{
	for (;;) {
		ssize_t r = recv(c->fd, buf, size, 0);
		int rc;

		if (r > 0) {
			*got = (size_t)r;
			return 0;
		}
		if (r == 0)
			return kq_io_err(c, DECONF_E_IO, "the server closed the connection",
					 c->ssl ? "a plaintext listener, or it refused the "
						  "certificate?"
						: "a TLS listener, and security.protocol plaintext?",
					 errstr, errstr_size);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return kq_io_err(c, DECONF_E_IO, strerror(errno), NULL, errstr,
					 errstr_size);
		if ((rc = kq_wait(c->fd, POLLIN, deadline)))
			return kq_io_err(c, rc, "poll failed", NULL, errstr, errstr_size);
	}
}

enum kq_tls_op { KQ_TLS_HANDSHAKE, KQ_TLS_READ, KQ_TLS_WRITE };

/* TLS runs over memory BIOs and this module moves the bytes: every socket
 * operation then has the deadline, and writes never raise SIGPIPE. */
static int kq_tls_flush(struct kq_conn *c, int64_t deadline, char *errstr, size_t errstr_size)
{
	uint8_t tmp[16384];
	int k, rc;

	while ((k = BIO_read(c->wbio, tmp, sizeof(tmp))) > 0)
		if ((rc = kq_sock_send(c, tmp, (size_t)k, deadline, errstr, errstr_size)))
			return rc;
	return 0;
}

static int kq_tls_io(struct kq_conn *c, enum kq_tls_op op, void *buf, size_t len, size_t *done,
		     int64_t deadline, char *errstr, size_t errstr_size)
{
	uint8_t tmp[16384];
	char why[256];

	for (;;) {
		size_t k = 0, got;
		int r, e, rc;
		long v;

		ERR_clear_error();
		r = op == KQ_TLS_HANDSHAKE ? SSL_connect(c->ssl)
		    : op == KQ_TLS_READ    ? SSL_read_ex(c->ssl, buf, len, &k)
					   : SSL_write_ex(c->ssl, buf, len, &k);
		e = SSL_get_error(c->ssl, r);
		if ((rc = kq_tls_flush(c, deadline, errstr, errstr_size)))
			return rc;
		switch (e) {
		case SSL_ERROR_NONE:
			if (done)
				*done = k;
			return 0;
		case SSL_ERROR_WANT_READ:
			if ((rc = kq_sock_recv(c, tmp, sizeof(tmp), &got, deadline, errstr,
					       errstr_size)))
				return rc;
			if (BIO_write(c->rbio, tmp, (int)got) != (int)got)
				return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM,
						      "out of memory");
			continue;
		case SSL_ERROR_ZERO_RETURN:
			return kq_io_err(c, DECONF_E_IO, "the server closed the TLS session", NULL,
					 errstr, errstr_size);
		default:
			break;
		}
		if (op == KQ_TLS_HANDSHAKE && (v = SSL_get_verify_result(c->ssl)) != X509_V_OK)
			return deconf_err_set(errstr, errstr_size, DECONF_E_IO,
					      "%s: TLS handshake failed: the server's certificate "
					      "does not verify: %s",
					      c->server, X509_verify_cert_error_string(v));
		return deconf_err_set(errstr, errstr_size, DECONF_E_IO,
				      "%s: TLS failed during %s: %s", c->server, c->phase,
				      kq_ssl_reason(why, sizeof(why)));
	}
}

static int kq_read_full(struct kq_conn *c, uint8_t *buf, size_t len, int64_t deadline,
			char *errstr, size_t errstr_size)
{
	while (len) {
		size_t got = 0;
		int rc = c->ssl ? kq_tls_io(c, KQ_TLS_READ, buf, len, &got, deadline, errstr,
					    errstr_size)
				: kq_sock_recv(c, buf, len, &got, deadline, errstr, errstr_size);
		if (rc)
			return rc;
		buf += got;
		len -= got;
	}
	return 0;
}

static int kq_write_full(struct kq_conn *c, const uint8_t *buf, size_t len, int64_t deadline,
			 char *errstr, size_t errstr_size)
{
	/* SSL_write_ex without partial writes succeeds only for all of buf */
	return c->ssl ? kq_tls_io(c, KQ_TLS_WRITE, (void *)buf, len, NULL, deadline, errstr,
				  errstr_size)
		      : kq_sock_send(c, buf, len, deadline, errstr, errstr_size);
}

static void kq_close(struct kq_conn *c)
{
	SSL_free(c->ssl); /* and its BIOs */
	c->ssl = NULL;
	c->rbio = c->wbio = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void kq_free(struct kq_conn *c)
{
	kq_close(c);
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}

static int kq_tcp(struct kq_conn *c, const struct kq_server *sv, char *errstr,
		  size_t errstr_size)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	int g, rc = DECONF_E_IO;

	c->phase = "connect";
	if ((g = getaddrinfo(sv->host, sv->port, &hints, &res)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_IO, "%s: cannot resolve %s: %s",
				      sv->label, sv->host, gai_strerror(g));
	deconf_err_set(errstr, errstr_size, DECONF_E_IO, "%s: no address", sv->label);
	for (ai = res; ai; ai = ai->ai_next) {
		int64_t deadline = deconf_mono_us() + (int64_t)c->timeout_ms * 1000;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		int so_err = 0, one = 1;
		socklen_t sl = sizeof(so_err);

		if (fd < 0) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_IO, "%s: socket: %s",
					    sv->label, strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS &&
		    errno != EINTR) {
			so_err = errno;
		} else if ((rc = kq_wait(fd, POLLOUT, deadline))) {
			close(fd);
			rc = rc == DECONF_E_TIMEOUT
				     ? deconf_err_set(errstr, errstr_size, rc,
						      "%s: connect timed out after %d ms", sv->label,
						      c->timeout_ms)
				     : deconf_err_set(errstr, errstr_size, DECONF_E_IO,
						      "%s: connect: poll failed", sv->label);
			continue;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &sl)) {
			so_err = errno;
		}
		if (so_err) {
			close(fd);
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_IO, "%s: connect: %s",
					    sv->label, strerror(so_err));
			continue;
		}
		/* one small request at a time: do not wait for ACKs to send */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		rc = 0;
		break;
	}
	freeaddrinfo(res);
	return rc;
}

static int kq_tls_start(struct kq_conn *c, const struct kq_settings *s,
			const struct kq_server *sv, char *errstr, size_t errstr_size)
{
	unsigned char addr[sizeof(struct in6_addr)];
	int is_ip = inet_pton(AF_INET, sv->host, addr) == 1 ||
		    inet_pton(AF_INET6, sv->host, addr) == 1;
	char why[256];

	c->phase = "the TLS handshake";
	ERR_clear_error();
	if (!(c->ssl = SSL_new(c->ctx)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		c->rbio = c->wbio = NULL;
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	}
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	/* as librdkafka: SNI for names, not for addresses; the certificate must
	 * name the host (DNS SAN) or address (IP SAN) unless the check is off */
	if ((!is_ip && SSL_set_tlsext_host_name(c->ssl, sv->host) != 1) ||
	    (s->check_name && (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
								       sv->host) != 1
				      : SSL_set1_host(c->ssl, sv->host) != 1)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_CRYPTO,
				      "%s: TLS server name %s: %s", sv->label, sv->host,
				      kq_ssl_reason(why, sizeof(why)));
	return kq_tls_io(c, KQ_TLS_HANDSHAKE, NULL, 0, NULL,
			 deconf_mono_us() + (int64_t)c->timeout_ms * 1000, errstr, errstr_size);
}

/* One request (header v1, API version 0) and its whole response, within
 * one deadline. *resp (malloc'ed, the caller frees it) holds the response
 * header and body; *corr is the correlation id the parser must find. */
static int kq_exchange(struct kq_conn *c, int16_t api_key, const struct kq_buf *body,
		       uint8_t **resp, size_t *resp_len, int32_t *corr, char *errstr,
		       size_t errstr_size)
{
	int64_t deadline = deconf_mono_us() + (int64_t)c->timeout_ms * 1000;
	struct kq_buf req = { 0 };
	uint8_t sz[4];
	uint32_t size;
	int rc;

	*resp = NULL;
	*resp_len = 0;
	c->corr = c->corr == INT32_MAX ? 1 : c->corr + 1;
	*corr = c->corr;
	kq_put_i32(&req, 0); /* the size, set below */
	kq_put_i16(&req, api_key);
	kq_put_i16(&req, 0);
	kq_put_i32(&req, *corr);
	kq_put_str(&req, KQ_CLIENT_ID);
	kq_put(&req, body->p, body->len);
	if ((rc = req.rc ? req.rc : body->rc)) {
		free(req.p);
		return deconf_err_set(errstr, errstr_size, rc, "%s: %s request: %s", c->server,
				      c->phase, deconf_strerror(rc));
	}
	size = (uint32_t)(req.len - 4);
	for (int i = 0; i < 4; i++)
		req.p[i] = (uint8_t)(size >> (24 - 8 * i));
	rc = kq_write_full(c, req.p, req.len, deadline, errstr, errstr_size);
	free(req.p);
	if (rc || (rc = kq_read_full(c, sz, 4, deadline, errstr, errstr_size)))
		return rc;
	size = (uint32_t)sz[0] << 24 | (uint32_t)sz[1] << 16 | (uint32_t)sz[2] << 8 | sz[3];
	if (size > INT32_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s: %s response with a negative size", c->server, c->phase);
	if (size > BRK_KQUOTA_RESPONSE_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_TOOBIG,
				      "%s: %s response announces %" PRIu32 " bytes (at most %d "
				      "taken; is this a Kafka listener of that protocol?)",
				      c->server, c->phase, size, BRK_KQUOTA_RESPONSE_MAX);
	if (size < 4)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s: %s response of %" PRIu32 " bytes, shorter than its header",
				      c->server, c->phase, size);
	if (!(*resp = malloc(size)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	if ((rc = kq_read_full(c, *resp, size, deadline, errstr, errstr_size))) {
		free(*resp);
		*resp = NULL;
		return rc;
	}
	*resp_len = size;
	return 0;
}

/* "server: what the parser said" */
static int kq_parsed(const struct kq_conn *c, int rc, const char *why, char *errstr,
		     size_t errstr_size)
{
	return rc ? deconf_err_set(errstr, errstr_size, rc, "%s: %s", c->server, why) : 0;
}

static int kq_connect_one(struct kq_conn *c, const struct kq_settings *s,
			  const struct kq_server *sv, char *errstr, size_t errstr_size)
{
	struct kq_buf none = { 0 };
	uint8_t *resp = NULL;
	size_t len;
	int32_t corr;
	char why[512];
	int rc;

	snprintf(c->server, sizeof(c->server), "%s", sv->label);
	if ((rc = kq_tcp(c, sv, errstr, errstr_size)) ||
	    (s->tls && (rc = kq_tls_start(c, s, sv, errstr, errstr_size))))
		return rc;
	c->phase = "ApiVersions";
	if ((rc = kq_exchange(c, KQ_API_VERSIONS, &none, &resp, &len, &corr, errstr, errstr_size)))
		return rc;
	rc = brk_kquota_parse_api_versions(resp, len, corr, why, sizeof(why));
	free(resp);
	return kq_parsed(c, rc, why, errstr, errstr_size);
}

/* Connect to the first bootstrap server that answers ApiVersions with
 * both quota APIs. On failure c holds nothing (kq_free is still safe). */
static int kq_open(struct kq_conn *c, const struct deconf_conf *conf, char *errstr,
		   size_t errstr_size)
{
	struct kq_server *sv = NULL;
	struct kq_settings s;
	size_t n = 0, off = 0;
	char why[1024];
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if ((rc = kq_settings_get(conf, &s, errstr, errstr_size)))
		return rc;
	c->timeout_ms = s.timeout_ms;
	if (!(sv = calloc(KQ_SERVERS_MAX, sizeof(*sv))))
		return deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
	if ((rc = kq_servers(s.servers, sv, KQ_SERVERS_MAX, &n, errstr, errstr_size)) ||
	    (s.tls && (rc = kq_tls_ctx(c, &s, errstr, errstr_size))))
		goto out;
	if (errstr && errstr_size)
		errstr[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!(rc = kq_connect_one(c, &s, &sv[i], why, sizeof(why))))
			goto out;
		kq_close(c);
		/* the cluster's answer, not one server's trouble: do not go on */
		if (rc == DECONF_E_VERSION || rc == DECONF_E_NOMEM) {
			deconf_err_set(errstr, errstr_size, rc, "%s", why);
			goto out;
		}
		kq_append(errstr, errstr_size, &off, "%s%s", off ? "; " : "", why);
	}
out:
	if (rc)
		kq_free(c);
	free(sv);
	return rc;
}

static int kq_describe(struct kq_conn *c, const char *user, struct brk_kquota *out,
		       char *errstr, size_t errstr_size)
{
	struct kq_buf b = { 0 };
	uint8_t *resp = NULL;
	char why[512];
	size_t len;
	int32_t corr;
	int rc;

	kq_init(out, user);
	kq_put_i32(&b, 1); /* components */
	kq_put_str(&b, KQ_USER_ENTITY);
	kq_put_i8(&b, 0); /* match type: exact name */
	kq_put_str(&b, user);
	kq_put_i8(&b, 1); /* strict: not the user's (user, client-id) entities */
	c->phase = "DescribeClientQuotas";
	rc = kq_exchange(c, KQ_API_DESCRIBE, &b, &resp, &len, &corr, errstr, errstr_size);
	free(b.p);
	if (rc)
		return rc;
	rc = brk_kquota_parse_describe(resp, len, corr, user, out, why, sizeof(why));
	free(resp);
	return kq_parsed(c, rc, why, errstr, errstr_size);
}

static void kq_show(char *buf, size_t size, double v)
{
	if (brk_kquota_is_set(v))
		snprintf(buf, size, "%.17g", v);
	else
		snprintf(buf, size, "none");
}

/* Alter users want[idx[0..n)] (n <= KQ_ALTER_BATCH) from have to want. */
static int kq_alter(struct kq_conn *c, const struct brk_kquota *want,
		    const struct brk_kquota *have, const size_t *idx, size_t n, char *errstr,
		    size_t errstr_size)
{
	const char *users[KQ_ALTER_BATCH];
	struct kq_buf b = { 0 };
	uint8_t *resp = NULL;
	char why[2048];
	size_t len;
	int32_t corr;
	int rc;

	kq_put_i32(&b, (int32_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct brk_kquota *w = &want[idx[i]], *h = &have[idx[i]];
		char from[3][32], to[3][32];
		int32_t ops = 0;

		users[i] = w->user;
		kq_put_i32(&b, 1);
		kq_put_str(&b, KQ_USER_ENTITY);
		kq_put_str(&b, w->user);
		for (int pass = 0; pass < 2; pass++) {
			if (pass)
				kq_put_i32(&b, ops);
			for (int k = 0; k < 3; k++) {
				double wv = kq_val(w, k), hv = kq_val(h, k);
				int set = brk_kquota_is_set(wv), had = brk_kquota_is_set(hv);
				if (!(set && (!had || wv != hv)) && !(!set && had))
					continue;
				if (!pass) {
					ops++;
					continue;
				}
				kq_put_str(&b, kq_keys[k]);
				kq_put_f64(&b, set ? wv : 0.0);
				kq_put_i8(&b, !set); /* remove */
			}
		}
		for (int k = 0; k < 3; k++) {
			kq_show(from[k], sizeof(from[k]), kq_val(h, k));
			kq_show(to[k], sizeof(to[k]), kq_val(w, k));
		}
		deconf_log(DECONF_LOG_INFO, "KQUOTA",
			   "%s: User:%s: producer_byte_rate %s -> %s, consumer_byte_rate %s -> %s, "
			   "request_percentage %s -> %s",
			   c->server, w->user, from[0], to[0], from[1], to[1], from[2], to[2]);
	}
	kq_put_i8(&b, 0); /* validate only: no */
	c->phase = "AlterClientQuotas";
	rc = kq_exchange(c, KQ_API_ALTER, &b, &resp, &len, &corr, errstr, errstr_size);
	free(b.p);
	if (rc)
		return rc;
	rc = brk_kquota_parse_alter(resp, len, corr, users, n, why, sizeof(why));
	free(resp);
	return kq_parsed(c, rc, why, errstr, errstr_size);
}

static int kq_user_valid(const char *user)
{
	size_t len = user ? strnlen(user, BRK_KQUOTA_USER_MAX + 1) : 0;

	if (!len || len > BRK_KQUOTA_USER_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)user[i] <= 0x20 || (unsigned char)user[i] >= 0x7f)
			return 0;
	return 1;
}

static int kq_check(const struct brk_kquota *q, char *errstr, size_t errstr_size)
{
	if (!kq_user_valid(q->user))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "quota user '%.*s': not 1..%d bytes of printable ASCII "
				      "without spaces",
				      BRK_KQUOTA_USER_MAX, q->user, BRK_KQUOTA_USER_MAX);
	for (int k = 0; k < 3; k++) {
		double v = kq_val(q, k);
		if (!brk_kquota_is_set(v))
			continue;
		if (!isfinite(v) || v <= 0)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "User:%s: %s = %g: not a number above 0", q->user,
					      kq_keys[k], v);
		/* Kafka takes the byte rates as longs and refuses fractions */
		if (k < 2 && (v > 9007199254740992.0 || (double)(int64_t)v != v))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "User:%s: %s = %g: not a whole number of bytes per "
					      "second (at most 2^53)",
					      q->user, kq_keys[k], v);
	}
	return 0;
}

/* Describe the altered users until the server shows what was set: Kafka
 * applies altered quotas to its brokers' metadata asynchronously. */
static int kq_await(struct kq_conn *c, const struct brk_kquota *want, size_t *idx, size_t n,
		    char *errstr, size_t errstr_size)
{
	int64_t deadline = deconf_mono_us() + (int64_t)c->timeout_ms * 1000;
	struct brk_kquota now;
	int rc;

	while (n) {
		size_t keep = 0;
		for (size_t i = 0; i < n; i++) {
			if ((rc = kq_describe(c, want[idx[i]].user, &now, errstr, errstr_size)))
				return rc;
			if (!brk_kquota_equal(&want[idx[i]], &now))
				idx[keep++] = idx[i];
		}
		if (!(n = keep))
			break;
		if (deconf_mono_us() >= deadline)
			return deconf_err_set(errstr, errstr_size, DECONF_E_TIMEOUT,
					      "%s: User:%s: altered, but the server still describes "
					      "other quotas after %d ms",
					      c->server, want[idx[0]].user, c->timeout_ms);
		nanosleep(&(struct timespec){ .tv_nsec = KQ_AWAIT_MS * 1000000L }, NULL);
	}
	return 0;
}

int brk_kquota_apply(const struct deconf_conf *conf, const struct brk_kquota *want, size_t n,
		     size_t *changed, char *errstr, size_t errstr_size)
{
	struct brk_kquota *have = NULL;
	struct kq_conn c = { .fd = -1 };
	size_t *idx = NULL, n_idx = 0, done = 0;
	int rc;

	if (changed)
		*changed = 0;
	if (n && !want)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL, "no quotas given");
	for (size_t i = 0; i < n; i++) {
		if ((rc = kq_check(&want[i], errstr, errstr_size)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(want[i].user, want[j].user))
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "User:%s is given twice", want[i].user);
	}
	if (!n)
		return 0;
	if (!(have = calloc(n, sizeof(*have))) || !(idx = calloc(n, sizeof(*idx)))) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = kq_open(&c, conf, errstr, errstr_size)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((rc = kq_describe(&c, want[i].user, &have[i], errstr, errstr_size)))
			goto out;
		if (!brk_kquota_equal(&want[i], &have[i]))
			idx[n_idx++] = i;
	}
	for (size_t off = 0; off < n_idx; off += KQ_ALTER_BATCH) {
		size_t cnt = n_idx - off < KQ_ALTER_BATCH ? n_idx - off : KQ_ALTER_BATCH;
		if ((rc = kq_alter(&c, want, have, idx + off, cnt, errstr, errstr_size)))
			goto out;
		done += cnt;
		if (changed)
			*changed = done;
	}
	rc = kq_await(&c, want, idx, n_idx, errstr, errstr_size);
out:
	kq_free(&c);
	free(have);
	free(idx);
	return rc;
}

int brk_kquota_describe(const struct deconf_conf *conf, const char *user,
			struct brk_kquota *out, char *errstr, size_t errstr_size)
{
	struct kq_conn c = { .fd = -1 };
	int rc;

	kq_init(out, user && strlen(user) <= BRK_KQUOTA_USER_MAX ? user : "");
	if (!kq_user_valid(user))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "quota user: not 1..%d bytes of printable ASCII without "
				      "spaces",
				      BRK_KQUOTA_USER_MAX);
	if (!(rc = kq_open(&c, conf, errstr, errstr_size)))
		rc = kq_describe(&c, user, out, errstr, errstr_size);
	kq_free(&c);
	return rc;
}
