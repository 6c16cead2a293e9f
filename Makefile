# warden: one non-recursive GNU Makefile.
#
#   make [BUILD=debug|asan|release|fuzz|tsan] [CROSS=aarch64] [WERROR=1] [V=1] [target]
#
# Run `make help` for the targets. Build trees are kept apart under build/<type>[-<cross>].

BUILD ?= debug
ifeq ($(filter $(BUILD),debug asan release fuzz tsan),)
$(error BUILD must be debug, asan, release, fuzz or tsan, not '$(BUILD)')
endif

O     := build/$(BUILD)$(if $(CROSS),-$(CROSS))
Q     := $(if $(V),,@)
PKGS  := openssl yaml-0.1

# Programs: <binary name>:<directory under src/>. Adding a binary is one line here.
PROGRAMS := warden:cli

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

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))

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

T ?= 20

.PHONY: all bins lib unit check integration fuzz fuzz-run replay test bench format \
        format-check lint tidy cppcheck clean help
all: $(BINS) $(UNIT_BIN) $(REPLAY_BIN) $(TOOL_BIN)
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

$(O)/tests/%: $(O)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(O)/tools/%: $(O)/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

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

bench:
	$(Q)$(MAKE) --no-print-directory BUILD=release all
	$(Q)sh bench/run-all.sh build/release

SRC_ALL = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(SRC_ALL)
format-check:
	$(Q)clang-format --dry-run --Werror $(SRC_ALL)
lint:
	$(Q)sh scripts/lint.sh
tidy:
	$(Q)clang-tidy --quiet $(LIB_SRC) -- $(CPPFLAGS) -std=c11 $(PKG_CFLAGS) -DWD_TESTING
cppcheck:
	$(Q)cppcheck --quiet --enable=warning,portability,performance --error-exitcode=1 \
		--inline-suppr -Iinclude -Ilib --suppress=missingIncludeSystem lib src

clean:
	rm -rf build

help:
	@echo 'Targets:'
	@echo '  all            libwarden, programs, unit tests, corpus-replay binaries'
	@echo '  unit           run the unit tests'
	@echo '  check          unit tests + replay of every fuzz corpus'
	@echo '  integration    integration tests against real peers (openssl, curl, nginx)'
	@echo '  fuzz           build the libFuzzer harnesses (clang)'
	@echo '  fuzz-run T=20  fuzz each target for T seconds'
	@echo '  test           everything the README test command runs'
	@echo '  bench          side-by-side benchmarks (not a test)'
	@echo '  format format-check lint tidy cppcheck clean'
	@echo 'Knobs: BUILD=debug|asan|release|fuzz|tsan  CROSS=aarch64  WERROR=1  V=1  T=seconds'

-include $(shell find $(O) -name '*.d' 2>/dev/null)
