/* envelope.c — pack, unpack, sign and verify Envelopes. */
#include <stdlib.h>
#include <string.h>

#include "deconf/envelope.h"
#include "deconf/err.h"

static const char sig_domain[] = "deconf.v1.Envelope"; /* + its NUL */
#define SIG_HEADER_LEN (sizeof(sig_domain) + 8)

/* ------------------------------------------------------ budget allocator */

/*
 * protobuf-c may allocate far more than the record's size (each repeated
 * sub-message is a struct plus a pointer). Unpacking goes through this
 * allocator, which refuses to hand out more than a budget proportional to
 * the input, so a crafted record fails as malformed instead of exhausting
 * memory. The budget (64x the record plus 64 KiB) is far above what real
 * messages need (under 10x) yet bounds a 1 MiB record to about 67 MB. Only
 * alloc consults the budget, so free() needs none.
 */
struct budget {
	size_t left;
};

#define BUDGET_FACTOR 64
#define BUDGET_BASE (64 * 1024)

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	max_align_t *block;

	if (b) {
		if (size > b->left)
			return NULL;
		b->left -= size;
	}
	if (!(block = malloc(sizeof(max_align_t) + size)))
		return NULL;
	return block + 1;
}

static void budget_free(void *data, void *ptr)
{
	(void)data;
	if (ptr)
		free((max_align_t *)ptr - 1);
}

static ProtobufCAllocator free_allocator = {
	.alloc = budget_alloc,
	.free = budget_free,
	.allocator_data = NULL,
};

void deconf_msg_free(void *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, &free_allocator);
}

static ProtobufCMessage *unpack_budgeted(const ProtobufCMessageDescriptor *desc,
					 const uint8_t *buf, size_t len)
{
	struct budget b = { .left = BUDGET_BASE + BUDGET_FACTOR * len };
	ProtobufCAllocator a = { .alloc = budget_alloc, .free = budget_free,
				 .allocator_data = &b };

	return protobuf_c_message_unpack(desc, &a, len, buf);
}

/* ------------------------------------------------------------ unknowns */

int deconf_msg_has_unknown(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (m->n_unknown_fields)
		return 1;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v =
				*(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t j = 0; j < n; j++)
				if (v[j] && deconf_msg_has_unknown(v[j]))
					return 1;
		} else {
			const ProtobufCMessage *sub =
				*(const ProtobufCMessage *const *)(base + f->offset);
			if (sub && deconf_msg_has_unknown(sub))
				return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------- sign, verify */

static uint8_t *signed_bytes(uint32_t version, uint32_t type, const uint8_t *payload,
			     size_t len, size_t *out_len)
{
	uint8_t *msg = malloc(SIG_HEADER_LEN + len), *p;

	if (!msg)
		return NULL;
	memcpy(msg, sig_domain, sizeof(sig_domain));
	p = msg + sizeof(sig_domain);
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(version >> (24 - 8 * i));
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(type >> (24 - 8 * i));
	if (len)
		memcpy(p, payload, len);
	*out_len = SIG_HEADER_LEN + len;
	return msg;
}

int deconf_envelope_pack(Deconf__V1__MessageType type, const uint8_t *payload,
			 size_t payload_len, const char *signer,
			 const struct deconf_sign_key *key, uint8_t **out, size_t *out_len)
{
	Deconf__V1__Envelope env = DECONF__V1__ENVELOPE__INIT;
	uint8_t sig[DECONF_SIG_LEN], *buf;
	int rc;

	*out = NULL;
	env.version = DECONF_ENVELOPE_VERSION;
	env.type = type;
	env.payload.data = (uint8_t *)payload;
	env.payload.len = payload_len;
	if (signer) {
		env.signer.data = (uint8_t *)signer;
		env.signer.len = strlen(signer);
	}
	if (key) {
		size_t msg_len;
		uint8_t *msg = signed_bytes(env.version, (uint32_t)type, payload, payload_len,
					    &msg_len);
		if (!msg)
			return DECONF_E_NOMEM;
		rc = deconf_sign(key, msg, msg_len, sig);
		free(msg);
		if (rc)
			return rc;
		env.signature.data = sig;
		env.signature.len = sizeof(sig);
	}
	*out_len = deconf__v1__envelope__get_packed_size(&env);
	if (!(buf = malloc(*out_len ? *out_len : 1)))
		return DECONF_E_NOMEM;
	deconf__v1__envelope__pack(&env, buf);
	*out = buf;
	return DECONF_OK;
}

int deconf_envelope_seal(const ProtobufCMessage *inner, Deconf__V1__MessageType type,
			 const char *signer, const struct deconf_sign_key *key,
			 uint8_t **out, size_t *out_len)
{
	size_t len = protobuf_c_message_get_packed_size(inner);
	uint8_t *payload = malloc(len ? len : 1);
	int rc;

	if (!payload)
		return DECONF_E_NOMEM;
	protobuf_c_message_pack(inner, payload);
	rc = deconf_envelope_pack(type, payload, len, signer, key, out, out_len);
	free(payload);
	return rc;
}

int deconf_envelope_verify(const Deconf__V1__Envelope *env,
			   const struct deconf_sign_key *key)
{
	size_t msg_len;
	uint8_t *msg;
	int rc;

	if (!env->signature.len)
		return DECONF_E_UNSIGNED;
	if (env->signature.len != DECONF_SIG_LEN)
		return DECONF_E_BADSIG;
	if (!(msg = signed_bytes(env->version, (uint32_t)env->type, env->payload.data,
				 env->payload.len, &msg_len)))
		return DECONF_E_NOMEM;
	rc = deconf_verify(key, msg, msg_len, env->signature.data, env->signature.len);
	free(msg);
	return rc;
}

/* ------------------------------------------------------------- unpack */

int deconf_envelope_unpack(const uint8_t *buf, size_t len, size_t max_size,
			   Deconf__V1__Envelope **out, char *errstr, size_t errstr_size)
{
	Deconf__V1__Envelope *env;

	*out = NULL;
	if (len > max_size)
		return deconf_err_set(errstr, errstr_size, DECONF_E_TOOBIG,
				      "record of %zu bytes exceeds the maximum of %zu", len,
				      max_size);
	env = (Deconf__V1__Envelope *)unpack_budgeted(&deconf__v1__envelope__descriptor,
						      buf, len);
	if (!env)
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "record of %zu bytes is not a deconf Envelope", len);
	if (deconf_msg_has_unknown(&env->base)) {
		deconf_msg_free(env);
		return deconf_err_set(errstr, errstr_size, DECONF_E_UNKNOWN,
				      "Envelope carries fields this version does not know");
	}
	if (env->version != DECONF_ENVELOPE_VERSION) {
		unsigned v = env->version;
		deconf_msg_free(env);
		return deconf_err_set(errstr, errstr_size, DECONF_E_VERSION,
				      "Envelope version %u is not supported (expected %d)", v,
				      DECONF_ENVELOPE_VERSION);
	}
	*out = env;
	return DECONF_OK;
}

int deconf_envelope_payload(const Deconf__V1__Envelope *env,
			    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
			    char *errstr, size_t errstr_size)
{
	ProtobufCMessage *m;

	*out = NULL;
	if (!(m = unpack_budgeted(desc, env->payload.data, env->payload.len)))
		return deconf_err_set(errstr, errstr_size, DECONF_E_MALFORMED,
				      "payload is not a valid %s", desc->short_name);
	if (deconf_msg_has_unknown(m)) {
		deconf_msg_free(m);
		return deconf_err_set(errstr, errstr_size, DECONF_E_UNKNOWN,
				      "%s carries fields this version does not know",
				      desc->short_name);
	}
	*out = m;
	return DECONF_OK;
}

int deconf_envelope_open(const uint8_t *buf, size_t len, size_t max_size,
			 Deconf__V1__MessageType type, const struct deconf_sign_key *key,
			 const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
			 char *errstr, size_t errstr_size)
{
	Deconf__V1__Envelope *env;
	int rc;

	*out = NULL;
	if ((rc = deconf_envelope_unpack(buf, len, max_size, &env, errstr, errstr_size)))
		return rc;
	if (env->type != type) {
		rc = deconf_err_set(errstr, errstr_size, DECONF_E_INVAL,
				    "Envelope holds message type %d, expected %d",
				    (int)env->type, (int)type);
		goto out;
	}
	if ((rc = deconf_envelope_verify(env, key))) {
		deconf_err_set(errstr, errstr_size, rc, "%s",
			       rc == DECONF_E_UNSIGNED ? "the record is not signed"
			       : rc == DECONF_E_BADSIG ? "the signature does not verify"
						       : deconf_strerror(rc));
		goto out;
	}
	rc = deconf_envelope_payload(env, desc, out, errstr, errstr_size);
out:
	deconf_msg_free(env);
	return rc;
}
