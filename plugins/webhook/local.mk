# plugins/webhook: generic signed-JSON webhooks to and from a self-built backend (sync).
if BUILD_PLUGIN_WEBHOOK
pkglib_LTLIBRARIES += plugins/webhook/webhook.la
plugins_webhook_webhook_la_SOURCES = plugins/webhook/webhook.c
plugins_webhook_webhook_la_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(CRYPTO_CFLAGS)
# -module spelled out: automake checks for it literally to allow a non-lib name.
plugins_webhook_webhook_la_LDFLAGS = -module $(AM_LDFLAGS) $(PLUGIN_LDFLAGS)
plugins_webhook_webhook_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
endif
EXTRA_DIST += plugins/webhook/README.md
