# btvm — top-level GNU Makefile. Each folder adds its sources in module.mk.
#   make        build build/btvm and every guest image under build/guests/
#   make test   unit tests (Check, also under ASan+UBSan) and guest tests
#   make run    boot the default guest
#   make bench  benchmarks into build/bench/
BUILD   := build
CC      := gcc
CFLAGS  := -std=c17 -Wall -Wextra -O2 -g -D_GNU_SOURCE -I. -MMD -MP
LDLIBS  := -lZydis -lZycore -lcapstone -lxxhash -lpthread -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer
# Link-time optimization for btvm itself: the translator's small emitters
# inline across files (translation ~8% faster, docs/translation.md §3).
# Fat objects: the unit tests link the same objects as plain code.
LTO     := -flto=auto -ffat-lto-objects

BTVM_SRCS :=
TEST_SRCS :=
GUESTS    :=
TESTS     :=

.PHONY: all test run bench clean deps unit-test guest-test linux-test hav-test
all: deps $(BUILD)/btvm guests

DEPS_STAMP := $(BUILD)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@bash scripts/deps.sh
	@touch $@

include vm/module.mk
include decoder/module.mk
include cpu/module.mk
include shadowmmu/module.mk
include bt/module.mk
include devices/module.mk
include block/module.mk
include hav/module.mk
include guests/module.mk
include guests/linux/module.mk
include guests/diskimg/module.mk
include tests/module.mk
include fuzz/module.mk
include bench/module.mk

BTVM_OBJS := $(BTVM_SRCS:%.c=$(BUILD)/obj/%.o)
BTVM_OBJS := $(BTVM_OBJS:%.S=$(BUILD)/obj/%.o)

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LTO) -c $< -o $@

$(BUILD)/obj/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/btvm: $(BTVM_OBJS)
	$(CC) $(CFLAGS) $(LTO) -o $@ $^ $(LDLIBS)

# Boots Debian's i386 Linux to a busybox shell (guests/linux, docs/linux.md);
# exit the shell or press Ctrl-A X to stop.
run: all linux
	$(BUILD)/btvm run -k $(BUILD)/linux/vmlinuz -i $(BUILD)/linux/initrd.img -a console=ttyS0

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/san -name '*.d' 2>/dev/null)
include guests/bootimg/module.mk

# Differential instruction testing (docs/difftest.md): a million random
# instruction sequences under btvm against the host CPU (the guest at
# CPL 3), then a quarter as many with the guest at CPL 0. FUZZ_SEED and
# FUZZ_COUNT choose the run; the fixed-seed ones are tests/guest/difftest.sh.
.PHONY: fuzz-cpu
FUZZ_SEED  ?= $(shell date +%s)
FUZZ_COUNT ?= 1000000
fuzz-cpu: $(BUILD)/btvm guests
	@st=0; nice -n 19 bash scripts/difftest.sh --seed $(FUZZ_SEED) --count $(FUZZ_COUNT) --reports 10 || st=1; \
	nice -n 19 bash scripts/difftest.sh --seed $(FUZZ_SEED) --count $$(($(FUZZ_COUNT) / 4)) --reports 10 --cpl0 || st=1; \
	exit $$st

# After every include: make expands a rule's prerequisites where the rule
# is read, so this sees every GUESTS += of every module.mk.
guests: $(GUESTS)
