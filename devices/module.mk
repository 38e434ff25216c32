# devices/: the bus, the device models, and the console that backs them
# (vm/console.c lives in vm/ but is listed here by agreement with vm/).
BTVM_SRCS += devices/bus.c devices/uart16550.c devices/debugexit.c devices/debugcon.c \
             vm/console.c
# PC platform: interrupts and time (clock/timers, 8259A pair, 8254, MC146818, i8042)
BTVM_SRCS += devices/clock.c devices/pic8259.c devices/pit8254.c devices/rtc146818.c devices/i8042.c
# ACPI fixed hardware (PM1a, PM timer) and PCI configuration mechanism #1
BTVM_SRCS += devices/acpi_pm.c devices/pci_host.c
# PCI functions of QEMU's pc south bridge: PIIX3 ISA bridge, PIIX3 IDE, PIIX4 PM
BTVM_SRCS += devices/piix.c
BTVM_SRCS += devices/lapic.c
# APIC platform: I/O APIC, ISA/PCI interrupt routing to both controllers, IMCR
BTVM_SRCS += devices/ioapic.c devices/irqroute.c devices/imcr.c devices/lock.c
# IDE: two channels, ATA disks, ATAPI CD-ROMs, PIIX bus-master DMA
BTVM_SRCS += devices/ide.c
# HPET (0xFED00000) and QEMU's fw_cfg (0x510/0x511, DMA 0x514)
BTVM_SRCS += devices/hpet.c devices/fw_cfg.c
# VGA with Bochs VBE (PCI 1234:1111): registers and planar memory, VBE/PCI, rendering
BTVM_SRCS += devices/vga.c devices/vga_vbe.c devices/vga_render.c
# PS/2 keyboard and mouse behind the i8042
BTVM_SRCS += devices/ps2kbd.c devices/ps2mouse.c
BTVM_SRCS += devices/virtio_ring.c devices/virtio_pci.c devices/virtio_blk.c

# virtio-net (docs/network.md).
BTVM_SRCS += devices/virtio_net.c
