/*
 * test_receipts.c — the agency knows what the federation holds for it:
 * deconf-adapter against the real deconf-broker on the real Kafka.
 *
 * A throwaway federation (fed.c: its own topic prefix, the broker's key,
 * signed directory entries) with an active agency and a suspended one;
 * the real deconf-broker (ingest and matcher) answers every submission
 * with a signed receipt, and the real deconf-adapter waits for them.
 *
 *   - a suspended agency's submit exits 1 saying why (suspended_agency)
 *     and which case; `status` shows its entries refused, with the
 *     reason; once its directory entry is active again, a later submit of
 *     the same file sends the refused entries again by itself: they are
 *     confirmed, and they match the active agency's (a conflict notice);
 *   - an agency the directory does not know gets no receipt: the adapter
 *     records the refusal itself, and sends again once it is active;
 *   - an accepted submission is confirmed (exit 0, "done"); with
 *     --no-wait everything is pending and the exit status 0; a later run
 *     takes the receipts; with the broker stopped, submit exits 1 saying
 *     "unconfirmed", and once it is back a later run confirms them;
 *   - the daemon writes each spool file's receipts into its .result, and
 *     each receipt into the outbox file ("record": "receipt");
 *   - no silent skip: notices deleted before they were read (DeleteRecords)
 *     make `notices` exit 1 naming the lost range; --accept-loss goes on
 *     and the ledger (status) remembers the loss;
 *   - the command line refuses options a command does not take, and stray
 *     arguments, with exit status 2.
 *
 * Needs DECONF_KRAFT_BOOTSTRAP; exits 77 without it.
 */
#include <sys/prctl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconf/envelope.h"
#include "deconf/kafka.h"
#include "deconf/util.h"
#include "fed.h"

#define ACTIVE DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_ACTIVE
#define SUSPENDED DECONF__V1__AGENCY_STATUS__AGENCY_STATUS_SUSPENDED
#define STATE DECONF__V1__AGENCY_LEVEL__AGENCY_LEVEL_STATE

static const char *bootstrap;
static pid_t broker_pid; /* killed at exit if a failed test left it running */

static void kill_broker(void)
{
	if (broker_pid > 0)
		kill(broker_pid, SIGKILL);
}

struct world {
	struct fed f;
	char bconf[256], log[256];
	int a, s, b; /* agency-a (active), agency-s (suspended), agency-b (active) */
	int u;       /* agency-u: a signing key, no directory entry (yet) */
};

static void world_new(struct world *w)
{
	char errstr[256];

	memset(w, 0, sizeof(*w));
	assert_int_equal(fed_new(&w->f, bootstrap, 2), 0);
	snprintf(w->log, sizeof(w->log), "%s/run.log", w->f.dir);
	/* each adapter run's output goes to the log (world_free looks for
	 * sanitizer reports there) */
	w->f.adapter_bin = ADAPTER_BIN;
	w->f.adapter_log = w->log;
	assert_true((w->a = fed_agency(&w->f, "agency-a", "Agency A", STATE, "US", ACTIVE)) >= 0);
	assert_true((w->s = fed_agency(&w->f, "agency-s", "Agency S", STATE, "US", SUSPENDED)) >=
		    0);
	assert_true((w->b = fed_agency(&w->f, "agency-b", "Agency B", STATE, "US", ACTIVE)) >= 0);
	w->u = w->f.n_ag;
	snprintf(w->f.ag[w->u].id, sizeof(w->f.ag[w->u].id), "agency-u");
	snprintf(w->f.ag[w->u].name, sizeof(w->f.ag[w->u].name), "Agency U");
	snprintf(w->f.ag[w->u].country, sizeof(w->f.ag[w->u].country), "US");
	w->f.ag[w->u].level = STATE; /* what fed_agency_publish says of it later */
	assert_int_equal(deconf_sign_key_generate(&w->f.ag[w->u].key, errstr, sizeof(errstr)), 0);
	w->f.n_ag++;
	/* the adapters' directories, configs and keys */
	assert_int_equal(fed_adapter_setup(&w->f, w->a, NULL), 0);
	assert_int_equal(fed_adapter_setup(&w->f, w->s, NULL), 0);
	assert_int_equal(fed_adapter_setup(&w->f, w->b, NULL), 0);
	assert_int_equal(fed_adapter_setup(&w->f, w->u, NULL), 0);
	assert_int_equal(fed_broker_conf(&w->f, "1", NULL, w->bconf, sizeof(w->bconf)), 0);
}

static void broker_start(struct world *w)
{
	assert_true((broker_pid = fed_broker_start(BROKER_BIN, w->bconf, w->log)) > 0);
}

static void broker_stop(void)
{
	assert_int_equal(fed_broker_stop(broker_pid), 0);
	broker_pid = 0;
}

static void world_free(struct world *w)
{
	char cmd[400];

	if (broker_pid > 0)
		broker_stop();
	/* a sanitizer report in any run fails the test */
	snprintf(cmd, sizeof(cmd), "grep -q 'Sanitizer\\|runtime error' '%s'", w->log);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", w->log);
		assert_int_equal(system(cmd), 0);
		fail_msg("sanitizer report in %s", w->log);
	}
	fed_free(&w->f);
}


/* `status --json` of agency i: the totals line's number for key. */
static long total(struct world *w, int i, const char *key)
{
	char *out = NULL, *line, pat[64];
	long v = -1;

	assert_int_equal(fed_adapter(&w->f, i, &out, "status --json"), 0);
	assert_non_null(line = strstr(out, "\"record\":\"totals\""));
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	assert_non_null(line = strstr(line, pat));
	v = strtol(line + strlen(pat), NULL, 10);
	free(out);
	return v;
}

/* ------------------------------------------------------------- tests */

/*
 * Suspended: refused, said so, held; active again: sent again by itself,
 * confirmed, and matched with the other agency's case.
 */
static void test_suspended_then_active(void **state)
{
	struct world *w = *state;
	char path[320], apath[320], *out = NULL;
	int rc = -1;

	assert_int_equal(fed_adapter_file(&w->f, w->s, "s.csv",
					  "case_ref,type,value,poc_name\n"
					  "S-1,email,Shared.Target@Example.org,Det. Susp\n"
					  "S-1,phone,+1 555 010 4321,\n",
					  path, sizeof(path)),
			 0);
	assert_int_equal(fed_adapter(&w->f, w->s, &out, "submit s.csv"), 1);
	assert_non_null(strstr(out, "refused (suspended_agency)"));
	assert_non_null(strstr(out, "S-1"));
	assert_non_null(strstr(out, "receipts: 0 accepted, 1 refused, 0 unconfirmed"));
	free(out);
	assert_int_equal(total(w, w->s, "refused"), 2);
	assert_int_equal(total(w, w->s, "confirmed"), 0);
	assert_int_equal(fed_adapter(&w->f, w->s, &out, "status S-1"), 0);
	assert_non_null(strstr(out, "S-1: 2 refused"));
	assert_non_null(strstr(out, "refused (suspended_agency), 2 entries"));
	assert_non_null(strstr(out, "is suspended or removed"));
	free(out);

	/* still suspended: the same file again sends nothing, says so, exit 1 */
	assert_int_equal(fed_adapter(&w->f, w->s, &out, "submit s.csv"), 1);
	assert_non_null(strstr(out, "still refused (suspended_agency): 2 entries of 1 case(s)"));
	assert_non_null(strstr(out, "0 token op(s) sent"));
	free(out);

	/* the active agency holds the e-mail in a case of its own: confirmed */
	assert_int_equal(fed_adapter_file(&w->f, w->a, "a.csv",
					  "case_ref,type,value,poc_name\n"
					  "A-7,email,shared.target@example.org,Sgt. Act\n",
					  apath, sizeof(apath)),
			 0);
	assert_int_equal(fed_adapter(&w->f, w->a, &out, "submit a.csv"), 0);
	assert_non_null(strstr(out, "receipts: 1 accepted, 0 refused, 0 unconfirmed"));
	assert_non_null(strstr(out, "done"));
	free(out);
	assert_int_equal(total(w, w->a, "confirmed"), 1);

	/* active again: the next submit of the same file sends the refused
	 * entries by itself (the broker may take a moment to read the
	 * directory: a refusal then is refused again, and sent again) */
	assert_int_equal(fed_agency_publish(&w->f, w->s, ACTIVE, NULL, NULL), 0);
	for (int round = 0; round < 10 && rc; round++) {
		if (round)
			sleep(1);
		rc = fed_adapter(&w->f, w->s, &out, "submit s.csv");
		if (!rc) {
			assert_non_null(strstr(out, "2 refused entries sent again"));
			assert_non_null(strstr(out, "receipts: 1 accepted, 0 refused"));
		}
		free(out);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(total(w, w->s, "confirmed"), 2);
	assert_int_equal(total(w, w->s, "refused"), 0);
	assert_int_equal(total(w, w->s, "submissions_refused"), 0);

	/* and it matches: agency-a is told agency-s holds its e-mail */
	rc = 0;
	for (int round = 0; round < 30 && !rc; round++) {
		if (round)
			sleep(1);
		assert_int_equal(fed_adapter(&w->f, w->a, &out, "notices --json"), 0);
		rc = strstr(out, "\"agency_id\":\"agency-s\"") != NULL &&
		     strstr(out, "\"case_ref\":\"S-1\"") != NULL;
		free(out);
	}
	assert_true(rc);
}


/*
 * An agency the directory does not know gets no receipt at all: when none
 * comes and its directory entry is missing, the adapter records the
 * refusal itself (unknown_agency), and sends the entries again once the
 * agency is in the directory, active.
 */
static void test_unknown_agency(void **state)
{
	struct world *w = *state;
	char path[320], *out = NULL;
	int rc = -1;

	assert_int_equal(fed_adapter_file(&w->f, w->u, "u.csv",
					  "case_ref,type,value\nU-1,domain,unknown-agency.example\n",
					  path, sizeof(path)),
			 0);
	assert_int_equal(
		fed_adapter(&w->f, w->u, &out, "--set submit.confirm_timeout=4s submit u.csv"), 1);
	assert_non_null(strstr(out, "refused (unknown_agency)"));
	assert_non_null(strstr(out, "concluded by this adapter"));
	assert_non_null(strstr(out, "U-1"));
	free(out);
	assert_int_equal(total(w, w->u, "refused"), 1);
	/* still unknown: held, said so */
	assert_int_equal(fed_adapter(&w->f, w->u, &out, "submit u.csv"), 1);
	assert_non_null(strstr(out, "still refused (unknown_agency): 1 entry of 1 case(s) (U-1)"));
	free(out);
	/* the operator adds it: the next run sends it again by itself */
	assert_int_equal(fed_agency_publish(&w->f, w->u, ACTIVE, NULL, NULL), 0);
	for (int round = 0; round < 10 && rc; round++) {
		if (round)
			sleep(1);
		rc = fed_adapter(&w->f, w->u, NULL, "submit u.csv");
	}
	assert_int_equal(rc, 0);
	assert_int_equal(total(w, w->u, "confirmed"), 1);
	assert_int_equal(total(w, w->u, "refused"), 0);
}

/* Accepted, --no-wait, a later run, the broker stopped. */
static void test_wait_nowait_stopped(void **state)
{
	struct world *w = *state;
	char path[320], *out = NULL;
	int ok = 0;

	/* --no-wait: sent, exit 0, pending */
	assert_int_equal(fed_adapter_file(&w->f, w->b, "b1.csv",
					  "case_ref,type,value\n"
					  "B-1,md5,0123456789abcdef0123456789abcdef\n"
					  "B-1,md5,fedcba9876543210fedcba9876543210\n",
					  path, sizeof(path)),
			 0);
	assert_int_equal(fed_adapter(&w->f, w->b, &out, "submit --no-wait b1.csv"), 0);
	assert_non_null(strstr(out, "not waiting for receipts: 1 submission(s) pending"));
	free(out);
	assert_int_equal(total(w, w->b, "pending"), 2);
	assert_int_equal(total(w, w->b, "confirmed"), 0);
	/* a later run of nothing new takes the receipt */
	for (int round = 0; round < 30 && !ok; round++) {
		if (round)
			sleep(1);
		assert_int_equal(fed_adapter(&w->f, w->b, NULL, "submit b1.csv"), 0);
		ok = total(w, w->b, "confirmed") == 2;
	}
	assert_true(ok);
	assert_int_equal(total(w, w->b, "pending"), 0);
	assert_int_equal(total(w, w->b, "submissions_waiting"), 0);

	/* the broker stopped: delivered, but nobody answers */
	broker_stop();
	assert_int_equal(fed_adapter_file(&w->f, w->b, "b2.csv",
					  "case_ref,type,value\n"
					  "B-2,sha1,da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
					  path, sizeof(path)),
			 0);
	assert_int_equal(
		fed_adapter(&w->f, w->b, &out, "--set submit.confirm_timeout=3s submit b2.csv"), 1);
	assert_non_null(strstr(out, "unconfirmed: 1 submission(s) had no receipt"));
	assert_non_null(strstr(out, "receipts: 0 accepted, 0 refused, 1 unconfirmed"));
	assert_null(strstr(out, "done"));
	free(out);
	assert_int_equal(fed_adapter(&w->f, w->b, &out, "status B-2"), 0);
	assert_non_null(strstr(out, "B-2: 1 pending (sent, no receipt yet)"));
	free(out);
	/* back: a later run confirms it */
	broker_start(w);
	ok = 0;
	for (int round = 0; round < 60 && !ok; round++) {
		if (round)
			sleep(1);
		assert_int_equal(fed_adapter(&w->f, w->b, NULL, "submit --no-wait b2.csv"), 0);
		ok = total(w, w->b, "confirmed") == 3;
	}
	assert_true(ok);
}

/* The daemon: receipts in each spool file's .result and in the outbox. */
static void test_run_receipts(void **state)
{
	struct world *w = *state;
	char dir[256], spool[300], tmp[400], dst[400], outbox[300], result[400], *text;
	pid_t pid;
	int st;

	fed_adapter_dir(&w->f, w->b, dir, sizeof(dir));
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	assert_int_equal(mkdir(spool, 0700), 0);
	snprintf(outbox, sizeof(outbox), "%s/outbox.jsonl", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test, even a crashed one */
		char s1[400], s2[400], conf[300];
		FILE *lf = fopen(w->log, "a");
		if (!lf || chdir(dir))
			_exit(127);
		dup2(fileno(lf), 2);
		snprintf(conf, sizeof(conf), "%s/agency.conf", dir);
		snprintf(s1, sizeof(s1), "run.spool_dir=%s", spool);
		snprintf(s2, sizeof(s2), "run.outbox_file=%s", outbox);
		execl(ADAPTER_BIN, ADAPTER_BIN, "-c", conf, "--set", s1, "--set", s2, "--set",
		      "run.poll_interval=200ms", "--set", "run.settle=0s", "run", (char *)NULL);
		_exit(127);
	}
	snprintf(tmp, sizeof(tmp), "%s/.d.csv", spool);
	assert_int_equal(
		fed_write_file(tmp, "case_ref,type,value\nD-1,email,daemon.case@example.org\n"), 0);
	snprintf(dst, sizeof(dst), "%s/d.csv", spool);
	assert_int_equal(rename(tmp, dst), 0);
	snprintf(result, sizeof(result), "%s/done/d.csv.result", spool);
	/* the daemon writes it under another name and renames it: once it is
	 * there, it is whole */
	for (int i = 0; i < 600 && access(result, F_OK); i++)
		usleep(100000);
	text = fed_slurp(result);
	assert_non_null(strstr(text, "\"status\": \"confirmed\""));
	assert_non_null(strstr(text, "\"record\": \"receipt\""));
	assert_non_null(strstr(text, "\"result\": \"accepted\""));
	assert_non_null(strstr(text, "\"accepted\": 1"));
	assert_non_null(strstr(text, "\"D-1\""));
	free(text);
	text = fed_slurp(outbox);
	assert_non_null(strstr(text, "{\"record\":\"receipt\""));
	assert_non_null(strstr(text, "\"result\":\"accepted\""));
	free(text);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Notices deleted before they were read: never skipped silently. */
static void test_lost_notices(void **state)
{
	struct world *w = *state;
	char topic[128], *out = NULL;
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	rd_kafka_topic_partition_list_t *tl;
	rd_kafka_DeleteRecords_t *del;
	int64_t lo = 0, hi = 0;

	fed_topic(&w->f, "notices.agency-b", topic, sizeof(topic));
	rk = fed_client(&w->f, RD_KAFKA_PRODUCER, NULL, NULL);
	assert_non_null(rk);
	/* one record read (and refused: not the broker's): the ledger holds
	 * the offset after it */
	assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
					   RD_KAFKA_V_VALUE("not a notice", 12),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	assert_int_equal(fed_adapter(&w->f, w->b, &out, "notices"), 1);
	assert_non_null(strstr(out, "0 new, 0 duplicate(s) dropped, 1 refused"));
	free(out);
	/* three more, never read */
	for (int i = 0; i < 3; i++)
		assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
						   RD_KAFKA_V_VALUE("not a notice", 12),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						   RD_KAFKA_V_END),
				 0);
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000), 0);
	/* retention, as the operator's DeleteRecords: everything is gone */
	tl = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tl, topic, 0)->offset = hi;
	del = rd_kafka_DeleteRecords_new(tl);
	rd_kafka_topic_partition_list_destroy(tl);
	q = rd_kafka_queue_new(rk);
	rd_kafka_DeleteRecords(rk, &del, 1, NULL, q);
	assert_non_null(ev = rd_kafka_queue_poll(q, 30000));
	assert_int_equal(rd_kafka_event_error(ev), 0);
	rd_kafka_event_destroy(ev);
	rd_kafka_DeleteRecords_destroy(del);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);

	assert_int_equal(fed_adapter(&w->f, w->b, &out, "notices"), 1);
	assert_non_null(strstr(out, "were deleted before this ledger read them: they are lost"));
	assert_non_null(strstr(out, "(3)"));
	assert_non_null(strstr(out, "--accept-loss"));
	free(out);
	/* again: still refused, nothing moved */
	assert_int_equal(fed_adapter(&w->f, w->b, NULL, "notices"), 1);
	assert_int_equal(fed_adapter(&w->f, w->b, &out, "notices --accept-loss"), 0);
	assert_non_null(strstr(out, "3 record(s) were deleted before they were read"));
	free(out);
	assert_int_equal(total(w, w->b, "notices_lost"), 3);
	assert_int_equal(fed_adapter(&w->f, w->b, NULL, "notices"), 0);
}

/* Options a command does not take, and stray arguments: exit 2. */
static void test_usage(void **state)
{
	struct world *w = *state;
	static const char *const bad[] = {
		"submit",                 "submit a.csv b.csv",  "submit --follow a.csv",
		"check --no-wait a.csv",  "notices --no-wait",   "notices extra",
		"status --follow",        "run extra",           "run --retry-refused",
		"resubmit extra",         "close",               "close A B",
		"withdraw A email",       "hash phone",          "hash --json phone 1",
		"--bogus status",         "status --format=csv", "frobnicate",
		"query --json q.csv",     "withdraw --json A",   "notices --skip-invalid",
	};
	char *out = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = fed_adapter(&w->f, w->b, &out, "%s", bad[i]);
		if (rc != 2 || !strstr(out, "usage: deconf-adapter"))
			fail_msg("'%s': exit %d, output: %s", bad[i], rc, out);
		free(out);
	}
}

static int setup(void **state)
{
	static struct world w;

	world_new(&w);
	broker_start(&w);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	world_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suspended_then_active),
		cmocka_unit_test(test_unknown_agency),
		cmocka_unit_test(test_wait_nowait_stopped),
		cmocka_unit_test(test_run_receipts),
		cmocka_unit_test(test_lost_notices),
		cmocka_unit_test(test_usage),
	};

	if (!(bootstrap = getenv("DECONF_KRAFT_BOOTSTRAP"))) {
		fprintf(stderr, "DECONF_KRAFT_BOOTSTRAP not set: no Kafka (skipped)\n");
		return 77;
	}
	atexit(kill_broker);
	return cmocka_run_group_tests(tests, setup, teardown);
}
