# guests/bootimg/: bootable CD-ROM and hard-disk images for firmware boot
# (SeaBIOS from -cdrom / -hda), built from Debian's GRUB, memtest86+ and
# build/linux's kernel and initramfs, without root or loop devices.
# `make bootimg` builds them into $(BUILD)/bootimg/; tests/fwboot/ boots
# them (make fwboot-test), bench/fwboot.sh times them. docs/guests.md.
BOOTIMG_DIR  := $(BUILD)/bootimg
BOOTIMG_ISO  := $(BOOTIMG_DIR)/linux.iso
BOOTIMG_DISK := $(BOOTIMG_DIR)/linux-disk.img
BOOTIMG_MT   := $(BOOTIMG_DIR)/memtest86+ia32.iso $(BOOTIMG_DIR)/memtest-serial.iso
BOOTIMG_ALL  := $(BOOTIMG_ISO) $(BOOTIMG_DISK) $(BOOTIMG_MT)

.PHONY: bootimg
bootimg: $(BOOTIMG_ALL)

$(BOOTIMG_ISO): guests/bootimg/iso.sh guests/bootimg/lib.sh $(LINUX_IMGS) | $(DEPS_STAMP)
	@BUILD=$(BUILD) bash guests/bootimg/iso.sh
$(BOOTIMG_DISK): guests/bootimg/disk.sh guests/bootimg/lib.sh $(LINUX_IMGS) | $(DEPS_STAMP)
	@BUILD=$(BUILD) bash guests/bootimg/disk.sh
$(BOOTIMG_MT) &: guests/bootimg/memtest.sh guests/bootimg/lib.sh | $(DEPS_STAMP)
	@BUILD=$(BUILD) bash guests/bootimg/memtest.sh
