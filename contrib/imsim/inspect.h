/* The emulator's own endpoints under /_sim/: inspection for tests and users, and
 * simulated App 2.0 client sends (for the new-to-old sync direction). Unauthenticated:
 * the emulator is a loopback tool. */
#ifndef IMSIM_INSPECT_H
#define IMSIM_INSPECT_H

#include <jansson.h>
#include <stddef.h>

#include "sim.h"

/* GET /_sim/stats, POST /_sim/send_c2c, POST /_sim/send_group_msg (GET /_sim/dump is
 * streamed by server.c).
 * Sets *status (200, 400, 404, 405), *out (a new reference) and *callbacks (a new
 * reference or NULL). Takes sim->lock. */
void inspect_handle(struct sim *sim, const char *method, const char *url, const char *body, size_t len,
		    unsigned *status, json_t **out, json_t **callbacks);

#endif
