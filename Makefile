# Top-level targets. `make demo` runs the demo, `make test` runs every test (what CI runs).
CARGO ?= cargo

.PHONY: all demo test lint header-check rust-test c-test clean

# The shared library's soname is libh2client.so.0; cargo writes only libh2client.so, so the
# link lets programs linked against target/release find it at run time.
all:
	$(CARGO) build --release --workspace
	ln -sfn libh2client.so target/release/libh2client.so.0

demo: all
	./scripts/demo.sh

# Every test: formatting and lints, the generated header is current, the Rust tests (unit,
# HPACK vectors, scripted misbehaving servers, pool, C API, interop with nghttpd, h2o and
# nginx), and the C examples against the local test server.
test: lint rust-test header-check c-test

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test:
	$(CARGO) test --workspace

# build.rs regenerates include/h2client.h; it must equal the committed one.
header-check:
	$(CARGO) build
	git diff --exit-code -- include/h2client.h || { echo "include/h2client.h is stale: commit the regenerated header"; exit 1; }

c-test: all
	$(MAKE) -C c-examples test
	$(MAKE) -C c-examples test VALGRIND=1

clean:
	$(CARGO) clean
	$(MAKE) -C c-examples clean
