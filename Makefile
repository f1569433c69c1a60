# devicekb — the two commands of the Quick start are `make run` and `make test`.
# Both go through `make setup`, which installs what is missing and caches downloads
# and the converted model under $(DEVICEKB_CACHE) (default ~/.cache/devicekb).

SHELL := /bin/bash
export DEVICEKB_CACHE ?= $(HOME)/.cache/devicekb
CARGO ?= cargo
BIN := target/release/devicekb

.PHONY: setup tools model model-gemma llm browser build run demo test lint bench eval eval-extract eval-classify eval-transfer fmt clean

setup: tools model

# System tools the setup needs (Rust, Python with venv and pip, unzip), from Debian's packages
# when missing and we are allowed to install.
tools:
	@bash scripts/install_tools.sh

model:
	@bash scripts/setup.sh >/dev/null
	@bash scripts/setup.sh minilm >/dev/null

# llama.cpp's server and a small model, for the real-LLM test (built once, ~5 min on 2 cores).
llm: tools
	@bash scripts/setup_llm.sh >/dev/null

# EmbeddingGemma-300M, the opt-in larger embedding model (README, Configuration): converts it
# once and prints DEVICEKB_MODEL_DIR=..., for `export "$$(make -s model-gemma)"`.
model-gemma: tools
	@bash scripts/setup_gemma.sh

# Headless Chromium and chromium-driver (Debian's packages) and axe-core (npm), for the
# workspace's browser and accessibility tests.
browser:
	@bash scripts/install_browser.sh

build: setup
	$(CARGO) build --release

# Index kb/ (only new or changed entries are embedded) and serve on 127.0.0.1:8000.
run: build
	$(BIN) reindex
	$(BIN) serve

# Load sample customers, devices and tickets (through the pipeline) into an empty store,
# so the earlier project's test script runs unchanged against `make run`.
demo: build
	$(BIN) reindex
	$(BIN) demo

test: setup llm browser
	$(CARGO) test --release --lib --bins --tests --no-fail-fast
	$(CARGO) build --release --benches
	@[ -n "$$QDRANT_URL" ] || echo "note: the Qdrant-server tests (tests/qdrant.rs, the Qdrant case of tests/two_servers.rs) did not run (set QDRANT_URL to a Qdrant server to run them)"

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings
	$(CARGO) test --release --test layering

bench: setup
	$(CARGO) bench --bench search
	$(CARGO) bench --bench extract
	$(CARGO) bench --bench answer
	$(CARGO) bench --bench tickets

eval: build
	$(BIN) eval search kb/eval/queries.jsonl --data target/eval-data

# Extraction precision/recall on the labelled set and on the held-out set.
eval-extract:
	$(CARGO) build --release
	$(BIN) eval extract tests/data/extraction_messages.jsonl
	@[ ! -f tests/data/extraction_holdout.jsonl ] || $(BIN) eval extract tests/data/extraction_holdout.jsonl

# Ticket classification (category, priority, churn risk): 5-fold cross-validation, then the sets written apart.
eval-classify: build
	$(BIN) eval classify --data target/eval-data
	for set in tests/data/classification_holdout*.jsonl; do $(BIN) eval classify $$set --held-out --data target/eval-data || exit 1; done

# Hold-out protocol: KBs the product was never tuned on, imported and measured on tickets
# written apart from the project (tests/data/transfer/README.md). `make eval-transfer
# KB=seed SET=b` runs one set.
eval-transfer: build
	bash scripts/eval_transfer.sh $(KB) $(SET)

fmt:
	$(CARGO) fmt

clean:
	rm -rf data target/eval-data
