# guests/linux/: Debian's i386 kernel + a busybox initramfs, fetched from
# the Debian registry by fetch.sh (cached in $(BUILD)/cache/debian/, never
# committed). `make linux` builds $(BUILD)/linux/vmlinuz and initrd.img
# when missing or older than the recipe. docs/linux.md.
LINUX_DIR  := $(BUILD)/linux
LINUX_IMGS := $(LINUX_DIR)/vmlinuz $(LINUX_DIR)/initrd.img

.PHONY: linux
linux: $(LINUX_IMGS)

# One run of fetch.sh makes both (a grouped target, GNU make 4.3).
$(LINUX_IMGS) &: guests/linux/fetch.sh guests/linux/cpio.sh guests/linux/init
	@BUILD=$(BUILD) bash guests/linux/fetch.sh

# The disk test's initramfs (tests/linux/disk.sh, bench/disk.sh):
# initrd.img unchanged + an appended archive with the ata_piix, sd_mod,
# sr_mod, ext4 and isofs modules and their dependencies from the same
# kernel package. `make linux-disk`; docs/linux.md.
LINUX_DISK_INITRD := $(LINUX_DIR)/initrd-disk.img
.PHONY: linux-disk
linux-disk: $(LINUX_DISK_INITRD)
$(LINUX_DISK_INITRD): $(LINUX_DIR)/initrd.img guests/linux/disk-initrd.sh guests/linux/cpio.sh \
                      guests/linux/disk-modules
	@BUILD=$(BUILD) bash guests/linux/disk-initrd.sh
