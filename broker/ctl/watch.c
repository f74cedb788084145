/*
 * watch.c — deconfctl tail | status | offsets: what the federation's topics
 * hold and where the broker's consumer groups stand.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "ctl.h"
#include "deconf/kafka.h"
#include "deconf/err.h"
#include "deconf/envelope.h"
#include "deconf/util.h"
#include "offsets.h"

static json_t *msg_json(const ProtobufCMessage *m);

static json_t *bytes_json(const ProtobufCBinaryData *b)
{
	char *hex;
	json_t *j;
	int text = b->len > 0;

	/* ids and case refs are printable text; tokens and keys are not */
	for (size_t i = 0; i < b->len && text; i++)
		text = b->data[i] >= 0x20 && b->data[i] < 0x7f;
	if (text)
		return json_stringn((const char *)b->data, b->len);
	if (!(hex = malloc(b->len * 2 + 1)))
		return json_null();
	j = json_string(deconf_hex_encode(hex, b->data, b->len));
	free(hex);
	return j;
}

static json_t *value_json(const ProtobufCFieldDescriptor *fd, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT: return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)p);
		return ev ? json_string(ev->name) : json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING:
		return *(char *const *)p ? json_string(*(char *const *)p) : json_null();
	case PROTOBUF_C_TYPE_BYTES: return bytes_json(p);
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p ? msg_json(*(ProtobufCMessage *const *)p)
						       : json_null();
	}
	return json_null();
}

/* Any deconf message as a JSON object: field names, enum names, bytes as
 * text when printable and hex otherwise. Default values are left out. */
static json_t *msg_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *base = (const char *)m + fd->offset;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
			const char *arr = *(char *const *)base;
			size_t sz = fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_STRING
					    ? sizeof(void *)
				    : fd->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
				    : fd->type == PROTOBUF_C_TYPE_INT64 || fd->type == PROTOBUF_C_TYPE_UINT64 ||
					      fd->type == PROTOBUF_C_TYPE_SINT64 ||
					      fd->type == PROTOBUF_C_TYPE_FIXED64 ||
					      fd->type == PROTOBUF_C_TYPE_SFIXED64 ||
					      fd->type == PROTOBUF_C_TYPE_DOUBLE
					    ? 8
				    : fd->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
								       : 4;
			json_t *a;
			if (!n)
				continue;
			a = json_array();
			for (size_t k = 0; k < n; k++)
				json_array_append_new(a, value_json(fd, arr + k * sz));
			json_object_set_new(o, fd->name, a);
			continue;
		}
		/* proto3: leave out zero / empty values */
		if ((fd->type == PROTOBUF_C_TYPE_STRING && (!*(char *const *)base || !**(char *const *)base)) ||
		    (fd->type == PROTOBUF_C_TYPE_BYTES && !((const ProtobufCBinaryData *)base)->len) ||
		    (fd->type == PROTOBUF_C_TYPE_MESSAGE && !*(void *const *)base))
			continue;
		if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_BYTES &&
		    fd->type != PROTOBUF_C_TYPE_MESSAGE) {
			static const char zero[8];
			size_t sz = fd->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
				    : (fd->type == PROTOBUF_C_TYPE_INT64 || fd->type == PROTOBUF_C_TYPE_UINT64 ||
				       fd->type == PROTOBUF_C_TYPE_SINT64 || fd->type == PROTOBUF_C_TYPE_FIXED64 ||
				       fd->type == PROTOBUF_C_TYPE_SFIXED64 || fd->type == PROTOBUF_C_TYPE_DOUBLE)
					    ? 8
					    : 4;
			if (!memcmp(base, zero, sz))
				continue;
		}
		json_object_set_new(o, fd->name, value_json(fd, base));
	}
	return o;
}

static const ProtobufCMessageDescriptor *inner_descriptor(int type)
{
	switch (type) {
	case K(MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION): return &deconf__v1__submission__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE):
		return &deconf__v1__conflict_notice__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_REJECT): return &deconf__v1__reject__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY):
		return &deconf__v1__directory_entry__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_AUDIT_EVENT): return &deconf__v1__audit_event__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_TOKEN_OP): return &deconf__v1__token_op__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_STATE_RECORD): return &deconf__v1__state_record__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT): return &deconf__v1__ops_event__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS): return &deconf__v1__key_epochs__descriptor;
	case K(MESSAGE_TYPE__MESSAGE_TYPE_RECEIPT): return &deconf__v1__receipt__descriptor;
	default: return NULL;
	}
}


/* One record as a JSON line. Signatures: the broker's key for what the
 * broker and deconfctl write, the agency's (from the directory) for a
 * submission. */
static void print_record(struct fed *f, const rd_kafka_message_t *m, struct brk_directory *dir)
{
	json_t *o = json_object();
	Deconf__V1__Envelope *env = NULL;
	char errstr[256];
	char *line;

	json_object_set_new(o, "topic", json_string(rd_kafka_topic_name(m->rkt)));
	json_object_set_new(o, "partition", json_integer(m->partition));
	json_object_set_new(o, "offset", json_integer(m->offset));
	json_object_set_new(o, "timestamp", json_integer(rd_kafka_message_timestamp(m, NULL)));
	if (m->key) {
		ProtobufCBinaryData k = { m->key_len, m->key };
		json_object_set_new(o, "key", bytes_json(&k));
	}
	if (!m->payload) {
		json_object_set_new(o, "value", json_null()); /* a tombstone */
	} else if (deconf_envelope_unpack(m->payload, m->len, 1 << 20, &env, errstr,
					  sizeof(errstr))) {
		json_object_set_new(o, "error", json_string(errstr));
	} else {
		const ProtobufCMessageDescriptor *d = inner_descriptor(env->type);
		const ProtobufCEnumValue *tv = protobuf_c_enum_descriptor_get_value(
			&deconf__v1__message_type__descriptor, env->type);
		const char *sig = "unsigned";
		ProtobufCMessage *inner = NULL;

		json_object_set_new(o, "type", tv ? json_string(tv->name) : json_integer(env->type));
		if (env->signer.len)
			json_object_set_new(o, "signer", bytes_json(&env->signer));
		if (env->signature.len) {
			/* the directory is the federation key's; the rest the broker's */
			const struct deconf_sign_key *key =
				env->signer.len == 10 && !memcmp(env->signer.data, "federation", 10)
					? f->fed_pub
					: f->broker_pub;
			struct deconf_sign_key *agency = NULL;
			sig = "unknown signer";
			if (env->type == K(MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION)) {
				struct brk_agency a;
				key = NULL;
				if (!brk_directory_get(dir, env->signer.data, env->signer.len, &a) &&
				    !deconf_sign_key_from_public(&agency, a.public_key))
					key = agency;
			}
			if (key)
				sig = deconf_envelope_verify(env, key) ? "INVALID" : "valid";
			deconf_sign_key_free(agency);
		}
		json_object_set_new(o, "signature", json_string(sig));
		if (d && !deconf_envelope_payload(env, d, &inner, errstr, sizeof(errstr))) {
			json_object_set_new(o, "message", msg_json(inner));
			deconf_msg_free(inner);
		} else {
			json_object_set_new(o, "error", json_string(d ? errstr : "unknown type"));
		}
		deconf_msg_free(env);
	}
	if ((line = json_dumps(o, JSON_COMPACT))) {
		puts(line);
		free(line);
	}
	json_decref(o);
}

int cmd_tail(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "from-beginning", no_argument, NULL, 'b' },
		{ "follow", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "tail TOPIC [--from-beginning] [--follow]";
	struct sigaction sa = { .sa_handler = on_signal };
	int from_beginning = 0, follow = 0, open = 0, np = 0, ch, rc = 0, missing;
	const char *name;
	char topic[256], errstr[1024];
	struct brk_directory *dir = NULL;
	struct dir_ignored ig;
	struct brk_ctl_kafka *k;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *q;
	int64_t idle_since;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'b': from_beginning = 1; break;
		case 'F': follow = 1; break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc - 1)
		return usage_error(syn, optind < argc ? "one topic, not '%s' too"
						      : "the topic is missing%s",
				   optind < argc ? argv[argc - 1] : "");
	name = argv[optind];
	/* "notices.fbi-cac" or "deconf.notices.fbi-cac" */
	snprintf(topic, sizeof(topic), "%s%s",
		 strncmp(name, f->prefix, strlen(f->prefix)) ? f->prefix : "", name);
	if (!(k = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, NULL)))
		return 1;
	/* the agencies' keys, to check submissions' signatures */
	if (read_directory(f, k, &dir, &ig, &missing)) {
		brk_ctl_kafka_free(k);
		return 1;
	}
	directory_say_ignored(&ig, stderr, "deconfctl: ");
	if (brk_ctl_kafka_topic(k, topic, &np, errstr, sizeof(errstr))) {
		fail(1, "%s", errstr);
		brk_directory_free(dir);
		brk_ctl_kafka_free(k);
		return 1;
	}
	rkt = rd_kafka_topic_new(brk_ctl_kafka_handle(k), topic, NULL);
	q = rd_kafka_queue_new(brk_ctl_kafka_handle(k));
	for (int p = 0; p < np; p++)
		if (!rd_kafka_consume_start_queue(rkt, p,
						  from_beginning ? RD_KAFKA_OFFSET_BEGINNING
								 : RD_KAFKA_OFFSET_END,
						  q))
			open++;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	idle_since = deconf_mono_us();
	while (!stop && (follow || open > 0)) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 500);
		rd_kafka_poll(brk_ctl_kafka_handle(k), 0);
		if (!m) {
			/* not following: the end must come, or it is said why not */
			if (!follow &&
			    deconf_mono_us() - idle_since > (int64_t)f->timeout_ms * 1000) {
				rc = fail(1, "%s: no record and not at its end after %d s", topic,
					  (f->timeout_ms + 999) / 1000);
				break;
			}
			continue;
		}
		idle_since = deconf_mono_us();
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			open--;
		} else if (m->err) {
			/* librdkafka retries passing faults itself: this one stays */
			rc = fail(1, "reading %s [%d]: %s", topic, (int)m->partition,
				  brk_ctl_kafka_cause(m->err, errstr, sizeof(errstr)));
			rd_kafka_message_destroy(m);
			break;
		} else {
			print_record(f, m, dir);
			fflush(stdout);
		}
		rd_kafka_message_destroy(m);
	}
	for (int p = 0; p < np; p++)
		rd_kafka_consume_stop(rkt, p);
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_destroy(rkt);
	brk_ctl_kafka_free(k);
	brk_directory_free(dir);
	return rc;
}

/* ----------------------------------------------------------------- status */

/* Records (high - low watermark, summed over partitions) of a topic; -1 if
 * it does not exist, -2 if Kafka did not say (the cause printed). */
static long topic_records(struct brk_ctl_kafka *k, const struct rd_kafka_metadata *md,
			  const char *topic, int *partitions)
{
	char errstr[1024];
	long n = 0;

	for (int i = 0; i < md->topic_cnt; i++) {
		if (strcmp(md->topics[i].topic, topic))
			continue;
		rd_kafka_topic_partition_list_t *l, *lo = NULL, *hi = NULL;
		*partitions = md->topics[i].partition_cnt;
		l = rd_kafka_topic_partition_list_new(*partitions);
		for (int p = 0; p < *partitions; p++)
			rd_kafka_topic_partition_list_add(l, topic, p);
		if (l->cnt && brk_ctl_kafka_bounds(k, l, &lo, &hi, errstr, sizeof(errstr))) {
			rd_kafka_topic_partition_list_destroy(l);
			fail(1, "%s", errstr);
			return -2;
		}
		for (int p = 0; p < l->cnt; p++)
			n += (long)(hi->elems[p].offset - lo->elems[p].offset);
		if (l->cnt) {
			rd_kafka_topic_partition_list_destroy(lo);
			rd_kafka_topic_partition_list_destroy(hi);
		}
		rd_kafka_topic_partition_list_destroy(l);
		return n;
	}
	*partitions = 0;
	return -1;
}

/* The lag of group on every partition of the topics starting with prefix
 * (exact = match the whole name). Returns 0, or 1 when Kafka did not say
 * (printed). */
static int group_lag(struct fed *f, const struct rd_kafka_metadata *md, struct brk_ctl_kafka *k,
		     const char *group, const char *topic, int exact)
{
	const char *const props[] = { "group.id", group, NULL };
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16), *los = NULL,
					*his = NULL;
	struct brk_ctl_kafka *c;
	rd_kafka_resp_err_t err;
	char errstr[1024];
	long lag = 0, parts = 0, uncommitted = 0;
	int rc = 0;

	for (int i = 0; i < md->topic_cnt; i++)
		if (exact ? !strcmp(md->topics[i].topic, topic)
			  : !strncmp(md->topics[i].topic, topic, strlen(topic)))
			for (int p = 0; p < md->topics[i].partition_cnt; p++)
				rd_kafka_topic_partition_list_add(l, md->topics[i].topic, p);
	/* a consumer of that group that never joins: it only fetches offsets */
	if (!(c = fed_kafka(f, RD_KAFKA_CONSUMER, props, NULL))) {
		rd_kafka_topic_partition_list_destroy(l);
		return 1;
	}
	if (l->cnt && (err = rd_kafka_committed(brk_ctl_kafka_handle(c), l, f->timeout_ms))) {
		printf("  %-32s ? (its committed offsets: %s)\n", group,
		       brk_ctl_kafka_cause(err, errstr, sizeof(errstr)));
		rc = 1;
		goto out;
	}
	if (l->cnt && brk_ctl_kafka_bounds(k, l, &los, &his, errstr, sizeof(errstr))) {
		printf("  %-32s ? (%s)\n", group, errstr);
		rc = 1;
		goto out;
	}
	for (int i = 0; i < l->cnt; i++) {
		int64_t lo = los->elems[i].offset, hi = his->elems[i].offset;
		parts++;
		if (l->elems[i].offset < 0) {
			uncommitted++;
			lag += (long)(hi - lo);
		} else {
			lag += (long)(hi - l->elems[i].offset);
		}
	}
	printf("  %-32s %ld partition(s), lag %ld record(s)%s\n", group, parts, lag,
	       uncommitted ? " (some partitions never committed)" : "");
out:
	if (los)
		rd_kafka_topic_partition_list_destroy(los);
	if (his)
		rd_kafka_topic_partition_list_destroy(his);
	brk_ctl_kafka_free(c);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

int cmd_status(struct fed *f, int argc, char **argv)
{
	static const char *const global[] = { "tokens", "state", "audit", "ops", "directory",
					       "ingest.seen" };
	static const char *const own[] = { "submit.", "notices.", "rejects.", "receipts." };
	const struct rd_kafka_metadata *md = NULL;
	struct brk_ctl_kafka *k;
	struct brk_directory *dir = NULL;
	struct dir_ignored ig;
	struct brk_agency ag;
	char errstr[1024], topic[256], group[256];
	rd_kafka_resp_err_t err;
	int missing, incomplete = 0, rc;

	if ((rc = no_options(argc, argv, "status")))
		return rc;
	if (optind != argc)
		return usage_error("status", "unexpected argument '%s'", argv[optind]);
	if (!(k = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, NULL)))
		return 1;
	if (read_directory(f, k, &dir, &ig, &missing)) {
		brk_ctl_kafka_free(k);
		return 1;
	}
	if ((err = rd_kafka_metadata(brk_ctl_kafka_handle(k), 1, NULL, &md, f->timeout_ms))) {
		brk_ctl_kafka_free(k);
		brk_directory_free(dir);
		return fail(1, "reading the cluster's metadata: %s",
			    brk_ctl_kafka_cause(err, errstr, sizeof(errstr)));
	}
	printf("topics (records between the low and high watermarks):\n");
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++) {
		int np;
		long n;
		snprintf(topic, sizeof(topic), "%s%s", f->prefix, global[i]);
		n = topic_records(k, md, topic, &np);
		if (n == -1)
			printf("  %-32s missing (deconfctl topics apply)\n", topic);
		else if (n < 0)
			printf("  %-32s %3d partition(s) %12s record(s)\n", topic, np, "?");
		else
			printf("  %-32s %3d partition(s) %12ld record(s)\n", topic, np, n);
		incomplete |= n == -2;
	}
	printf("consumer groups:\n");
	snprintf(group, sizeof(group), "%sbroker-ingest", f->prefix);
	snprintf(topic, sizeof(topic), "%ssubmit.", f->prefix);
	incomplete |= group_lag(f, md, k, group, topic, 0);
	snprintf(group, sizeof(group), "%sbroker-matcher", f->prefix);
	snprintf(topic, sizeof(topic), "%stokens", f->prefix);
	incomplete |= group_lag(f, md, k, group, topic, 1);
	printf("agencies (records on their topics):\n  %-24s %-10s %10s %10s %10s %10s\n",
	       "AGENCY", "STATUS", "SUBMITTED", "NOTICES", "REJECTS", "RECEIPTS");
	if (missing)
		printf("  (no %sdirectory topic: deconfctl topics apply)\n", f->prefix);
	for (size_t a = 0; !brk_directory_at(dir, a, &ag); a++) {
		char c[4][24];
		for (int t = 0; t < 4; t++) {
			int np;
			long n;
			snprintf(topic, sizeof(topic), "%s%s%s", f->prefix, own[t], ag.id);
			n = topic_records(k, md, topic, &np);
			/* a topic not made yet holds nothing */
			snprintf(c[t], sizeof(c[t]), n == -2 ? "?" : "%ld", n < 0 ? 0 : n);
			incomplete |= n == -2;
		}
		char sb[DECONF_ENUM_NAME_SIZE];

		printf("  %-24s %-10s %10s %10s %10s %10s\n", ag.id, agency_status_name(sb, ag.status),
		       c[0], c[1], c[2], c[3]);
	}
	directory_say_ignored(&ig, stdout, "  ");
	printf("(transactional topics count commit markers too; compacted topics, what is "
	       "left)\n");
	rd_kafka_metadata_destroy(md);
	brk_ctl_kafka_free(k);
	brk_directory_free(dir);
	if (incomplete)
		return fail(1, "status is incomplete: Kafka did not answer for what is marked ?");
	return 0;
}

/* ---------------------------------------------------------------- offsets */

/* --group ingest|matcher: the groups' mask, or 0. */
static unsigned parse_group(const char *s)
{
	return !strcmp(s, "ingest") ? BRK_CTL_OFFSETS_INGEST
	       : !strcmp(s, "matcher") ? BRK_CTL_OFFSETS_MATCHER
				       : 0;
}

int cmd_offsets(struct fed *f, int argc, char **argv, int accept)
{
	/* show takes --group only: the table from its second entry */
	static const struct option o_accept[] = {
		{ "partition", required_argument, NULL, 'p' },
		{ "group", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const struct option *o = accept ? o_accept : o_accept + 1;
	const char *syn = accept ? "offsets accept-loss [--group ingest|matcher] "
				   "[--partition TOPIC:N]..."
				 : "offsets show [--group ingest|matcher]";
	rd_kafka_topic_partition_list_t *only = NULL;
	unsigned groups = BRK_CTL_OFFSETS_INGEST | BRK_CTL_OFFSETS_MATCHER;
	struct brk_ctl_kafka *k = NULL;
	char errstr[1024];
	int ch, rc = 0, np;

	opt_reset();
	while (!rc && (ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'g':
			if (!(groups = parse_group(optarg)))
				rc = usage_error(syn, "--group %s: ingest or matcher", optarg);
			break;
		case 'p': {
			const char *colon = strrchr(optarg, ':');
			char topic[256];
			/* partitions count from 0 */
			int part = colon ? parse_count(colon + 1, 1 << 20) : -1;
			if (colon && !strcmp(colon + 1, "0"))
				part = 0;
			if (!colon || colon == optarg || part < 0 || colon - optarg >= 200) {
				rc = usage_error(syn, "--partition %s: TOPIC:N, e.g. tokens:3", optarg);
				break;
			}
			snprintf(topic, sizeof(topic), "%s%.*s",
				 strncmp(optarg, f->prefix, strlen(f->prefix)) ? f->prefix : "",
				 (int)(colon - optarg), optarg);
			if (!only)
				only = rd_kafka_topic_partition_list_new(4);
			rd_kafka_topic_partition_list_add(only, topic, part);
			break;
		}
		default: rc = bad_option(ch, argv, syn);
		}
	}
	if (!rc && optind != argc)
		rc = usage_error(syn, "unexpected argument '%s'", argv[optind]);
	if (rc)
		goto out;
	if (!(k = fed_kafka(f, RD_KAFKA_PRODUCER, NULL, accept ? "nothing was changed" : NULL))) {
		rc = 1;
		goto out;
	}
	if (!brk_ctl_kafka_topic(k, DEV_KAFKA_MARKER, &np, errstr, sizeof(errstr))) {
		rc = fail(1, "this cluster is deconfctl dev-kafka (librdkafka's in-memory mock "
			     "cluster): it keeps no transactional offset commits and no consumer "
			     "group state to show or change");
		goto out;
	}
	if (accept) {
		rc = brk_ctl_offsets_accept_loss(k, f->prefix, groups, only, stdout, errstr,
						 sizeof(errstr));
		if (rc == DECONF_E_INVAL)
			rc = usage_error(syn, "%s", errstr);
		else if (rc)
			rc = fail(1, "%s", errstr);
	} else if ((rc = brk_ctl_offsets_show(k, f->prefix, groups, NULL, stdout, errstr,
					      sizeof(errstr)))) {
		rc = fail(1, "%s", errstr);
	}
out:
	brk_ctl_kafka_free(k);
	if (only)
		rd_kafka_topic_partition_list_destroy(only);
	return rc;
}

/* ------------------------------------------------------------ audit verify */

int cmd_audit_verify(struct fed *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	static const char syn[] = "audit verify [--from P:OFFSET,...|@UNIX_MS|YYYY-MM-DDTHH:MM:SSZ]";
	struct brk_audit_report r = { 0 };
	struct brk_audit_from from;
	struct brk_ctl_kafka *k;
	rd_kafka_conf_t *kc = NULL;
	const char *from_arg = NULL;
	char topic[256], errstr[1024];
	int ch, np, rc;

	opt_reset();
	while ((ch = getopt_long(argc, argv, ":", o, NULL)) != -1) {
		switch (ch) {
		case 'f': from_arg = optarg; break;
		default: return bad_option(ch, argv, syn);
		}
	}
	if (optind != argc)
		return usage_error(syn, "unexpected argument '%s'", argv[optind]);
	if (brk_audit_from_parse(from_arg, &from, errstr, sizeof(errstr)))
		return usage_error(syn, "--from %s: %s", from_arg, errstr);
	snprintf(topic, sizeof(topic), "%saudit", f->prefix);
	/* reached, and the topic there, within --timeout: said as every
	 * command says it */
	if (!(k = fed_kafka(f, RD_KAFKA_CONSUMER, NULL, "nothing was checked")))
		return 1;
	rc = brk_ctl_kafka_topic(k, topic, &np, errstr, sizeof(errstr));
	brk_ctl_kafka_free(k);
	if (rc)
		return fail(1, "%s: nothing was checked", errstr);
	if (deconf_kafka_conf_new(&kc, f->conf, "deconfctl", errstr, sizeof(errstr)))
		return fail(2, "%s", errstr);
	if ((rc = brk_audit_verify(kc, topic, f->broker_pub, from_arg ? &from : NULL, &r, errstr,
				   sizeof(errstr)))) {
		brk_audit_report_clear(&r);
		return fail(1, "%s: %s: the check could not be made", topic, errstr);
	}
	brk_audit_report_print(&r, stdout);
	rc = r.breaks || r.stray ? 1 : 0;
	brk_audit_report_clear(&r);
	return rc;
}
