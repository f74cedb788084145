/* main.c — deconf-broker, the federation's matching service. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "deconf/conf.h"
#include "deconf/err.h"
#include "deconf/log.h"
#include "ingest.h"

extern char **environ;

#define MAX_SETS 64

static const char usage[] =
	"usage: deconf-broker -c broker.conf [--set key=value]...\n"
	"\n"
	"The federation side of deconf. Ingest reads every agency's submit topic,\n"
	"verifies each signed submission against the directory and turns it into\n"
	"token ops on deconf.tokens, or a reject on the agency's rejects topic, in\n"
	"one Kafka transaction per batch. (The matcher, notices and /metrics arrive\n"
	"with the rest of issue 4.) SIGTERM or SIGINT stops after the current batch.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      broker configuration (INI); see --help-config\n"
	"      --set KEY=VALUE    override one configuration key (repeatable)\n"
	"  -h, --help             this help\n"
	"      --help-config      every configuration key, its type, default and meaning\n"
	"\n"
	"Exit status: 0 stopped cleanly; 1 a fatal Kafka error; 2 bad configuration.\n";

static volatile int stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "help-config", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	char *sets[MAX_SETS], errstr[1024] = "";
	const char *config = getenv("DECONF_CONFIG");
	size_t n_sets = 0;
	struct brk b;
	int ch, rc;

	deconf_log_set_program("deconf-broker");
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 's':
			if (n_sets == MAX_SETS) {
				fprintf(stderr, "deconf-broker: too many --set options\n");
				return DECONF_CONF_EXIT;
			}
			sets[n_sets++] = optarg;
			break;
		case 'h': fputs(usage, stdout); return 0;
		case 'H': deconf_conf_print_help(brk_conf_table, brk_conf_table_n, stdout); return 0;
		default: fputs(usage, stderr); return DECONF_CONF_EXIT;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "deconf-broker: unexpected argument '%s' (--help for usage)\n",
			argv[optind]);
		return DECONF_CONF_EXIT;
	}
	if ((rc = brk_load(&b, config, environ, sets, n_sets, errstr, sizeof(errstr)))) {
		fprintf(stderr, "deconf-broker: %s\n", errstr);
		brk_close(&b);
		return rc == DECONF_E_NOMEM ? 1 : DECONF_CONF_EXIT;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = brk_ingest_run(&b, &stop, errstr, sizeof(errstr));
	if (rc)
		fprintf(stderr, "deconf-broker: %s\n", errstr[0] ? errstr : deconf_strerror(rc));
	brk_close(&b);
	return rc ? 1 : 0;
}
