/*
 * test_security.c — a federation made by deconfctl, on the real Kafka's mTLS
 * listener with the StandardAuthorizer: what an agency's certificate may
 * and may not do, each refusal asserted by its Kafka error code.
 *
 * deconfctl issues every certificate from the CA the test Kafka trusts
 * (federation init --ca-cert/--ca-key), creates the topics and the literal
 * ACLs (topics apply) and publishes the directory; the real deconf-broker
 * and deconf-adapter run with the configurations deconfctl wrote.
 *
 *   - agency B cannot read A's notices or rejects, cannot write A's submit
 *     topic, cannot read deconf.tokens, deconf.state or deconf.audit
 *     (TOPIC_AUTHORIZATION_FAILED), but can read the directory and use its
 *     own topics;
 *   - a certificate of another federation's CA cannot connect (TLS alert);
 *   - a suspended agency's submissions are refused by the broker
 *     (REJECT_REASON_SUSPENDED_AGENCY, read by the agency on its rejects
 *     topic);
 *   - reserved ids (a Kafka super user's, the federation's services') are
 *     never issued;
 *   - each agency may read its own receipts topic (the broker's signed
 *     answer to each of its submissions; tail checks the signature), not
 *     another's;
 *   - key custody: the federation key (the directory's) may be offline;
 *     the broker refuses it, or its own key, in place of federation.pub;
 *     an agency's keys made by deconf-adapter init, its certificate
 *     issued from its request (not another agency's), a bundle without
 *     private keys that works; a CA key others can read is refused;
 *   - the key epochs: the signed KeyEpochs record on the directory topic
 *     (topics apply, agency add, rotate-key --overlap, federation epochs),
 *     its rules (retiring epochs keep their time, long-retired ones are
 *     dropped, a federation made before it), and a rotation refused while
 *     Kafka cannot be reached.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP, _TLS and _TLS_DIR; exits 77 without them.
 */
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf.pb-c.h"
#include "deconf/envelope.h"
#include "deconf/kafka.h"
#include "deconf/sign.h"
#include "deconf/util.h"
#include "fed.h"

static const char *bootstrap, *bootstrap_tls, *tls_dir;
static pid_t broker_pid;
static char top[128], dir[160], prefix[32];

static void kill_broker(void)
{
	if (broker_pid > 0)
		kill(broker_pid, SIGKILL);
}

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A client with agency id's bundle certificate (fed: its federation dir). */
typedef void(dr_fn)(rd_kafka_t *, const rd_kafka_message_t *, void *);

static const char *trust; /* ssl.ca.location override, or NULL: the bundle's */

static rd_kafka_t *as_agency(const char *fed, const char *id, rd_kafka_type_t type,
			     void (*ecb)(rd_kafka_t *, int, const char *, void *), dr_fn *dr,
			     void *opaque)
{
	rd_kafka_conf_t *kc = NULL;
	char errstr[512], path[512];
	rd_kafka_t *rk;

	assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-security", errstr,
					       sizeof(errstr)),
			 0);
#define SET(k, v) \
	assert_int_equal(deconf_kafka_conf_set(kc, k, v, "t", errstr, sizeof(errstr)), 0)
	SET("bootstrap.servers", bootstrap_tls);
	SET("security.protocol", "ssl");
	snprintf(path, sizeof(path), "%s/agencies/%s/ca.pem", fed, id);
	SET("ssl.ca.location", trust ? trust : path);
	snprintf(path, sizeof(path), "%s/agencies/%s/agency.pem", fed, id);
	SET("ssl.certificate.location", path);
	snprintf(path, sizeof(path), "%s/agencies/%s/agency.key", fed, id);
	SET("ssl.key.location", path);
	SET("ssl.endpoint.identification.algorithm", "none");
	if (type == RD_KAFKA_CONSUMER)
		SET("enable.partition.eof", "true");
	else
		SET("message.timeout.ms", "15000");
#undef SET
	if (ecb)
		rd_kafka_conf_set_error_cb(kc, ecb);
	if (dr)
		rd_kafka_conf_set_dr_msg_cb(kc, dr);
	rd_kafka_conf_set_opaque(kc, opaque);
	assert_non_null(rk = deconf_kafka_new(type, kc, errstr, sizeof(errstr)));
	return rk;
}

/* The first error (or EOF, or a record: 0) reading topic as id. */
static rd_kafka_resp_err_t read_as(const char *id, const char *name)
{
	char topic[128];
	rd_kafka_t *rk = as_agency(dir, id, RD_KAFKA_CONSUMER, NULL, NULL, NULL);
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;

	snprintf(topic, sizeof(topic), "%s%s", prefix, name);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	{
		/* without DESCRIBE the broker refuses the topic's metadata, the
		 * first thing any read needs */
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
		if (!merr && md->topic_cnt == 1)
			merr = md->topics[0].err;
		if (md)
			rd_kafka_metadata_destroy(md);
		if (merr) {
			rd_kafka_topic_destroy(rkt);
			rd_kafka_destroy(rk);
			return merr;
		}
	}
	assert_int_equal(rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING), 0);
	for (int i = 0; i < 60; i++) {
		rd_kafka_message_t *m = rd_kafka_consume(rkt, 0, 500);
		if (!m)
			continue;
		err = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ? 0 : m->err;
		rd_kafka_message_destroy(m);
		break;
	}
	rd_kafka_consume_stop(rkt, 0);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return err;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	*(rd_kafka_resp_err_t *)opaque = m->err;
}

/* The delivery result of one record written to topic as id. */
static rd_kafka_resp_err_t write_as(const char *id, const char *name)
{
	char topic[128];
	rd_kafka_resp_err_t res = RD_KAFKA_RESP_ERR__TIMED_OUT;
	rd_kafka_t *rk = as_agency(dir, id, RD_KAFKA_PRODUCER, NULL, dr_cb, &res);

	snprintf(topic, sizeof(topic), "%s%s", prefix, name);
	assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
					   RD_KAFKA_V_VALUE("forged", 6),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
	rd_kafka_flush(rk, 20000);
	rd_kafka_destroy(rk);
	return res;
}

/* The file at dir/name, NUL-terminated (free it). */
static char *slurp(const char *d, const char *name)
{
	char path[512], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", d, name);
	assert_int_equal(deconf_file_read(path, 1 << 20, 0, &text, &len, NULL, 0), 0);
	return text;
}

/*
 * The last "~key-epochs" record of fed's directory topic (topic prefix pfx),
 * read as agency id over mTLS (or, id NULL, over plaintext), checked
 * against fed's federation.pub: every such record must verify. NULL if none.
 * Free with deconf_msg_free().
 */
static Deconf__V1__KeyEpochs *directory_epochs(const char *fed, const char *pfx, const char *id)
{
	char topic[128], path[512], errstr[512];
	struct deconf_sign_key *fkey = NULL;
	Deconf__V1__KeyEpochs *last = NULL;
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;

	snprintf(path, sizeof(path), "%s/federation.pub", fed);
	assert_int_equal(deconf_sign_key_load(&fkey, path, errstr, sizeof(errstr)), 0);
	if (id) {
		rk = as_agency(fed, id, RD_KAFKA_CONSUMER, NULL, NULL, NULL);
	} else {
		rd_kafka_conf_t *kc = NULL;
		assert_int_equal(deconf_kafka_conf_new(&kc, NULL, "itest-security", errstr,
						       sizeof(errstr)),
				 0);
		assert_int_equal(deconf_kafka_conf_set(kc, "bootstrap.servers", bootstrap, "t",
						       errstr, sizeof(errstr)),
				 0);
		assert_int_equal(deconf_kafka_conf_set(kc, "enable.partition.eof", "true", "t",
						       errstr, sizeof(errstr)),
				 0);
		assert_non_null(rk = deconf_kafka_new(RD_KAFKA_CONSUMER, kc, errstr,
						      sizeof(errstr)));
	}
	snprintf(topic, sizeof(topic), "%sdirectory", pfx);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	assert_int_equal(rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING), 0);
	for (int idle = 0; idle < 40;) {
		rd_kafka_message_t *m = rd_kafka_consume(rkt, 0, 500);
		ProtobufCMessage *msg = NULL;
		if (!m) {
			idle++;
			continue;
		}
		if (m->err) {
			int end = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
			rd_kafka_message_destroy(m);
			if (end)
				break;
			idle++;
			continue;
		}
		if (m->key_len == 11 && !memcmp(m->key, "~key-epochs", 11)) {
			const Deconf__V1__MessageType type =
				DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_KEY_EPOCHS;
			assert_int_equal(deconf_envelope_open(m->payload, m->len, 1 << 20, type, fkey,
							      &deconf__v1__key_epochs__descriptor, &msg,
							      errstr, sizeof(errstr)),
					 0);
			deconf_msg_free(last);
			last = (Deconf__V1__KeyEpochs *)msg;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consume_stop(rkt, 0);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	deconf_sign_key_free(fkey);
	return last;
}

/* fed's key-epochs.pb (free with deconf__v1__key_epochs__free_unpacked). */
static Deconf__V1__KeyEpochs *saved_epochs(const char *fed)
{
	char path[512], *buf = NULL;
	size_t len;
	Deconf__V1__KeyEpochs *ke;

	snprintf(path, sizeof(path), "%s/key-epochs.pb", fed);
	assert_int_equal(deconf_file_read(path, 1 << 20, 0, &buf, &len, NULL, 0), 0);
	assert_non_null(ke = deconf__v1__key_epochs__unpack(NULL, len, (uint8_t *)buf));
	free(buf);
	return ke;
}

/* Asserts epoch i of ke: its number and retire time (0, or within
 * [lo, hi]); activated_at must be set. */
static void assert_epoch(const Deconf__V1__KeyEpochs *ke, size_t i, uint32_t epoch, int64_t lo,
			 int64_t hi)
{
	assert_true(i < ke->n_epochs);
	assert_int_equal(ke->epochs[i]->epoch, epoch);
	assert_true(ke->epochs[i]->activated_at > 0);
	if (!lo && !hi) {
		assert_int_equal(ke->epochs[i]->retire_at, 0);
	} else {
		assert_true(ke->epochs[i]->retire_at >= lo);
		assert_true(ke->epochs[i]->retire_at <= hi);
	}
}

struct alert {
	const char *want;
	int seen;
};

static void alert_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct alert *a = opaque;

	(void)rk;
	if ((err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__SSL ||
	     err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) &&
	    strstr(reason, a->want))
		a->seen++;
}

static void test_federation_acls(void **state)
{
	char path[512], hex[9], *text = NULL;
	const char *ctl = CTL_BIN;
	uint8_t r[4];
	size_t len;

	(void)state;
	snprintf(top, sizeof(top), "/tmp/itest-security.XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/fed", top);
	RAND_bytes(r, sizeof(r));
	snprintf(prefix, sizeof(prefix), "it%s.", deconf_hex_encode(hex, r, sizeof(r)));
	/* the federation, issued from the CA the test Kafka trusts */
	assert_int_equal(sh("'%s' federation init '%s/fed' --bootstrap %s --prefix %s --partitions 2 "
			    "--ca-cert %s/test-ca.pem --ca-key %s/test-ca.key >/dev/null",
			    ctl, top, bootstrap_tls, prefix, tls_dir, tls_dir),
			 0);
	/* refuses to overwrite it */
	assert_int_equal(sh("'%s' federation init '%s' 2>/dev/null", ctl, dir), 1);
	/* init keeps the epochs record; the first topics apply publishes it */
	assert_int_equal(sh("'%s' -f '%s' topics apply > '%s/apply.txt'", ctl, dir, dir), 0);
	text = slurp(dir, "apply.txt");
	assert_non_null(strstr(text, "key epochs: serial 1 published (epochs: 1)\n"));
	free(text);
	/* reserved ids (Kafka super users, the federation's services) are
	 * refused with status 2, before anything is made */
	{
		static const char *const reserved[] = { "deconf-broker", "admin", "deconf-anything",
							"anonymous", "kafka-connect", "root" };
		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
			struct stat st;
			assert_int_equal(sh("'%s' -f '%s' agency add %s --name x --level state "
					    "--country US --poc-name x --poc-phone 1 --poc-email x@y "
					    "2> '%s/refused.txt'",
					    ctl, dir, reserved[i], dir),
					 2);
			text = slurp(dir, "refused.txt");
			assert_non_null(strstr(text, "is a reserved id"));
			free(text);
			snprintf(path, sizeof(path), "%s/agencies/%s", dir, reserved[i]);
			assert_int_not_equal(stat(path, &st), 0);
			snprintf(path, sizeof(path), "%s/agencies/%s.entry", dir, reserved[i]);
			assert_int_not_equal(stat(path, &st), 0);
		}
	}
	/* a bad id is refused before anything is made */
	assert_int_equal(sh("'%s' -f '%s' agency add -Bad --name x --level state --country US "
			    "--poc-name x --poc-phone 1 --poc-email x@y 2>/dev/null",
			    ctl, dir),
			 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(sh("'%s' -f '%s' agency add %s --name 'Agency %c' --level %s "
				    "--country US --poc-name Desk --poc-phone '+1 555 010 0000' "
				    "--poc-email desk@example.org >/dev/null",
				    ctl, dir, i ? "sec-b" : "sec-a", i ? 'B' : 'A',
				    i ? "tribal" : "federal"),
				 0);
	assert_int_equal(sh("'%s' -f '%s' topics apply > '%s/apply.txt'", ctl, dir, dir), 0);
	snprintf(path, sizeof(path), "%s/apply.txt", dir);
	assert_int_equal(deconf_file_read(path, 1 << 20, 0, &text, &len, NULL, 0), 0);
	/* per agency: submit (write), notices, rejects, receipts, directory
	 * (read), each with describe */
	assert_non_null(strstr(text, "ACLs: 20 created"));
	assert_non_null(strstr(text, "receipts.sec-a\n"));
	free(text);
	/* a second run changes nothing, and says so */
	assert_int_equal(sh("'%s' -f '%s' topics apply > '%s/apply.txt'", ctl, dir, dir), 0);
	assert_int_equal(deconf_file_read(path, 1 << 20, 0, &text, &len, NULL, 0), 0);
	assert_non_null(strstr(text, "topics: 0 created"));
	assert_non_null(strstr(text, "ACLs: 0 created, 20 already there"));
	assert_non_null(strstr(text, "key epochs: serial 1 published (epochs: 1)\n"));
	free(text);
	/* an agency reads the epochs record, signed with the federation's key:
	 * epoch 1, live */
	{
		Deconf__V1__KeyEpochs *ke = directory_epochs(dir, prefix, "sec-b");
		assert_non_null(ke);
		assert_int_equal(ke->serial, 1);
		assert_int_equal(ke->n_epochs, 1);
		assert_epoch(ke, 0, 1, 0, 0);
		assert_true(ke->updated_at > 0);
		deconf_msg_free(ke);
	}
	/* agency list skips it (not an agency, not a refused record); tail
	 * decodes it and checks its signature */
	assert_int_equal(sh("'%s' -f '%s' agency list > '%s/list.txt'", ctl, dir, dir), 0);
	text = slurp(dir, "list.txt");
	assert_non_null(strstr(text, "sec-a "));
	assert_non_null(strstr(text, "sec-b "));
	assert_null(strstr(text, "ignored"));
	assert_null(strstr(text, "key-epochs"));
	free(text);
	assert_int_equal(sh("'%s' -f '%s' tail directory --from-beginning > '%s/tail.txt'", ctl,
			    dir, dir),
			 0);
	assert_int_equal(sh("grep '\"key\":\"~key-epochs\"' '%s/tail.txt' | grep "
			    "'\"type\":\"MESSAGE_TYPE_KEY_EPOCHS\"' | grep '\"signature\":\"valid\"' "
			    "| grep -q '\"serial\":1'",
			    dir),
			 0);
	assert_int_equal(sh("! grep -q 'INVALID\\|error' '%s/tail.txt'", dir), 0);
	/* private files are private */
	snprintf(path, sizeof(path), "%s/agencies/sec-a/agency.key", dir);
	{
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 077, 0);
	}

	/* B against A's topics and the broker's: refused, by code */
	assert_int_equal(read_as("sec-b", "notices.sec-a"),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(read_as("sec-b", "rejects.sec-a"),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(read_as("sec-b", "receipts.sec-a"),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(write_as("sec-b", "submit.sec-a"),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(read_as("sec-b", "tokens"), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(read_as("sec-b", "state"), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(read_as("sec-b", "audit"), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(write_as("sec-b", "directory"),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	/* ...and allowed what is its own */
	assert_int_equal(read_as("sec-b", "directory"), 0);
	assert_int_equal(read_as("sec-b", "notices.sec-b"), 0);
	assert_int_equal(read_as("sec-b", "receipts.sec-b"), 0);
	assert_int_equal(write_as("sec-b", "submit.sec-b"), 0);
}

/* A certificate from another federation's CA cannot even connect. */
static void test_foreign_federation_refused(void **state)
{
	char other[256];
	struct alert a = { .want = "certificate unknown" };
	rd_kafka_t *rk;

	(void)state;
	snprintf(other, sizeof(other), "%s/other", top);
	/* its own CA; its directory entry goes over plaintext */
	assert_int_equal(sh("'%s' federation init '%s' --plaintext --bootstrap %s --prefix %sother. "
			    ">/dev/null && '%s' -f '%s' topics apply >/dev/null && '%s' -f '%s' "
			    "agency add sec-a --name Impostor --level state --country US --poc-name x "
			    "--poc-phone 1 --poc-email x@y >/dev/null",
			    CTL_BIN, other, bootstrap, prefix, CTL_BIN, other, CTL_BIN, other),
			 0);
	{
		/* it trusts the Kafka brokers; they do not trust it */
		static char ca[256];
		snprintf(ca, sizeof(ca), "%s/ca.pem", tls_dir);
		trust = ca;
	}
	rk = as_agency(other, "sec-a", RD_KAFKA_PRODUCER, alert_cb, NULL, &a);
	trust = NULL;
	{
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 5000);
		if (md)
			rd_kafka_metadata_destroy(md);
		assert_int_not_equal(err, 0);
	}
	for (int i = 0; i < 50 && !a.seen; i++)
		rd_kafka_poll(rk, 100);
	rd_kafka_destroy(rk);
	assert_true(a.seen > 0);
}

/* deconf-broker with the broker.conf deconfctl wrote, from its directory. */
static void broker_start(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/broker.log", dir);
	broker_pid = fork();
	assert_true(broker_pid >= 0);
	if (!broker_pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, even a crashed one */
		FILE *lf = fopen(path, "a");
		if (!lf || chdir(dir))
			_exit(127);
		dup2(fileno(lf), 2);
		execl(BROKER_BIN, BROKER_BIN, "-c", "broker.conf", "--set", "http.port=0", "--set",
		      "kafka.session.timeout.ms=6000", (char *)NULL);
		_exit(127);
	}
}

static void broker_stop(void)
{
	int st;

	kill(broker_pid, SIGTERM);
	assert_int_equal(waitpid(broker_pid, &st, 0), broker_pid);
	broker_pid = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Run the adapter of agency id in its bundle; its output in *out. */
static int adapter(const char *id, const char *args, char *out, size_t size)
{
	char cmd[1024], *text = NULL;
	size_t len = 0;
	int rc;

	snprintf(cmd, sizeof(cmd), "cd '%s/agencies/%s' && '%s' -c agency.conf --no-progress %s "
		 ">'%s/out.txt' 2>&1",
		 dir, id, ADAPTER_BIN, args, dir);
	rc = sh("%s", cmd);
	snprintf(cmd, sizeof(cmd), "%s/out.txt", dir);
	if (out && !deconf_file_read(cmd, 1 << 20, 0, &text, &len, NULL, 0)) {
		snprintf(out, size, "%s", text);
		free(text);
	}
	sh("cat '%s/out.txt' >> '%s/adapter.log'", dir, dir);
	return rc;
}

/* New notices agency id received, polling for up to 30 s until want. */
static int new_notices(const char *id, int want)
{
	char out[8192];
	int got = 0;

	for (int i = 0; i < 30 && got < want; i++) {
		const char *p;
		assert_int_equal(adapter(id, "notices", out, sizeof(out)), 0);
		if ((p = strstr(out, "notices: ")))
			got += atoi(p + 9);
		if (got < want)
			sleep(1);
	}
	/* and no more: once the broker has applied everything submitted (its
	 * groups committed past the submit topics and deconf.tokens), what
	 * the notices topic holds is all there will be */
	{
		struct fed f;
		memset(&f, 0, sizeof(f));
		snprintf(f.prefix, sizeof(f.prefix), "%s", prefix);
		f.bootstrap = bootstrap;
		snprintf(f.ag[0].id, sizeof(f.ag[0].id), "sec-a");
		snprintf(f.ag[1].id, sizeof(f.ag[1].id), "sec-b");
		f.n_ag = 2;
		assert_int_equal(fed_wait_processed(&f, 60000), 0);
	}
	assert_int_equal(adapter(id, "notices", out, sizeof(out)), 0);
	return got + atoi(strstr(out, "notices: ") ? strstr(out, "notices: ") + 9 : "0");
}

/*
 * Key rotation: two agencies hold an e-mail (epoch 1: a conflict); the
 * federation key is rotated; once both resubmit, they match again under
 * epoch 2 — a new pair of notices, the new tokens.
 */
static void test_key_rotation(void **state)
{
	char path[512];
	int64_t t0, t1;

	(void)state;
	broker_start();
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/agencies/sec-%c/rot.csv", dir, i ? 'b' : 'a');
		assert_int_equal(sh("printf 'case_ref,type,value\nR-%c,email,Rotate.Me@Example.org\n' "
				    "> '%s'",
				    i ? 'B' : 'A', path),
				 0);
		assert_int_equal(adapter(i ? "sec-b" : "sec-a", "submit rot.csv", NULL, 0), 0);
	}
	assert_int_equal(new_notices("sec-a", 1), 1);
	assert_int_equal(new_notices("sec-b", 1), 1);
	t0 = deconf_now_ms();
	assert_int_equal(sh("'%s' -f '%s' federation rotate-key --overlap 1h > '%s/rotate.txt'",
			    CTL_BIN, dir, dir),
			 0);
	t1 = deconf_now_ms();
	assert_int_equal(sh("grep -q 'epoch 2 is current' '%s/rotate.txt'", dir), 0);
	assert_int_equal(sh("grep -q 'key epochs: serial 2 published (epochs: 1 (retires .*Z), 2)' "
			    "'%s/rotate.txt'",
			    dir),
			 0);
	assert_int_equal(sh("grep -q '^epoch 2 ' '%s/agencies/sec-a/federation.keys'", dir), 0);
	/* the federation's decision, as agencies (and the broker) read it:
	 * epoch 1 retires in an hour, epoch 2 is live, a higher serial */
	{
		Deconf__V1__KeyEpochs *ke = directory_epochs(dir, prefix, "sec-a");
		assert_non_null(ke);
		assert_int_equal(ke->serial, 2);
		assert_int_equal(ke->n_epochs, 2);
		assert_epoch(ke, 0, 1, t0 + 3600000, t1 + 3600000);
		assert_epoch(ke, 1, 2, 0, 0);
		assert_true(ke->epochs[1]->activated_at >= t0 && ke->epochs[1]->activated_at <= t1);
		deconf_msg_free(ke);
	}
	assert_int_equal(sh("'%s' -f '%s' federation epochs > '%s/epochs.txt'", CTL_BIN, dir, dir),
			 0);
	assert_int_equal(sh("grep -q '^key epochs: serial 2, decided ' '%s/epochs.txt' && "
			    "grep -Eq '^  epoch 1 +activated [0-9T:-]+Z +retires [0-9T:-]+Z$' "
			    "'%s/epochs.txt' && "
			    "grep -Eq '^  epoch 2 +activated [0-9T:-]+Z +live, current$' "
			    "'%s/epochs.txt'",
			    dir, dir, dir),
			 0);
	/* one side alone under epoch 2: nobody to match */
	assert_int_equal(adapter("sec-a", "resubmit", NULL, 0), 0);
	assert_int_equal(new_notices("sec-a", 0), 0);
	/* both: matched again across the rotation */
	assert_int_equal(adapter("sec-b", "resubmit", NULL, 0), 0);
	assert_int_equal(new_notices("sec-a", 1), 1);
	assert_int_equal(new_notices("sec-b", 1), 1);
	broker_stop();
	/* ops staff watch it: tail decodes the topics, signatures checked
	 * (notices with the broker's key, submissions with the agency's) */
	assert_int_equal(sh("'%s' -f '%s' tail notices.sec-a --from-beginning > '%s/tail.txt'",
			    CTL_BIN, dir, dir),
			 0);
	assert_int_equal(sh("test $(grep -c '\"type\":\"MESSAGE_TYPE_CONFLICT_NOTICE\".*"
			    "\"signature\":\"valid\"' '%s/tail.txt') -eq 2",
			    dir),
			 0);
	assert_int_equal(sh("'%s' -f '%s' tail submit.sec-a --from-beginning > '%s/tail.txt'",
			    CTL_BIN, dir, dir),
			 0);
	assert_int_equal(sh("grep -q '\"signature\":\"valid\"' '%s/tail.txt' && "
			    "! grep -q 'INVALID' '%s/tail.txt'",
			    dir, dir),
			 0);
	/* the broker's receipts, signed with its key: every submission of
	 * sec-a's accepted */
	assert_int_equal(sh("'%s' -f '%s' tail receipts.sec-a --from-beginning > '%s/tail.txt'",
			    CTL_BIN, dir, dir),
			 0);
	assert_int_equal(sh("test $(grep -c '\"type\":\"MESSAGE_TYPE_RECEIPT\".*"
			    "\"signature\":\"valid\".*\"result\":\"RECEIPT_RESULT_ACCEPTED\"' "
			    "'%s/tail.txt') -ge 2 && ! grep -q 'INVALID\\|error' '%s/tail.txt'",
			    dir, dir),
			 0);
	/* and status: every token op matched (lag 0), sec-a's submissions and
	 * their receipts */
	assert_int_equal(sh("'%s' -f '%s' status > '%s/status.txt' && grep -q 'broker-matcher .*lag 0 ' "
			    "'%s/status.txt' && grep -Eq '^  sec-a +active +[1-9][0-9]* +[0-9]+ +[0-9]+ "
			    "+[1-9]' '%s/status.txt' && grep -q ' RECEIPTS$' '%s/status.txt'",
			    CTL_BIN, dir, dir, dir, dir, dir),
			 0);
}

/*
 * The epochs record's rules, on a federation of its own (plaintext): a
 * federation made before key-epochs.pb, an overlap of 0, an epoch retired
 * more than 30 days ago dropped, a retiring epoch keeping its time; and
 * what is published is what is saved.
 */
static void test_key_epochs_rules(void **state)
{
	char fed[256], pfx[64], *text;
	Deconf__V1__KeyEpochs *ke, *pub;
	int64_t t0, t1, keep;

	(void)state;
	snprintf(fed, sizeof(fed), "%s/rules", top);
	snprintf(pfx, sizeof(pfx), "%srules.", prefix);
	assert_int_equal(sh("'%s' federation init '%s' --plaintext --bootstrap %s --prefix %s "
			    ">/dev/null && '%s' -f '%s' topics apply >/dev/null",
			    CTL_BIN, fed, bootstrap, pfx, CTL_BIN, fed),
			 0);
	/* a federation made before the record: built from federation.keys */
	assert_int_equal(sh("rm '%s/key-epochs.pb' && '%s' -f '%s' federation epochs > '%s/out.txt'",
			    fed, CTL_BIN, fed, fed),
			 0);
	text = slurp(fed, "out.txt");
	assert_non_null(strstr(text, "built from federation.keys, every epoch live, serial 1"));
	assert_non_null(strstr(text, "key epochs: serial 1, decided "));
	free(text);
	ke = saved_epochs(fed);
	assert_int_equal(ke->serial, 1);
	assert_int_equal(ke->n_epochs, 1);
	assert_epoch(ke, 0, 1, 0, 0);
	deconf__v1__key_epochs__free_unpacked(ke, NULL);
	/* overlap 0: epoch 1 retires now */
	t0 = deconf_now_ms();
	assert_int_equal(sh("'%s' -f '%s' federation rotate-key --overlap 0 >/dev/null", CTL_BIN,
			    fed),
			 0);
	t1 = deconf_now_ms();
	ke = saved_epochs(fed);
	assert_int_equal(ke->serial, 2);
	assert_int_equal(ke->n_epochs, 2);
	assert_epoch(ke, 0, 1, t0, t1);
	assert_epoch(ke, 1, 2, 0, 0);
	/* as if that had been 31 days ago */
	ke->epochs[0]->retire_at -= 31 * 86400000LL;
	{
		size_t len = deconf__v1__key_epochs__get_packed_size(ke);
		uint8_t *buf = malloc(len + 1);
		char path[512];
		assert_non_null(buf);
		deconf__v1__key_epochs__pack(ke, buf);
		snprintf(path, sizeof(path), "%s/key-epochs.pb", fed);
		assert_int_equal(deconf_file_write(path, buf, len, 0644, 0, NULL, 0), 0);
		free(buf);
	}
	deconf__v1__key_epochs__free_unpacked(ke, NULL);
	/* epoch 1 is dropped, 2 retires in 2 h, 3 is live */
	t0 = deconf_now_ms();
	assert_int_equal(sh("'%s' -f '%s' federation rotate-key --overlap 2h >/dev/null", CTL_BIN,
			    fed),
			 0);
	t1 = deconf_now_ms();
	ke = saved_epochs(fed);
	assert_int_equal(ke->serial, 3);
	assert_int_equal(ke->n_epochs, 2);
	assert_epoch(ke, 0, 2, t0 + 7200000, t1 + 7200000);
	assert_epoch(ke, 1, 3, 0, 0);
	keep = ke->epochs[0]->retire_at;
	deconf__v1__key_epochs__free_unpacked(ke, NULL);
	/* 2 keeps its retire time, 3 retires in 5 h, 4 is live */
	t0 = deconf_now_ms();
	assert_int_equal(sh("'%s' -f '%s' federation rotate-key --overlap 5h >/dev/null", CTL_BIN,
			    fed),
			 0);
	t1 = deconf_now_ms();
	ke = saved_epochs(fed);
	assert_int_equal(ke->serial, 4);
	assert_int_equal(ke->n_epochs, 3);
	assert_epoch(ke, 0, 2, keep, keep);
	assert_epoch(ke, 1, 3, t0 + 5 * 3600000, t1 + 5 * 3600000);
	assert_epoch(ke, 2, 4, 0, 0);
	/* what the directory topic holds is what was saved */
	assert_non_null(pub = directory_epochs(fed, pfx, NULL));
	assert_int_equal(pub->serial, ke->serial);
	assert_int_equal(pub->updated_at, ke->updated_at);
	assert_int_equal(pub->n_epochs, ke->n_epochs);
	for (size_t i = 0; i < ke->n_epochs; i++) {
		assert_int_equal(pub->epochs[i]->epoch, ke->epochs[i]->epoch);
		assert_int_equal(pub->epochs[i]->activated_at, ke->epochs[i]->activated_at);
		assert_int_equal(pub->epochs[i]->retire_at, ke->epochs[i]->retire_at);
	}
	deconf_msg_free(pub);
	deconf__v1__key_epochs__free_unpacked(ke, NULL);
	/* a bad --overlap changes nothing */
	assert_int_equal(sh("'%s' -f '%s' federation rotate-key --overlap 2w 2>/dev/null", CTL_BIN,
			    fed),
			 2);
	assert_int_equal(sh("'%s' -f '%s' federation rotate-key --overlap -1h 2>/dev/null",
			    CTL_BIN, fed),
			 2);
	assert_int_equal(sh("grep -q '^epoch 5 ' '%s/federation.keys'", fed), 1);
	ke = saved_epochs(fed);
	assert_int_equal(ke->serial, 4);
	deconf__v1__key_epochs__free_unpacked(ke, NULL);
}

/* A rotation with Kafka away: refused before anything changes (the broker
 * could not be told of the new epoch), and said why, in bounded time. A
 * rotation Kafka refuses to publish is in test_ctl.c. */
static void test_key_epochs_unpublished(void **state)
{
	char fed[256], *text;
	Deconf__V1__KeyEpochs *ke;
	int64_t t0;

	(void)state;
	snprintf(fed, sizeof(fed), "%s/down", top);
	/* a Kafka that is not there */
	assert_int_equal(sh("'%s' federation init '%s' --plaintext --bootstrap 127.0.0.1:1 "
			    ">/dev/null",
			    CTL_BIN, fed),
			 0);
	t0 = deconf_mono_us();
	assert_int_equal(sh("'%s' -f '%s' --timeout 3 federation rotate-key --overlap 1h "
			    ">'%s/out.txt' 2> '%s/err.txt'",
			    CTL_BIN, fed, fed, fed),
			 1);
	assert_true(deconf_mono_us() - t0 < 8000000);
	text = slurp(fed, "err.txt");
	assert_non_null(strstr(text, "cannot reach Kafka at 127.0.0.1:1 ("));
	assert_non_null(strstr(text, "nothing was rotated"));
	free(text);
	text = slurp(fed, "out.txt");
	assert_null(strstr(text, "rotated"));
	free(text);
	ke = saved_epochs(fed);
	assert_int_equal(ke->serial, 1);
	assert_int_equal(ke->n_epochs, 1);
	deconf__v1__key_epochs__free_unpacked(ke, NULL);
	assert_int_equal(sh("grep -q '^epoch 2 ' '%s/federation.keys'", fed), 1);
	/* publishing fails as long as Kafka is away, and says so */
	assert_int_equal(sh("'%s' -f '%s' --timeout 3 federation epochs --publish > '%s/out.txt' "
			    "2>&1",
			    CTL_BIN, fed, fed),
			 1);
	text = slurp(fed, "out.txt");
	assert_non_null(strstr(text, "key epochs: serial 1, decided "));
	assert_non_null(strstr(text, "cannot reach Kafka at 127.0.0.1:1 ("));
	assert_null(strstr(text, "published ("));
	free(text);
}

/* A suspended agency's submissions are refused by the broker. */
/*
 * deconfctl agency add ID, with the agency's own request and public key
 * from keys (csr_id's request, signing public key file pub; NULL: none),
 * stdout and stderr to top/out.txt and top/err.txt; its exit status. Each
 * refusal must leave nothing of the agency behind.
 */
static int add_agency(const char *id, const char *keys, const char *pub)
{
	char opts[600] = "";
	int rc;

	if (keys)
		snprintf(opts, sizeof(opts), "--csr '%s/agency.csr' --signing-pub '%s/%s'", keys,
			 keys, pub);
	rc = sh("'%s' -f '%s' agency add %s --name 'Agency %s' --level local --country US "
		"--poc-name x --poc-phone 1 --poc-email x@y %s >'%s/out.txt' 2>'%s/err.txt'",
		CTL_BIN, dir, id, id, opts, top, top);
	if (rc) {
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "%s/agencies/%s", dir, id);
		if (!stat(path, &st))
			fail_msg("agency add %s refused (%d), but %s is there", id, rc, path);
	}
	return rc;
}

/* Whether top/name holds text. */
static int said(const char *name, const char *text)
{
	char *got = slurp(top, name);
	int yes = strstr(got, text) != NULL;

	if (!yes)
		fprintf(stderr, "%s/%s lacks '%s':\n%s\n", top, name, text, got);
	free(got);
	return yes;
}

/*
 * Key custody. The federation key (it signs the directory) is needed only
 * to change the directory and may be offline; the broker holds only its
 * public half and refuses to start with the private one or its own key in
 * its place. An agency makes its keys on its own machine (deconf-adapter
 * init): deconfctl issues its certificate from the request, the bundle
 * holds no private key, and the agency works with the keys it made. A CA
 * key others can read is refused.
 */
static void test_key_custody(void **state)
{
	char keys[256], out[4096];
	const char *ctl = CTL_BIN;
	struct stat st;

	(void)state;
	snprintf(keys, sizeof(keys), "%s/sec-c-keys", top);
	/* offline: nothing is made, what only reads still works */
	assert_int_equal(sh("mv '%s/federation-signing.key' '%s/offline.key'", dir, top), 0);
	assert_int_equal(add_agency("sec-c", NULL, NULL), 1);
	assert_true(said("err.txt", "changing the directory needs the federation key"));
	assert_int_equal(sh("'%s' -f '%s' agency list | grep -q '^sec-a '", ctl, dir), 0);
	assert_int_equal(sh("'%s' -f '%s' topics apply >'%s/out.txt'", ctl, dir, top), 0);
	assert_true(said("out.txt", "already published (the federation key is offline"));
	assert_int_equal(sh("mv '%s/offline.key' '%s/federation-signing.key'", top, dir), 0);

	/* the broker with the federation's private key, or with its own key
	 * as the federation's: refused at start, before Kafka */
	assert_int_equal(sh("cd '%s' && '%s' -c broker.conf --set "
			    "broker.federation_key=federation-signing.key 2>'%s/err.txt'",
			    dir, BROKER_BIN, top),
			 2);
	assert_true(said("err.txt", "is a private key"));
	assert_int_equal(sh("cd '%s' && '%s' -c broker.conf --set "
			    "broker.federation_key=broker.pub 2>'%s/err.txt'",
			    dir, BROKER_BIN, top),
			 2);
	assert_true(said("err.txt", "the broker's own signing key"));

	/* the agency's own keys and request */
	assert_int_equal(sh("mkdir -p '%s' && '%s' init sec-c '%s' >'%s/init.txt'", keys,
			    ADAPTER_BIN, keys, top),
			 0);
	assert_true(said("init.txt", "agency.csr"));
	/* a private signing key where its public half belongs */
	assert_int_equal(add_agency("sec-c", keys, "signing.key"), 2);
	assert_true(said("err.txt", "is a PRIVATE key"));
	/* sec-c's request presented as another agency's */
	assert_int_equal(add_agency("sec-d", keys, "signing.pub"), 1);
	assert_true(said("err.txt", "CN \"sec-c\", not \"sec-d\""));
	assert_true(said("err.txt", "nothing of it was kept"));
	/* a CA key others can read */
	assert_int_equal(sh("chmod 0644 '%s/ca.key'", dir), 0);
	assert_int_equal(add_agency("sec-c", keys, "signing.pub"), 1);
	assert_true(said("err.txt", "readable by group or others"));
	assert_int_equal(sh("chmod 0600 '%s/ca.key'", dir), 0);

	assert_int_equal(add_agency("sec-c", keys, "signing.pub"), 0);
	assert_int_equal(sh("grep -q 'no private key in it' '%s/out.txt'", top), 0);
	/* the bundle: its certificate, for its own key; no private key */
	snprintf(out, sizeof(out), "%s/agencies/sec-c/agency.key", dir);
	assert_int_not_equal(stat(out, &st), 0);
	snprintf(out, sizeof(out), "%s/agencies/sec-c/signing.key", dir);
	assert_int_not_equal(stat(out, &st), 0);
	assert_int_equal(sh("grep -rlq 'PRIVATE KEY' '%s/agencies/sec-c'", dir), 1);
	assert_int_equal(sh("openssl x509 -in '%s/agencies/sec-c/agency.pem' -noout -pubkey > "
			    "'%s/a.pub' && openssl pkey -in '%s/agency.key' -pubout > '%s/b.pub' "
			    "&& cmp -s '%s/a.pub' '%s/b.pub'",
			    dir, top, keys, top, top, top),
			 0);
	/* the agency puts its keys beside the bundle and works */
	assert_int_equal(sh("cp -p '%s/agency.key' '%s/signing.key' '%s/agencies/sec-c/'", keys,
			    keys, dir),
			 0);
	assert_int_equal(sh("'%s' -f '%s' topics apply >/dev/null", ctl, dir), 0);
	assert_int_equal(sh("printf 'case_ref,type,value\\nK-1,md5,%s\\n' > "
			    "'%s/agencies/sec-c/cases.csv'",
			    "00112233445566778899aabbccddeeff", dir),
			 0);
	broker_start();
	assert_int_equal(adapter("sec-c", "submit cases.csv", out, sizeof(out)), 0);
	if (!strstr(out, "1 accepted"))
		fail_msg("sec-c's submission:\n%s", out);
	broker_stop();
}

static void test_suspended_refused(void **state)
{
	char path[512], topic[128];
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	struct deconf_sign_key *bkey = NULL;
	int reason = 0;

	(void)state;
	broker_start();
	assert_int_equal(sh("'%s' -f '%s' agency suspend sec-b >/dev/null", CTL_BIN, dir), 0);
	snprintf(path, sizeof(path), "%s/agencies/sec-b/cases.csv", dir);
	assert_int_equal(sh("printf 'case_ref,type,value\\nS-1,md5,%s\\n' > '%s'",
			    "0123456789abcdef0123456789abcdef", path),
			 0);
	/* the adapter waits for its receipt: refused, said so, exit 1 */
	assert_int_equal(sh("cd '%s/agencies/sec-b' && '%s' -c agency.conf --no-progress submit "
			    "cases.csv >'%s/suspended.log' 2>&1",
			    dir, ADAPTER_BIN, dir),
			 1);
	assert_int_equal(sh("grep -q 'suspended' '%s/suspended.log'", dir), 0);
	assert_int_equal(sh("cd '%s/agencies/sec-b' && '%s' -c agency.conf status 2>&1 | "
			    "grep -qi 'refused'",
			    dir, ADAPTER_BIN),
			 0);
	/* read B's rejects as B (its own topic), verify with the broker key */
	snprintf(path, sizeof(path), "%s/broker-signing.key", dir);
	assert_int_equal(deconf_sign_key_load(&bkey, path, NULL, 0), 0);
	rk = as_agency(dir, "sec-b", RD_KAFKA_CONSUMER, NULL, NULL, NULL);
	snprintf(topic, sizeof(topic), "%srejects.sec-b", prefix);
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	for (int round = 0; round < 60 && !reason; round++) {
		assert_int_equal(rd_kafka_consume_start(rkt, 0, RD_KAFKA_OFFSET_BEGINNING), 0);
		for (;;) {
			rd_kafka_message_t *m = rd_kafka_consume(rkt, 0, 1000);
			ProtobufCMessage *msg = NULL;
			if (!m)
				break;
			if (m->err) {
				rd_kafka_message_destroy(m);
				break;
			}
			if (!deconf_envelope_open(m->payload, m->len, 1 << 20,
						  DECONF__V1__MESSAGE_TYPE__MESSAGE_TYPE_REJECT, bkey,
						  &deconf__v1__reject__descriptor, &msg, NULL, 0)) {
				/* the earlier "forged" record was refused as malformed */
				if (((Deconf__V1__Reject *)msg)->reason ==
				    DECONF__V1__REJECT_REASON__REJECT_REASON_SUSPENDED_AGENCY)
					reason = ((Deconf__V1__Reject *)msg)->reason;
				deconf_msg_free(msg);
			}
			rd_kafka_message_destroy(m);
		}
		rd_kafka_consume_stop(rkt, 0);
		if (!reason)
			sleep(1);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	deconf_sign_key_free(bkey);
	broker_stop();
	assert_int_equal(reason, DECONF__V1__REJECT_REASON__REJECT_REASON_SUSPENDED_AGENCY);
	snprintf(path, sizeof(path), "rm -rf '%s'", top);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_federation_acls),
		cmocka_unit_test(test_foreign_federation_refused),
		cmocka_unit_test(test_key_rotation),
		cmocka_unit_test(test_key_epochs_rules),
		cmocka_unit_test(test_key_epochs_unpublished),
		cmocka_unit_test(test_key_custody),
		cmocka_unit_test(test_suspended_refused),
	};

	bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP");
	bootstrap_tls = getenv("DECONF_KRAFT_BOOTSTRAP_TLS");
	/* the suite runs other Kafka tests beside this one: deconfctl's waits
	 * get room (the tests of the timeout itself pass --timeout) */
	setenv("DECONF_CTL_TIMEOUT", "30", 0);
	tls_dir = getenv("DECONF_KRAFT_TLS_DIR");
	if (!bootstrap || !bootstrap_tls || !tls_dir) {
		fprintf(stderr, "DECONF_KRAFT_* not set (tests/run.sh starts Kafka): skipped\n");
		return 77;
	}
	atexit(kill_broker);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
