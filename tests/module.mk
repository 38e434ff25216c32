# tests/: Check unit tests (one executable per tests/unit/test_*.c, each with
# its own main), built twice: plain and with ASan+UBSan; and guest tests
# (tests/guest/*.sh) that boot guest images and judge exit status + serial.
LIB_SRCS   = $(filter-out vm/main.c,$(BTVM_SRCS))
LIB_OBJS   = $(patsubst %.S,$(BUILD)/obj/%.o,$(LIB_SRCS:%.c=$(BUILD)/obj/%.o))
SAN_OBJS   = $(patsubst %.S,$(BUILD)/san/%.o,$(LIB_SRCS:%.c=$(BUILD)/san/%.o))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_SAN   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/san/tests/%)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

$(BUILD)/libbtvm.a: $(LIB_OBJS)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/san/libbtvm.a: $(SAN_OBJS)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/san/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@
$(BUILD)/san/%.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libbtvm.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libbtvm.a $(CHECK_LIBS) $(LDLIBS)
$(BUILD)/san/tests/%: tests/unit/%.c $(BUILD)/san/libbtvm.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $< $(BUILD)/san/libbtvm.a $(CHECK_LIBS) $(LDLIBS)

# test_oom makes the engine's allocations fail on demand.
$(BUILD)/tests/test_oom $(BUILD)/san/tests/test_oom: LDLIBS += -Wl,--wrap=malloc,--wrap=calloc

unit-test: $(UNIT_BINS) $(UNIT_SAN)
	@bash tests/run-unit.sh $(UNIT_BINS) $(UNIT_SAN)

guest-test: all
	@bash tests/run-guest.sh

# Debian's i386 Linux booted to a busybox shell and driven (tests/linux/):
# boot.sh, then disk.sh (IDE disk and CD-ROM through ata_piix; on QEMU
# until btvm takes -hda). Both run; either failing fails the target.
linux-test: $(BUILD)/btvm linux linux-disk
	@st=0; bash tests/linux/boot.sh || st=1; bash tests/linux/disk.sh || st=1; exit $$st

# The KVM engine, tested in a nested VM (qemu-system-x86_64 -cpu EPYC,+svm);
# every case runs, Linux included, and fails the target when it fails.
hav-test: all bootimg linux
	@bash tests/hav/nested.sh

# Firmware boot (tests/fwboot/fwboot.sh): guests/bootimg's GRUB ISO, GRUB
# disk and memtest86+ booted through SeaBIOS on QEMU and btvm (~4 min).
# Not part of `test` yet.
.PHONY: fwboot-test
fwboot-test: $(BUILD)/btvm bootimg
	@bash tests/fwboot/fwboot.sh

# The one-way layers (docs/architecture.md): the self-test first proves the
# check can fail, then the check runs on the tree.
.PHONY: layer-check
layer-check: $(BUILD)/btvm
	@bash tests/layers.sh --selftest
	@bash tests/layers.sh
	@bash scripts/bt_cycles.sh >/dev/null && echo "bt_cycles: bt/ files call each other in one order (scripts/bt_cycles.sh)"

test: layer-check unit-test guest-test linux-test fwboot-test hav-test

# The i8042 and its PS/2 keyboard and mouse under Linux's own drivers
# (tests/linux/ps2.sh; i8042, atkbd, psmouse); part of linux-test.
linux-test: linux-ps2-test
.PHONY: linux-ps2-test
linux-ps2-test: $(BUILD)/btvm linux
	@bash tests/linux/ps2.sh

# tests/tools/vncgrab: a minimal VNC viewer for tests/guest/vgatest.sh.
$(BUILD)/tests/vncgrab: tests/tools/vncgrab.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lvncclient
guest-test: $(BUILD)/tests/vncgrab
all: $(BUILD)/tests/vncgrab

# Debian's kernel on two virtio-blk disks (tests/linux/disk-virtio.sh):
# mke2fs, ext2 write, e2fsck, a read-only disk, discard; part of linux-test.
linux-test: linux-virtio-test
.PHONY: linux-virtio-test
linux-virtio-test: $(BUILD)/btvm linux linux-disk
	@bash tests/linux/disk-virtio.sh

# The persistent image end to end (tests/linux/virtio_blk.sh, durability.sh,
# virtio_snapshot.sh, net.sh, diskfull.sh, sigterm.sh; btvm and QEMU with
# the same expectations): virtio-blk raw and qcow2, SIGKILL durability,
# -snapshot, virtio-net with user networking, a full host disk, SIGTERM
# while writing; part of linux-test.
linux-test: linux-diskimg-test
.PHONY: linux-diskimg-test
linux-diskimg-test: $(BUILD)/btvm diskimg
	@st=0; for t in virtio_blk durability virtio_snapshot net diskfull sigterm; do \
	    bash tests/linux/$$t.sh || st=1; done; exit $$st
# An ext2 file system on a qcow2 IDE disk over a qcow2 backing file, and
# -snapshot (tests/linux/qcow2.sh; block/qcow2.c); part of linux-test.
linux-test: linux-qcow2-test
.PHONY: linux-qcow2-test
linux-qcow2-test: $(BUILD)/btvm linux linux-disk
	@bash tests/linux/qcow2.sh

# Linux's bochs-drm on the VGA's Bochs VBE: /dev/fb0 drawn by the guest,
# checked pixel by pixel in a monitor screendump, btvm and QEMU
# (tests/linux/fb.sh); part of linux-test.
linux-test: linux-fb-test
.PHONY: linux-fb-test
linux-fb-test: $(BUILD)/btvm linux
	@bash tests/linux/fb.sh

# A 10-minute Linux run under mixed load (fork/exec, gzip, virtio disk and
# network I/O, timers): heap flat after warm-up, guest clock drift < 0.1%,
# no kernel warnings, every round's checksums equal to a short run's
# (tests/soak.py; SOAK_SECONDS, SOAK_WARMUP). Not part of `make test`.
.PHONY: soak
soak: $(BUILD)/btvm diskimg
	@python3 tests/soak.py

# Mutation testing (tests/mutate.sh, tests/mutations.txt): each listed bug
# planted alone in a scratch copy, rebuilt, its tests run; fails if any
# survives. A long run (minutes): not part of `test`.
.PHONY: mutate
mutate: all
	@bash tests/mutate.sh

# QMP's system_powerdown under Linux's ACPI button driver: the SCI and the
# fixed event counted, btvm and QEMU (tests/linux/powerdown.sh, ~15 s);
# part of linux-test.
linux-test: linux-powerdown-test
.PHONY: linux-powerdown-test
linux-powerdown-test: $(BUILD)/btvm linux
	@bash tests/linux/powerdown.sh
