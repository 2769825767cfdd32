/* Command-line options of immigrate-imsim. */
#ifndef IMSIM_OPTIONS_H
#define IMSIM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "imrules.h"

struct sim_options {
	const char *listen_host;	/* points into argv */
	unsigned listen_port;
	uint64_t sdkappid;
	const char *admin;
	const char *key_file;
	const char *state_file;		/* NULL = in memory */
	unsigned latency_ms;
	const char *faults_spec;
	double qps_scale;
	const char *port_file;
	const char *callback_url;
	const char *callback_token_file;
	bool before_callbacks;		/* also fire C2C/Group.CallbackBeforeSendMsg */
	const char *tls_cert;
	const char *tls_key;
	unsigned hang_ms;		/* how long a "hang" fault holds the connection */
	int verbose;
};

/* Parses argv into o and switches in rules (--rule). Returns 0; 1 when --help or
 * --version was answered (exit 0); -1 after printing a usage error to stderr (exit 2). */
int sim_options_parse(int argc, char **argv, struct sim_options *o, struct im_rules *rules);

#endif
