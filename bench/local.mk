# Benchmarks: run by hand, never by make check.
#   make bench-extract       extract+transform+stage of 100k and 1M generated records
EXTRA_DIST += bench/extract.sh

bench-extract: immigrate
	sh $(top_srcdir)/bench/extract.sh $(abs_top_builddir)
.PHONY: bench-extract

# make compare-output BASELINE=/path/to/older/immigrate: the records, dead letters
# and preview output of this build and BASELINE must be identical.
EXTRA_DIST += bench/compare-output.sh bench/compare/im-records.jsonl bench/compare/tricky.jsonl \
	bench/compare/tricky.lua

compare-output: immigrate
	sh $(top_srcdir)/bench/compare-output.sh "$(BASELINE)" $(abs_top_builddir)
.PHONY: compare-output
