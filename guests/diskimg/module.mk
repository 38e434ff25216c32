# guests/diskimg/: a persistent Linux root file system image (raw ext4)
# and the initramfs that mounts it from virtio-blk (docs/guests.md).
#   make diskimg         $(BUILD)/diskimg/initrd.img, and root.img when it
#                        does not exist yet (it is never overwritten: it is
#                        the user's disk; `make diskimg-new` makes a fresh one)
#   make diskimg-qcow2   $(BUILD)/diskimg/root.qcow2 from root.img (qemu-img)
#   make run-disk        boots it on btvm: root on virtio-blk, virtio-net
#                        with user networking
DISKIMG_DIR    := $(BUILD)/diskimg
DISKIMG_INITRD := $(DISKIMG_DIR)/initrd.img
DISKIMG_ROOT   := $(DISKIMG_DIR)/root.img
DISKIMG_HELPER := $(DISKIMG_DIR)/btvm-randread
DISKIMG_SIZE   ?= 256M
DISKIMG_APPEND := root=/dev/vda console=ttyS0
DISKIMG_DEVS   := -drive file=$(DISKIMG_ROOT),if=virtio,format=raw -nic user,model=virtio-net-pci

.PHONY: diskimg diskimg-new diskimg-qcow2 run-disk run-disk-qemu
diskimg: $(DISKIMG_INITRD) $(DISKIMG_HELPER) | $(DISKIMG_ROOT)

$(DISKIMG_INITRD): $(LINUX_IMGS) guests/diskimg/build.sh guests/diskimg/initramfs-init guests/linux/cpio.sh
	@BUILD=$(BUILD) bash guests/diskimg/build.sh initrd

# A static i386 program (glibc's libc6-dev-i386), run by the guest's busybox.
$(DISKIMG_HELPER): guests/diskimg/randread.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -Wall -Wextra -O2 -m32 -static -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -o $@ $<

# Order-only: a newer build.sh must not wipe the user's files.
$(DISKIMG_ROOT): | $(LINUX_IMGS) $(DISKIMG_HELPER)
	@BUILD=$(BUILD) bash guests/diskimg/build.sh image $@ $(DISKIMG_SIZE)

diskimg-new: $(LINUX_IMGS) $(DISKIMG_INITRD) $(DISKIMG_HELPER)
	@BUILD=$(BUILD) bash guests/diskimg/build.sh image $(DISKIMG_ROOT) $(DISKIMG_SIZE)

diskimg-qcow2: diskimg
	qemu-img convert -f raw -O qcow2 $(DISKIMG_ROOT) $(DISKIMG_DIR)/root.qcow2

run-disk: all diskimg
	$(BUILD)/btvm run -k $(LINUX_DIR)/vmlinuz -i $(DISKIMG_INITRD) -a "$(DISKIMG_APPEND)" $(DISKIMG_DEVS)

# The same machine on QEMU TCG, for comparison.
run-disk-qemu: diskimg
	qemu-system-i386 -accel tcg -m 256 -display none -serial mon:stdio -kernel $(LINUX_DIR)/vmlinuz \
	    -initrd $(DISKIMG_INITRD) -append "$(DISKIMG_APPEND)" $(DISKIMG_DEVS)
