/* token.c — federation key file and HMAC-SHA256 tokens. */

/*
 * The tokenizer keeps precomputed SHA256_CTX states and copies them by
 * value; OpenSSL 3 marks the SHA256_* functions deprecated in favour of
 * EVP, whose context copies allocate. Tokenizing is the adapter's hot path
 * (goal: >= 1M/s per core), so use them knowingly.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconf.pb-c.h"
#include "deconf/err.h"
#include "deconf/token.h"
#include "deconf/util.h"

#define KEYFILE_MAX (1024 * 1024)
#define KEYFILE_MAGIC "deconf-keyring 1"
#define TOKEN_DOMAIN "deconf:v1:"

struct epoch_key {
	uint32_t epoch;
	int64_t created;
	uint8_t key[DECONF_KEY_LEN];
};

struct deconf_keyring {
	struct epoch_key *keys; /* sorted by epoch */
	size_t n;
};

/* ----------------------------------------------------------- type names */

static const char *const type_names[] = {
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_PHONE] = "phone",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EMAIL] = "email",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IP] = "ip",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_USERNAME] = "username",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_URL] = "url",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_DOMAIN] = "domain",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5] = "md5",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA1] = "sha1",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_SHA256] = "sha256",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_BTC] = "btc",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_ETH] = "eth",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_IMEI] = "imei",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MAC] = "mac",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_VEHICLE] = "vehicle",
	[DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_EVENT_CELL] = "event_cell",
};
#define N_TYPES ((int)(sizeof(type_names) / sizeof(type_names[0])))

const char *deconf_indicator_type_name(int type)
{
	if (type <= 0 || type >= N_TYPES)
		return NULL;
	return type_names[type];
}

int deconf_indicator_type_parse(const char *name)
{
	for (int i = 1; i < N_TYPES; i++)
		if (type_names[i] && !strcmp(type_names[i], name))
			return i;
	return 0;
}

/* ------------------------------------------------------------- keyring */

int deconf_keyring_new(struct deconf_keyring **out)
{
	return (*out = calloc(1, sizeof(**out))) ? DECONF_OK : DECONF_E_NOMEM;
}

void deconf_keyring_free(struct deconf_keyring *ring)
{
	if (!ring)
		return;
	if (ring->keys)
		OPENSSL_cleanse(ring->keys, ring->n * sizeof(*ring->keys));
	free(ring->keys);
	free(ring);
}

int deconf_keyring_add(struct deconf_keyring *ring, uint32_t epoch,
		       const uint8_t key[DECONF_KEY_LEN], int64_t created)
{
	struct epoch_key *k;
	size_t i;

	if (epoch == 0)
		return DECONF_E_INVAL;
	for (i = 0; i < ring->n; i++)
		if (ring->keys[i].epoch == epoch)
			return DECONF_E_EXISTS;
	if (!(k = malloc((ring->n + 1) * sizeof(*k))))
		return DECONF_E_NOMEM;
	/* Insert in order; wipe the old array before freeing it. */
	for (i = 0; i < ring->n && ring->keys[i].epoch < epoch; i++)
		;
	if (ring->n) {
		memcpy(k, ring->keys, i * sizeof(*k));
		memcpy(k + i + 1, ring->keys + i, (ring->n - i) * sizeof(*k));
		OPENSSL_cleanse(ring->keys, ring->n * sizeof(*k));
	}
	free(ring->keys);
	k[i].epoch = epoch;
	k[i].created = created;
	memcpy(k[i].key, key, DECONF_KEY_LEN);
	ring->keys = k;
	ring->n++;
	return DECONF_OK;
}

int deconf_keyring_rotate(struct deconf_keyring *ring, uint32_t *epoch)
{
	uint8_t key[DECONF_KEY_LEN];
	uint32_t next = deconf_keyring_current(ring) + 1;
	int rc;

	if (RAND_priv_bytes(key, sizeof(key)) != 1)
		return DECONF_E_CRYPTO;
	rc = deconf_keyring_add(ring, next, key, deconf_now_ms() / 1000);
	OPENSSL_cleanse(key, sizeof(key));
	if (!rc && epoch)
		*epoch = next;
	return rc;
}

uint32_t deconf_keyring_current(const struct deconf_keyring *ring)
{
	return ring->n ? ring->keys[ring->n - 1].epoch : 0;
}

size_t deconf_keyring_count(const struct deconf_keyring *ring)
{
	return ring->n;
}

uint32_t deconf_keyring_epoch_at(const struct deconf_keyring *ring, size_t i)
{
	return i < ring->n ? ring->keys[i].epoch : 0;
}

const uint8_t *deconf_keyring_key(const struct deconf_keyring *ring, uint32_t epoch)
{
	for (size_t i = 0; i < ring->n; i++)
		if (ring->keys[i].epoch == epoch)
			return ring->keys[i].key;
	return NULL;
}

/* Parse one "epoch N HEX created T" line. */
static int parse_epoch_line(struct deconf_keyring *ring, char *line, const char *path,
			    int lineno, char *errstr, size_t errstr_size)
{
	char hex[2 * DECONF_KEY_LEN + 2];
	uint8_t key[DECONF_KEY_LEN];
	unsigned long epoch;
	long long created = 0;
	int n = 0, rc;

	const char *c = strstr(line, " created ");

	/* sscanf's %lu and %lld would take signs and wrap: digits only. */
	if (c)
		for (c += 9; *c == ' ' || *c == '\t'; c++)
			;
	if (strncmp(line, "epoch ", 6) || !isdigit((unsigned char)line[6]) || !c ||
	    !isdigit((unsigned char)*c) || strspn(c, "0123456789") > 15 ||
	    sscanf(line, "epoch %lu %65s created %lld %n", &epoch, hex, &created, &n) < 3 ||
	    line[n] != '\0')
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s:%d: expected 'epoch N <64 hex digits> created "
				      "<unix time>'",
				      path, lineno);
	if (epoch == 0 || epoch > UINT32_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s:%d: epoch must be 1..%" PRIu32, path, lineno,
				      UINT32_MAX);
	if (deconf_hex_decode(key, sizeof(key), hex, strlen(hex)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s:%d: the key must be exactly 64 hex digits", path,
				      lineno);
	rc = deconf_keyring_add(ring, (uint32_t)epoch, key, created);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc == DECONF_E_EXISTS)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "%s:%d: epoch %lu appears twice", path, lineno, epoch);
	return rc;
}

int deconf_keyring_load(struct deconf_keyring **out, const char *path, char *errstr,
			size_t errstr_size)
{
	struct deconf_keyring *ring = NULL;
	char *data = NULL, *line, *save = NULL;
	size_t len = 0;
	int rc, lineno = 0, seen_magic = 0;

	*out = NULL;
	if ((rc = deconf_file_read(path, KEYFILE_MAX, 1, &data, &len, errstr, errstr_size)))
		return rc;
	if ((rc = deconf_keyring_new(&ring)))
		goto fail;
	/* strtok_r would skip empty lines and lose the count; split by hand. */
	for (line = data; line; line = save) {
		char *nl = memchr(line, '\n', len - (size_t)(line - data)), *end;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		end = line + strlen(line);
		/* A NUL would end the line early and hide the lines after it. */
		if (end != (nl ? nl : data + len)) {
			rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
					    "%s:%d: contains a NUL byte", path, lineno);
			goto fail;
		}
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#')
			continue;
		if (!seen_magic) {
			if (strcmp(line, KEYFILE_MAGIC)) {
				rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
						    "%s:%d: not a deconf key file (expected "
						    "'" KEYFILE_MAGIC "')",
						    path, lineno);
				goto fail;
			}
			seen_magic = 1;
			continue;
		}
		if ((rc = parse_epoch_line(ring, line, path, lineno, errstr, errstr_size)))
			goto fail;
	}
	if (!ring->n) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				    "%s: holds no key epoch", path);
		goto fail;
	}
	OPENSSL_cleanse(data, len);
	free(data);
	*out = ring;
	return DECONF_OK;
fail:
	OPENSSL_cleanse(data, len);
	free(data);
	deconf_keyring_free(ring);
	return rc;
}

int deconf_keyring_save(const struct deconf_keyring *ring, const char *path,
			int exclusive, char *errstr, size_t errstr_size)
{
	size_t cap = 256 + ring->n * 128, len = 0;
	char *buf = malloc(cap), hex[2 * DECONF_KEY_LEN + 1];
	int rc;

	if (!buf)
		return DECONF_E_NOMEM;
	len += (size_t)snprintf(buf + len, cap - len,
				"# deconf federation key file. SECRET: give it to member "
				"agencies only,\n# never to the broker's operator.\n" KEYFILE_MAGIC
				"\n");
	for (size_t i = 0; i < ring->n; i++) {
		deconf_hex_encode(hex, ring->keys[i].key, DECONF_KEY_LEN);
		len += (size_t)snprintf(buf + len, cap - len,
					"epoch %" PRIu32 " %s created %" PRId64 "\n",
					ring->keys[i].epoch, hex, ring->keys[i].created);
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	rc = deconf_file_write(path, buf, len, 0600, exclusive, errstr, errstr_size);
	OPENSSL_cleanse(buf, cap);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ tokenizer */

struct deconf_tokenizer {
	uint32_t epoch;
	SHA256_CTX inner; /* after absorbing key ^ ipad */
	SHA256_CTX outer; /* after absorbing key ^ opad */
};

int deconf_tokenizer_new(struct deconf_tokenizer **out,
			 const struct deconf_keyring *ring, uint32_t epoch)
{
	const uint8_t *key = deconf_keyring_key(ring, epoch);
	struct deconf_tokenizer *tk;
	uint8_t pad[SHA256_CBLOCK];

	*out = NULL;
	if (!key)
		return DECONF_E_UNKNOWN;
	if (!(tk = calloc(1, sizeof(*tk))))
		return DECONF_E_NOMEM;
	tk->epoch = epoch;
	/* RFC 2104 with a key shorter than the block: pad with zeros. */
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < DECONF_KEY_LEN; i++)
		pad[i] ^= key[i];
	SHA256_Init(&tk->inner);
	SHA256_Update(&tk->inner, pad, sizeof(pad));
	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < DECONF_KEY_LEN; i++)
		pad[i] ^= key[i];
	SHA256_Init(&tk->outer);
	SHA256_Update(&tk->outer, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
	*out = tk;
	return DECONF_OK;
}

uint32_t deconf_tokenizer_epoch(const struct deconf_tokenizer *tk)
{
	return tk->epoch;
}

void deconf_tokenizer_free(struct deconf_tokenizer *tk)
{
	if (!tk)
		return;
	OPENSSL_cleanse(tk, sizeof(*tk));
	free(tk);
}

int deconf_token(struct deconf_tokenizer *tk, int type, const uint8_t *canonical,
		 size_t len, uint8_t out[DECONF_TOKEN_LEN])
{
	const char *name = deconf_indicator_type_name(type);
	uint8_t digest[SHA256_DIGEST_LENGTH];
	SHA256_CTX ctx;

	if (!name || len > DECONF_CANONICAL_MAX)
		return DECONF_E_INVAL;
	ctx = tk->inner;
	SHA256_Update(&ctx, TOKEN_DOMAIN, sizeof(TOKEN_DOMAIN) - 1);
	SHA256_Update(&ctx, name, strlen(name));
	SHA256_Update(&ctx, ":", 1);
	SHA256_Update(&ctx, canonical, len);
	SHA256_Final(digest, &ctx);
	ctx = tk->outer;
	SHA256_Update(&ctx, digest, sizeof(digest));
	SHA256_Final(digest, &ctx);
	memcpy(out, digest, DECONF_TOKEN_LEN);
	return DECONF_OK;
}
