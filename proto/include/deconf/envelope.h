/*
 * deconf/envelope.h — the signed Envelope every deconf record travels in.
 *
 * The signature is Ed25519 over
 *     "deconf.v1.Envelope" 0x00 || u32be(version) || u32be(type) || payload
 * so a flipped bit in version, type, payload or signature fails verification.
 * One signature covers a whole payload (a Submission of many cases).
 *
 * Parsing outside input: the record length is checked against the caller's
 * maximum before protobuf-c sees it; protobuf-c allocates through a budgeted
 * allocator (so a small record cannot make it allocate without bound); and
 * messages carrying fields this build does not know are refused, since the
 * broker re-emits what it reads.
 *
 * Every message returned by these functions is freed with deconf_msg_free().
 */
#ifndef DECONF_ENVELOPE_H
#define DECONF_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "deconf.pb-c.h"
#include "deconf/sign.h"

#define DECONF_ENVELOPE_VERSION 1
/* Default maximum record size (the Kafka default message.max.bytes). */
#define DECONF_ENVELOPE_MAX_DEFAULT (1024 * 1024)

/*
 * Wrap payload in an Envelope of the given type, signed with key (NULL:
 * unsigned, for tests and tools only). signer is shown to people (agency id
 * or "broker"). On success *out is malloc'ed, owned by the caller.
 */
int deconf_envelope_pack(Deconf__V1__MessageType type, const uint8_t *payload,
			 size_t payload_len, const char *signer,
			 const struct deconf_sign_key *key, uint8_t **out, size_t *out_len);

/* Serialize inner, then deconf_envelope_pack() it. */
int deconf_envelope_seal(const ProtobufCMessage *inner, Deconf__V1__MessageType type,
			 const char *signer, const struct deconf_sign_key *key,
			 uint8_t **out, size_t *out_len);

/*
 * Parse an Envelope. Returns 0, DECONF_E_TOOBIG (len > max_size),
 * DECONF_E_MALFORMED, DECONF_E_UNKNOWN (unknown fields) or DECONF_E_VERSION,
 * with errstr saying why. *out is freed with deconf_msg_free().
 */
int deconf_envelope_unpack(const uint8_t *buf, size_t len, size_t max_size,
			   Deconf__V1__Envelope **out, char *errstr, size_t errstr_size);

/* 0 if signed by key; DECONF_E_UNSIGNED or DECONF_E_BADSIG otherwise. */
int deconf_envelope_verify(const Deconf__V1__Envelope *env,
			   const struct deconf_sign_key *key);

/*
 * Parse env's payload as a desc message, refusing unknown fields.
 * Returns 0, DECONF_E_MALFORMED or DECONF_E_UNKNOWN.
 */
int deconf_envelope_payload(const Deconf__V1__Envelope *env,
			    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
			    char *errstr, size_t errstr_size);

/*
 * All of it: unpack (size, parse, version), check the type is `type`
 * (DECONF_E_INVAL otherwise), verify with key, parse the payload as desc.
 * The error codes are those of the steps above.
 */
int deconf_envelope_open(const uint8_t *buf, size_t len, size_t max_size,
			 Deconf__V1__MessageType type, const struct deconf_sign_key *key,
			 const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
			 char *errstr, size_t errstr_size);

/* 1 if m or any message inside it carries unknown fields. */
int deconf_msg_has_unknown(const ProtobufCMessage *m);

/* Free a message returned by this module. NULL-safe. */
void deconf_msg_free(void *msg);

#endif
