.PHONY: dev test bench openapi load

# Serve the API locally on http://127.0.0.1:9000 with a local DynamoDB engine and a dev app.
dev:
	bash scripts/dev.sh

# Every check: fmt, clippy, tests on dynoxide and DynamoDB Local, end-to-end, template lint.
test:
	bash scripts/test.sh

# Benchmarks: builds what it needs, writes bench/results.json and BENCHMARKS.md (see
# bench/README.md). Run `make test` first for the target/ size it records.
bench:
	bash scripts/bench.sh

# Regenerate openapi.yaml from the code (the layout test fails while it is stale).
openapi:
	UPDATE_OPENAPI=1 cargo test -p talkplus-tests --test layout openapi

# The full load run against a local stack (5,000 requests, 32 clients); see tests/tests/load.rs.
load:
	bash scripts/load.sh
