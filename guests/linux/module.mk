# guests/linux/: Debian's i386 kernel + a busybox initramfs, fetched from
# the Debian registry by fetch.sh (cached in $(BUILD)/cache/debian/, never
# committed). `make linux` builds $(BUILD)/linux/vmlinuz and initrd.img
# when missing or older than the recipe. docs/linux.md.
LINUX_DIR  := $(BUILD)/linux
LINUX_IMGS := $(LINUX_DIR)/vmlinuz $(LINUX_DIR)/initrd.img

.PHONY: linux
linux: $(LINUX_IMGS)

# One run of fetch.sh makes both (a grouped target, GNU make 4.3).
$(LINUX_IMGS) &: guests/linux/fetch.sh guests/linux/init
	@BUILD=$(BUILD) bash guests/linux/fetch.sh
