# warden: one non-recursive GNU Makefile.
#
#   make [BUILD=debug|asan|release|fuzz|tsan] [CROSS=aarch64] [WERROR=1] [V=1] [target]
#
# Run `make help` for the targets. Build trees are kept apart under build/<type>[-<cross>].

BUILD ?= debug
ifeq ($(filter $(BUILD),debug asan release fuzz tsan),)
$(error BUILD must be debug, asan, release, fuzz or tsan, not '$(BUILD)')
endif

# A clang build (CC=clang, outside BUILD=fuzz which is always clang) gets its own tree, so
# gcc and clang objects never mix: build/release and build/release-clang coexist.
CCNAME := $(if $(and $(findstring clang,$(notdir $(firstword $(CC)))),$(filter-out fuzz,$(BUILD))),-clang)
O     := build/$(BUILD)$(if $(CROSS),-$(CROSS))$(CCNAME)
Q     := $(if $(V),,@)
PKGS  := openssl yaml-0.1 sqlite3 libpq tss2-esys tss2-mu tss2-rc tss2-tctildr libpcre2-8

# Programs: <binary name>:<directory under src/>. Adding a binary is one line here.
PROGRAMS := warden:cli warden-control:control warden-agent:agent warden-proxy:proxy
# (a program whose src/<dir>/main.c does not exist yet is left out)
PROGRAMS := $(foreach p,$(PROGRAMS),$(if $(wildcard src/$(word 2,$(subst :, ,$(p)))/main.c),$(p)))

ifeq ($(CROSS),aarch64)
CC               := aarch64-linux-gnu-gcc
AR               := aarch64-linux-gnu-ar
PKG_CONFIG       := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
else ifneq ($(CROSS),)
$(error CROSS may only be aarch64)
else
PKG_CONFIG       := pkg-config
endif
ifeq ($(BUILD),fuzz)
CC := clang
endif

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wvla -Wundef -Wimplicit-fallthrough
CFLAGS_debug    := -O0 -g3 -DWD_TESTING
CFLAGS_asan     := -O1 -g -DWD_TESTING -fsanitize=address,undefined \
                   -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS_asan    := -fsanitize=address,undefined
CFLAGS_tsan     := -O1 -g -DWD_TESTING -fsanitize=thread
LDFLAGS_tsan    := -fsanitize=thread
CFLAGS_release  := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
                   -fstack-clash-protection
LDFLAGS_release := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
CFLAGS_fuzz     := -O1 -g -DWD_TESTING -DWD_FUZZING -fsanitize=fuzzer-no-link,address,undefined \
                   -fno-sanitize-recover=all
LDFLAGS_fuzz    := -fsanitize=address,undefined

# libpq-dev cannot be installed for amd64 and arm64 side by side (it is not Multi-Arch), so
# the aarch64 build takes libpq's architecture-independent headers from the host package and
# links the arm64 runtime library (libpq5:arm64) by path.
ifeq ($(CROSS),aarch64)
PC_PKGS    := $(filter-out libpq,$(PKGS))
PC_EXTRA_CFLAGS := $(if $(filter libpq,$(PKGS)),-I/usr/include/postgresql)
PC_EXTRA_LIBS   := $(if $(filter libpq,$(PKGS)),/usr/lib/aarch64-linux-gnu/libpq.so.5)
else
PC_PKGS    := $(PKGS)
endif
ifneq ($(MAKECMDGOALS),clean)
ifneq ($(shell $(PKG_CONFIG) --exists $(PC_PKGS) && echo yes),yes)
$(error pkg-config cannot find all of '$(PC_PKGS)'$(if $(CROSS), for $(CROSS)); run scripts/install-deps.sh)
endif
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PC_PKGS)) $(PC_EXTRA_CFLAGS)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PC_PKGS)) $(PC_EXTRA_LIBS)

override CPPFLAGS += -Iinclude -Ilib -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
override CFLAGS   += -std=c11 $(WARN) $(if $(WERROR),-Werror) $(CFLAGS_$(BUILD)) \
                     $(PKG_CFLAGS) -MMD -MP
override LDFLAGS  += $(LDFLAGS_$(BUILD))
LDLIBS += $(PKG_LIBS) -lm -lpthread

objs = $(patsubst %.c,$(O)/%.o,$(1))

LIB_SRC    := $(sort $(wildcard lib/*.c lib/*/*.c))
LIB        := $(O)/libwarden.a
PROG_NAMES := $(foreach p,$(PROGRAMS),$(word 1,$(subst :, ,$(p))))
BINS       := $(addprefix $(O)/bin/,$(PROG_NAMES))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(O)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BIN   := $(addprefix $(O)/fuzz/fuzz_,$(FUZZ_NAMES))
REPLAY_BIN := $(addprefix $(O)/fuzz/replay_,$(FUZZ_NAMES))
TOOL_BIN   := $(patsubst tests/tools/%.c,$(O)/tools/%,$(wildcard tests/tools/*.c))
BENCH_BIN  := $(patsubst bench/%.c,$(O)/bench/%,$(wildcard bench/*.c))

T ?= 20

.PHONY: all bins lib unit check integration fuzz fuzz-run replay test bench format \
        format-check lint tidy cppcheck clean help
all: $(BINS) $(UNIT_BIN) $(REPLAY_BIN) $(TOOL_BIN) $(BENCH_BIN)
bins: $(BINS)
lib: $(LIB)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(call objs,$(LIB_SRC))
	@mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

define PROGRAM_RULE
$(O)/bin/$(1): $(call objs,$(wildcard src/$(2)/*.c)) $(LIB)
	@mkdir -p $$(@D)
	$(Q)$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) -o $$@
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_RULE,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))))))

# A program's modules are unit-tested and fuzzed like the library: tests/unit/test_<dir>_*.c
# and fuzz/fuzz_<dir>_*.c link the objects of src/<dir>/ except its main.c.
define PROGRAM_TEST_RULE
$(O)/tests/test_$(1)_%: $(O)/tests/unit/test_$(1)_%.o $(call objs,$(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c))) $(LIB)
	@mkdir -p $$(@D)
	$(Q)$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) -o $$@
$(O)/fuzz/fuzz_$(1)_%: $(O)/fuzz/fuzz_$(1)_%.o $(call objs,$(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c))) $(LIB)
	@mkdir -p $$(@D)
	$(Q)$$(CC) $$(LDFLAGS) -fsanitize=fuzzer $$^ $$(LDLIBS) -o $$@
$(O)/fuzz/replay_$(1)_%: $(O)/fuzz/fuzz_$(1)_%.o $(O)/fuzz/replay_main.o $(call objs,$(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c))) $(LIB)
	@mkdir -p $$(@D)
	$(Q)$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) -o $$@
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_TEST_RULE,$(word 2,$(subst :, ,$(p))))))

$(O)/tests/%: $(O)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(O)/tools/%: $(O)/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(O)/bench/%: $(O)/bench/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Keep objects that only feed one link (tests, tools, benches) instead of deleting them.
.SECONDARY:

# Fuzz harnesses: libFuzzer binaries in BUILD=fuzz, corpus-replay binaries otherwise.
$(O)/fuzz/fuzz_%: $(O)/fuzz/fuzz_%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@
$(O)/fuzz/replay_%: $(O)/fuzz/fuzz_%.o $(O)/fuzz/replay_main.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

unit: $(UNIT_BIN)
	$(Q)sh tests/run-unit.sh $(UNIT_BIN)

replay: $(REPLAY_BIN)
	$(Q)sh fuzz/run-replay.sh $(O)/fuzz $(FUZZ_NAMES)

# Unit tests plus a replay of every fuzz corpus.
check: $(UNIT_BIN) $(REPLAY_BIN)
	$(Q)sh tests/run-unit.sh $(UNIT_BIN) && sh fuzz/run-replay.sh $(O)/fuzz $(FUZZ_NAMES)

integration: $(BINS) $(TOOL_BIN)
	$(Q)WD_BIN=$(abspath $(O)/bin) WD_TOOLS=$(abspath $(O)/tools) sh tests/run-integration.sh

fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=fuzz fuzz-bins
.PHONY: fuzz-bins
fuzz-bins: $(FUZZ_BIN)

# Fuzz each target for T seconds (default 20), starting from its corpus.
fuzz-run: fuzz
	$(Q)sh fuzz/run-fuzz.sh build/fuzz/fuzz $(T) $(FUZZ_NAMES)

# The whole test suite, as README.md and .ci/run call it.
test:
	$(Q)sh scripts/test-all.sh

# Benchmarks are built (and so compiled with -Werror in CI) by `all`, but only run here,
# from a release build.
bench:
	$(Q)$(MAKE) --no-print-directory BUILD=release all
	$(Q)sh bench/run-all.sh build/release

# Every C file in git, plus new ones not yet added; test vectors are not ours to format.
SRC_ALL = $(wildcard $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' \
                             2>/dev/null | grep -v '^tests/data/'))
format:
	$(Q)clang-format -i $(SRC_ALL)
format-check:
	$(Q)clang-format --dry-run --Werror $(SRC_ALL)
lint:
	$(Q)sh scripts/lint.sh
# clang-tidy (.clang-tidy) on every lib/, src/ and bench/ file, one process per file
# (clang-tidy 14's analyzer carries state between the files of one run and then reports false
# va_list errors), two at a time, each bounded by TIDY_TIMEOUT seconds. Output is shown only
# for failing files.
TIDY_SRC     ?= $(LIB_SRC) $(sort $(wildcard src/*/*.c bench/*.c))
TIDY_TIMEOUT ?= 300
TIDY_JOBS    ?= 2
tidy:
	$(Q)printf '%s\n' $(TIDY_SRC) | xargs -P$(TIDY_JOBS) -I{} sh -c \
		'out=$$(timeout $(TIDY_TIMEOUT) clang-tidy --quiet {} -- $(CPPFLAGS) -std=c11 \
		$(PKG_CFLAGS) -DWD_TESTING 2>&1) || { printf "%s\n" "$$out" | grep -v "warnings\? generated"; \
		echo "tidy: {} FAILED"; exit 1; }' && echo "tidy: ok ($(words $(TIDY_SRC)) files)"
cppcheck:
	$(Q)cppcheck --quiet -j2 --std=c11 --enable=warning,portability,performance \
		--error-exitcode=1 --inline-suppr -Iinclude -Ilib --suppress=missingIncludeSystem \
		-D_POSIX_C_SOURCE=200809L -DWD_TESTING lib src bench && echo "cppcheck: ok"

clean:
	rm -rf build

help:
	@echo 'Targets:'
	@echo '  all            libwarden, programs, unit tests, corpus-replay binaries, benches'
	@echo '  unit           run the unit tests'
	@echo '  check          unit tests + replay of every fuzz corpus'
	@echo '  integration    integration tests against real peers (openssl, curl, nginx)'
	@echo '  fuzz           build the libFuzzer harnesses (clang)'
	@echo '  fuzz-run T=20  fuzz each target for T seconds'
	@echo '  test           everything the README test command runs'
	@echo '  bench          side-by-side benchmarks from a release build (not a test)'
	@echo '  format format-check lint tidy cppcheck clean'
	@echo 'Knobs: BUILD=debug|asan|release|fuzz|tsan  CROSS=aarch64  CC=clang  WERROR=1  V=1  T=seconds'
	@echo '       (CC=clang builds go to build/<type>-clang; CROSS builds to build/<type>-<cross>)'

-include $(shell find $(O) -name '*.d' 2>/dev/null)
