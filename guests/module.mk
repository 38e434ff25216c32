# guests/: the project's own guest kernels — freestanding i686 Multiboot v1
# ELFs built with the host gcc in -m32 mode — plus the host-side helpers
# they need: insntest's expected-value generator (run at build time) and
# compute-native (the compute benchmark built for the host).
GUEST_DIR     := $(BUILD)/guests
GUEST_OBJ     := $(GUEST_DIR)/obj
GUEST_CFLAGS  := -std=gnu17 -Wall -Wextra -m32 -march=i686 -ffreestanding \
                 -fno-pic -fno-pie -fno-stack-protector -nostdlib -O2 \
                 -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
                 -Iguests/lib -I$(GUEST_DIR) -MMD -MP
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,-T,guests/lib/link.ld \
                 -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack
GUEST_LIBGCC  := -lgcc
HOST_GCFLAGS  := -std=gnu17 -Wall -Wextra -O2

GUEST_LIB_OBJS := $(GUEST_OBJ)/lib/entry.o $(GUEST_OBJ)/lib/runtime.o $(GUEST_OBJ)/lib/report.o

GUESTS += $(GUEST_DIR)/hello.elf $(GUEST_DIR)/insntest.elf $(GUEST_DIR)/compute.elf

.PHONY: guests
guests: $(GUESTS) $(GUEST_DIR)/compute-native

$(GUEST_OBJ)/%.o: guests/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OBJ)/%.o: guests/%.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/%.elf: $(GUEST_LIB_OBJS) guests/lib/link.ld | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^) $(GUEST_LIBGCC)

$(GUEST_DIR)/hello.elf: $(GUEST_OBJ)/hello/hello.o
$(GUEST_DIR)/compute.elf: $(GUEST_OBJ)/compute/compute.o $(GUEST_OBJ)/compute/guest_main.o
$(GUEST_DIR)/insntest.elf: $(GUEST_OBJ)/insntest/insntest.o $(GUEST_OBJ)/insntest/stackcases.o \
                            $(GUEST_OBJ)/insntest/smccases.o

# insntest: expected values come from running the same cases natively.
# -no-pie keeps the scratch buffer below 2 GiB so the case templates can
# address it absolutely in both 32- and 64-bit code; -mno-red-zone lets
# the case runner push/pop flags under the compiler's feet.
$(GUEST_DIR)/insntest-gen: guests/insntest/gen.c guests/insntest/cases.h guests/insntest/runner.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_GCFLAGS) -fno-pie -no-pie -mno-red-zone -o $@ guests/insntest/gen.c

$(GUEST_DIR)/insntest_expected.h: $(GUEST_DIR)/insntest-gen
	$< > $@.tmp && mv $@.tmp $@

$(GUEST_OBJ)/insntest/insntest.o: $(GUEST_DIR)/insntest_expected.h

$(GUEST_DIR)/compute-native: guests/compute/compute.c guests/compute/native_main.c guests/compute/compute.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_GCFLAGS) -o $@ guests/compute/compute.c guests/compute/native_main.c

# Keep objects between builds (they are otherwise make intermediates).
.SECONDARY: $(GUEST_LIB_OBJS) $(GUEST_OBJ)/hello/hello.o $(GUEST_OBJ)/compute/compute.o \
            $(GUEST_OBJ)/compute/guest_main.o $(GUEST_OBJ)/insntest/insntest.o \
            $(GUEST_OBJ)/insntest/stackcases.o $(GUEST_OBJ)/insntest/smccases.o

-include $(wildcard $(GUEST_OBJ)/*/*.d)

# ---- popek: the Popek–Goldberg probe guest (docs/popek.md) ----------------
GUESTS += $(GUEST_DIR)/popek.elf
$(GUEST_DIR)/popek.elf: $(GUEST_OBJ)/popek/popek.o $(GUEST_OBJ)/popek/trap.o
.SECONDARY: $(GUEST_OBJ)/popek/popek.o $(GUEST_OBJ)/popek/trap.o

# ---- systest: privilege/segmentation/exception/interrupt suite (docs/guests.md) ----
SYSTEST_OBJS := $(GUEST_OBJ)/systest/systest.o $(GUEST_OBJ)/systest/ring3.o \
                $(GUEST_OBJ)/systest/irq.o $(GUEST_OBJ)/systest/stubs.o
GUESTS += $(GUEST_DIR)/systest.elf
$(GUEST_DIR)/systest.elf: $(SYSTEST_OBJS)
.SECONDARY: $(SYSTEST_OBJS)

# ---- nano: Adams & Agesen style nanobenchmarks, irqlat/idle modes (bench/nano.sh) ----
NANO_OBJS := $(GUEST_OBJ)/nano/nano.o $(GUEST_OBJ)/nano/stubs.o
GUESTS += $(GUEST_DIR)/nano.elf
$(GUEST_DIR)/nano.elf: $(NANO_OBJS)
.SECONDARY: $(NANO_OBJS)

# ---- hostile: misbehaving guest, btvm must stop cleanly (tests/guest/hostile.sh) ----
HOSTILE_OBJS := $(GUEST_OBJ)/hostile/hostile.o $(GUEST_OBJ)/hostile/stubs.o \
                $(GUEST_OBJ)/hostile/devices.o $(GUEST_OBJ)/hostile/isr.o
HOSTILE_OBJS += $(GUEST_OBJ)/hostile/virtio_net.o
GUESTS += $(GUEST_DIR)/hostile.elf
$(GUEST_DIR)/hostile.elf: $(HOSTILE_OBJS)
.SECONDARY: $(HOSTILE_OBJS)
$(GUEST_DIR)/hostile.elf: $(GUEST_OBJ)/hostile/virtio.o
.SECONDARY: $(GUEST_OBJ)/hostile/virtio.o

# ---- pagetest: paging test suite, shadow page tables' reference (tests/guest/pagetest.sh) ----
PAGETEST_OBJS := $(GUEST_OBJ)/pagetest/kernel.o $(GUEST_OBJ)/pagetest/mmu.o \
                 $(GUEST_OBJ)/pagetest/faults.o $(GUEST_OBJ)/pagetest/tlb.o \
                 $(GUEST_OBJ)/pagetest/code.o $(GUEST_OBJ)/pagetest/modes.o \
                 $(GUEST_OBJ)/pagetest/kview.o \
                 $(GUEST_OBJ)/pagetest/stubs.o
GUESTS += $(GUEST_DIR)/pagetest.elf
$(GUEST_DIR)/pagetest.elf: $(PAGETEST_OBJS)
.SECONDARY: $(PAGETEST_OBJS)

# ---- idetest: PIIX IDE, ATA disk and ATAPI CD-ROM (tests/guest/idetest.sh) ----
IDETEST_OBJS := $(GUEST_OBJ)/idetest/idetest.o $(GUEST_OBJ)/idetest/atapi.o \
                $(GUEST_OBJ)/idetest/stubs.o
GUESTS += $(GUEST_DIR)/idetest.elf $(GUEST_DIR)/idetest-img
$(GUEST_DIR)/idetest.elf: $(IDETEST_OBJS)
.SECONDARY: $(IDETEST_OBJS)
# The host side: makes the sparse scratch disk, checks it afterwards, prints the CD's file.
$(GUEST_DIR)/idetest-img: guests/idetest/img.c guests/idetest/pattern.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_GCFLAGS) -o $@ guests/idetest/img.c

# ---- fwcfgtest: QEMU's fw_cfg interface (tests/guest/fwcfgtest.sh) ----
GUESTS += $(GUEST_DIR)/fwcfgtest.elf
$(GUEST_DIR)/fwcfgtest.elf: $(GUEST_OBJ)/fwcfgtest/fwcfgtest.o
.SECONDARY: $(GUEST_OBJ)/fwcfgtest/fwcfgtest.o
# ---- realtest: real mode, big real mode, 16-bit PM, v8086 (tests/guest/realtest.sh) ----
REALTEST_OBJS := $(GUEST_OBJ)/realtest/realtest.o $(GUEST_OBJ)/realtest/rm.o
GUESTS += $(GUEST_DIR)/realtest.elf
$(GUEST_DIR)/realtest.elf: $(REALTEST_OBJS)
.SECONDARY: $(REALTEST_OBJS)

# ---- apictest / ioapictest: local and I/O APIC suites (tests/guest/apictest.sh, ioapictest.sh) ----
IRQLIB_OBJS := $(GUEST_OBJ)/lib/irqlib.o $(GUEST_OBJ)/lib/irqstubs.o
APICTEST_OBJS := $(GUEST_OBJ)/apictest/apictest.o $(IRQLIB_OBJS)
IOAPICTEST_OBJS := $(GUEST_OBJ)/ioapictest/ioapictest.o $(IRQLIB_OBJS)
GUESTS += $(GUEST_DIR)/apictest.elf $(GUEST_DIR)/ioapictest.elf
$(GUEST_DIR)/apictest.elf: $(APICTEST_OBJS)
$(GUEST_DIR)/ioapictest.elf: $(IOAPICTEST_OBJS)
.SECONDARY: $(APICTEST_OBJS) $(IOAPICTEST_OBJS)

# ---- kbdtest: the i8042, PS/2 keyboard and mouse, polled (tests/guest/kbdtest.sh) ----
GUESTS += $(GUEST_DIR)/kbdtest.elf
$(GUEST_DIR)/kbdtest.elf: $(GUEST_OBJ)/kbdtest/kbdtest.o
.SECONDARY: $(GUEST_OBJ)/kbdtest/kbdtest.o

# ---- vgatest: the VGA programmed directly (tests/guest/vgatest.sh) ----
GUESTS += $(GUEST_DIR)/vgatest.elf
$(GUEST_DIR)/vgatest.elf: $(GUEST_OBJ)/vgatest/vgatest.o
.SECONDARY: $(GUEST_OBJ)/vgatest/vgatest.o

# ---- chipsettest: ROM, PAM shadowing, A20, APM (tests/guest/chipsettest.sh) ----
GUESTS += $(GUEST_DIR)/chipsettest.elf
$(GUEST_DIR)/chipsettest.elf: $(GUEST_OBJ)/chipsettest/chipsettest.o
.SECONDARY: $(GUEST_OBJ)/chipsettest/chipsettest.o
# ---- biosboot: boot sectors the BIOS loads (tests/guest/biosboot.sh) ----
GUESTS += $(GUEST_DIR)/biosboot/mbr.bin $(GUEST_DIR)/biosboot/cd.bin $(GUEST_DIR)/biosboot/a20.bin
$(GUEST_DIR)/biosboot/%.bin: guests/biosboot/%.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -m32 -c $< -o $(@:.bin=.o)
	ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o $@ $(@:.bin=.o)
# The images the BIOS boots them from (tests/hav/nested.sh; biosboot.sh makes its own).
GUESTS += $(GUEST_DIR)/biosboot/mbr.img $(GUEST_DIR)/biosboot/cd.iso
$(GUEST_DIR)/biosboot/mbr.img: $(GUEST_DIR)/biosboot/mbr.bin
	cp $< $@ && truncate -s 1M $@
$(GUEST_DIR)/biosboot/cd.iso: $(GUEST_DIR)/biosboot/cd.bin
	rm -rf $@.d && mkdir -p $@.d && cp $< $@.d/boot.bin
	xorriso -as mkisofs -quiet -o $@ -b boot.bin -no-emul-boot -boot-load-size 4 $@.d 2>/dev/null
	rm -rf $@.d

# ---- legacytest: BCD adjusts, XLAT, SALC, ARPL over every input, against
# the host CPU (tests/guest/legacytest.sh). The generator is built -m32:
# those encodings do not exist in 64-bit mode, and the host is the reference.
LEGACYTEST_OBJS := $(GUEST_OBJ)/legacytest/legacytest.o $(GUEST_OBJ)/legacytest/stubs.o
GUESTS += $(GUEST_DIR)/legacytest.elf
$(GUEST_DIR)/legacytest.elf: $(LEGACYTEST_OBJS)
.SECONDARY: $(LEGACYTEST_OBJS)
$(GUEST_DIR)/legacytest-gen: guests/legacytest/gen.c guests/legacytest/stubs.S \
                             guests/legacytest/legacy.h guests/legacytest/dump.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_GCFLAGS) -m32 -fno-pie -no-pie -o $@ guests/legacytest/gen.c guests/legacytest/stubs.S
$(GUEST_DIR)/legacytest_expected.h: $(GUEST_DIR)/legacytest-gen
	$< > $@.tmp && mv $@.tmp $@
$(GUEST_OBJ)/legacytest/legacytest.o: $(GUEST_DIR)/legacytest_expected.h

# ---- cpuidtest: the CPUID leaves, printed for tests/guest/cpuid.sh ----
GUESTS += $(GUEST_DIR)/cpuidtest.elf
$(GUEST_DIR)/cpuidtest.elf: $(GUEST_OBJ)/cpuidtest/cpuidtest.o
.SECONDARY: $(GUEST_OBJ)/cpuidtest/cpuidtest.o

# ---- rtctest: the CMOS clock read like a BIOS does (tests/guest/rtctest.sh) ----
GUESTS += $(GUEST_DIR)/rtctest.elf
$(GUEST_DIR)/rtctest.elf: $(GUEST_OBJ)/rtctest/rtctest.o
.SECONDARY: $(GUEST_OBJ)/rtctest/rtctest.o


# ---- qmptest: ticks on the serial line, the ACPI power button (tests/guest/qmp.sh) ----
GUESTS += $(GUEST_DIR)/qmptest.elf
$(GUEST_DIR)/qmptest.elf: $(GUEST_OBJ)/qmptest/qmptest.o $(IRQLIB_OBJS)
.SECONDARY: $(GUEST_OBJ)/qmptest/qmptest.o

# ---- difftest: random instruction sequences, btvm against the host CPU (docs/difftest.md) ----
# The generator, loop and runner are linked into the guest and into a
# static 32-bit Linux program that runs the same sequences natively.
DIFFTEST_SHARED := $(GUEST_OBJ)/difftest/gen.o $(GUEST_OBJ)/difftest/loop.o $(GUEST_OBJ)/difftest/run.o
GUESTS += $(GUEST_DIR)/difftest.elf $(GUEST_DIR)/difftest-native $(GUEST_DIR)/difftest-dis
$(GUEST_DIR)/difftest.elf: $(GUEST_OBJ)/difftest/guest.o $(DIFFTEST_SHARED)
$(GUEST_DIR)/difftest-native: $(GUEST_OBJ)/difftest/native.o $(DIFFTEST_SHARED) $(GUEST_OBJ)/lib/runtime.o
	$(CC) -m32 -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack -o $@ $^ $(GUEST_LIBGCC)
$(GUEST_DIR)/difftest-dis: guests/difftest/dis.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_GCFLAGS) -o $@ $< -lcapstone
.SECONDARY: $(GUEST_OBJ)/difftest/guest.o $(GUEST_OBJ)/difftest/native.o $(DIFFTEST_SHARED)

# ---- gdbtest: the guest tests/guest/gdb.sh debugs (docs/gdb.md) ----
# Debug info and no optimisation, so gdb's lines and variables are exact.
GUESTS += $(GUEST_DIR)/gdbtest.elf
$(GUEST_DIR)/gdbtest.elf: $(GUEST_OBJ)/gdbtest/gdbtest.o
$(GUEST_OBJ)/gdbtest/gdbtest.o: GUEST_CFLAGS += -g -O0
.SECONDARY: $(GUEST_OBJ)/gdbtest/gdbtest.o
