# rdrsim build.  Every target depends on `deps`, which installs the Debian
# packages the project needs when pkg-config or gnuplot cannot find them.

ifeq ($(origin CC),default)
CC      := gcc
endif
PKGS    := glib-2.0 gio-2.0 sqlite3
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE
BUILD   ?= build
SAN     :=

DEPS_OK := $(BUILD)/.deps-ok

# One short line a step (`CC sim/engine.c`), as SQLite's and the kernel's
# builds print; `make V=1` shows the whole command lines.
V ?= 0
ifeq ($(V),1)
say :=
else
say = @printf '  %-6s %s\n' $(1) $(2);
endif

PREFIX  ?= /usr/local
BINDIR   = $(DESTDIR)$(PREFIX)/bin

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(MALLOC_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
# mimalloc takes over malloc for the whole process (GLib's and SQLite's
# allocations too) when linked ahead of the other libraries: the model
# allocates and frees per message and per segment, and glibc's malloc was a
# fifth of its instructions.  Sanitizer builds keep their own allocator.
MALLOC_LIBS = $(if $(SAN),,-lmimalloc)
MALLOC_DEFS = $(if $(SAN),,-DRDRSIM_MIMALLOC)

# The optimised build (gcc, no sanitizer) adds link-time optimisation and
# profile feedback.  rdrsim spends its time in calls across modules (the
# engine, the pools, the RNG, a model's neighbours) and in branches that a
# training run ranks far better than gcc's guesses: on one 1,000-client
# part, LTO and the profile ran 9% fewer instructions and had 14% fewer
# instruction-cache misses (cachegrind).  The profile comes from an
# instrumented build in $(BUILD)/pgo-gen run on every bundled scenario and
# a short full-stack run; the build retrains whenever a source changes.
# Functions the training never ran stay optimised as usual
# (-fprofile-partial-training).  PGO=0 skips the profile (a quicker
# edit-build cycle); the trace of a run is the same either way.
PGO       ?= 1
OPTIMISED := $(if $(SAN),,$(filter gcc%,$(notdir $(CC))))
LTO        = $(if $(OPTIMISED),-flto=auto -ffat-lto-objects)
AR_CMD     = $(if $(OPTIMISED),gcc-ar,ar)
PGO_ON     = $(and $(OPTIMISED),$(filter 1,$(PGO)))
# Both builds of a source name its profile alike (-dumpbase): a static
# function's profile id hangs on that name, not only the file's.
PGO_DATA   = $(abspath $(BUILD))/pgo-data
PGO_STAMP  = $(BUILD)/pgo-data/.trained
PGO_NAME   = -dumpdir $(PGO_DATA)/ -dumpbase $(subst /,-,$<) -MF $(@:.o=.d)
PGO_USE    = $(if $(PGO_ON),-fprofile-use $(PGO_NAME) -fprofile-partial-training -Wno-missing-profile)
PGO_GEN    = -fprofile-generate $(PGO_NAME)

# sim/ is the engine library (engine, RNG, distributions, units, pools, the
# scenario language, the trace): it knows no model.  models/ is the world,
# RDBSS and the transport each in a folder of their parts.  cli/ is the
# program: its commands build the world, so they alone include models.
SIM_SRC    := $(wildcard sim/*.c)
MODEL_SRC  := $(wildcard models/*.c models/*/*.c)
CLI_SRC    := $(filter-out cli/main.c,$(wildcard cli/*.c))
LIB_SRC    := $(SIM_SRC) $(MODEL_SRC) $(CLI_SRC)
INCLUDES   := -Isim $(addprefix -I,models $(wildcard models/*/)) -Icli
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

ALL_CFLAGS = $(WARN) $(CFLAGS) $(LTO) $(SAN) $(MALLOC_DEFS) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP

.PHONY: all deps test demo regress-demo bench sanitize fuzz fuzz-build memcheck install uninstall clean
# Keep object files of test programs between builds.
.SECONDARY:

all: $(BUILD)/rdrsim

deps: $(DEPS_OK)

# Again when the list of what rdrsim needs changes.
$(DEPS_OK): tests/deps.sh
	@sh tests/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/%.o: %.c $(if $(PGO_ON),$(PGO_STAMP)) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(ALL_CFLAGS) $(PGO_USE) -c $< -o $@

$(BUILD)/librdrsim.a: $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)$(AR_CMD) rcs $@ $^

# Only the program is linked with LTO; the tests link the objects' ordinary
# code (fat objects), so that each test's link stays quick.
$(BUILD)/rdrsim: $(BUILD)/cli/main.o $(BUILD)/librdrsim.a
	$(call say,LINK,$@)$(CC) $(CFLAGS) $(LTO) $(SAN) $^ $(PKG_LIBS) -o $@

# The instrumented program, and the training runs that write the profile.
# A scenario's exit status does not matter here, only what it executed.
$(BUILD)/pgo-gen/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,CC-GEN,$<)$(CC) $(ALL_CFLAGS) $(PGO_GEN) -c $< -o $@

$(BUILD)/pgo-gen/%: LTO :=
$(BUILD)/pgo-gen/rdrsim: $(LIB_SRC:%.c=$(BUILD)/pgo-gen/%.o) $(BUILD)/pgo-gen/cli/main.o
	$(call say,LINK,$@)$(CC) $(CFLAGS) -fprofile-generate $^ $(PKG_LIBS) -o $@

$(PGO_STAMP): $(BUILD)/pgo-gen/rdrsim
	@rm -rf $(PGO_DATA) $(BUILD)/pgo-run && mkdir -p $(PGO_DATA) $(BUILD)/pgo-run
	@echo "pgo: training the instrumented build on scenarios/ and 3 simulated seconds of bench/fullstack-1k"
	@for s in scenarios/*.rsim; do $< run -q -o $(BUILD)/pgo-run/t.db $$s >/dev/null 2>&1; \
	    rm -f $(BUILD)/pgo-run/t.db; done
	@$< run -q --trace none --max-sim-time=3s -o $(BUILD)/pgo-run/a.db bench/fullstack-1k.rsim >/dev/null 2>&1; true
	@$< run -q --max-sim-time=300ms -o $(BUILD)/pgo-run/b.db bench/fullstack-1k.rsim >/dev/null 2>&1; true
	@rm -rf $(BUILD)/pgo-run
	@ls $(PGO_DATA)/*.gcda >/dev/null 2>&1 || { echo "pgo: the training wrote no profile" >&2; exit 1; }
	@touch $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/librdrsim.a
	$(call say,LINK,$@)$(CC) $(SAN) $^ $(PKG_LIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/librdrsim.a
	$(call say,LINK,$@)$(CC) $(SAN) $^ $(PKG_LIBS) -o $@

test: $(BUILD)/rdrsim $(TEST_BIN) $(BUILD)/regress-demo/rdrsim
	@sh tests/run.sh $(BUILD)

# A build with a deliberate regression (-DRDRSIM_REGRESS_DEMO: the server
# serves every CREATE 30 ms later), for the test and the example of
# `rdrsim regress` (make regress-demo).
$(BUILD)/regress-demo/rdrsim: $(LIB_SRC) cli/main.c | $(DEPS_OK)
	@$(MAKE) --no-print-directory $@ BUILD=$(BUILD)/regress-demo PGO=0 \
	    CFLAGS="-O1 -g -DRDRSIM_REGRESS_DEMO" DEPS_OK=$(DEPS_OK)

regress-demo: $(BUILD)/rdrsim $(BUILD)/regress-demo/rdrsim
	@sh tests/regress-demo.sh $(BUILD)

# The whole suite again, in its own build tree, with ASan and UBSan.
sanitize: | $(DEPS_OK)
	@$(MAKE) --no-print-directory test BUILD=build/san CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"

# valgrind on every bundled scenario (no errors, no definite leaks).
memcheck: $(BUILD)/rdrsim
	@sh tests/memcheck.sh $(BUILD)

demo: $(BUILD)/rdrsim
	@sh tests/demo.sh $(BUILD)

BENCH ?= all
bench: $(BUILD)/bench/phold
	@sh bench/run.sh $(BUILD) $(BENCH)

# libFuzzer targets (clang), each run for FUZZ_SECONDS on a corpus seeded
# from scenarios/ and tests/fuzz/seeds; new inputs stay in build/fuzz/corpus.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_scenario fuzz_expect
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
fuzz-build: | $(DEPS_OK)
	@command -v clang >/dev/null || { echo "make fuzz needs clang: apt-get install -y clang" >&2; exit 2; }
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=build/fuzz/%) BUILD=build/fuzz CC=clang \
	    CFLAGS="-O1 -g" SAN="$(FUZZ_FLAGS)"

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o build/fuzz/librdrsim.a
	$(call say,LINK,$@)clang -fsanitize=fuzzer,address,undefined $^ $(PKG_LIBS) -o $@

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# rdrsim on PATH: $(PREFIX)/bin (default /usr/local), under DESTDIR for a
# staged install.  Until then the program is build/rdrsim.
install: $(BUILD)/rdrsim
	install -d $(BINDIR)
	install -m 755 $(BUILD)/rdrsim $(BINDIR)/rdrsim

uninstall:
	rm -f $(BINDIR)/rdrsim

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
