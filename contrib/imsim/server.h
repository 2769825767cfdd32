/* The HTTP(S) front: libmicrohttpd, one thread per connection (so a slow or hung
 * answer never blocks the others), REST checks in the documented order, then the
 * handlers. */
#ifndef IMSIM_SERVER_H
#define IMSIM_SERVER_H

#include <stddef.h>

#include "sim.h"

struct server;

/* Listens on sim->opt.listen_host:listen_port (TLS when a certificate is set).
 * Returns 0 with the server in *out and the bound port in *port, or -1 with a message
 * in err. Stop with server_stop. */
int server_start(struct sim *sim, struct server **out, unsigned *port, char *err, size_t err_size);

/* Wakes hung requests, waits for every connection thread and frees the server. */
void server_stop(struct server *srv);

#endif
