# The embedded demo (./quickstart demo): sample export, mapping script, job, driver.
EXTRA_DIST += contrib/demo/run-demo.sh contrib/demo/job.lua contrib/demo/demo.lua \
	contrib/demo/sample.jsonl contrib/demo/make-sample.py
