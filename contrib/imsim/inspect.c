/* /_sim/ endpoints. */
#include "config.h"

#include "inspect.h"

#include <string.h>

#include "api.h"

/* OptPlatform values a client send may claim (spec §7.1). */
static const char *const platforms[] = {"Web", "Android", "iOS", "Windows", "macOS", "iPad", "Unknown", NULL};

static json_t *problem(unsigned *status, unsigned code, const char *why)
{
	*status = code;
	return json_pack("{s:s}", "error", why);
}

static void simulated_send(struct sim *sim, const char *body, size_t len, const char *service, const char *command,
			   api_handler handler, unsigned *status, json_t **out, json_t **callbacks)
{
	json_error_t jerr;
	json_t *req = json_loadb(body ? body : "", len, 0, &jerr);
	if (!json_is_object(req)) {
		json_decref(req);
		*out = problem(status, 400, "body must be a JSON object");
		return;
	}
	const char *platform = json_string_value(json_object_get(req, "OptPlatform"));
	const char *from = json_string_value(json_object_get(req, "From_Account"));
	const char *const *p = platforms;
	while (platform && *p && strcmp(*p, platform))
		p++;
	if (!from || (platform && !*p)) {
		json_decref(req);
		*out = problem(status, 400, "From_Account is required and OptPlatform must be a client platform");
		return;
	}
	pthread_mutex_lock(&sim->lock);
	*out = api_dispatch(sim, im_rules_api(service, command), handler, req, from, platform ? platform : "Android",
			    callbacks);
	pthread_mutex_unlock(&sim->lock);
	json_decref(req);
}

void inspect_handle(struct sim *sim, const char *method, const char *url, const char *body, size_t len,
		    unsigned *status, json_t **out, json_t **callbacks)
{
	*status = 200;
	*callbacks = NULL;
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	/* GET /_sim/dump is streamed by the server (server.c); other methods end here. */
	if (!strcmp(url, "/_sim/dump") || !strcmp(url, "/_sim/stats")) {
		if (!get || url[6] == 'd') {
			*out = problem(status, 405, "use GET");
			return;
		}
		pthread_mutex_lock(&sim->lock);
		*out = stats_json(&sim->stats);
		pthread_mutex_unlock(&sim->lock);
		return;
	}
	bool c2c = !strcmp(url, "/_sim/send_c2c"), group = !strcmp(url, "/_sim/send_group_msg");
	if (!c2c && !group) {
		*out = problem(status, 404, "unknown emulator endpoint");
		return;
	}
	if (!post) {
		*out = problem(status, 405, "use POST");
		return;
	}
	if (c2c)
		simulated_send(sim, body, len, "openim", "sendmsg", api_sim_send_c2c, status, out, callbacks);
	else
		simulated_send(sim, body, len, "group_open_http_svc", "send_group_msg", api_sim_send_group_msg, status,
			       out, callbacks);
}
