# Benchmarks: run by hand, never by make check.
#   make bench-extract       extract+transform+stage of 100k and 1M generated records
EXTRA_DIST += bench/extract.sh

bench-extract: immigrate
	sh $(top_srcdir)/bench/extract.sh $(abs_top_builddir)
.PHONY: bench-extract
