/* Fixture plugins for the loader's refusal tests: one source file, one broken
 * (or fine) module per FIXTURE_* define. Each descriptor names itself after its
 * module file so only the intended defect is reported. */
#include <stddef.h>

#include <immigrate/source.h>

static const char *const streams[] = {"records", NULL};

static int fx_open(const struct im_host *host, const json_t *options, const char *checkpoint, void **state,
		   char *err, size_t err_size)
{
	(void)host, (void)options, (void)checkpoint, (void)err, (void)err_size;
	*state = NULL;
	return IM_SOURCE_OK;
}

__attribute__((unused)) static int fx_next(void *state, struct im_record *out, char *err, size_t err_size)
{
	(void)state, (void)out, (void)err, (void)err_size;
	return IM_SOURCE_END;
}

static char *fx_checkpoint(void *state)
{
	(void)state;
	return NULL;
}

static void fx_close(void *state) { (void)state; }

#if defined(FIXTURE_OK)
#define FX_NAME "okfixture"
#elif defined(FIXTURE_ABI2)
#define FX_NAME "abi2"
#elif defined(FIXTURE_NOSYM)
#define FX_NAME "nosym"
#elif defined(FIXTURE_BADABI)
#define FX_NAME "badabi"
#elif defined(FIXTURE_SMALL)
#define FX_NAME "small"
#elif defined(FIXTURE_NOCALLS)
#define FX_NAME "nocalls"
#elif defined(FIXTURE_CAPS)
#define FX_NAME "caps"
#else
#error "define one FIXTURE_*"
#endif

static const struct im_source fixture = {
#ifdef FIXTURE_SMALL
	.size = 16, /* a descriptor from before the first layout was complete */
#else
	.size = sizeof(struct im_source),
#endif
#ifdef FIXTURE_BADABI
	.abi = 7,
#else
	.abi = IMMIGRATE_SOURCE_ABI,
#endif
	.name = FX_NAME,
	.version = "0.0.1",
	.description = "loader test fixture",
	.streams = streams,
#ifdef FIXTURE_CAPS
	.capabilities = IM_SOURCE_CAP_READ | IM_SOURCE_CAP_ESTIMATE, /* but no estimate() */
#else
	.capabilities = IM_SOURCE_CAP_READ,
#endif
	.open = fx_open,
#ifndef FIXTURE_NOCALLS
	.next = fx_next,
#endif
	.checkpoint = fx_checkpoint,
	.close = fx_close,
};

#if defined(FIXTURE_ABI2)
/* What a plugin built against a future ABI 2 header exports. */
const struct im_source *immigrate_source_v2(void);
const struct im_source *immigrate_source_v2(void) { return &fixture; }
#elif defined(FIXTURE_NOSYM)
/* A shared object that is not a plugin (or forgot its entry point). */
const struct im_source *immigrate_source(void);
const struct im_source *immigrate_source(void) { return &fixture; }
#else
const struct im_source *IMMIGRATE_SOURCE_ENTRY(void) { return &fixture; }
#endif
