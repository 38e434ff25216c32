# vm/: the machine, CLI, Multiboot and Linux loaders, ACPI tables and run loop.
# vm/main.c holds only main() (tests/module.mk leaves it out of libbtvm.a).
BTVM_SRCS += vm/wake.c vm/main.c vm/cli.c vm/ram.c vm/multiboot.c vm/linuxboot.c vm/loadutil.c \
             vm/acpi_tables.c vm/machine.c vm/runloop.c vm/service.c vm/dma.c vm/storage.c \
             vm/fwcfg.c vm/memmap.c vm/mptable.c
BTVM_SRCS += vm/firmware.c

# btvm popek: the Popek-Goldberg teaching table (docs/popek.md).
BTVM_SRCS += vm/popek.c
# Display: the curses text display, screendumps (PNG through zlib, text), its options
BTVM_SRCS += vm/display.c vm/display_text.c vm/display_png.c vm/display_cli.c vm/display_machine.c \
             vm/display_vnc.c
LDLIBS += -lz -lvncserver

# Terminal bytes to PS/2 key events (vm/keymap.h), for the text display.
BTVM_SRCS += vm/keymap.c
BTVM_SRCS += vm/filechr.c
# SIGTERM/SIGINT/SIGHUP: the machine stops in order (vm/signals.c).
BTVM_SRCS += vm/signals.c
# Opening a command-line drive's image (format, cache, snapshot; block/).
BTVM_SRCS += vm/drive_open.c
# Virtio devices on the machine and the I/O threads behind virtio-blk
BTVM_SRCS += vm/virtio_machine.c vm/iothread.c

# Network: -netdev/-device/-nic (vm/net_cli.c), the libslirp user network on
# an I/O thread of its own (vm/net_slirp.c), docs/network.md.
BTVM_SRCS += vm/net_cli.c vm/net_slirp.c vm/net_machine.c
LDLIBS += $(shell pkg-config --libs slirp 2>/dev/null || echo -lslirp -lglib-2.0)
# The monitors: their common part (machine, pause, events), their sockets,
# options; the human monitor (-monitor: command parser, sessions); QMP
# (-qmp: JSON stream, requests and commands, sessions) over jansson.
BTVM_SRCS += vm/monitor.c vm/monitor_sock.c vm/monitor_cli.c vm/monitor_cmd.c vm/monitor_hmp.c \
             vm/qmp_stream.c vm/qmp_cmd.c vm/qmp.c
LDLIBS += $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
# The gdb remote stub (-s, -gdb, -S): framing, registers, memory, watch
# accesses, the stub thread and its options. docs/gdb.md.
BTVM_SRCS += vm/gdb_proto.c vm/gdb_regs.c vm/gdb_mem.c vm/gdb_watch.c vm/gdbstub.c vm/gdb_cli.c
