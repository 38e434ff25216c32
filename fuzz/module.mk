# fuzz/: libFuzzer harnesses for btvm's host-facing inputs (docs/fuzzing.md).
# Outside the layering, like tests/. Each surface is fuzz/<surface>.c plus
# fuzz/fz.c; seeds in fuzz/corpus/<surface>/, crash regressions in
# fuzz/regress/<surface>/.
#   make fuzz-loaders | fuzz-disk | fuzz-fwcfg | fuzz-ide | fuzz-virtio
#   make fuzz-all                  each in turn, FUZZ_SECONDS apiece
#   make fuzz-replay               seeds + regressions through the ASan+UBSan
#                                  build without libFuzzer (part of unit-test)
# The campaign's corpus and crashes go to build/fuzz/<surface>/ (not in git).
FUZZ_SURFACES := loaders disk fwcfg ide virtio
FUZZ_SECONDS  ?= 600
FUZZ_CC       := clang
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   := -std=c17 -Wall -Wextra -O1 -g -D_GNU_SOURCE -I. -MMD -MP $(FUZZ_SAN)
# What the harnesses reach: the device models, the image formats, the
# loaders (linuxboot.c names cpu/'s entry-state setter, hence cpu/ and what
# it stands on), fw_cfg's machine side. An archive: only what is used links.
FUZZ_LIB_SRCS  = $(filter devices/%.c block/%.c cpu/%.c decoder/%.c shadowmmu/%.c,$(LIB_SRCS)) \
                 vm/multiboot.c vm/linuxboot.c vm/loadutil.c vm/memmap.c vm/fwcfg.c vm/dma.c
FUZZ_LIB_OBJS  = $(FUZZ_LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_BINS     := $(FUZZ_SURFACES:%=$(BUILD)/fuzz/bin/%)
FUZZ_REPLAYS  := $(FUZZ_SURFACES:%=$(BUILD)/san/fuzz/%-replay)
# Inputs the formats and loaders need room for; device inputs are op lists.
FUZZ_MAXLEN_loaders := 65536
FUZZ_MAXLEN_disk    := 65536
FUZZ_MAXLEN_fwcfg   := 4096
FUZZ_MAXLEN_ide     := 4096
FUZZ_MAXLEN_virtio  := 4096

.PHONY: fuzz-all fuzz-replay fuzz-build $(FUZZ_SURFACES:%=fuzz-%)

$(BUILD)/fuzz/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/libbtvm.a: $(FUZZ_LIB_OBJS)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/fuzz/bin/%: fuzz/%.c fuzz/fz.c fuzz/fz.h $(BUILD)/fuzz/libbtvm.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -MMD -MP,$(FUZZ_CFLAGS)) -fsanitize=fuzzer -o $@ fuzz/$*.c fuzz/fz.c $(BUILD)/fuzz/libbtvm.a $(LDLIBS)

# The replay build: gcc, the unit tests' ASan+UBSan library, no libFuzzer.
$(BUILD)/san/fuzz/%-replay: fuzz/%.c fuzz/fz.c fuzz/fz.h fuzz/replay.c $(BUILD)/san/libbtvm.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $(SAN) -o $@ fuzz/$*.c fuzz/fz.c fuzz/replay.c $(BUILD)/san/libbtvm.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# One campaign, niced (fuzz/run.sh): the corpus grows in
# build/fuzz/<s>/corpus (seeded from fuzz/corpus/<s>), crashes land in
# build/fuzz/<s>/crashes.
define FUZZ_RUN
fuzz-$(1): $(BUILD)/fuzz/bin/$(1)
	@bash fuzz/run.sh $(1) $(FUZZ_SECONDS) $(FUZZ_MAXLEN_$(1))
endef
$(foreach s,$(FUZZ_SURFACES),$(eval $(call FUZZ_RUN,$(s))))

fuzz-all:
	@st=0; for s in $(FUZZ_SURFACES); do $(MAKE) --no-print-directory fuzz-$$s || st=1; done; exit $$st

fuzz-replay: $(FUZZ_REPLAYS)
	@for s in $(FUZZ_SURFACES); do \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	    $(BUILD)/san/fuzz/$$s-replay fuzz/corpus/$$s $$(ls -d fuzz/regress/$$s 2>/dev/null) \
	    || { echo "FAILED: fuzz replay of $$s"; exit 1; }; done

unit-test: fuzz-replay

-include $(shell find $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)
