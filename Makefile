# pyrometer - build, test, demo.
#
#   make          build ./pyrometer
#   make check    install missing Debian packages, build, run every test tier
#   make demo     install missing packages, build, profile the bundled demo
#   make install  PREFIX=/usr/local (binary and man page)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
CC        ?= cc
PYTHON    ?= /usr/bin/python3

CFLAGS    ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude \
             -DPYROMETER_VERSION='"$(VERSION)"'
LDLIBS    := -lelf -llzma -lm -lunwind-x86_64 -lunwind -lpfm -lz -lncursesw -lbpf -lpthread

# Debian packages the build, the tests and the demo need.
DEB_PKGS  := gcc make libc6-dev libelf-dev libcmocka-dev python3 python3-pytest \
             patchelf mandoc ca-certificates liblzma-dev xz-utils binutils \
             libunwind-dev python3-numpy strace libpfm4-dev zlib1g-dev golang-go \
             chromium nodejs libncurses-dev tmux \
             clang libbpf-dev

SRC       := $(filter-out %.bpf.c,$(sort $(wildcard src/*.c src/*/*.c)))
LIB_SRC   := $(filter-out src/main.c,$(SRC))
BUILD     ?= build
OBJ       := $(SRC:%.c=$(BUILD)/%.o)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit unit-asan functional functional-asan lint-man demo install clean bench

all: pyrometer

pyrometer: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/libpyrometer.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpyrometer.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libpyrometer.a $(LDLIBS) -lcmocka

# test_unwind links one function whose CFI is in .debug_frame only.
UNWIND_DF_CFLAGS := -O1 -g -fno-asynchronous-unwind-tables -fno-unwind-tables \
                    -fomit-frame-pointer

$(BUILD)/tests/unwind_debug_frame.o: tests/unit/unwind_debug_frame.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(UNWIND_DF_CFLAGS) -c $< -o $@

$(BUILD)/tests/test_unwind: tests/unit/test_unwind.c $(BUILD)/tests/unwind_debug_frame.o \
                            $(BUILD)/libpyrometer.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/tests/unwind_debug_frame.o \
	      $(BUILD)/libpyrometer.a $(LDLIBS) -lcmocka

# The BPF backend's kernel program, compiled for the BPF target and
# embedded in the binary (src/bpf/backend.c includes the object file).
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -I/usr/include/$(shell $(CC) -dumpmachine)

$(BUILD)/pystack.bpf.o: src/bpf/pystack.bpf.c src/bpf/pystack_abi.h
	@mkdir -p $(dir $@)
	clang $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/src/bpf/backend.o: $(BUILD)/pystack.bpf.o
$(BUILD)/src/bpf/backend.o: ALL_CFLAGS += -DPYSTACK_OBJ='"$(BUILD)/pystack.bpf.o"'

-include $(OBJ:.o=.d)

# Install what is missing, or say exactly what to run.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	  echo "make deps: missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	fi

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# The unit tier again, built with AddressSanitizer and UBSan in its own tree.
unit-asan:
	$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" LDFLAGS="-fsanitize=address,undefined" unit

lint-man:
	@out=$$(mandoc -T lint -W warning man/pyrometer.1 $(wildcard man/pyrometer-format.5) 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; echo "man page: lint clean"

# Twice: with the default backend (BPF as root) on every interpreter, then
# again with the user-space backend on one interpreter of each frame layout
# (3.8: frame objects; Debian's static, stripped 3.11: C-stack markers; 3.12:
# shims; 3.15: 3.13+'s current frame and tagged code references), which keeps
# make check within 20 minutes on two cores. Tests that pick their
# backends themselves (explicit_backend) run in the first pass only.
FUNCTIONAL_USER_PYTHONS := py3.8,deb3.11,py3.12,py3.15

functional: pyrometer
	$(PYTHON) -m pytest -q -rs tests/functional
	PYROMETER_BACKEND=user PYROMETER_TEST_PYTHONS=$(FUNCTIONAL_USER_PYTHONS) \
	    $(PYTHON) -m pytest -q -m "not explicit_backend" tests/functional

# The functional tier against a pyrometer built with ASan and UBSan (not part
# of check: it doubles the tier's time; run it before changing the sampler).
functional-asan:
	$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" LDFLAGS="-fsanitize=address,undefined" build/asan/pyrometer
	PYROMETER_BIN=$(CURDIR)/build/asan/pyrometer $(PYTHON) -m pytest -q -rs tests/functional

$(BUILD)/pyrometer: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) lint-man
	$(MAKE) functional

demo: deps
	$(MAKE) all
	@tools/demo

build/wakeup-floor: tools/wakeup-floor.c
	@mkdir -p build
	$(CC) $(ALL_CFLAGS) -o $@ $<

bench: pyrometer build/wakeup-floor
	tools/bench

install: pyrometer
	install -D -m 0755 pyrometer $(DESTDIR)$(PREFIX)/bin/pyrometer
	install -D -m 0644 man/pyrometer.1 $(DESTDIR)$(PREFIX)/share/man/man1/pyrometer.1
	install -D -m 0644 man/pyrometer-format.5 $(DESTDIR)$(PREFIX)/share/man/man5/pyrometer-format.5

clean:
	rm -rf build pyrometer
