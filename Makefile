# smtptrace: passive SMTP session trace analyzer.
#   make         build ./smtptrace
#   make run     install what is missing, build, analyze a bundled capture
#   make check   the same set-up plus test needs, then the whole suite
#   make SAN=1   build with AddressSanitizer and UndefinedBehaviorSanitizer

CC       ?= cc
PKGS     := libpcap zlib jansson nettle
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror
CFLAGS   ?= -O2 -g
CPPFLAGS += -Iinclude -D_GNU_SOURCE
ALL_CFLAGS = -std=c11 -pthread $(WARN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += -pthread $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpcap -lz -ljansson -lnettle)
# The Kafka sink, when librdkafka is there (Debian's librdkafka-dev); KAFKA=0 leaves it out.
KAFKA    ?= $(shell pkg-config --exists rdkafka 2>/dev/null && echo 1 || echo 0)
ifeq ($(KAFKA),1)
CPPFLAGS += -DSMTPTRACE_KAFKA $(shell pkg-config --cflags rdkafka)
LDLIBS   += $(shell pkg-config --libs rdkafka)
endif

ifeq ($(SAN),1)
BUILD    := build/san
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    := build/opt
endif

VERSION  := 0.1.0
SRCS     := $(wildcard analyzer/*.c)
OBJS     := $(SRCS:analyzer/%.c=$(BUILD)/%.o)
LIBOBJS  := $(filter-out $(BUILD)/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
ifneq ($(KAFKA),1)
TOOL_SRCS := $(filter-out tests/tools/kafkamock.c,$(TOOL_SRCS))
endif
TOOLS     := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
TEST_LIB  := $(BUILD)/tests/pcapw.o

ifeq ($(SAN),1)
PROG     := $(BUILD)/smtptrace
else
PROG     := smtptrace
endif

.PHONY: all deps test-deps run check unit tools bench install clean
all: $(PROG)

$(BUILD)/%.o: analyzer/%.c $(wildcard include/*.h analyzer/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) -DSMTPTRACE_VERSION='"$(VERSION)"' $(ALL_CFLAGS) -c -o $@ $<

$(PROG): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD) $(BUILD)/tests $(BUILD)/tools:
	mkdir -p $@

$(TEST_LIB): tests/pcapw.c tests/pcapw.h | $(BUILD)/tests
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(LIBOBJS) $(TEST_LIB) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(TEST_LIB) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(TEST_LIB) | $(BUILD)/tools
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_LIB) $(LDLIBS)

# readpath times smtptrace's own read path, so it links the analyzer's objects.
$(BUILD)/tools/readpath: tests/tools/readpath.c $(LIBOBJS) $(TEST_LIB) | $(BUILD)/tools
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(TEST_LIB) $(LDLIBS)

unit: $(UNIT_BINS)
tools: $(TOOLS)

deps:
	@sh tests/setup-deps.sh build

test-deps:
	@sh tests/setup-deps.sh test

run: deps
	@$(MAKE) --no-print-directory all
	./smtptrace -r samples/normal.pcap

check: test-deps
	@$(MAKE) --no-print-directory all unit tools fuzz-replay
	@$(MAKE) --no-print-directory SAN=1 all fuzz-replay
	@sh tests/run-tests.sh $(BUILD) ./$(PROG)

# syslog-ng's json-parser against the records (tests/shipper-tests.sh syslog-ng). Debian's
# syslog-ng and rsyslog packages replace each other: this installs syslog-ng-core (apt removes
# rsyslog), runs the check, and installs rsyslog again whatever the result (make check uses it).
SHIPPER_APT = DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
	--no-install-recommends
.PHONY: check-syslog-ng
check-syslog-ng: test-deps
	@$(MAKE) --no-print-directory all tools
	@[ "$$(id -u)" = 0 ] || { echo "smtptrace: make check-syslog-ng installs syslog-ng-core with apt-get: run it as root" >&2; exit 1; }
	@echo "smtptrace: installing syslog-ng-core (apt removes rsyslog; reinstalled after the check)"
	@$(SHIPPER_APT) syslog-ng-core >/dev/null
	@sh tests/shipper-tests.sh syslog-ng ./$(PROG) $(BUILD); rc=$$?; \
		echo "smtptrace: installing rsyslog again"; \
		$(SHIPPER_APT) rsyslog >/dev/null || rc=1; exit $$rc

# The benchmark (tests/bench.py): a generated capture (tests/tools/mkbench.c) of BENCH_SIZE
# with BENCH_CONCURRENCY sessions open at once, smtptrace's verdicts checked against its ground
# truth, then medians of BENCH_RUNS runs of smtptrace and of other readers; the 100/1,000/10,000
# open rows, a capture four times as large, and the hash-collision pair. Fails only when a
# verdict is wrong. BENCH_FLAGS=--quick leaves out the concurrency and four-times rows.
BENCH_SIZE        ?= 1G
BENCH_SEED        ?= 1
BENCH_CONCURRENCY ?= 500
BENCH_RUNS        ?= 5
BENCH_DIR         ?= build/bench
BENCH_FLAGS       ?=
bench: deps
	@$(MAKE) --no-print-directory all tools
	@python3 tests/bench.py --build $(BUILD) --prog ./$(PROG) --size $(BENCH_SIZE) \
	    --seed $(BENCH_SEED) --concurrency $(BENCH_CONCURRENCY) --runs $(BENCH_RUNS) \
	    --dir $(BENCH_DIR) $(BENCH_FLAGS)

PREFIX ?= /usr/local
install: all
	install -D -m 755 smtptrace $(DESTDIR)$(PREFIX)/bin/smtptrace
	install -D -m 644 docs/smtptrace.1 $(DESTDIR)$(PREFIX)/share/man/man1/smtptrace.1

clean:
	rm -rf build smtptrace
include tests/fuzz/fuzz.mk
