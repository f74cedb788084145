/* fed.c — a throwaway federation on the real Kafka (see fed.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/scope.h"
#include "deconf/kafka.h"
#include "deconf/token.h"
#include "deconf/util.h"
#include "fed.h"

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fed: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}
#define FAIL fail

/* A client with the test's settings and the pairs of kv (NULL-terminated). */
static rd_kafka_t *client(const struct fed *f, rd_kafka_type_t type, const char *const *kv)
{
	rd_kafka_conf_t *kc = NULL;
	char errstr[512];
	rd_kafka_t *rk;
	int rc;

	rc = deconf_kafka_conf_new(&kc, NULL, "itest-fed", errstr, sizeof(errstr)) ||
	     deconf_kafka_conf_set(kc, "bootstrap.servers", f->bootstrap, "t", errstr,
				   sizeof(errstr));
	for (size_t i = 0; !rc && kv && kv[i]; i += 2)
		rc = deconf_kafka_conf_set(kc, kv[i], kv[i + 1], "t", errstr, sizeof(errstr));
	if (!rc && type == RD_KAFKA_CONSUMER)
		rc = deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "t", errstr,
					   sizeof(errstr)) ||
		     /* prompt, as an adapter waiting for notices is: no 500 ms
		      * fetch wait when caught up */
		     deconf_kafka_conf_set(kc, "fetch.wait.max.ms", "10", "t", errstr,
					   sizeof(errstr));
	if (rc) {
		fprintf(stderr, "fed: client: %s\n", errstr);
		if (kc)
			rd_kafka_conf_destroy(kc);
		return NULL;
	}
	if (!(rk = deconf_kafka_new(type, kc, errstr, sizeof(errstr))))
		fprintf(stderr, "fed: client: %s\n", errstr);
	return rk;
}

rd_kafka_t *fed_client(const struct fed *f, rd_kafka_type_t type, const char *key,
		       const char *value)
{
	const char *kv[3] = { key, value, NULL };

	return client(f, type, key ? kv : NULL);
}

const char *fed_topic(const struct fed *f, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", f->prefix, name);
	return buf;
}

/* Create topics in one request; with exists_ok a topic already there is
 * fine (an agency re-added with a new status). */
static int create_topics(const struct fed *f, const char *const *names, size_t n_names,
			 int partitions, int compact, int exists_ok)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_PRODUCER, NULL, NULL);
	rd_kafka_NewTopic_t *nt[8] = { 0 };
	const rd_kafka_topic_result_t **res;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	char errstr[256];
	size_t n = 0;
	int rc = 0;

	if (!rk)
		return -1;
	if (n_names > sizeof(nt) / sizeof(nt[0]))
		rc = FAIL("create_topics: at most %zu topics", sizeof(nt) / sizeof(nt[0]));
	for (size_t i = 0; !rc && i < n_names; i++) {
		if (!(nt[i] = rd_kafka_NewTopic_new(names[i], partitions,
						    f->replication ? f->replication : 1, errstr,
						    sizeof(errstr))))
			rc = FAIL("create %s: %s", names[i], errstr);
		else if (compact)
			rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy", "compact");
		if (nt[i] && f->replication >= 3) /* as topics apply sets it */
			rd_kafka_NewTopic_set_config(nt[i], "min.insync.replicas", "2");
	}
	q = rd_kafka_queue_new(rk);
	if (!rc) {
		rd_kafka_CreateTopics(rk, nt, n_names, NULL, q);
		if (!(ev = rd_kafka_queue_poll(q, 30000))) {
			rc = FAIL("create %s...: no answer from Kafka in 30 s", names[0]);
		} else {
			res = rd_kafka_CreateTopics_result_topics(
				rd_kafka_event_CreateTopics_result(ev), &n);
			if (n != n_names)
				rc = FAIL("create %s...: %zu results for %zu topics", names[0], n,
					  n_names);
			for (size_t i = 0; !rc && i < n; i++) {
				rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
				if (e && !(exists_ok && e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
					rc = FAIL("create %s: %s", rd_kafka_topic_result_name(res[i]),
						  rd_kafka_topic_result_error_string(res[i]));
			}
			rd_kafka_event_destroy(ev);
		}
	}
	for (size_t i = 0; i < n_names && i < sizeof(nt) / sizeof(nt[0]); i++)
		if (nt[i])
			rd_kafka_NewTopic_destroy(nt[i]);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

int fed_create_topic(const struct fed *f, const char *name, int partitions, int compact)
{
	return create_topics(f, &name, 1, partitions, compact, 0);
}

int fed_agency_topics(const struct fed *f, const char *id)
{
	/* as `deconfctl topics apply` makes them when the operator adds an
	 * agency: one partition each */
	static const char *const own[] = { "submit.", "notices.", "rejects.", "receipts." };
	char names[4][96];
	const char *p[4];

	for (size_t i = 0; i < 4; i++) {
		snprintf(names[i], sizeof(names[i]), "%s%s%s", f->prefix, own[i], id);
		p[i] = names[i];
	}
	return create_topics(f, p, 4, 1, 0, 1);
}

int fed_new(struct fed *f, const char *bootstrap, int n_partitions)
{
	return fed_new_replicated(f, bootstrap, n_partitions, 1);
}

int fed_new_replicated(struct fed *f, const char *bootstrap, int n_partitions, int replication)
{
	static const struct {
		const char *name;
		int per_partition, compact;
	} topics[] = {
		{ "tokens", 1, 0 }, { "state", 1, 1 },     { "audit", 0, 0 },
		{ "ops", 0, 0 },    { "directory", 0, 1 }, { "ingest.seen", 0, 1 },
	};
	char path[256], errstr[256], hex[9];
	uint8_t r[4];

	memset(f, 0, sizeof(*f));
	f->bootstrap = bootstrap;
	f->n_partitions = n_partitions;
	f->replication = replication;
	snprintf(f->dir, sizeof(f->dir), "%s/itest-fed.XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(f->dir))
		return FAIL("mkdtemp %s", f->dir);
	RAND_bytes(r, sizeof(r));
	snprintf(f->prefix, sizeof(f->prefix), "it%s.", deconf_hex_encode(hex, r, sizeof(r)));
	if (deconf_sign_key_generate(&f->key, errstr, sizeof(errstr)))
		return FAIL("%s", errstr);
	snprintf(path, sizeof(path), "%s/broker.key", f->dir);
	if (deconf_sign_key_save_private(f->key, path, errstr, sizeof(errstr)))
		return FAIL("%s", errstr);
	if (deconf_sign_key_generate(&f->fed_key, errstr, sizeof(errstr)))
		return FAIL("%s", errstr);
	snprintf(path, sizeof(path), "%s/federation.pub", f->dir);
	if (deconf_sign_key_save_public(f->fed_key, path, errstr, sizeof(errstr)))
		return FAIL("%s", errstr);
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (fed_create_topic(f, fed_topic(f, topics[i].name, path, sizeof(path)),
				     topics[i].per_partition ? n_partitions : 1, topics[i].compact))
			return -1;
	{
		/* records up to what Kafka's default topic limit (1,048,588
		 * bytes a batch) takes: oversized submissions are the broker's
		 * to refuse, not this producer's */
		static const char *const kv[] = { "linger.ms", "2", "message.max.bytes", "1047000",
						  NULL };
		if (!(f->producer = client(f, RD_KAFKA_PRODUCER, kv)))
			return -1;
	}
	return 0;
}

void fed_free(struct fed *f)
{
	char cmd[300];

	if (f->producer) {
		rd_kafka_flush(f->producer, 10000);
		rd_kafka_destroy(f->producer);
	}
	for (int i = 0; i < f->n_ag; i++)
		deconf_sign_key_free(f->ag[i].key);
	deconf_sign_key_free(f->key);
	deconf_sign_key_free(f->fed_key);
	if (f->dir[0] && !getenv("FED_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd))
			fprintf(stderr, "fed: could not remove %s\n", f->dir);
	}
	memset(f, 0, sizeof(*f));
}

void fed_raw_free(struct fed_raw *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

struct fed_raw *fed_read_raw(const struct fed *f, const char *topic, int parts, size_t *n)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *q;
	struct fed_raw *v = NULL;
	size_t cap = 0;
	int open = 0, oom = 0;

	*n = 0;
	if (!rk)
		return NULL;
	q = rd_kafka_queue_new(rk);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	for (int p = 0; p < parts; p++)
		if (!rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q))
			open++;
	for (int idle = 0; open > 0 && idle < 40 && !oom;) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 250);
		if (!m) {
			idle++;
			continue;
		}
		if (m->err) {
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
			    m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
			    m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
				open--;
			rd_kafka_message_destroy(m);
			continue;
		}
		if (*n == cap) {
			struct fed_raw *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));
			if (!nv) {
				oom = 1;
				rd_kafka_message_destroy(m);
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 64;
		}
		memset(&v[*n], 0, sizeof(v[0]));
		v[*n].partition = m->partition;
		if (m->key_len && (v[*n].key = malloc(m->key_len))) {
			memcpy(v[*n].key, m->key, m->key_len);
			v[*n].key_len = m->key_len;
		}
		if (m->len && (v[*n].value = malloc(m->len))) {
			memcpy(v[*n].value, m->payload, m->len);
			v[*n].len = m->len;
		}
		oom = (m->key_len && !v[*n].key) || (m->len && !v[*n].value);
		(*n)++;
		rd_kafka_message_destroy(m);
	}
	for (int p = 0; p < parts; p++)
		rd_kafka_consume_stop(rkt, p);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	if (oom) {
		fed_raw_free(v, *n);
		*n = 0;
		return NULL;
	}
	return v;
}

int fed_agency_publish(struct fed *f, int ai, int status, const char *scope_spec,
		       const char *liaison)
{
	Deconf__V1__DirectoryEntry e = DECONF__V1__DIRECTORY_ENTRY__INIT;
	Deconf__V1__PointOfContact watch = DECONF__V1__POINT_OF_CONTACT__INIT;
	Deconf__V1__PointOfContact lia = DECONF__V1__POINT_OF_CONTACT__INIT;
	Deconf__V1__DisclosureScope *scope = NULL;
	const struct fed_agency *a = &f->ag[ai];
	uint8_t pub[DECONF_PUBKEY_LEN], *buf;
	char errstr[256], topic[64], desk[96];
	size_t len;
	int rc;

	deconf_sign_key_public(a->key, pub);
	snprintf(desk, sizeof(desk), "%s watch desk", a->id);
	watch.name = desk;
	watch.phone = "+1 555 010 0000";
	watch.email = "watch@example.org";
	e.agency_id.data = (uint8_t *)a->id;
	e.agency_id.len = strlen(a->id);
	e.name = (char *)a->name;
	e.level = a->level;
	e.country = (char *)a->country;
	e.watch_contact = &watch;
	e.signing_public_key.data = pub;
	e.signing_public_key.len = sizeof(pub);
	e.status = status;
	e.updated_at = deconf_now_ms();
	e.tls_principal = (char *)a->id;
	if (scope_spec && deconf_scope_parse(scope_spec, &scope, errstr, sizeof(errstr)))
		return FAIL("scope %s: %s", scope_spec, errstr);
	e.scope = scope;
	if (liaison) {
		lia.name = (char *)liaison;
		lia.phone = "+1 555 010 0111";
		e.liaison = &lia;
	}
	rc = deconf_envelope_seal(&e.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_DIRECTORY_ENTRY,
				  "federation", f->fed_key, &buf, &len);
	deconf_scope_free(scope);
	if (rc)
		return FAIL("seal directory entry");
	rc = rd_kafka_producev(f->producer, RD_KAFKA_V_TOPIC(fed_topic(f, "directory", topic,
								      sizeof(topic))),
			       RD_KAFKA_V_KEY((void *)a->id, strlen(a->id)),
			       RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
			       RD_KAFKA_V_END);
	if (rc) {
		free(buf);
		return FAIL("produce directory entry: %s", rd_kafka_err2str(rc));
	}
	return fed_flush(f);
}

int fed_agency(struct fed *f, const char *id, const char *name, int level, const char *country,
	       int status)
{
	struct fed_agency *a;
	char errstr[256];

	if (f->n_ag == FED_MAX_AGENCIES)
		return FAIL("too many agencies");
	a = &f->ag[f->n_ag];
	snprintf(a->id, sizeof(a->id), "%s", id);
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->country, sizeof(a->country), "%s", country);
	a->level = level;
	if (deconf_sign_key_generate(&a->key, errstr, sizeof(errstr)))
		return FAIL("%s", errstr);
	if (fed_agency_publish(f, f->n_ag, status, NULL, NULL))
		return -1;
	if (!f->no_agency_topics && fed_agency_topics(f, id))
		return -1;
	return f->n_ag++;
}

int fed_broker_conf(struct fed *f, const char *instance, const char *extra, char *path,
		    size_t path_size)
{
	FILE *c;

	snprintf(path, path_size, "%s/broker-%s.conf", f->dir, instance);
	if (!(c = fopen(path, "w")))
		return FAIL("%s: cannot write", path);
	fprintf(c,
		"[broker]\nsigning_key = %s/broker.key\nfederation_key = %s/federation.pub\n"
		"topic_prefix = %s\ninstance = %s\n"
		"[matcher]\nstate_dir = %s/state-%s\nstate_map_size = 1G\n"
		"[http]\nport = 0\n[log]\nlevel = info\n"
		"[kafka]\nbootstrap.servers = %s\nsession.timeout.ms = 6000\n%s",
		f->dir, f->dir, f->prefix, instance, f->dir, instance, f->bootstrap,
		extra ? extra : "");
	return fclose(c) ? FAIL("%s: write failed", path) : 0;
}

pid_t fed_broker_start(const char *broker_bin, const char *conf, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, even a crashed one */
		FILE *lf = fopen(log, "a");
		if (!lf)
			_exit(127);
		dup2(fileno(lf), 2);
		execl(broker_bin, broker_bin, "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int fed_broker_stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void fed_token(const struct fed *f, uint32_t n, uint8_t out[16])
{
	memset(out, 0, 16);
	memcpy(out, f->prefix, strlen(f->prefix) < 10 ? strlen(f->prefix) : 10);
	for (int i = 0; i < 4; i++)
		out[12 + i] = (uint8_t)(n >> (24 - 8 * i));
}

int fed_submit(struct fed *f, int agency, const struct fed_op *ops, size_t n_ops, uint8_t *id)
{
	Deconf__V1__Submission s = DECONF__V1__SUBMISSION__INIT;
	Deconf__V1__CaseOp *cops = calloc(n_ops, sizeof(*cops)), **cp = calloc(n_ops, sizeof(*cp));
	Deconf__V1__TokenRef *trs = calloc(n_ops, sizeof(*trs)), **tp = calloc(n_ops, sizeof(*tp));
	Deconf__V1__PointOfContact *pocs = calloc(n_ops, sizeof(*pocs));
	uint8_t sid[16], *buf = NULL;
	char topic[96];
	size_t len;
	int rc = -1;

	if (!cops || !cp || !trs || !tp || !pocs)
		goto out;
	RAND_bytes(sid, sizeof(sid));
	if (id)
		memcpy(id, sid, 16);
	s.agency_id.data = (uint8_t *)f->ag[agency].id;
	s.agency_id.len = strlen(f->ag[agency].id);
	s.submission_id.data = sid;
	s.submission_id.len = 16;
	s.created_at = deconf_now_ms();
	s.ops = cp;
	s.n_ops = n_ops;
	for (size_t i = 0; i < n_ops; i++) {
		const struct fed_op *o = &ops[i];
		deconf__v1__case_op__init(&cops[i]);
		deconf__v1__token_ref__init(&trs[i]);
		deconf__v1__point_of_contact__init(&pocs[i]);
		cp[i] = &cops[i];
		tp[i] = &trs[i];
		cops[i].case_ref.data = (uint8_t *)o->case_ref;
		cops[i].case_ref.len = strlen(o->case_ref);
		cops[i].op = o->op;
		cops[i].visibility = o->visibility;
		cops[i].caution_flags = o->flags;
		cops[i].expires_at = o->expires_at;
		cops[i].event_kind = o->event_kind;
		if (o->poc_name || o->poc_phone || o->poc_email || o->poc_unit) {
			/* unset fields stay protobuf-c's empty string */
			if (o->poc_name)
				pocs[i].name = (char *)o->poc_name;
			if (o->poc_phone || o->poc_name)
				pocs[i].phone = (char *)(o->poc_phone ? o->poc_phone
								       : "+1 555 010 1234");
			if (o->poc_email)
				pocs[i].email = (char *)o->poc_email;
			if (o->poc_unit)
				pocs[i].unit = (char *)o->poc_unit;
			cops[i].poc = &pocs[i];
		}
		if (!o->no_token) {
			trs[i].type = o->type;
			trs[i].key_epoch = o->key_epoch ? o->key_epoch : 1;
			trs[i].token.data = (uint8_t *)o->token;
			trs[i].token.len = 16;
			trs[i].valid_from = o->valid_from;
			trs[i].valid_to = o->valid_to;
			trs[i].cell_role = o->cell_role;
			trs[i].cell_level = o->cell_level;
			cops[i].tokens = &tp[i];
			cops[i].n_tokens = 1;
		}
	}
	if (deconf_envelope_seal(&s.base, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_SUBMISSION,
				 f->ag[agency].id, f->ag[agency].key, &buf, &len)) {
		FAIL("seal submission");
		goto out;
	}
	snprintf(topic, sizeof(topic), "%ssubmit.%s", f->prefix, f->ag[agency].id);
	for (;;) {
		rc = rd_kafka_producev(f->producer, RD_KAFKA_V_TOPIC(topic),
				       RD_KAFKA_V_KEY((void *)ops[0].case_ref, strlen(ops[0].case_ref)),
				       RD_KAFKA_V_VALUE(buf, len),
				       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
		if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(f->producer, 50);
	}
	if (rc) {
		FAIL("produce to %s: %s", topic, rd_kafka_err2str(rc));
		rc = -1;
	} else {
		buf = NULL;
	}
	rd_kafka_poll(f->producer, 0);
out:
	free(buf);
	free(cops);
	free(cp);
	free(trs);
	free(tp);
	free(pocs);
	return rc;
}

int fed_flush(struct fed *f)
{
	return rd_kafka_flush(f->producer, 30000) ? FAIL("flush timed out") : 0;
}

static void copy_bytes(char *dst, size_t size, const ProtobufCBinaryData *b)
{
	size_t n = b->len < size - 1 ? b->len : size - 1;

	if (n) /* an empty field's data may be NULL */
		memcpy(dst, b->data, n);
	dst[n] = '\0';
}

static void copy_str(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s ? s : "");
}

/* A notices record, verified with the federation key: 0, or -1 when it
 * does not verify or parse. */
static int decode_notice(const struct fed *f, const rd_kafka_message_t *m, struct fed_notice *x)
{
	ProtobufCMessage *msg = NULL;
	Deconf__V1__ConflictNotice *cn;

	if (deconf_envelope_open(m->payload, m->len, 1 << 20,
				 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE, f->key,
				 &deconf__v1__conflict_notice__descriptor, &msg, NULL, 0))
		return -1;
	cn = (Deconf__V1__ConflictNotice *)msg;
	memset(x, 0, sizeof(*x));
	if (cn->notice_id.len == 16)
		memcpy(x->id, cn->notice_id.data, 16);
	if (cn->token.len == 16)
		memcpy(x->token, cn->token.data, 16);
	x->kind = cn->kind;
	copy_bytes(x->agency, sizeof(x->agency), &cn->agency_id);
	copy_bytes(x->case_ref, sizeof(x->case_ref), &cn->case_ref);
	x->created_at = cn->created_at;
	x->submitted_at = cn->submitted_at;
	x->expires_at = cn->expires_at;
	x->type = cn->type;
	x->urgent = cn->urgent;
	x->event_kind = cn->event_kind;
	x->band_m = cn->distance_band_m;
	if ((x->has_pair = cn->pair_ref.len == 16))
		memcpy(x->pair_ref, cn->pair_ref.data, 16);
	if (cn->counterpart) {
		x->cp_event_kind = cn->counterpart->event_kind;
		x->cp_flags = cn->counterpart->caution_flags;
		x->cp_window_from = cn->counterpart->window_from;
		x->cp_window_to = cn->counterpart->window_to;
		copy_bytes(x->cp_agency, sizeof(x->cp_agency), &cn->counterpart->agency_id);
		copy_bytes(x->cp_case, sizeof(x->cp_case), &cn->counterpart->case_ref);
		copy_str(x->cp_name, sizeof(x->cp_name), cn->counterpart->agency_name);
		copy_str(x->cp_country, sizeof(x->cp_country), cn->counterpart->country);
		if (cn->counterpart->poc)
			copy_str(x->cp_poc, sizeof(x->cp_poc), cn->counterpart->poc->name);
		x->cp_level = cn->counterpart->level;
		x->cp_visibility = cn->counterpart->visibility;
	}
	deconf_msg_free(msg);
	return 0;
}

/* A rejects record, verified with the federation key: 0 or -1. */
static int decode_reject(const struct fed *f, const rd_kafka_message_t *m, struct fed_reject *x)
{
	ProtobufCMessage *msg = NULL;
	Deconf__V1__Reject *r;

	if (deconf_envelope_open(m->payload, m->len, 1 << 20,
				 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT, f->key,
				 &deconf__v1__reject__descriptor, &msg, NULL, 0))
		return -1;
	r = (Deconf__V1__Reject *)msg;
	memset(x, 0, sizeof(*x));
	if (r->submission_id.len == 16) /* empty: unparsed record */
		memcpy(x->submission_id, r->submission_id.data, 16);
	x->reason = r->reason;
	x->op_index = r->op_index;
	x->partition = r->partition;
	x->offset = r->offset;
	x->rejected_at = r->rejected_at;
	copy_bytes(x->agency, sizeof(x->agency), &r->agency_id);
	copy_str(x->topic, sizeof(x->topic), r->topic);
	copy_str(x->detail, sizeof(x->detail), r->detail);
	deconf_msg_free(msg);
	return 0;
}

static void *grow(void *v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 64;
	if (!(v = realloc(v, *cap * size)))
		abort();
	return v;
}

/* Every committed record of <prefix><what>.<agency> (NULL: of every agency),
 * decoded by type into *v (elements of size, grown). */
static int read_agency_topics(const struct fed *f, int type, const char *agency, void **v,
			      size_t size, size_t *n, size_t *bad, int max_ms)
{
	const char *what = type == DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT ? "rejects"
										  : "notices";
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	rd_kafka_topic_t *rkt[FED_MAX_AGENCIES] = { 0 };
	rd_kafka_queue_t *q;
	int64_t until = deconf_mono_us() + (int64_t)max_ms * 1000;
	size_t cap = *n;
	int open = 0, n_rkt = 0;

	if (!rk)
		return -1;
	/* one queue over every agency's topic: one client's set-up */
	q = rd_kafka_queue_new(rk);
	for (int i = 0; i < f->n_ag; i++) {
		char topic[96];
		if (agency && strcmp(agency, f->ag[i].id))
			continue;
		snprintf(topic, sizeof(topic), "%s%s.%s", f->prefix, what, f->ag[i].id);
		rkt[n_rkt] = rd_kafka_topic_new(rk, topic, NULL);
		if (!rd_kafka_consume_start_queue(rkt[n_rkt], 0, RD_KAFKA_OFFSET_BEGINNING, q))
			open++;
		n_rkt++;
	}
	for (int idle = 0; open > 0 && idle < 8 && deconf_mono_us() < until;) {
		rd_kafka_message_t *m = rd_kafka_consume_queue(q, 250);
		int rc;

		if (!m) {
			idle++;
			continue;
		}
		if (m->err) {
			rd_kafka_resp_err_t err = m->err;
			rd_kafka_message_destroy(m);
			if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
			    err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
			    err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
			    err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
				open--; /* its end, or no such topic yet: none */
			else
				idle++;
			continue;
		}
		*v = grow(*v, &cap, *n, size);
		if (type == DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT)
			rc = decode_reject(f, m, (struct fed_reject *)*v + *n);
		else
			rc = decode_notice(f, m, (struct fed_notice *)*v + *n);
		if (rc)
			(*bad)++;
		else
			(*n)++;
		rd_kafka_message_destroy(m);
	}
	for (int i = 0; i < n_rkt; i++) {
		rd_kafka_consume_stop(rkt[i], 0);
		rd_kafka_topic_destroy(rkt[i]);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return 0;
}

int fed_read_notices(const struct fed *f, const char *agency, struct fed_notice **v, size_t *n,
		     size_t *bad, int max_ms)
{
	return read_agency_topics(f, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE, agency,
				  (void **)v, sizeof(**v), n, bad, max_ms);
}

int fed_read_rejects(const struct fed *f, const char *agency, struct fed_reject **v, size_t *n,
		     size_t *bad, int max_ms)
{
	return read_agency_topics(f, DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT, agency,
				  (void **)v, sizeof(**v), n, bad, max_ms);
}

int fed_watch_open(struct fed_watch *w, const struct fed *f, int type, const char *agency)
{
	const char *what = type == DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT ? "rejects"
										  : "notices";

	memset(w, 0, sizeof(*w));
	w->f = f;
	w->type = type;
	if (type != DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT &&
	    type != DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_CONFLICT_NOTICE)
		return FAIL("watch: type %d is neither notices nor rejects", type);
	if (!(w->rk = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed")))
		return -1;
	w->q = rd_kafka_queue_new(w->rk);
	for (int i = 0; i < f->n_ag; i++) {
		char topic[96];
		if (agency && strcmp(agency, f->ag[i].id))
			continue;
		snprintf(topic, sizeof(topic), "%s%s.%s", f->prefix, what, f->ag[i].id);
		w->rkt[w->n_rkt] = rd_kafka_topic_new(w->rk, topic, NULL);
		if (rd_kafka_consume_start_queue(w->rkt[w->n_rkt], 0, RD_KAFKA_OFFSET_BEGINNING,
						 w->q)) {
			rd_kafka_topic_destroy(w->rkt[w->n_rkt]);
			fed_watch_close(w);
			return FAIL("watch: cannot read %s", topic);
		}
		w->n_rkt++;
	}
	return 0;
}

int fed_watch_poll(struct fed_watch *w, int max_ms)
{
	int64_t until = deconf_mono_us() + (int64_t)max_ms * 1000;
	int got = 0;

	for (;;) {
		int64_t left = (until - deconf_mono_us()) / 1000;
		rd_kafka_message_t *m;

		if (left < 0)
			break;
		/* once something came, take what else is queued and return */
		if (!(m = rd_kafka_consume_queue(w->q, got ? 0 : (int)(left < 50 ? left : 50)))) {
			if (got)
				break;
			continue;
		}
		if (m->err) { /* the end of a partition, for now */
			rd_kafka_message_destroy(m);
			continue;
		}
		if (w->type == DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT) {
			w->rejects = grow(w->rejects, &w->cap, w->n, sizeof(*w->rejects));
			if (decode_reject(w->f, m, &w->rejects[w->n]))
				w->bad++;
			else
				w->n++, got++;
		} else {
			w->notices = grow(w->notices, &w->cap, w->n, sizeof(*w->notices));
			if (decode_notice(w->f, m, &w->notices[w->n]))
				w->bad++;
			else
				w->n++, got++;
		}
		rd_kafka_message_destroy(m);
	}
	return got;
}

void fed_watch_close(struct fed_watch *w)
{
	for (int i = 0; i < w->n_rkt; i++) {
		rd_kafka_consume_stop(w->rkt[i], 0);
		rd_kafka_topic_destroy(w->rkt[i]);
	}
	if (w->q)
		rd_kafka_queue_destroy(w->q);
	if (w->rk)
		rd_kafka_destroy(w->rk);
	free(w->notices);
	free(w->rejects);
	memset(w, 0, sizeof(*w));
}

int fed_topic_config(const struct fed *f, const char *topic, const char *name,
		     const char *value)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_PRODUCER, NULL, NULL);
	rd_kafka_ConfigResource_t *cr;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	int rc = -1;

	if (!rk)
		return -1;
	q = rd_kafka_queue_new(rk);
	cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	/* AlterConfigs replaces the topic's whole dynamic config: the
	 * federation's topics have none but cleanup.policy, kept here */
	if (!strcmp(topic + strlen(f->prefix), "state") ||
	    !strcmp(topic + strlen(f->prefix), "directory") ||
	    !strcmp(topic + strlen(f->prefix), "ingest.seen"))
		rd_kafka_ConfigResource_set_config(cr, "cleanup.policy", "compact");
	rd_kafka_ConfigResource_set_config(cr, name, value);
	rd_kafka_AlterConfigs(rk, &cr, 1, NULL, q);
	if ((ev = rd_kafka_queue_poll(q, 30000))) {
		const rd_kafka_AlterConfigs_result_t *res = rd_kafka_event_AlterConfigs_result(ev);
		const rd_kafka_ConfigResource_t **rs;
		size_t n = 0;

		if (rd_kafka_event_error(ev))
			FAIL("alter %s: %s", topic, rd_kafka_event_error_string(ev));
		else if (res && (rs = rd_kafka_AlterConfigs_result_resources(res, &n)) && n == 1 &&
			 rd_kafka_ConfigResource_error(rs[0]))
			FAIL("alter %s: %s", topic, rd_kafka_ConfigResource_error_string(rs[0]));
		else if (n == 1)
			rc = 0;
		rd_kafka_event_destroy(ev);
	} else {
		FAIL("alter %s: no answer", topic);
	}
	rd_kafka_ConfigResource_destroy(cr);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

long fed_count_records(const struct fed *f, const char *topic, int max_ms)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt;
	long count = 0;
	int np = 0;

	if (!rk)
		return -1;
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000) && md->topic_cnt == 1)
		np = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	for (int p = 0; p < np; p++) {
		int64_t until = deconf_mono_us() + (int64_t)max_ms * 1000;
		rd_kafka_consume_start(rkt, p, RD_KAFKA_OFFSET_BEGINNING);
		for (int idle = 0; idle < 8 && deconf_mono_us() < until;) {
			rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 250);
			int eof;
			if (!m) {
				idle++;
				continue;
			}
			eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
			if (!m->err)
				count++;
			rd_kafka_message_destroy(m);
			if (eof)
				break;
		}
		rd_kafka_consume_stop(rkt, p);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return count;
}

/* ------------------------------------------- what the broker has done */

/* Partitions of topic (metadata), or -1 when it does not exist. */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int np = -1;

	if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000) && md->topic_cnt == 1 &&
	    !md->topics[0].err)
		np = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return np;
}

/* The offset past partition p's last committed record, read from `from`
 * to the end (-1: not within max_ms; 0: none at or after from). */
static int64_t data_end_from(rd_kafka_topic_t *rkt, int p, int64_t from, int max_ms)
{
	int64_t until = deconf_mono_us() + (int64_t)max_ms * 1000, end = 0;
	int eof = 0;

	if (rd_kafka_consume_start(rkt, p, from))
		return -1;
	while (!eof && deconf_mono_us() < until) {
		rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 250);

		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eof = 1;
		else if (!m->err && m->offset + 1 > end)
			end = m->offset + 1;
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consume_stop(rkt, p);
	return eof ? end : -1;
}

int fed_data_ends(const struct fed *f, const char *topic, int64_t *ends, int n, int max_ms)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	rd_kafka_topic_t *rkt;
	int np, rc = 0;

	if (!rk)
		return -1;
	if ((np = partition_count(rk, topic)) < 0) {
		rd_kafka_destroy(rk);
		return FAIL("%s: no such topic", topic);
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	for (int p = 0; p < np && p < n && !rc; p++) {
		int64_t lo = 0, hi = 0, from;

		if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000)) {
			rc = FAIL("%s [%d]: no watermarks", topic, p);
			break;
		}
		ends[p] = 0;
		if (hi <= lo)
			continue;
		/* the last records are enough unless they are all markers or
		 * aborted: then from the beginning */
		from = hi - 1024 > lo ? hi - 1024 : lo;
		ends[p] = data_end_from(rkt, p, from, max_ms);
		if (ends[p] == 0 && from > lo)
			ends[p] = data_end_from(rkt, p, lo, max_ms);
		if (ends[p] < 0)
			rc = FAIL("%s [%d]: its end not reached in %d ms", topic, p, max_ms);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return rc ? -1 : np;
}

int fed_group_committed(const struct fed *f, const char *group, const char *topic,
			int64_t *offs, int n)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_PRODUCER, NULL, NULL);
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_ListConsumerGroupOffsets_t *req;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	int rc = -1;

	if (!rk)
		return -1;
	/* the admin API: asking as a member of the group would disturb it */
	parts = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++) {
		rd_kafka_topic_partition_list_add(parts, topic, p);
		offs[p] = -1;
	}
	req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	q = rd_kafka_queue_new(rk);
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, NULL, q);
	if (!(ev = rd_kafka_queue_poll(q, 30000))) {
		FAIL("%s: no answer to ListConsumerGroupOffsets", group);
	} else if (rd_kafka_event_error(ev)) {
		FAIL("%s: %s", group, rd_kafka_event_error_string(ev));
	} else {
		size_t cnt = 0;
		const rd_kafka_group_result_t **g = rd_kafka_ListConsumerGroupOffsets_result_groups(
			rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
		const rd_kafka_topic_partition_list_t *got;

		if (cnt == 1 && !rd_kafka_group_result_error(g[0]) &&
		    (got = rd_kafka_group_result_partitions(g[0]))) {
			for (int i = 0; i < got->cnt; i++) {
				const rd_kafka_topic_partition_t *tp = &got->elems[i];
				if (!tp->err && tp->partition >= 0 && tp->partition < n &&
				    !strcmp(tp->topic, topic))
					offs[tp->partition] = tp->offset;
			}
			rc = 0;
		} else {
			FAIL("%s: %s", group,
			     cnt == 1 && rd_kafka_group_result_error(g[0])
				     ? rd_kafka_error_string(rd_kafka_group_result_error(g[0]))
				     : "no result");
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

/* Wait until group has committed at least the data end of every partition
 * of topic (ends re-read each round: the writer may still be finishing).
 * 0, or -1 naming the first partition behind. */
static int wait_group_past(const struct fed *f, const char *group, const char *topic,
			   int64_t until_us)
{
	int64_t ends[64], offs[64];
	char behind[256] = "";
	int np;

	do {
		int ok = 1;

		if ((np = fed_data_ends(f, topic, ends, 64, 10000)) < 0)
			return -1;
		if (np == 0)
			return 0;
		if (fed_group_committed(f, group, topic, offs, np))
			return -1;
		for (int p = 0; p < np && ok; p++)
			if (ends[p] > 0 && offs[p] < ends[p]) {
				ok = 0;
				snprintf(behind, sizeof(behind),
					 "%s [%d]: committed %lld, its records end at %lld", topic,
					 p, (long long)offs[p], (long long)ends[p]);
			}
		if (ok)
			return 0;
		usleep(100000);
	} while (deconf_mono_us() < until_us);
	return FAIL("group %s has not committed past what was written: %s", group, behind);
}

int fed_wait_processed(const struct fed *f, int max_ms)
{
	int64_t until = deconf_mono_us() + (int64_t)max_ms * 1000;
	char group[96], topic[160];
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_PRODUCER, NULL, NULL);

	if (!rk)
		return -1;
	snprintf(group, sizeof(group), "%sbroker-ingest", f->prefix);
	for (int i = 0; i < f->n_ag; i++) {
		snprintf(topic, sizeof(topic), "%ssubmit.%s", f->prefix, f->ag[i].id);
		if (partition_count(rk, topic) < 0)
			continue; /* nothing ever submitted */
		if (wait_group_past(f, group, topic, until)) {
			rd_kafka_destroy(rk);
			return -1;
		}
	}
	rd_kafka_destroy(rk);
	snprintf(group, sizeof(group), "%sbroker-matcher", f->prefix);
	fed_topic(f, "tokens", topic, sizeof(topic));
	/* twice: ingest's committed offsets can show a moment before the
	 * markers of its last transaction are on deconf.tokens, and a reader
	 * stops short of an open transaction */
	return wait_group_past(f, group, topic, until) || wait_group_past(f, group, topic, until)
		       ? -1
		       : 0;
}

int fed_http_get(int port, const char *path, char **body)
{
	size_t cap = 1 << 16, n = 0, r;
	char cmd[300], *nl;
	FILE *p;

	*body = NULL;
	snprintf(cmd, sizeof(cmd), "curl -s -m 10 -o - -w '\\n%%{http_code}' 'http://127.0.0.1:%d%s'",
		 port, path);
	if (!(p = popen(cmd, "r")))
		return -1;
	if (!(*body = malloc(cap)))
		abort();
	while ((r = fread(*body + n, 1, cap - n - 1, p)) > 0) {
		n += r;
		if (cap - n - 1 == 0 && !(*body = realloc(*body, cap *= 2)))
			abort();
	}
	(*body)[n] = '\0';
	pclose(p);
	if (!(nl = strrchr(*body, '\n')))
		return -1;
	*nl = '\0'; /* the body, without curl's status line */
	return atoi(nl + 1);
}

double fed_metric(const char *text, const char *series, int *found)
{
	size_t len = strlen(series);

	if (found)
		*found = 0;
	for (const char *p = text; text && (p = strstr(p, series)); p += len)
		if ((p == text || p[-1] == '\n') && p[len] == ' ') {
			if (found)
				*found = 1;
			return strtod(p + len + 1, NULL);
		}
	return 0;
}

double fed_metric_sum(const char *text, const char *family, int *n)
{
	size_t len = strlen(family);
	double sum = 0;

	if (n)
		*n = 0;
	for (const char *p = text; text && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
		const char *v;
		if (strncmp(p, family, len) || (p[len] != ' ' && p[len] != '{'))
			continue;
		if (!(v = strchr(p + len, ' ')) || (strchr(p, '\n') && v > strchr(p, '\n')))
			continue;
		sum += strtod(v + 1, NULL);
		if (n)
			(*n)++;
	}
	return sum;
}

int fed_state_entry(const struct fed *f, const uint8_t token[16], uint32_t epoch,
		    const char *agency, const char *case_ref, struct fed_state_entry *e,
		    int max_ms)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	size_t al = strlen(agency), cl = strlen(case_ref), klen = 22 + al + cl;
	uint8_t key[512];
	char topic[96];
	rd_kafka_topic_t *rkt;
	int np, rc = 0;

	memset(e, 0, sizeof(*e));
	if (!rk)
		return -1;
	if (klen > sizeof(key)) {
		rd_kafka_destroy(rk);
		return FAIL("state key too long");
	}
	/* "E" token epoch(u32be) agency 0x00 case (deconf.proto, StateRecord) */
	key[0] = 'E';
	memcpy(key + 1, token, 16);
	for (int i = 0; i < 4; i++)
		key[17 + i] = (uint8_t)(epoch >> (24 - 8 * i));
	memcpy(key + 21, agency, al);
	key[21 + al] = 0;
	memcpy(key + 22 + al, case_ref, cl);
	fed_topic(f, "state", topic, sizeof(topic));
	if ((np = partition_count(rk, topic)) < 0) {
		rd_kafka_destroy(rk);
		return FAIL("%s: no such topic", topic);
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	for (int p = 0; p < np && !rc; p++) {
		int64_t until = deconf_mono_us() + (int64_t)max_ms * 1000;
		int eof = 0;

		rd_kafka_consume_start(rkt, p, RD_KAFKA_OFFSET_BEGINNING);
		while (!eof && deconf_mono_us() < until) {
			rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 250);
			Deconf__V1__Envelope *env = NULL;
			ProtobufCMessage *inner = NULL;

			if (!m)
				continue;
			if (m->err) {
				eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
				rd_kafka_message_destroy(m);
				continue;
			}
			if (m->key_len != klen || memcmp(m->key, key, klen)) {
				rd_kafka_message_destroy(m);
				continue;
			}
			e->found = 1;
			e->partition = p;
			e->offset = m->offset;
			e->deleted = !m->payload || !m->len;
			if (!e->deleted) {
				Deconf__V1__StateRecord *r;
				/* internal: an unsigned envelope */
				if (deconf_envelope_unpack(m->payload, m->len, 1 << 20, &env, NULL,
							   0) ||
				    deconf_envelope_payload(env, &deconf__v1__state_record__descriptor,
							    &inner, NULL, 0) ||
				    !(r = (Deconf__V1__StateRecord *)inner)->entry) {
					rc = FAIL("%s [%d] offset %lld: not an entry record", topic, p,
						  (long long)m->offset);
				} else {
					e->added_at = r->entry->added_at;
					e->expires_at = r->entry->expires_at;
					e->expiry_warned = r->entry->expiry_warned;
				}
			}
			deconf_msg_free(inner);
			deconf_msg_free(env);
			rd_kafka_message_destroy(m);
		}
		rd_kafka_consume_stop(rkt, p);
		if (!eof && !rc)
			rc = FAIL("%s [%d]: its end not reached in %d ms", topic, p, max_ms);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return rc;
}

int fed_read_ops(const struct fed *f, struct fed_ops_event **v, size_t *n, size_t *bad,
		 int max_ms)
{
	rd_kafka_t *rk = fed_client(f, RD_KAFKA_CONSUMER, "isolation.level", "read_committed");
	int64_t until = deconf_mono_us() + (int64_t)max_ms * 1000;
	size_t cap = *n;
	char topic[96];
	rd_kafka_topic_t *rkt;
	int np, rc = 0;

	if (!rk)
		return -1;
	fed_topic(f, "ops", topic, sizeof(topic));
	if ((np = partition_count(rk, topic)) < 0) {
		rd_kafka_destroy(rk);
		return FAIL("%s: no such topic", topic);
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	for (int p = 0; p < np && !rc; p++) {
		int eof = 0;

		rd_kafka_consume_start(rkt, p, RD_KAFKA_OFFSET_BEGINNING);
		while (!eof && deconf_mono_us() < until) {
			rd_kafka_message_t *m = rd_kafka_consume(rkt, p, 250);
			ProtobufCMessage *msg = NULL;
			Deconf__V1__OpsEvent *ev;
			struct fed_ops_event *x;

			if (!m)
				continue;
			if (m->err) {
				eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
				rd_kafka_message_destroy(m);
				continue;
			}
			if (deconf_envelope_open(m->payload, m->len, 1 << 20,
						 DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_OPS_EVENT, f->key,
						 &deconf__v1__ops_event__descriptor, &msg, NULL, 0)) {
				(*bad)++;
				rd_kafka_message_destroy(m);
				continue;
			}
			ev = (Deconf__V1__OpsEvent *)msg;
			*v = grow(*v, &cap, *n, sizeof(**v));
			x = &(*v)[(*n)++];
			memset(x, 0, sizeof(*x));
			x->kind = ev->kind;
			x->at = ev->at;
			x->offset = m->offset;
			x->count = ev->count;
			x->key_epoch = ev->key_epoch;
			x->type = ev->type;
			copy_bytes(x->agency, sizeof(x->agency), &ev->agency_id);
			copy_str(x->detail, sizeof(x->detail), ev->detail);
			if (ev->token.len == 16)
				memcpy(x->token, ev->token.data, 16);
			deconf_msg_free(msg);
			rd_kafka_message_destroy(m);
		}
		rd_kafka_consume_stop(rkt, p);
		if (!eof)
			rc = FAIL("%s [%d]: its end not reached in %d ms", topic, p, max_ms);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return rc;
}

/* ------------------------------------------------------------- streams */

void *fed_stream_main(void *arg)
{
	struct fed_stream *st = arg;
	struct fed_op *ops = calloc((size_t)st->per_sub, sizeof(*ops));
	char ref[2][32];
	uint32_t next_a = st->base + 1000000, next_b = st->base + 5000000;

	if (!ops) {
		st->failed = 1;
		st->done = 1;
		return NULL;
	}
	for (int i = 0; i < st->n_subs && !st->failed; i++) {
		int a = i % 2;
		snprintf(ref[a], sizeof(ref[a]), "%c-%u-%d", a ? 'B' : 'A', st->base, i);
		for (int j = 0; j < st->per_sub; j++) {
			uint32_t tok;
			if (a == 1 && j < st->shared)
				tok = st->base + 1000000 +
				      (uint32_t)((i - 1) * st->per_sub + j * 7 % st->per_sub);
			else
				tok = a ? next_b++ : next_a++;
			memset(&ops[j], 0, sizeof(ops[j]));
			ops[j].op = DECONF__V1__OP__OP_ADD;
			ops[j].case_ref = ref[a];
			ops[j].type = DECONF__V1__INDICATOR_TYPE__INDICATOR_TYPE_MD5;
			ops[j].poc_name = "Det. Stream";
			fed_token(st->f, tok, ops[j].token);
		}
		if (a == 0)
			next_a = st->base + 1000000 + (uint32_t)((i + 2) * st->per_sub);
		if (fed_submit(st->f, a, ops, (size_t)st->per_sub, NULL)) {
			st->failed = 1;
			break;
		}
		st->ops += (size_t)st->per_sub;
		usleep((useconds_t)st->gap_us);
	}
	if (fed_flush(st->f))
		st->failed = 1;
	free(ops);
	st->done = 1;
	return NULL;
}

size_t fed_stream_notices(const struct fed_stream *st)
{
	return 2 * (size_t)st->shared * (size_t)(st->n_subs / 2);
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

int fed_count_notices(struct fed *f, size_t want, int max_s, size_t *total, size_t *distinct)
{
	struct fed_notice *v = NULL;
	size_t n = 0, bad = 0;
	uint8_t(*ids)[16];
	int64_t end = deconf_mono_us() + (int64_t)max_s * 1000000;

	for (;;) {
		free(v);
		v = NULL;
		n = bad = 0;
		if (fed_read_notices(f, NULL, &v, &n, &bad, 20000))
			return FAIL("notices: not read");
		if (n >= want || deconf_mono_us() > end)
			break;
		usleep(500000);
	}
	free(v);
	v = NULL;
	n = bad = 0;
	if (fed_wait_processed(f, 120000) || fed_read_notices(f, NULL, &v, &n, &bad, 20000))
		return FAIL("notices: the broker did not commit past everything in 120 s");
	if (bad) {
		free(v);
		return FAIL("notices: %zu badly signed", bad);
	}
	if (!(ids = calloc(n + 1, 16))) {
		free(v);
		return FAIL("out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].kind != DECONF__V1__NOTICE_KIND__NOTICE_KIND_CONFLICT) {
			free(ids);
			free(v);
			return FAIL("notices: one of kind %d, not CONFLICT", v[i].kind);
		}
		memcpy(ids[i], v[i].id, 16);
	}
	qsort(ids, n, 16, cmp16);
	*distinct = n ? 1 : 0;
	for (size_t i = 1; i < n; i++)
		if (memcmp(ids[i - 1], ids[i], 16))
			(*distinct)++;
	*total = n;
	free(ids);
	free(v);
	return 0;
}

int fed_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (s >= 0 && !bind(s, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(s, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	if (s >= 0)
		close(s);
	if (port <= 0) {
		fprintf(stderr, "fed: no free TCP port on 127.0.0.1\n");
		abort();
	}
	return port;
}

/* ---------------------------------------------- an agency's adapter */

const char *fed_adapter_dir(const struct fed *f, int i, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", f->dir, f->ag[i].id);
	return buf;
}

int fed_write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	int rc;

	if (!fp)
		return FAIL("%s: cannot write", path);
	rc = fputs(text, fp) < 0;
	if (fclose(fp) || rc)
		return FAIL("%s: write failed", path);
	return 0;
}

char *fed_slurp(const char *path)
{
	char *text = NULL;
	size_t len;

	if (deconf_file_read(path, 16 << 20, 0, &text, &len, NULL, 0))
		return strdup("");
	return text;
}

int fed_adapter_file(const struct fed *f, int i, const char *name, const char *text,
		     char *path, size_t path_size)
{
	char dir[256], buf[320];

	if (!path) {
		path = buf;
		path_size = sizeof(buf);
	}
	fed_adapter_dir(f, i, dir, sizeof(dir));
	if ((size_t)snprintf(path, path_size, "%s/%s", dir, name) >= path_size)
		return FAIL("%s/%s: name too long", dir, name);
	return fed_write_file(path, text);
}

/* broker.pub and federation.keys in f->dir, which every agency's config
 * names: one federation, one keyring. */
static int adapter_keys(struct fed *f)
{
	struct deconf_keyring *ring = NULL;
	char path[256], errstr[256];
	int rc;

	if (f->adapter_keys)
		return 0;
	snprintf(path, sizeof(path), "%s/broker.pub", f->dir);
	if (deconf_sign_key_save_public(f->key, path, errstr, sizeof(errstr)))
		return FAIL("%s", errstr);
	if (deconf_keyring_new(&ring) || deconf_keyring_rotate(ring, NULL)) {
		deconf_keyring_free(ring);
		return FAIL("keyring: out of memory");
	}
	snprintf(path, sizeof(path), "%s/federation.keys", f->dir);
	rc = deconf_keyring_save(ring, path, 1, errstr, sizeof(errstr));
	deconf_keyring_free(ring);
	if (rc)
		return FAIL("%s", errstr);
	f->adapter_keys = 1;
	return 0;
}

int fed_adapter_setup(struct fed *f, int i, const char *extra_conf)
{
	char dir[256], path[320], text[4096], errstr[256];

	if (adapter_keys(f))
		return -1;
	fed_adapter_dir(f, i, dir, sizeof(dir));
	if (mkdir(dir, 0700))
		return FAIL("mkdir %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/signing.key", dir);
	if (deconf_sign_key_save_private(f->ag[i].key, path, errstr, sizeof(errstr)))
		return FAIL("%s", errstr);
	snprintf(path, sizeof(path), "%s/agency.conf", dir);
	if ((size_t)snprintf(text, sizeof(text),
			     "[agency]\nid = %s\nkey_file = %s/federation.keys\n"
			     "signing_key = %s/signing.key\nbroker_public_key = %s/broker.pub\n"
			     "federation_public_key = %s/federation.pub\n"
			     "topic_prefix = %s\n[ledger]\ndir = %s/ledger\nmap_size = 64M\n"
			     "[submit]\nconfirm_timeout = 60s\ntimeout = 20s\n[log]\nlevel = info\n"
			     "[kafka]\nbootstrap.servers = %s\n%s",
			     f->ag[i].id, f->dir, dir, f->dir, f->dir, f->prefix, dir, f->bootstrap,
			     extra_conf ? extra_conf : "") >= sizeof(text))
		return FAIL("%s: config too long", path);
	return fed_write_file(path, text);
}

int fed_adapter(struct fed *f, int i, char **out, const char *fmt, ...)
{
	char dir[256], args[2048], cmd[4096], path[320], *text = NULL;
	va_list ap;
	FILE *log;
	int st, n, rc;

	if (out)
		*out = NULL;
	if (!f->adapter_bin)
		return FAIL("fed_adapter: adapter_bin not set");
	fed_adapter_dir(f, i, dir, sizeof(dir));
	va_start(ap, fmt);
	n = vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(args))
		return FAIL("fed_adapter: arguments too long: %.80s...", args);
	snprintf(path, sizeof(path), "%s/out.txt", dir);
	if ((size_t)snprintf(cmd, sizeof(cmd),
			     "cd '%s' && '%s' -c agency.conf --no-progress %s >'%s' 2>&1", dir,
			     f->adapter_bin, args, path) >= sizeof(cmd))
		return FAIL("fed_adapter: command too long: %.80s...", args);
	st = system(cmd);
	if (!(text = fed_slurp(path)))
		return FAIL("fed_adapter: out of memory");
	/* the shell reports a program killed by a signal as 128+n: only the
	 * shell itself not running or not exiting is -1 */
	rc = WIFEXITED(st) ? WEXITSTATUS(st)
			   : FAIL("%s: the shell running %s did not exit (status %#x)",
				  f->ag[i].id, args, (unsigned)st);
	if (f->adapter_log) {
		/* the log keeps a line of the arguments: enough to tell runs apart */
		if (!(log = fopen(f->adapter_log, "a"))) {
			rc = FAIL("%s: cannot append", f->adapter_log);
		} else {
			n = fprintf(log, "== %s: %.200s\n%s", f->ag[i].id, args, text);
			if (fclose(log) || n < 0)
				rc = FAIL("%s: write failed", f->adapter_log);
		}
	} else {
		fprintf(stderr, "== %s: %s\n%s", f->ag[i].id, args, text);
	}
	if (f->adapter_sanitizer_fails &&
	    (strstr(text, "Sanitizer") || strstr(text, "runtime error")))
		rc = FAIL("%s: sanitizer report in the output of %s", f->ag[i].id, args);
	if (out)
		*out = text;
	else
		free(text);
	return rc;
}
