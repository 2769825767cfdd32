/* The response envelope every REST answer carries (spec §1.4). */
#ifndef IMSIM_REPLY_H
#define IMSIM_REPLY_H

#include <jansson.h>

#include "imrules.h"

/* {"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}, plus "ErrorDisplay":"" for the
 * profile and sns families. A new reference; NULL when out of memory. */
json_t *reply_envelope(enum im_family family);

/* Marks env as failed with code and info (ActionStatus FAIL). code 0 leaves it OK. */
void reply_fail(json_t *env, int code, const char *info);

/* The body of a failure answer for family (a new reference). */
json_t *reply_error(enum im_family family, int code, const char *info);

#endif
