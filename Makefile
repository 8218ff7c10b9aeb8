# Makefile: builds liblevee (static and shared) and build/levee, and runs the tests, fuzzers and
# benchmarks. `make run` and `make test` first install missing Debian packages (scripts/deps.sh).
#
#   make              build build/levee and build/liblevee.{a,so}
#   make run          build and start `levee serve` on the embedded store
#   make demo         start `levee serve` and feed it a simulated term
#   make test         unit, end-to-end and docs tests, the layering and install checks, the browser
#                     tests and fuzzers; the unit, end-to-end and docs tests again under ASan+UBSan
#                     (SANITIZE=1, in build/asan)
#   make web          browser tests of the web page in headless Chromium (part of make test)
#   make bench        benchmarks against named baselines (docs/benchmarks.md)
#   make fuzz         longer fuzzing runs (FUZZ_SECONDS per harness, FUZZ_CC=clang)
#   make install      the program, liblevee.{a,so}, include/levee/*.h and levee.pc, into
#                     $(DESTDIR)$(BINDIR), $(LIBDIR), $(INCLUDEDIR)/levee and $(PKGCONFIGDIR); the
#                     man pages into $(MANDIR)/man1, levee.service into $(SYSTEMDUNITDIR) and
#                     levee.conf.example into $(DOCDIR)
#   make man          the man pages, levee(1) and levee-COMMAND(1), from `levee help` (tools/man.py)
#   make man-check    the man pages lint clean and hold every option of the help, the unit file
#                     verifies (tests/install/packaging.sh; part of make test)
#   make deb          a Debian package built with dpkg-buildpackage from a copy of the tree, into
#                     $(BUILD)/deb, then checked with lintian (scripts/deps.sh deb installs the tools)
#   make deb-test     make deb, then install the package, check it, start, reload and stop the service
#                     with systemctl (in a container: a systemd of its own in private namespaces),
#                     remove and purge it (as root, on a machine without levee installed)
#   make uninstall    removes what make install put there (same PREFIX, DESTDIR, ...)
#   make install-check  install into a temporary DESTDIR, build a program against it with pkg-config
#                     only, uninstall (tests/install/run.sh; part of make test)
#
# Variables (GNU conventions; set them on the command line, e.g. `make CC=clang CFLAGS=-O3`):
#   CC (gcc), CFLAGS (-O2 -g; -O1 -g with SANITIZE=1), CPPFLAGS, LDFLAGS, LDLIBS: added to levee's own
#   flags (-Iinclude, -D_GNU_SOURCE, warnings, the packages' flags), which they never replace;
#   PKG_CONFIG (pkg-config); PREFIX or prefix (/usr/local), BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR,
#   MANDIR, DOCDIR, SYSTEMDUNITDIR ($(PREFIX)/lib/systemd/system), SYSCONFDIR (/etc: where the unit
#   looks for levee/levee.conf and levee/levee.env), DESTDIR; BUILD (build); SANITIZE=1 (ASan+UBSan);
#   FUZZ_CC (clang), FUZZ_SECONDS (10).

SHELL    := /bin/bash
BUILD    ?= build
FUZZ_CC  ?= clang
FUZZ_SECONDS ?= 10
SANITIZE ?=

# ---- the user's variables ----

# make predefines CC=cc: gcc unless CC was given (command line or environment)
ifeq ($(origin CC),default)
CC       := gcc
endif
ifeq ($(SANITIZE),1)
CFLAGS   ?= -O1 -g
else
CFLAGS   ?= -O2 -g
endif
CPPFLAGS ?=
LDFLAGS  ?=
LDLIBS   ?=
PKG_CONFIG ?= pkg-config
INSTALL  ?= install

prefix   ?= /usr/local
PREFIX   ?= $(prefix)
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/levee
# systemd reads units from /usr/local/lib/systemd/system as well as /usr/lib/systemd/system (and
# /lib/systemd/system, where Debian 12's packages put them: debian/rules says so).
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# The unit's configuration is in /etc/levee whatever the prefix: it is the machine's, not the
# program's (make install writes nothing there; the Debian package installs levee.conf).
SYSCONFDIR ?= /etc
DESTDIR  ?=

# ---- levee's own flags (the user's come after them on every command line) ----

PKGS     := yajl sqlite3 libzstd zlib
# libcrypto, libcurl, libmicrohttpd, libpq and libexpat (STS's XML answers) are loaded when a command needs them (include/levee/dynlib.h):
# their headers are needed to build, their libraries are not linked (the unit tests and fuzzers that
# make keys with OpenSSL link libcrypto themselves).
DL_PKGS  := libcrypto libcurl libmicrohttpd libpq expat
# The packages whose headers levee's public headers include (levee/crypto.h: <openssl/...>,
# levee/curl.h: <curl/curl.h>, levee/pq.h: <libpq-fe.h>, levee/expat.h: <expat.h>): levee.pc gives their include flags, not their libraries.
HDR_PKGS := libcrypto libcurl libpq expat

# Each pkg-config (or sed) runs once per make, the first time its variable is used, and not at all
# by targets that do not use it (make test and make run call scripts/deps.sh before any).
PKG_CFLAGS  = $(eval PKG_CFLAGS := $$(shell $$(PKG_CONFIG) --cflags $$(PKGS) $$(DL_PKGS)))$(PKG_CFLAGS)
PKG_LIBS    = $(eval PKG_LIBS := $$(shell $$(PKG_CONFIG) --libs $$(PKGS)))$(PKG_LIBS)
HDR_CFLAGS  = $(eval HDR_CFLAGS := $$(shell $$(PKG_CONFIG) --cflags $$(HDR_PKGS)))$(HDR_CFLAGS)
TEST_PKG    = $(eval TEST_PKG := $$(shell $$(PKG_CONFIG) --cflags --libs cmocka libcrypto))$(TEST_PKG)
CRYPTO_LIBS = $(eval CRYPTO_LIBS := $$(shell $$(PKG_CONFIG) --libs libcrypto))$(CRYPTO_LIBS)
MHD_PKG     = $(eval MHD_PKG := $$(shell $$(PKG_CONFIG) --cflags --libs libmicrohttpd))$(MHD_PKG)
VERSION     = $(eval VERSION := $$(shell sed -n 's/.*LV_VERSION "\(.*\)"/\1/p' include/levee/common.h))$(VERSION)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral -Wvla
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=address,undefined

LV_CPPFLAGS = -D_GNU_SOURCE -Iinclude -Ibuild/gen $(PKG_CFLAGS)
LV_CFLAGS  := -std=c17 $(WARN) $(if $(filter 1,$(SANITIZE)),$(SAN_FLAGS))
LV_LDFLAGS := $(if $(filter 1,$(SANITIZE)),$(SAN_LDFLAGS))
LV_LDLIBS   = $(PKG_LIBS) -ldl -lpthread -lm

# liblevee.so exports the public API (lv_*) only (src/liblevee.map).
LIB_MAP  := src/liblevee.map

LIB_SRC  := $(sort $(wildcard src/common/*.c src/understand/*.c src/receive/*.c src/keep/*.c \
                              src/engines/*.c src/engines/*/*.c src/answer/*.c src/emit/*.c src/deliver/*.c \
                              src/serve/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
HEADERS  := $(sort $(wildcard include/levee/*.h))

WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg))
GEN_WEB   := build/gen/web_assets.inc

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZERS  := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

.PHONY: all deps run demo test check unit e2e web layers install-check fuzz-smoke fuzz bench \
        install uninstall clean docs-check man man-check deb deb-test

all: $(BUILD)/levee $(BUILD)/liblevee.a $(BUILD)/liblevee.so

deps:
	@scripts/deps.sh build

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LV_CPPFLAGS) $(CPPFLAGS) $(LV_CFLAGS) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

# The web page is embedded in the library (src/answer/web.c includes the generated table).
build/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -o $@ $<

$(GEN_WEB): build/tools/embed $(WEB_FILES)
	@mkdir -p $(dir $@)
	build/tools/embed $@ $(WEB_FILES)

$(BUILD)/obj/src/answer/web.o build/fuzz/obj/src/answer/web.o: $(GEN_WEB)

$(BUILD)/liblevee.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/liblevee.so: $(LIB_OBJ) $(LIB_MAP)
	$(CC) $(LV_CFLAGS) $(CFLAGS) -shared -Wl,-soname,liblevee.so.0 -Wl,--version-script=$(LIB_MAP) \
		$(LV_LDFLAGS) $(LDFLAGS) -o $@ $(LIB_OBJ) $(LV_LDLIBS) $(LDLIBS)

$(BUILD)/levee: $(CLI_OBJ) $(BUILD)/liblevee.a
	$(CC) $(LV_CFLAGS) $(CFLAGS) $(LV_LDFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/liblevee.a \
		$(LV_LDLIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/liblevee.a tests/unit/testing.h
	@mkdir -p $(dir $@)
	$(CC) $(LV_CPPFLAGS) $(CPPFLAGS) -Itests/unit -DLV_TEST_FIXTURES=\"$(CURDIR)/tests/fixtures\" \
		$(LV_CFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LV_LDFLAGS) $(LDFLAGS) -o $@ $< \
		$(BUILD)/liblevee.a $(LV_LDLIBS) $(TEST_PKG) $(LDLIBS)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# ---- running ----

run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory all
	$(BUILD)/levee serve

# a server fed with a simulated term, and a trickle of live events (scripts/demo.sh)
demo:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory all
	scripts/demo.sh $(BUILD)/levee

# ---- tests ----

export ASAN_OPTIONS = detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS = halt_on_error=1:print_stacktrace=1

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

# The SQS tests (tests/e2e/test_sqs.py) run a local SQS-compatible server from npm (tests/sqs), installed
# when it is missing or its package-lock.json changed since it was.
SQS_NPM_STAMP := tests/sqs/node_modules/.package-lock.json

$(SQS_NPM_STAMP): tests/sqs/package-lock.json tests/sqs/package.json
	cd tests/sqs && npm ci --no-audit --no-fund
	@touch $@

e2e: $(BUILD)/levee $(SQS_NPM_STAMP)
	python3 tests/e2e/run.py --levee $(BUILD)/levee $(if $(filter 1,$(SANITIZE)),--sanitized)

docs-check: $(BUILD)/levee
	@python3 tests/e2e/check_docs.py --levee $(BUILD)/levee

# Every include points down the stages, and every function is defined in the stage that declares it
# (tools/check_layers.py), checked on the objects just built.
layers: $(LIB_OBJ) $(CLI_OBJ)
	python3 tools/check_layers.py --objects $(BUILD)/obj

# make install into a temporary DESTDIR, a program built against it with pkg-config only (shared and
# static), then make uninstall (tests/install/run.sh).
install-check: all
	MAKE="$(MAKE_COMMAND)" CC="$(CC)" PKG_CONFIG="$(PKG_CONFIG)" tests/install/run.sh --build $(BUILD)

# Browser tests of the web page (tests/web: Debian's chromium driven by playwright-core). Its npm
# packages are installed when they are missing or package-lock.json changed since they were.
WEB_NPM_STAMP := tests/web/node_modules/.package-lock.json

$(WEB_NPM_STAMP): tests/web/package-lock.json tests/web/package.json
	cd tests/web && npm ci --no-audit --no-fund
	@touch $@

web: $(BUILD)/levee $(WEB_NPM_STAMP)
	node tests/web/run.mjs --levee $(BUILD)/levee

# The man pages and the systemd unit: they build, lint clean (groff -ww, mandoc -Tlint when it is
# installed), every command has a page holding the options of its help, `man levee-serve` finds
# it, the unit file verifies (systemd-analyze, when it is installed) and the example configuration
# is read by levee serve (tests/install/packaging.sh).
man-check: man $(BUILD)/levee.service
	tests/install/packaging.sh --build $(BUILD)

# The layering check, the install check, the packaging check and the browser tests run once, on
# the release build (not again under SANITIZE=1).
check: unit e2e docs-check $(if $(filter 1,$(SANITIZE)),,layers install-check man-check web)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@LEVEE_TEST_REQUIRE_POSTGRESQL=1 $(MAKE) --no-print-directory check
	@LEVEE_TEST_REQUIRE_POSTGRESQL=1 $(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 all check
	@$(MAKE) --no-print-directory -j2 fuzz-smoke FUZZ_SECONDS=$(or $(FUZZ_SMOKE_SECONDS),8)
	@echo "make test: all passed"

# ---- fuzzing: libFuzzer harnesses built with clang over the library sources ----
# FUZZ_CC gets the user's CPPFLAGS, LDFLAGS and LDLIBS, not CFLAGS (those are for CC).

FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(LV_CPPFLAGS) $(CPPFLAGS) $(FUZZ_FLAGS) -std=c17 -Wall -Wextra -Werror -MMD -MP -c $< -o $@

build/fuzz/%: fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(LV_CPPFLAGS) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -Wall -Wextra \
		-Werror $(LDFLAGS) -o $@ $< $(FUZZ_OBJ) $(LV_LDLIBS) $(CRYPTO_LIBS) $(LDLIBS)

-include $(FUZZ_OBJ:.o=.d)

# Each harness runs FUZZ_SECONDS on its corpus; `make -j2 fuzz-smoke` runs two at a time (make test
# does), since each is one busy process.
FUZZ_RUNS := $(FUZZERS:build/fuzz/%=fuzz-run-%)

fuzz-smoke fuzz: $(FUZZ_RUNS)

$(FUZZ_RUNS): fuzz-run-%: build/fuzz/%
	@name=$*; f=build/fuzz/$$name; corpus=build/fuzz/corpus/$$name; mkdir -p $$corpus; \
	log=build/fuzz/$$name.log; \
	if ! $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 -close_fd_mask=3 \
		$$corpus fuzz/seeds/$$name > $$log 2>&1; then \
		cat $$log; echo "FAILED: $$name (crash input saved in the current directory)"; exit 1; \
	fi; \
	echo "== $$name: $$(grep -m1 '^stat::number_of_executed_units' $$log | awk '{print $$2}') runs in $(FUZZ_SECONDS)s, no failures"

.PHONY: $(FUZZ_RUNS)
# The objects and harnesses are kept between runs (make would delete them as intermediate files).
.SECONDARY: $(FUZZ_OBJ) $(FUZZERS)

# ---- benchmarks ----

# The floor of the store benchmark: raw lines into SQLite as fast as SQLite goes (bench/run.py).
BENCH_FLOOR := $(BUILD)/bench/floor_sqlite

$(BENCH_FLOOR): bench/floor_sqlite.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -lsqlite3

# The baselines of the HTTP benchmark: the same HTTP library answering 204 without doing anything,
# and the same with a group-committed write and fsync of each body (bench/floor_http.c).
$(BUILD)/bench/floor_http: bench/floor_http.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< $(MHD_PKG) -lpthread

# The floor of the delivery benchmark (the same bodies POSTed through libcurl multi and nothing else,
# also its paced client) and its loopback target answering 204 (bench/deliver.py).
$(BUILD)/bench/floor_deliver: bench/floor_deliver.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -lcurl

# The floor of the SQS benchmark: receiving and deleting the same messages through libcurl multi, signed
# with CURLOPT_AWS_SIGV4 as levee signs them, and nothing else (bench/sqs.py).
$(BUILD)/bench/floor_sqs: bench/floor_sqs.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -lcurl

# The floor of the PostgreSQL benchmark: the raw lines sent with COPY into a one-column table (bench/pg.py).
$(BUILD)/bench/floor_pg: bench/floor_pg.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE $(shell pkg-config --cflags libpq) -o $@ $< \
	    $(shell pkg-config --libs libpq)

$(BUILD)/bench/target_204: bench/target_204.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< $(MHD_PKG) -lpthread

bench: all $(BENCH_FLOOR) $(BUILD)/bench/floor_http $(BUILD)/bench/floor_deliver $(BUILD)/bench/target_204 \
       $(BUILD)/bench/floor_sqs $(BUILD)/bench/floor_pg $(SQS_NPM_STAMP)
	@scripts/deps.sh bench
	python3 bench/run.py --levee $(BUILD)/levee --floor $(BENCH_FLOOR)

# ---- install ----

# levee.pc: prefix, libdir and includedir (relative to ${prefix} when under it, so pkg-config can
# relocate it), the version, the include flags of the packages whose headers levee's headers include
# (HDR_PKGS), and for static linking the packages liblevee links (PKGS) and -ldl -lpthread -lm.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

$(BUILD)/levee.pc: levee.pc.in FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@HDR_CFLAGS@|$(strip $(HDR_CFLAGS))|' -e 's|@REQUIRES_PRIVATE@|$(PKGS)|' \
		-e 's|@LIBS_PRIVATE@|-ldl -lpthread -lm|' levee.pc.in > $@.tmp
	mv $@.tmp $@

.PHONY: FORCE
FORCE:

# The man pages are made from the help text of the levee just built (tools/man.py); the directory
# holds exactly the current commands' pages. SOURCE_DATE_EPOCH, when set, dates them.
MAN_STAMP := $(BUILD)/man/.stamp

$(MAN_STAMP): $(BUILD)/levee tools/man.py
	@mkdir -p $(dir $@)
	python3 tools/man.py --levee $(BUILD)/levee --out $(BUILD)/man
	@touch $@

man: $(MAN_STAMP)

# Made again at every make (FORCE): BINDIR and SYSCONFDIR may differ from the last run's. The
# temporary file is per process, for install-check and man-check running side by side.
$(BUILD)/levee.service: packaging/levee.service.in FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.$$$$.tmp && mv $@.$$$$.tmp $@

install: all man $(BUILD)/levee.pc $(BUILD)/levee.service
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/levee $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 755 $(BUILD)/levee $(DESTDIR)$(BINDIR)/levee
	$(INSTALL) -m 644 $(BUILD)/liblevee.a $(DESTDIR)$(LIBDIR)/liblevee.a
	$(INSTALL) -m 755 $(BUILD)/liblevee.so $(DESTDIR)$(LIBDIR)/liblevee.so.0
	ln -sf liblevee.so.0 $(DESTDIR)$(LIBDIR)/liblevee.so
	$(INSTALL) -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/levee/
	$(INSTALL) -m 644 $(BUILD)/levee.pc $(DESTDIR)$(PKGCONFIGDIR)/levee.pc
	$(INSTALL) -m 644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 $(BUILD)/levee.service $(DESTDIR)$(SYSTEMDUNITDIR)/levee.service
	$(INSTALL) -m 644 packaging/levee.conf.example $(DESTDIR)$(DOCDIR)/levee.conf.example

# Removes the files install puts (the directories it may have made are left, but include/levee when
# it is empty).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/levee $(DESTDIR)$(LIBDIR)/liblevee.a $(DESTDIR)$(LIBDIR)/liblevee.so.0 \
		$(DESTDIR)$(LIBDIR)/liblevee.so $(DESTDIR)$(PKGCONFIGDIR)/levee.pc
	rm -f $(HEADERS:include/levee/%=$(DESTDIR)$(INCLUDEDIR)/levee/%)
	if [ -d $(DESTDIR)$(INCLUDEDIR)/levee ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(INCLUDEDIR)/levee; fi
	rm -f $(DESTDIR)$(MANDIR)/man1/levee.1 $(DESTDIR)$(MANDIR)/man1/levee-*.1 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/levee.service $(DESTDIR)$(DOCDIR)/levee.conf.example
	if [ -d $(DESTDIR)$(DOCDIR) ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(DOCDIR); fi

# ---- the Debian package ----

# dpkg-buildpackage runs in a copy of the tree (its clean step runs make clean, which would remove
# this build/), made without build directories, the git directory and node_modules; the packages,
# .changes and .buildinfo land in $(BUILD)/deb. lintian fails the target on an error, and lists
# its warnings.
DEB_DIR := $(BUILD)/deb

deb:
	@scripts/deps.sh deb
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/levee-$(VERSION)
	tar -c --exclude=./build --exclude=./.git --exclude=node_modules --exclude='*.db' \
		--exclude='*.db-wal' --exclude='*.db-shm' --exclude=./bench/out -f - . | \
		tar -x -C $(DEB_DIR)/levee-$(VERSION) -f -
	cd $(DEB_DIR)/levee-$(VERSION) && unset MAKEFLAGS MFLAGS && dpkg-buildpackage -us -uc -b
	lintian --info --display-level '>=warning' $(DEB_DIR)/*.changes

deb-test: deb
	tests/install/deb.sh --debs $(DEB_DIR)

clean:
	rm -rf build
