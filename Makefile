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

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(MALLOC_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
# mimalloc takes over malloc for the whole process (GLib's and SQLite's
# allocations too) when linked ahead of the other libraries: the model
# allocates and frees per message and per segment, and glibc's malloc was a
# fifth of its instructions.  Sanitizer builds keep their own allocator.
MALLOC_LIBS = $(if $(SAN),,-lmimalloc)
MALLOC_DEFS = $(if $(SAN),,-DRDRSIM_MIMALLOC)

SIM_SRC    := $(wildcard sim/*.c)
MODEL_SRC  := $(wildcard models/*.c)
LIB_SRC    := $(filter-out sim/main.c,$(SIM_SRC)) $(MODEL_SRC)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN) $(MALLOC_DEFS) -Isim -Imodels $(PKG_CFLAGS) -MMD -MP

.PHONY: all deps test demo bench sanitize fuzz fuzz-build memcheck clean
# Keep object files of test programs between builds.
.SECONDARY:

all: $(BUILD)/rdrsim

deps: $(DEPS_OK)

# Again when the list of what rdrsim needs changes.
$(DEPS_OK): tests/deps.sh
	@sh tests/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/librdrsim.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/rdrsim: $(BUILD)/sim/main.o $(BUILD)/librdrsim.a
	$(CC) $(SAN) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/librdrsim.a
	$(CC) $(SAN) $^ $(PKG_LIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/librdrsim.a
	$(CC) $(SAN) $^ $(PKG_LIBS) -o $@

test: $(BUILD)/rdrsim $(TEST_BIN)
	@sh tests/run.sh $(BUILD)

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
	clang -fsanitize=fuzzer,address,undefined $^ $(PKG_LIBS) -o $@

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
