# Trailkeep: `make run` serves the console with demo data, `make test` runs every test.
# Both install what is missing first (see ../shared/TOOLCHAIN.md for why each pin exists).

SHELL := /bin/bash
ROOT := $(CURDIR)
export PATH := $(HOME)/.cargo/bin:$(ROOT)/end2end/node_modules/.bin:$(PATH)

CARGO_LEPTOS_VERSION := 0.3.10
# The wasm-bindgen CLI must be exactly the crate version in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)

RUN_ADDR ?= 127.0.0.1:3000
RUN_DB_PORT ?= 55432
TEST_DB_PORT ?= 55433
# Empty: end2end/run.sh picks a free port of loopback at run time (set it to pin one).
E2E_ADDR ?=

SERVER := target/release/trailkeep
# The benchmarks: a binary of their own (`--features bench`), never part of `trailkeep`.
BENCH := target/release/trailkeep-bench
LOCALDB := server/scripts/localdb.sh


.PHONY: run test build tools rust-tools wasm-target npm-tools chromium py unit e2e lint bench-bin bench bench-query bench-console bench-scroll bench-live bench-export bench-bundle bench-tree bench-sign-in bench-export-abandon bench-partitions bench-alerts

## Installation (idempotent: each step is skipped when already done)

tools: rust-tools npm-tools

wasm-target:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

rust-tools: wasm-target
	@cargo leptos --version 2>/dev/null | grep -q ' $(CARGO_LEPTOS_VERSION)$$' \
	  || cargo install cargo-leptos@$(CARGO_LEPTOS_VERSION) --locked --features no_downloads
	@wasm-bindgen --version 2>/dev/null | grep -q ' $(WASM_BINDGEN_VERSION)$$' \
	  || cargo install wasm-bindgen-cli@$(WASM_BINDGEN_VERSION)

# wasm-opt comes from npm's binaryen (Debian's is too old and breaks hydration), with Playwright.
npm-tools: end2end/node_modules/.installed

end2end/node_modules/.installed: end2end/package.json end2end/package-lock.json
	cd end2end && npm ci --no-audit --no-fund
	touch $@

# Chromium for the end2end tests, and poppler's pdftotext to read the PDF reports they download.
chromium:
	@{ command -v chromium && command -v pdftotext; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils; \
	  else echo "Chromium or pdftotext is missing: sudo apt-get install -y chromium poppler-utils"; exit 1; fi; }

# Python tools in a project-local venv: rfc8785 (an independent RFC 8785 implementation, with
# which a test recomputes leaf hashes from the README's recipe, server/tests/recipe.py),
# schemathesis (fuzzes the API from its OpenAPI document, end2end/schemathesis.sh), moto (an
# S3 server with Object Lock) and aiosmtpd (an SMTP server with STARTTLS) for the tests.
PY_PACKAGES := rfc8785==0.1.4 schemathesis==4.32.5 'moto[server]==5.2.5' aiosmtpd==1.4.6
py: target/py/.installed

target/py/.installed: Makefile
	python3 -m venv target/py
	target/py/bin/pip install --quiet --disable-pip-version-check $(PY_PACKAGES)
	touch $@

## Build

build: tools
	cargo leptos build --release --split --precompress
	@# Served precompressed (brotli, or gzip for browsers without it): gzip at its best level.
	@for f in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do gzip -9 -n -k -f "$$f"; done

## The two commands

run: build
	@set -e; \
	if [ -z "$${DATABASE_URL:-}" ]; then \
	  export TRAILKEEP_KEY_FILE=$${TRAILKEEP_KEY_FILE:-target/pg/run-log.key}; fi; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/run $(RUN_DB_PORT))}; \
	export DATABASE_URL=$$url; \
	$(SERVER) migrate; \
	$(SERVER) seed --demo --if-empty; \
	echo; \
	echo "Trailkeep console: http://$(RUN_ADDR)"; \
	echo "Demo login:        admin@company.com / $${TRAILKEEP_DEMO_PASSWORD:-trailkeep-demo}"; \
	echo "                   (also compliance@company.com and member@company.com)"; \
	echo; \
	LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR=$(RUN_ADDR) LEPTOS_ENV=PROD exec $(SERVER) serve

test: build chromium
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	DATABASE_URL=$$url $(MAKE) --no-print-directory unit; \
	DATABASE_URL=$$url $(MAKE) --no-print-directory e2e; \
	$(MAKE) --no-print-directory lint

## Parts of `make test` (unit and e2e expect DATABASE_URL)

unit: py
	cargo test --release -p app -p server --features app/ssr,server/bench

e2e: py
	end2end/run.sh "$(SERVER)" "$(E2E_ADDR)"
	end2end/run.sh "$(SERVER)" "$(E2E_ADDR)" ./schemathesis.sh

# Clippy for both halves: the server build, and the browser build of the shared crate.
lint: wasm-target
	cargo fmt --all -- --check
	cargo clippy --release -p app -p server --features app/ssr,server/bench --all-targets -- -D warnings
	cargo clippy --release -p app --features hydrate --target wasm32-unknown-unknown -- -D warnings

bench-bin:
	cargo build --release -p server --features bench --bin trailkeep-bench

# Benchmarks: figures go to BENCHMARKS.md. Uses a scratch database in the test cluster.
bench: build bench-bin
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench) $(BENCH) ingest --events $${EVENTS:-100000}

# Query latencies on ENTRIES demo entries; the database trailkeep_bench_q_<ENTRIES> is seeded
# once and kept, so later runs only measure. MONTHS=M records them over M monthly partitions
# (database trailkeep_bench_q_<ENTRIES>_m<M>).
ENTRIES ?= 100000
bench-query: build bench-bin
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; \
	DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_q_$(ENTRIES)$(if $(MONTHS),_m$(MONTHS)) --keep) \
	  $(BENCH) query --entries $(ENTRIES) $(if $(MONTHS),--months $(MONTHS))

# The Merkle tree on ENTRIES_TREE demo entries (default 300,000) in a fresh scratch database:
# integration against the same tree in memory, inclusion proofs against a read by seq, storage.
bench-tree: bench-bin
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; \
	DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_tree) $(BENCH) tree --entries $${ENTRIES_TREE:-300000}

# The console's bundle size (the page's WASM and the chunks fetched on first use) and its time
# to first render on loopback (median of RUNS loads).
bench-console: build chromium
	@set -e; \
	for f in target/site/pkg/*.wasm; do \
	  echo "$$(basename $$f): $$(stat -c %s $$f) bytes, $$(stat -c %s $$f.gz) gzip -9, $$(stat -c %s $$f.br) brotli (as served)"; done; \
	export DATABASE_URL=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	end2end/run.sh "$(SERVER)" "$(E2E_ADDR)" node first-render.mjs

# Scrolling smoothness: frame times with 1,000 and with 100,000 rows loaded (120,000 in the log).
bench-scroll: build chromium
	@set -e; \
	export DATABASE_URL=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	E2E_ENTRIES=120000 end2end/run.sh "$(SERVER)" "$(E2E_ADDR)" \
	  sh -c 'ROWS=1000 node scroll-100k.mjs && ROWS=100000 node scroll-100k.mjs | tail -1'

# Live mode: commit → websocket latency with 1, 100 and 1000 clients at 200 events/s, next to
# the raw LISTEN/NOTIFY round trip of the same run (2 sockets per client: raise the fd limit).
bench-live: build bench-bin
	@set -e; ulimit -n 8192; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_live) $(BENCH) live

# Export: CSV and NDJSON of ENTRIES entries (default 1,000,000; seeded once into
# trailkeep_bench_export_<ENTRIES> and kept) against psql's \copy of the same rows.
bench-export: build bench-bin
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; n=$${ENTRIES_EXPORT:-1000000}; \
	DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_export_$$n --keep) $(BENCH) export --entries $$n

# Archive bundles: a month of ENTRIES entries (the export bench's kept database) built into a
# directory and uploaded to moto on loopback, against the streaming NDJSON export.
bench-bundle: bench-bin py
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; n=$${ENTRIES_EXPORT:-1000000}; \
	DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_export_$$n --keep) $(BENCH) bundle --entries $$n

# Timings that were thresholds in tests (issue 23): /healthz during a burst of sign-ins against
# idle, another account's sign-in while guesses queue against alone; an abandoned PDF export's
# record against the whole report (ENTRIES_PDF, default 20,000, in a fresh scratch database).
bench-sign-in: bench-bin
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; \
	DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_sign_in) $(BENCH) sign-in

bench-export-abandon: bench-bin
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; \
	DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_export_abandon) $(BENCH) export-abandon --entries $${ENTRIES_PDF:-20000}

# Alerting (issue 27): ingest with 100 active rules against none, commit → webhook received on
# loopback (p50/p95), and the evaluator's catch-up rate after downtime, in a fresh scratch
# database.
bench-alerts: build bench-bin
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; \
	DATABASE_URL=$$(server/scripts/scratchdb.sh trailkeep_bench_alerts) $(BENCH) alerts --events $${EVENTS:-100000}

# Migration 0030 (the log partitioned by month) on ENTRIES_CONVERSION entries (default 1,000,000)
# written by the previous migrations into a scratch database: how long it holds the log.
bench-partitions:
	@set -e; \
	url=$${DATABASE_URL:-$$($(LOCALDB) target/pg/test $(TEST_DB_PORT))}; \
	export DATABASE_URL=$$url; \
	server/scripts/bench-partition-conversion.sh $${ENTRIES_CONVERSION:-1000000}
