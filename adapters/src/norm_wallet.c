/* norm_wallet.c — Bitcoin and Ethereum address normalizers. */

/*
 * SHA-256d of a 21-byte payload is two SHA-256 compressions; the one-shot
 * SHA256() of OpenSSL 3 fetches an EVP method on every call, several times
 * the cost. The low-level calls are deprecated but still the fast path (as
 * in proto/src/token.c).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <string.h>

#include "deconf/err.h"
#include "norm_internal.h"

/* -------------------------------------------------------- BTC base58check */

/*
 * Legacy addresses: base58 of version (1) + hash160 (20) + checksum (4),
 * checksum = first 4 bytes of SHA-256(SHA-256(version + hash160)).
 * Versions: 0x00 P2PKH and 0x05 P2SH on mainnet, 0x6f and 0xc4 on testnet.
 * Kept exactly as typed: base58 is case-sensitive.
 */
#define B58_LEN 25

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Index of c in alphabet (64 characters at most), -1 if absent. */
static int alphabet_index(const char *alphabet, int c)
{
	const char *p = c > 0 && c < 128 ? memchr(alphabet, c, strlen(alphabet)) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

static void sha256d(const uint8_t *in, size_t n, uint8_t out[32])
{
	SHA256_CTX c;
	uint8_t h[32];

	SHA256_Init(&c);
	SHA256_Update(&c, in, n);
	SHA256_Final(h, &c);
	SHA256_Init(&c);
	SHA256_Update(&c, h, sizeof(h));
	SHA256_Final(out, &c);
}

static int btc_base58(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		      size_t errstr_size)
{
	uint8_t b[B58_LEN] = { 0 }, sum[32];
	size_t ones = 0, zeros = 0, used = 0;

	/* 25 bytes are 26 to 35 base58 digits */
	if (n < 26 || n > 35)
		goto bad_len;
	for (size_t i = 0; i < n; i++) {
		int x = alphabet_index(b58_alphabet, (unsigned char)v[i]);
		if (x < 0)
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "character %zu is not base58 (a legacy bitcoin "
					      "address has no 0, O, I or l)",
					      i + 1);
		/* b = b * 58 + x, touching only the bytes in use so far */
		unsigned carry = (unsigned)x;
		size_t k = 0;
		for (; (carry || k < used) && k < B58_LEN; k++) {
			carry += 58u * b[B58_LEN - 1 - k];
			b[B58_LEN - 1 - k] = (uint8_t)carry;
			carry >>= 8;
		}
		if (carry)
			goto bad_len;
		used = k;
	}
	/* Each leading '1' is one leading zero byte; any other count means the
	 * address does not decode to exactly 25 bytes. */
	while (ones < n && v[ones] == '1')
		ones++;
	while (zeros < B58_LEN && b[zeros] == 0)
		zeros++;
	if (ones != zeros)
		goto bad_len;
	if (b[0] != 0x00 && b[0] != 0x05 && b[0] != 0x6f && b[0] != 0xc4)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "not a bitcoin address (version byte 0x%02x)", b[0]);
	sha256d(b, 21, sum);
	if (memcmp(sum, b + 21, 4))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the bitcoin address checksum does not match: mistyped?");
	memcpy(out, v, n);
	*out_len = n;
	return DECONF_OK;
bad_len:
	return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
			      "not a bitcoin address (wrong length)");
}

/* ------------------------------------------------------- BTC bech32(m) */

/*
 * Segwit addresses (BIP 173, BIP 350): hrp "bc" (mainnet) or "tb"
 * (testnet), '1', data in the bech32 alphabet ending in a 6-character
 * checksum: bech32 for witness version 0 (20- or 32-byte program), bech32m
 * for versions 1 to 16 (2 to 40 bytes). One case throughout; canonical is
 * lower case.
 */
#define BECH32_MAX 90
#define BECH32_CONST 1u
#define BECH32M_CONST 0x2bc830a3u

static const char bech32_alphabet[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_polymod_step(uint32_t pre)
{
	uint8_t b = (uint8_t)(pre >> 25);
	return ((pre & 0x1ffffff) << 5) ^ (-((b >> 0) & 1) & 0x3b6a57b2u) ^
	       (-((b >> 1) & 1) & 0x26508e6du) ^ (-((b >> 2) & 1) & 0x1ea119fau) ^
	       (-((b >> 3) & 1) & 0x3d4233ddu) ^ (-((b >> 4) & 1) & 0x2a1462b3u);
}

static int btc_bech32(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		      size_t errstr_size)
{
	char s[BECH32_MAX];
	uint8_t data[BECH32_MAX], prog[40];
	size_t sep, nd, plen = 0;
	int lower = 0, upper = 0;
	uint32_t chk = 1, acc = 0;
	unsigned bits = 0;

	if (n > BECH32_MAX)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "not a bitcoin address (longer than %d characters)",
				      BECH32_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 33 || c > 126)
			goto bad_char;
		lower |= adp_is_lower(c);
		upper |= adp_is_upper(c);
		s[i] = (char)adp_lower(c);
	}
	if (lower && upper)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "a bech32 address is all lower or all upper case, never "
				      "mixed");
	for (sep = n; sep > 0 && s[sep - 1] != '1'; sep--)
		;
	sep--; /* the caller saw "bc1"/"tb1", so there is a '1' */
	if (sep != 2 || n - sep - 1 < 7)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "not a bitcoin address (bech32 too short or wrong prefix)");
	for (size_t i = 0; i < sep; i++)
		chk = bech32_polymod_step(chk) ^ ((uint8_t)s[i] >> 5);
	chk = bech32_polymod_step(chk);
	for (size_t i = 0; i < sep; i++)
		chk = bech32_polymod_step(chk) ^ ((uint8_t)s[i] & 31);
	nd = n - sep - 1;
	for (size_t i = 0; i < nd; i++) {
		int x = alphabet_index(bech32_alphabet, (unsigned char)s[sep + 1 + i]);
		if (x < 0)
			goto bad_char;
		data[i] = (uint8_t)x;
		chk = bech32_polymod_step(chk) ^ data[i];
	}
	if (chk != BECH32_CONST && chk != BECH32M_CONST)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "the bitcoin address checksum does not match: mistyped?");

	/* witness version, then the program regrouped from 5 to 8 bits */
	if (data[0] > 16)
		goto bad_program;
	for (size_t i = 1; i < nd - 6; i++) {
		acc = (acc << 5) | data[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (plen == sizeof(prog))
				goto bad_program;
			prog[plen++] = (uint8_t)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	if (bits >= 5 || acc)
		goto bad_program; /* more than 4 bits of padding, or non-zero padding */
	if (plen < 2 || plen > 40 || (data[0] == 0 && plen != 20 && plen != 32))
		goto bad_program;
	if ((data[0] == 0) != (chk == BECH32_CONST))
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "witness version %u needs the %s checksum (BIP 350)",
				      data[0], data[0] ? "bech32m" : "bech32");
	memcpy(out, s, n);
	*out_len = n;
	return DECONF_OK;
bad_char:
	return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
			      "not a bitcoin address (a bech32 address has no 1, b, i or o "
			      "after the prefix)");
bad_program:
	return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
			      "not a bitcoin address (bad witness program)");
}

int adp_norm_btc(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		 size_t errstr_size)
{
	if (n >= 3 && (adp_has_prefix_ci(v, n, "bc1") || adp_has_prefix_ci(v, n, "tb1")))
		return btc_bech32(v, n, out, out_len, errstr, errstr_size);
	return btc_base58(v, n, out, out_len, errstr, errstr_size);
}

/* ------------------------------------------------------------- Keccak-256 */

/* OpenSSL 3.0 has SHA3 but not Keccak-256 with its original padding (that
 * arrived in 3.2), so Keccak-f[1600] is here, after the reference. */

static const uint64_t keccak_rc[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};
#define RHO_PI(j, r)                    \
	do {                            \
		b = st[j];              \
		st[j] = rotl64(t, r);   \
		t = b;                  \
	} while (0)

static uint64_t rotl64(uint64_t x, unsigned k)
{
	return (x << k) | (x >> (64 - k));
}

static void keccak_f1600(uint64_t st[25])
{
	for (int r = 0; r < 24; r++) {
		/* theta, written out: the modular indexing of the reference
		 * version costs ten times more when the compiler keeps the loops */
		uint64_t c0 = st[0] ^ st[5] ^ st[10] ^ st[15] ^ st[20];
		uint64_t c1 = st[1] ^ st[6] ^ st[11] ^ st[16] ^ st[21];
		uint64_t c2 = st[2] ^ st[7] ^ st[12] ^ st[17] ^ st[22];
		uint64_t c3 = st[3] ^ st[8] ^ st[13] ^ st[18] ^ st[23];
		uint64_t c4 = st[4] ^ st[9] ^ st[14] ^ st[19] ^ st[24];
		uint64_t d0 = c4 ^ rotl64(c1, 1), d1 = c0 ^ rotl64(c2, 1), d2 = c1 ^ rotl64(c3, 1);
		uint64_t d3 = c2 ^ rotl64(c4, 1), d4 = c3 ^ rotl64(c0, 1);
		for (int j = 0; j < 25; j += 5) {
			st[j] ^= d0;
			st[j + 1] ^= d1;
			st[j + 2] ^= d2;
			st[j + 3] ^= d3;
			st[j + 4] ^= d4;
		}
		/* rho, pi: lane j takes the previous lane rotated */
		uint64_t t = st[1], b;
		RHO_PI(10, 1); RHO_PI(7, 3); RHO_PI(11, 6); RHO_PI(17, 10);
		RHO_PI(18, 15); RHO_PI(3, 21); RHO_PI(5, 28); RHO_PI(16, 36);
		RHO_PI(8, 45); RHO_PI(21, 55); RHO_PI(24, 2); RHO_PI(4, 14);
		RHO_PI(15, 27); RHO_PI(23, 41); RHO_PI(19, 56); RHO_PI(13, 8);
		RHO_PI(12, 25); RHO_PI(2, 43); RHO_PI(20, 62); RHO_PI(14, 18);
		RHO_PI(22, 39); RHO_PI(9, 61); RHO_PI(6, 20); RHO_PI(1, 44);
		/* chi */
		for (int j = 0; j < 25; j += 5) {
			uint64_t a0 = st[j], a1 = st[j + 1], a2 = st[j + 2], a3 = st[j + 3],
				 a4 = st[j + 4];
			st[j] = a0 ^ (~a1 & a2);
			st[j + 1] = a1 ^ (~a2 & a3);
			st[j + 2] = a2 ^ (~a3 & a4);
			st[j + 3] = a3 ^ (~a4 & a0);
			st[j + 4] = a4 ^ (~a0 & a1);
		}
		/* iota */
		st[0] ^= keccak_rc[r];
	}
}

void adp_keccak256(const uint8_t *in, size_t len, uint8_t out[32])
{
	enum { RATE = 136 };
	uint64_t st[25] = { 0 };
	uint8_t block[RATE];

	for (;;) {
		size_t take = len < RATE ? len : RATE;
		memset(block, 0, sizeof(block));
		memcpy(block, in, take);
		if (take < RATE) { /* last block: Keccak padding 0x01 ... 0x80 */
			block[take] ^= 0x01;
			block[RATE - 1] ^= 0x80;
		}
		for (int i = 0; i < RATE / 8; i++) {
			uint64_t lane = 0;
			for (int k = 7; k >= 0; k--)
				lane = lane << 8 | block[8 * i + k];
			st[i] ^= lane;
		}
		keccak_f1600(st);
		if (take < RATE)
			break;
		in += RATE;
		len -= RATE;
	}
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(st[i / 8] >> (8 * (i % 8)));
}

/* -------------------------------------------------------------------- ETH */

/*
 * "0x" + 40 hex digits, lower-cased. The "0x" may be missing or "0X" in
 * the input. A mixed-case address carries an EIP-55 checksum (a letter is
 * upper case iff the matching nibble of Keccak-256(lower-case hex) is >= 8),
 * which is checked; all-lower and all-upper addresses have none.
 */
int adp_norm_eth(const char *v, size_t n, uint8_t *out, size_t *out_len, char *errstr,
		 size_t errstr_size)
{
	char hex[40];
	uint8_t h[32];
	int lower = 0, upper = 0;
	size_t skip = 0;

	if (n == 42 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		skip = 2;
		v += 2;
		n -= 2;
	}
	if (n != 40)
		return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				      "an Ethereum address is 0x and 40 hex digits");
	for (size_t i = 0; i < 40; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!adp_is_xdigit(c))
			return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
					      "an Ethereum address is 0x and 40 hex digits "
					      "(character %zu is not hex)",
					      i + 1 + skip);
		lower |= c >= 'a' && c <= 'f';
		upper |= c >= 'A' && c <= 'F';
		hex[i] = (char)adp_lower(c);
	}
	if (lower && upper) {
		adp_keccak256((const uint8_t *)hex, sizeof(hex), h);
		for (size_t i = 0; i < 40; i++) {
			unsigned nib = (h[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
			if (adp_is_alpha((unsigned char)v[i]) && adp_is_upper((unsigned char)v[i]) !=
								    (nib >= 8))
				return deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
						      "the address's mixed case is not a valid "
						      "EIP-55 checksum: mistyped?");
		}
	}
	out[0] = '0';
	out[1] = 'x';
	memcpy(out + 2, hex, 40);
	*out_len = 42;
	return DECONF_OK;
}
