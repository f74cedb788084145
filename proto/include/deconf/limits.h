/*
 * deconf/limits.h — the wire's size limits, in one place. The adapter
 * refuses input that breaks them before anything is sent; the broker
 * refuses a submission that breaks them at ingest (a signed Reject), so a
 * hostile or buggy adapter cannot make the broker write a record larger
 * than its budget.
 *
 * The budget, end to end:
 *
 *   what                          limit                 enforced by
 *   ---------------------------   -------------------   -------------------------
 *   submission record             ingest.max_record_bytes (default 1 MiB,
 *                                 at most DECONF_SUBMISSION_MAX_LIMIT)
 *                                                       ingest (OVERSIZED)
 *   case_ref                      1..DECONF_CASE_REF_MAX bytes of UTF-8, no
 *                                 control characters    adapter input, ingest
 *   each point-of-contact field   DECONF_POC_FIELD_MAX bytes of UTF-8, no
 *                                 control characters    adapter input, ingest
 *                                                       (BAD_TEXT)
 *   directory text (names)        DECONF_DIR_TEXT_MAX   deconfctl, the broker's
 *                                                       directory reader
 *   a token op (deconf.tokens)    < DECONF_TOKEN_OP_MAX  follows from the above
 *   a notice (deconf.notices.*)   < DECONF_NOTICE_MAX    follows from the above;
 *                                                       the adapter accepts up
 *                                                       to DECONF_NOTICE_ACCEPT_MAX
 *   an adapter's submission       submit.max_batch_bytes (at most 900 KiB), below
 *                                 ingest.max_record_bytes' default
 *   any record deconf produces    <= DECONF_PRODUCED_MAX, far below
 *   from an agency's input           librdkafka's message.max.bytes
 *                                    (1,000,000) and Kafka's max.message.bytes
 *                                    (1,048,588)
 *
 * A record the broker would produce above DECONF_PRODUCED_MAX is a bug, not
 * a retryable error: ingest refuses the submission that caused it
 * (UNPROCESSABLE) instead of retrying it forever.
 */
#ifndef DECONF_LIMITS_H
#define DECONF_LIMITS_H

/* C17's _Static_assert, and C++'s static_assert when a C++ shim includes
 * this header */
#ifdef __cplusplus
#define DECONF_STATIC_ASSERT(e, m) static_assert(e, m)
#else
#define DECONF_STATIC_ASSERT(e, m) _Static_assert(e, m)
#endif

#define DECONF_TOKEN_LEN 16          /* bytes of a token (truncated HMAC-SHA256) */
#define DECONF_ID_LEN 16             /* bytes of a submission id or a notice id */
#define DECONF_AGENCY_ID_MAX 63      /* bytes of an agency id (2..63 of [a-z0-9-]) */
#define DECONF_CASE_REF_MAX 128      /* bytes of a case reference */
#define DECONF_POC_FIELD_MAX 256     /* bytes of each point-of-contact field */
#define DECONF_DIR_TEXT_MAX 255      /* bytes of a directory name or contact field */
#define DECONF_REJECT_DETAIL_MAX 255 /* bytes of a Reject's detail */

#define DECONF_SUBMISSION_MAX_LIMIT (64 << 20) /* largest ingest.max_record_bytes */

/* Outputs: a token op carries one case op's text (case_ref, four contact
 * fields) and fixed-size fields; a notice carries the recipient's case ref
 * and the counterpart's directory text, contact and case ref. */
#define DECONF_TOKEN_OP_MAX (8 * 1024)
#define DECONF_NOTICE_MAX (16 * 1024)
#define DECONF_PRODUCED_MAX (64 * 1024)
/* What an adapter accepts: more than any notice a broker writes, so a
 * notice is never refused for its size. */
#define DECONF_NOTICE_ACCEPT_MAX (256 * 1024)

/* The bounds follow from the text limits with room for the fixed-size
 * fields, ids, framing and the signature (1 KiB is several times that). */
DECONF_STATIC_ASSERT(DECONF_CASE_REF_MAX + 4 * DECONF_POC_FIELD_MAX + 1024 < DECONF_TOKEN_OP_MAX,
	       "a token op carries one case ref and one point of contact");
DECONF_STATIC_ASSERT(2 * DECONF_CASE_REF_MAX + 4 * DECONF_POC_FIELD_MAX + 4 * DECONF_DIR_TEXT_MAX +
			       1024 < DECONF_NOTICE_MAX,
	       "a notice carries two case refs, a contact and the counterpart's directory text");
DECONF_STATIC_ASSERT(DECONF_NOTICE_MAX < DECONF_NOTICE_ACCEPT_MAX, "adapters accept every notice");
/* ingest packs token-less closes into one token op up to 6 KiB of case refs */
DECONF_STATIC_ASSERT(6144 + 1024 < DECONF_TOKEN_OP_MAX, "a packed close fits a token op");
DECONF_STATIC_ASSERT(DECONF_TOKEN_OP_MAX <= DECONF_PRODUCED_MAX && DECONF_NOTICE_MAX <= DECONF_PRODUCED_MAX,
	       "the produced budget covers token ops and notices");

/* Events (docs/event-cells.md): an event's circle and window, and how
 * many cells (tokens) one event may cover. */
#define DECONF_EVENT_RADIUS_MIN_M 25
#define DECONF_EVENT_RADIUS_MAX_M 5000
#define DECONF_EVENT_RADIUS_DEFAULT_M 300
#define DECONF_EVENT_WINDOW_MAX_MS (14LL * 24 * 3600 * 1000) /* two weeks */
/* the S2 levels those radii give (an event's COVER level: the finest whose
 * cells are at least r/2 wide), and the most cells one event can have
 * (the grid's bound; 44 were measured at most) */
#define DECONF_EVENT_LEVEL_MIN 11
#define DECONF_EVENT_LEVEL_MAX 18
#define DECONF_EVENT_CELLS_MAX 256

/* Records of the broker's own topics are read with this bound. */
#define DECONF_INTERNAL_RECORD_MAX (1 << 20)

#endif
