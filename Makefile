# Makefile: builds liblevee (static and shared) and build/levee, and runs the tests, fuzzers and
# benchmarks. `make run` and `make test` first install missing Debian packages (scripts/deps.sh).
#
#   make            build build/levee and build/liblevee.{a,so}
#   make run        build and start `levee serve` on the embedded store
#   make demo       start `levee serve` and feed it a simulated term
#   make test       unit tests, end-to-end tests and fuzzers; also under ASan+UBSan
#   make web        browser tests of the web page in headless Chromium (part of make test)
#   make bench      benchmarks against named baselines (docs/benchmarks.md)
#   make fuzz       longer fuzzing runs (FUZZ_SECONDS per harness)
#   make install    PREFIX=/usr/local DESTDIR=

SHELL    := /bin/bash
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= gcc
FUZZ_CC  ?= clang
FUZZ_SECONDS ?= 10
SANITIZE ?=

PKGS     := yajl sqlite3 libzstd zlib
# libcrypto, libcurl and libmicrohttpd are loaded when a command needs them (include/levee/dynlib.h):
# their headers are needed to build, their libraries are not linked (the unit tests and fuzzers that
# make keys with OpenSSL link libcrypto themselves).
DL_PKGS  := libcrypto libcurl libmicrohttpd
CFLAGS   ?= -O2 -g
WARN     := -std=c17 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral -Wvla
CPPFLAGS += -D_GNU_SOURCE -Iinclude $(shell pkg-config --cflags $(PKGS) $(DL_PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -ldl -lpthread -lm

ifeq ($(SANITIZE),1)
CFLAGS   := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

LIB_SRC  := $(sort $(wildcard src/common/*.c src/understand/*.c src/receive/*.c src/keep/*.c \
                              src/answer/*.c src/emit/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg))
GEN_WEB   := build/gen/web_assets.inc

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZERS  := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

.PHONY: all deps run demo test check unit e2e web fuzz-smoke fuzz bench install clean docs-check

all: $(BUILD)/levee $(BUILD)/liblevee.a $(BUILD)/liblevee.so

deps:
	@scripts/deps.sh build

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -fPIC -MMD -MP -c $< -o $@

# The web page is embedded in the library (src/answer/web.c includes the generated table).
build/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -o $@ $<

$(GEN_WEB): build/tools/embed $(WEB_FILES)
	@mkdir -p $(dir $@)
	build/tools/embed $@ $(WEB_FILES)

$(BUILD)/obj/src/answer/web.o build/fuzz/obj/src/answer/web.o: $(GEN_WEB)
CPPFLAGS += -Ibuild/gen

$(BUILD)/liblevee.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/liblevee.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,liblevee.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/levee: $(CLI_OBJ) $(BUILD)/liblevee.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/liblevee.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/liblevee.a tests/unit/testing.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit -DLV_TEST_FIXTURES=\"$(CURDIR)/tests/fixtures\" $(CFLAGS) $(WARN) \
		-Wno-missing-prototypes -o $@ $< \
		$(BUILD)/liblevee.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka libcrypto)

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

e2e: $(BUILD)/levee
	python3 tests/e2e/run.py --levee $(BUILD)/levee $(if $(filter 1,$(SANITIZE)),--sanitized)

docs-check: $(BUILD)/levee
	@python3 tests/e2e/check_docs.py --levee $(BUILD)/levee

# Browser tests of the web page (tests/web: Debian's chromium driven by playwright-core). Its npm
# packages are installed when they are missing or package-lock.json changed since they were.
WEB_NPM_STAMP := tests/web/node_modules/.package-lock.json

$(WEB_NPM_STAMP): tests/web/package-lock.json tests/web/package.json
	cd tests/web && npm ci --no-audit --no-fund
	@touch $@

web: $(BUILD)/levee $(WEB_NPM_STAMP)
	node tests/web/run.mjs --levee $(BUILD)/levee

# The browser tests run once, on the release build (not again under SANITIZE=1).
check: unit e2e docs-check $(if $(filter 1,$(SANITIZE)),,web)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 all check
	@$(MAKE) --no-print-directory fuzz-smoke FUZZ_SECONDS=$(or $(FUZZ_SMOKE_SECONDS),8)
	@echo "make test: all passed"

# ---- fuzzing: libFuzzer harnesses built with clang over the library sources ----

FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -std=c17 -Wall -Wextra -Werror -MMD -MP -c $< -o $@

build/fuzz/%: fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -Wall -Wextra -Werror \
		-o $@ $< $(FUZZ_OBJ) $(LDLIBS) $(shell pkg-config --libs libcrypto)

-include $(FUZZ_OBJ:.o=.d)

fuzz-smoke fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do \
		name=$$(basename $$f); corpus=build/fuzz/corpus/$$name; mkdir -p $$corpus; \
		log=build/fuzz/$$name.log; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 -close_fd_mask=3 \
			$$corpus fuzz/seeds/$$name > $$log 2>&1; then \
			cat $$log; echo "FAILED: $$name (crash input saved in the current directory)"; exit 1; \
		fi; \
		echo "== $$name: $$(grep -m1 '^stat::number_of_executed_units' $$log | awk '{print $$2}') runs in $(FUZZ_SECONDS)s, no failures"; \
	done

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
	$(CC) -O2 -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< $$(pkg-config --cflags --libs libmicrohttpd) -lpthread

bench: all $(BENCH_FLOOR) $(BUILD)/bench/floor_http
	@scripts/deps.sh bench
	python3 bench/run.py --levee $(BUILD)/levee --floor $(BENCH_FLOOR)

# ---- install ----

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/levee \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/levee $(DESTDIR)$(PREFIX)/bin/levee
	install -m 644 $(BUILD)/liblevee.a $(DESTDIR)$(PREFIX)/lib/liblevee.a
	install -m 755 $(BUILD)/liblevee.so $(DESTDIR)$(PREFIX)/lib/liblevee.so.0
	ln -sf liblevee.so.0 $(DESTDIR)$(PREFIX)/lib/liblevee.so
	install -m 644 include/levee/*.h $(DESTDIR)$(PREFIX)/include/levee/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/.*LV_VERSION "\(.*\)"/\1/p' include/levee/common.h)|' \
		-e 's|@REQUIRES@|$(PKGS)|' levee.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/levee.pc

clean:
	rm -rf build
