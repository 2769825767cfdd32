# plugins/sendbird: the Sendbird source plugin (export files and Platform API pull),
# its mapping script is scripts/sendbird.lua; tests live in tests/sendbird/.
SENDBIRD_SCANNER = plugins/sendbird/json_array_stream.c plugins/sendbird/json_array_stream.h

check_PROGRAMS += tests/sendbird/test_json_array_stream
tests_sendbird_test_json_array_stream_SOURCES = tests/sendbird/test_json_array_stream.c $(SENDBIRD_SCANNER)
tests_sendbird_test_json_array_stream_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests -I$(top_srcdir)/plugins/sendbird
TESTS += tests/sendbird/test_json_array_stream
