# Top-level targets. `make demo` runs the demo, `make test` runs every test (what CI runs).
CARGO ?= cargo

# Installation (make install PREFIX=/usr/local DESTDIR=...).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOMAJOR    := 0
# What a program linking libh2client.a statically also needs (from
# `cargo rustc --release --lib --crate-type staticlib -- --print native-static-libs`).
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

# Cargo's output directory: $CARGO_TARGET_DIR (environment or command line) if set, else
# target. Made absolute and exported, so that c-examples/Makefile and the scripts, which run
# in other directories, use the same one (and sub-makes get it from the environment, not the
# command line's relative form).
ifneq ($(CARGO_TARGET_DIR),)
override CARGO_TARGET_DIR := $(abspath $(CARGO_TARGET_DIR))
export CARGO_TARGET_DIR
MAKEOVERRIDES := $(filter-out CARGO_TARGET_DIR=%,$(MAKEOVERRIDES))
endif
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
RELEASE    := $(TARGET_DIR)/release

# The one release build: every crate of the workspace (the library and h2testserver) in one
# cargo run, so that the dependencies shared by both (tokio, rustls, ring...) are compiled once,
# with the union of their features. c-examples/Makefile runs exactly this command (its
# CARGO_BUILD), and so finds nothing to compile after `make`: a different selection (plain
# `cargo build --release`, or `-p h2client-testserver`) resolves other feature sets and
# compiles tokio, rustls and the library again.
CARGO_BUILD := build --release --workspace

.PHONY: all demo test deps lint header-check rust-test c-test fuzz-smoke interop-matrix clean install uninstall install-test

# The shared library's soname is libh2client.so.0; cargo writes only libh2client.so, so the
# link lets programs linked against $(RELEASE) find it at run time.
all:
	$(CARGO) $(CARGO_BUILD)
	ln -sfn libh2client.so $(RELEASE)/libh2client.so.0

demo: all
	./scripts/demo.sh

# Every test: formatting and lints, the generated header is current, the Rust tests (unit,
# HPACK vectors, scripted misbehaving servers, pool, C API, interop with nghttpd, h2o and
# nginx, Go), the C examples against the local test server (plain, AddressSanitizer,
# valgrind), the installed library, and each fuzz target for SMOKE_SECONDS (60). First
# scripts/check-deps.sh: the commands the tests need (the Debian packages listed in
# scripts/debian-packages.txt), installed if missing and root or password-less sudo can.
test: deps lint rust-test header-check c-test install-test fuzz-smoke

deps:
	./scripts/check-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

rust-test: deps
	$(CARGO) test --workspace

# build.rs regenerates include/h2client.h; it must equal the committed one.
header-check:
	$(CARGO) build
	git diff --exit-code -- include/h2client.h || { echo "include/h2client.h is stale: commit the regenerated header"; exit 1; }

c-test: all deps
	$(MAKE) -C c-examples test
	$(MAKE) -C c-examples test SANITIZE=address
	$(MAKE) -C c-examples test VALGRIND=1

# libh2client.so.$(VERSION) with the .so.$(SOMAJOR) (soname) and .so links, the static
# library, the headers and a pkg-config file.
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(RELEASE)/libh2client.so $(DESTDIR)$(LIBDIR)/libh2client.so.$(VERSION)
	ln -sfn libh2client.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libh2client.so.$(SOMAJOR)
	ln -sfn libh2client.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libh2client.so
	install -m 0644 $(RELEASE)/libh2client.a $(DESTDIR)$(LIBDIR)/libh2client.a
	install -m 0644 include/h2client.h $(DESTDIR)$(INCLUDEDIR)/h2client.h
	if [ -f include/h2client.hpp ]; then install -m 0644 include/h2client.hpp $(DESTDIR)$(INCLUDEDIR)/h2client.hpp; fi
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' h2client.pc.in \
	    > $(DESTDIR)$(PKGCONFIGDIR)/h2client.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libh2client.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libh2client.so.$(SOMAJOR) \
	    $(DESTDIR)$(LIBDIR)/libh2client.so $(DESTDIR)$(LIBDIR)/libh2client.a \
	    $(DESTDIR)$(INCLUDEDIR)/h2client.h $(DESTDIR)$(INCLUDEDIR)/h2client.hpp \
	    $(DESTDIR)$(PKGCONFIGDIR)/h2client.pc

# Installs into a temporary prefix and builds and runs programs against the installed
# library found through pkg-config (shared and static), so an install mistake is caught.
install-test: all deps
	./scripts/install-test.sh

# cargo fuzz (libFuzzer) on the stable toolchain; see fuzz/README.md.
fuzz-smoke: deps
	./fuzz/smoke

# The README's interop table: every interop case against every peer, in release.
interop-matrix:
	./scripts/interop-matrix.sh

clean:
	$(CARGO) clean
	$(MAKE) -C c-examples clean
