# fuzz.mk: the libFuzzer targets (tests/fuzz/fuzz_*.c), included at the end of the Makefile.
#   make fuzz          clang + libFuzzer + ASan + UBSan binaries in build/fuzz-clang/
#                      (needs clang; tests/fuzz/README.md says how to run a campaign)
#   make fuzz-replay   the same targets linked with tests/fuzz/replay.c by $(CC) into
#                      $(BUILD)/fuzz/, which tests/fuzz-tests.sh runs over the committed
#                      corpora in make check: no clang needed
# Uses SRCS, LIBOBJS, BUILD, CPPFLAGS, WARN, ALL_CFLAGS, LDFLAGS, LDLIBS, VERSION and PKGS
# from the Makefile.

FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_DEPS    := tests/fuzz/fuzz.h $(wildcard include/*.h analyzer/*.h)

# libFuzzer builds: the analyzer compiled once with coverage and sanitizers, then each
# target linked with libFuzzer's main.
FUZZ_CC      ?= clang
FUZZ_OUT     := build/fuzz-clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
		$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_OBJS    := $(filter-out $(FUZZ_OUT)/obj/main.o,$(SRCS:analyzer/%.c=$(FUZZ_OUT)/obj/%.o))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_OUT)/%)

# Replay builds: ordinary objects of this build ($(LIBOBJS): sanitized under SAN=1).
REPLAY_BINS  := $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

.PHONY: fuzz fuzz-replay
.SECONDARY: $(FUZZ_OBJS)
fuzz: $(FUZZ_BINS)
fuzz-replay: $(REPLAY_BINS)

$(FUZZ_OUT)/obj/%.o: analyzer/%.c $(FUZZ_DEPS) | $(FUZZ_OUT)/obj
	$(FUZZ_CC) $(CPPFLAGS) -DSMTPTRACE_VERSION='"$(VERSION)"' $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_OUT)/%: tests/fuzz/%.c $(FUZZ_OBJS) $(FUZZ_DEPS) | $(FUZZ_OUT)/obj
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_OBJS) $(LDLIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBOBJS) $(FUZZ_DEPS) | $(BUILD)/fuzz
	$(CC) $(CPPFLAGS) -Itests/fuzz $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(LIBOBJS) $(LDLIBS)

$(FUZZ_OUT)/obj $(BUILD)/fuzz:
	mkdir -p $@
