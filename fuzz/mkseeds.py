#!/usr/bin/env python3
"""fuzz/mkseeds.py - writes the seed corpora fuzz/corpus/<surface>/ (committed;
run again only to change them). Each seed is what a well-behaved guest or a
valid file looks like in the harness's input encoding (docs/fuzzing.md), so
the fuzzer starts from the paths that matter. Needs qemu-img for the qcow2
seeds."""
import os
import struct
import subprocess
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def save(surface, name, data):
    d = os.path.join(ROOT, surface)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- the guest player's opcodes (fuzz/fz.c) ----
SZ = {1: 0, 2: 1, 4: 2}
MSZ = {1: 0, 2: 1, 4: 2, 8: 3}


def out(rng, off, size, val):
    return struct.pack("<BBHBI", 0, rng, off, SZ[size], val & 0xFFFFFFFF)


def inp(rng, off, size):
    return struct.pack("<BBHB", 1, rng, off, SZ[size])


def mw(rng, off, size, val):
    return struct.pack("<BBHBQ", 2, rng, off, MSZ[size], val)


def mr(rng, off, size):
    return struct.pack("<BBHB", 3, rng, off, MSZ[size])


def ram(addr, data):
    out_ = b""
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out_ += struct.pack("<BIB", 4, addr + i, len(chunk)) + chunk
    return out_


def word(addr, size, val):
    return struct.pack("<BIBQ", 5, addr, MSZ[size], val)


def pci(devfn, reg, size, val=None):
    if val is None:
        return struct.pack("<BBBB", 6, devfn, reg, SZ[size])
    return struct.pack("<BBBBI", 6, devfn, reg, SZ[size] | 0x80, val)


def extra(*b):
    return bytes([7, *b])


# ---- IDE (fuzz/ide.c): ranges 0 = 0x1F0, 1 = 0x3F6, 2 = 0x170, 3 = 0x376, 4 = BM 0xC000
IDE_FN = (1 << 3) | 1


def ata(rng, dev, cmd, lba=0, count=1, feat=0):
    return (out(rng, 6, 1, dev | ((lba >> 24) & 0xF)) + out(rng, 1, 1, feat) +
            out(rng, 2, 1, count) + out(rng, 3, 1, lba) + out(rng, 4, 1, lba >> 8) +
            out(rng, 5, 1, lba >> 16) + out(rng, 7, 1, cmd))


def pio_in(rng, words):
    return b"".join(inp(rng, 0, 2) for _ in range(words)) + inp(rng, 7, 1)


def prd(at, entries):
    data = b""
    for i, (addr, n) in enumerate(entries):
        eot = 0x80000000 if i == len(entries) - 1 else 0
        data += struct.pack("<II", addr, (n & 0xFFFF) | eot)
    return ram(at, data)


def bm_start(ch, table, to_memory):
    base = 8 * ch
    return (pci(IDE_FN, 4, 2, 5) + out(4, base + 4, 4, table) + out(4, base + 2, 1, 6) +
            out(4, base, 1, 1 | (8 if to_memory else 0)))


def packet(rng, pkt, bytecount=2048, dma=False):
    pkt = pkt.ljust(12, b"\0")
    s = (out(rng, 1, 1, 1 if dma else 0) + out(rng, 4, 1, bytecount & 0xFF) +
         out(rng, 5, 1, bytecount >> 8) + out(rng, 7, 1, 0xA0))
    for i in range(0, 12, 2):
        s += out(rng, 0, 2, pkt[i] | pkt[i + 1] << 8)
    return s


def ide_seeds():
    save("ide", "identify", ata(0, 0xE0, 0xEC) + pio_in(0, 256) + ata(0, 0xF0, 0xA1) +
         pio_in(0, 256))
    save("ide", "read-pio-multi", ata(0, 0xE0, 0xC6, count=4) + ata(0, 0xE0, 0xC4, 3, 8) +
         pio_in(0, 2048) + ata(2, 0xF0, 0x20, 15, 2) + pio_in(2, 512))
    save("ide", "write-pio", ata(0, 0xE0, 0x30, 5, 1) +
         b"".join(out(0, 0, 2, i) for i in range(256)) + inp(0, 7, 1) + ata(0, 0xE0, 0xE7))
    save("ide", "read-dma", prd(0x1000, [(0x2000, 1024)]) + ata(0, 0xE0, 0xC8, 2, 2) +
         bm_start(0, 0x1000, True) + inp(4, 2, 1) + inp(0, 7, 1) + out(4, 0, 1, 0))
    save("ide", "write-dma-lba48", prd(0x1000, [(0x2000, 512), (0x3000, 1536)]) +
         out(0, 6, 1, 0x40) + out(0, 2, 1, 0) + out(0, 3, 1, 0) + out(0, 4, 1, 0) +
         out(0, 5, 1, 0) + ata(0, 0x40, 0x35, 8, 4) + bm_start(0, 0x1000, False) +
         inp(4, 2, 1) + extra(1))
    save("ide", "atapi-read10", out(0, 6, 1, 0xB0) +
         packet(0, b"\x00") + inp(0, 7, 1) +                       # TEST UNIT READY
         packet(0, b"\x03\0\0\0\x12") + pio_in(0, 9) +             # REQUEST SENSE
         packet(0, b"\x12\0\0\0\x24") + pio_in(0, 18) +            # INQUIRY
         packet(0, b"\x25") + pio_in(0, 4) +                       # READ CAPACITY
         packet(0, b"\x28\0\0\0\0\x02\0\0\x02") + pio_in(0, 2048))  # READ(10) 2 blocks
    save("ide", "atapi-dma", prd(0x1000, [(0x4000, 4096)]) + out(0, 6, 1, 0xB0) +
         packet(0, b"\x28\0\0\0\0\x13\0\0\x02", dma=True) + bm_start(0, 0x1000, True) +
         inp(4, 2, 1) + inp(0, 7, 1))
    save("ide", "atapi-toc-empty", out(2, 6, 1, 0xA0) + packet(2, b"\x00") +
         packet(2, b"\x03\0\0\0\x12") + pio_in(2, 9) +
         packet(2, b"\x43\0\0\0\0\0\0\x03\x24") + pio_in(2, 10) +
         packet(2, b"\x46\x02\0\0\0\0\0\0\x20") + pio_in(2, 16) +
         packet(2, b"\x5a\0\x2a\0\0\0\0\0\x20") + pio_in(2, 16) +
         packet(2, b"\x1b\0\0\0\x02") + inp(2, 7, 1))
    save("ide", "srst-and-features", out(1, 0, 1, 4) + out(1, 0, 1, 0) + inp(0, 1, 1) +
         ata(0, 0xE0, 0xEF, 0, 0x45, 3) + ata(0, 0xE0, 0x91, 0, 0x3F) + ata(0, 0xE0, 0xF8) +
         pio_in(0, 1) + pci(IDE_FN, 0x20, 4, 0xD001) + pci(IDE_FN, 0x40, 2, 0))


# ---- virtio (fuzz/virtio.c): blk legacy I/O range 0, net 1; MMIO blk 0, net 1
QSZ = 256


def vring(base, descs, heads):
    """Descriptors (addr, len, flags, next) and an avail ring at the legacy layout."""
    d = b"".join(struct.pack("<QIHH", *x) for x in descs)
    avail = base + 16 * QSZ
    a = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    return ram(base, d) + ram(avail, a)


def legacy_init(rng, queues, feats=0xFFFFFFFF):
    s = out(rng, 0x12, 1, 0) + out(rng, 0x12, 1, 3) + inp(rng, 0, 4) + out(rng, 4, 4, feats)
    for q, pfn in queues:
        s += out(rng, 0x0E, 2, q) + inp(rng, 0x0C, 2) + out(rng, 0x08, 4, pfn)
    return s + out(rng, 0x12, 1, 7)


def blk_req(base, hdr_at, typ, sector, data_at, n, write_data):
    flags_data = 0 if write_data else 2
    return (ram(hdr_at, struct.pack("<IIQ", typ, 0, sector)) +
            vring(base, [(hdr_at, 16, 1, 1), (data_at, n, flags_data | 1, 2),
                         (data_at + 0x1000 * 4, 1, 2, 0)], [0]))


def virtio_seeds():
    save("virtio", "blk-legacy-read", b"\0" + legacy_init(0, [(0, 0x10)]) +
         blk_req(0x10000, 0x20000, 0, 3, 0x21000, 1024, False) + out(0, 0x10, 2, 0) +
         extra(0, 0) + inp(0, 0x13, 1))
    save("virtio", "blk-legacy-write-flush", b"\0" + legacy_init(0, [(0, 0x10)]) +
         blk_req(0x10000, 0x20000, 1, 60, 0x21000, 2048, True) + out(0, 0x10, 2, 0) +
         extra(0, 0) +
         ram(0x20000, struct.pack("<IIQ", 4, 0, 0)) + ram(0x10000 + 16 * QSZ + 2, b"\x02\0") +
         ram(0x10000 + 16 * QSZ + 6, b"\0\0") + out(0, 0x10, 2, 0) + extra(1, 0))
    ind = b"".join(struct.pack("<QIHH", *x) for x in
                   [(0x20000, 16, 1, 1), (0x21000, 512, 3, 2), (0x25000, 1, 2, 0)])
    save("virtio", "blk-indirect-getid", b"\1" + legacy_init(0, [(0, 0x10)]) +
         ram(0x20000, struct.pack("<IIQ", 8, 0, 0)) + ram(0x30000, ind) +
         vring(0x10000, [(0x30000, 48, 4, 0)], [0]) + out(0, 0x10, 2, 0) + extra(2, 0) +
         extra(0, 0))
    # DISCARD then WRITE_ZEROES (unmap), one 16-byte segment each; a host
    # error on the second.
    dz = b"\0" + legacy_init(0, [(0, 0x10)])
    dz += ram(0x20000, struct.pack("<IIQ", 11, 0, 0) + struct.pack("<QII", 8, 16, 0))
    dz += ram(0x20100, struct.pack("<IIQ", 13, 0, 0) + struct.pack("<QII", 40, 8, 1))
    dz += vring(0x10000, [(0x20000, 32, 1, 1), (0x22000, 1, 2, 0),
                          (0x20100, 32, 1, 3), (0x22100, 1, 2, 0)], [0, 2])
    dz += extra(6, 1) + out(0, 0x10, 2, 0) + extra(0, 0) + extra(0, 0) + inp(0, 0x13, 1)
    save("virtio", "blk-discard-write-zeroes", dz)
    # Modern: common config at BAR4 + 0, notify at + 0x3000.
    m = b"\0"
    m += mw(0, 0x14, 1, 0) + mw(0, 0x14, 1, 3) + mw(0, 0x00, 4, 1) + mr(0, 0x04, 4)
    m += mw(0, 0x08, 4, 0) + mw(0, 0x0C, 4, 0x2C0) + mw(0, 0x08, 4, 1) + mw(0, 0x0C, 4, 1)
    m += mw(0, 0x14, 1, 0xB) + mr(0, 0x14, 1)
    m += mw(0, 0x16, 2, 0) + mw(0, 0x18, 2, 64) + mw(0, 0x20, 4, 0x10000) + mw(0, 0x24, 4, 0)
    m += mw(0, 0x28, 4, 0x10400) + mw(0, 0x2C, 4, 0) + mw(0, 0x30, 4, 0x11000)
    m += mw(0, 0x34, 4, 0) + mw(0, 0x1C, 2, 1) + mw(0, 0x14, 1, 0xF)
    m += ram(0x20000, struct.pack("<IIQ", 0, 0, 1))
    m += ram(0x10000, b"".join(struct.pack("<QIHH", *x) for x in
                               [(0x20000, 16, 1, 1), (0x21000, 512, 3, 2), (0x22000, 1, 2, 0)]))
    m += ram(0x10400, struct.pack("<HHH", 0, 1, 0))
    m += mw(0, 0x3000, 2, 0) + extra(0, 0) + mr(0, 0x1000, 1) + mr(0, 0x2000, 8)
    save("virtio", "blk-modern", m)
    # virtio-net: rx queue 0 at 0x30000, tx queue 1 at 0x34000.
    n = b"\0" + legacy_init(1, [(0, 0x30), (1, 0x34)], 1 << 5 | 1 << 15 | 1 << 16 | 1)
    n += inp(1, 0x14, 1) + inp(1, 0x1A, 2)
    frame = bytes(12) + b"\xff" * 6 + b"\x52\x54\0\x12\x34\x56\x08\x06" + bytes(28)
    n += ram(0x38000, frame)
    n += vring(0x34000, [(0x38000, len(frame), 0, 0)], [0]) + out(1, 0x10, 2, 1)
    n += vring(0x30000, [(0x3A000, 2048, 2, 0)], [0]) + out(1, 0x10, 2, 0)
    rx = b"\xff" * 6 + b"\x52\x55\x0a\0\x02\x02\x08\x00" + bytes(46)
    n += extra(4) + struct.pack("<H", len(rx)) + rx + inp(1, 0x13, 1)
    save("virtio", "net-tx-rx", n)


# ---- fw_cfg (fuzz/fwcfg.c): range 0 = 0x510 (selector, data), 1 = 0x514 (DMA)
def sel(key):
    return out(0, 0, 2, key)


def fw_dma(desc_at, control, length, addr):
    d = struct.pack(">IIQ", control, length, addr)
    be_lo = int.from_bytes(struct.pack(">I", desc_at), "little")
    return ram(desc_at, d) + out(1, 0, 4, 0) + out(1, 4, 4, be_lo)


def fwcfg_seeds():
    save("fwcfg", "signature", b"\0" + sel(0) + b"".join(inp(0, 1, 1) for _ in range(4)) +
         sel(1) + inp(0, 1, 1) + inp(1, 0, 4) + inp(1, 4, 4))
    save("fwcfg", "file-dir", b"\0" + sel(0x19) + b"".join(inp(0, 1, 1) for _ in range(80)))
    save("fwcfg", "dma-select-read", b"\1" +
         fw_dma(0x1000, 0x19 << 16 | 0x0A, 4 + 64 * 6, 0x2000) +
         fw_dma(0x1000, 0x22 << 16 | 0x0E, 100, 0x3000) +
         fw_dma(0x1000, 0x06, 3000, 0x4000) + fw_dma(0x1000, 0x02, 70000, 0x8000))
    save("fwcfg", "dma-write-refused", b"\0" + fw_dma(0x1000, 0x8003 << 16 | 0x18, 20, 0x2000) +
         fw_dma(0x1000, 0x0, 0, 0) + sel(0x8003) + inp(0, 1, 1))


# ---- loaders (fuzz/loaders.c): mode, cmdline, modules/initrd, kernel
def elf(entry, segs, mbflags, extra_hdr=b""):
    n = len(segs)
    eh = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01" + bytes(9), 2, 3, 1, entry,
                     52, 0, 0, 52, 32, n, 40, 0, 0)
    off = 52 + 32 * n
    off = (off + 15) & ~15
    ph = b""
    body = b""
    for i, (vaddr, paddr, filesz, memsz) in enumerate(segs):
        ph += struct.pack("<IIIIIIII", 1, off + len(body), vaddr, paddr, filesz, memsz, 5, 4096)
        seg = bytearray([0x10 + i] * filesz)
        if i == 0:
            h = struct.pack("<III", 0x1BADB002, mbflags, (-(0x1BADB002 + mbflags)) & 0xFFFFFFFF)
            h += extra_hdr
            seg[:len(h)] = h
        body += bytes(seg)
    return (eh + ph).ljust(off, b"\0") + body


def aout(load, hdr_off, size, bss_end, entry):
    flags = 1 << 16 | 2
    h = struct.pack("<IIIIIIII", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xFFFFFFFF,
                    load + hdr_off, load, load + size, bss_end, entry)
    img = bytearray(b"\x90" * size)
    img[hdr_off:hdr_off + len(h)] = h
    return bytes(img)


def bzimage(setup_sects=4, version=0x020F, pm_len=8192, init_size=0x20000, reloc=1,
            initrd_max=0x37FFFFFF, cmdline_size=2048):
    s = bytearray(((setup_sects or 4) + 1) * 512)
    s[0x1F1] = setup_sects
    s[0x1FE:0x200] = b"\x55\xAA"
    s[0x200:0x202] = b"\xEB\x66"
    s[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", s, 0x206, version)
    s[0x211] = 1
    struct.pack_into("<I", s, 0x214, 0x100000)
    struct.pack_into("<I", s, 0x22C, initrd_max)
    struct.pack_into("<I", s, 0x230, 0x200000)
    s[0x234] = reloc
    struct.pack_into("<I", s, 0x238, cmdline_size)
    struct.pack_into("<Q", s, 0x258, 0x1000000 if not reloc else 0x100000)
    struct.pack_into("<I", s, 0x260, init_size)
    return bytes(s) + b"\xF4" * pm_len


def loader_input(mode, cmdline, mods, kernel):
    s = bytes([mode]) + bytes([len(cmdline) if cmdline is not None else 0xFF])
    s += (cmdline or b"")
    if not mode & 1:
        s += bytes([len(mods)])
    for data, string in mods:
        s += struct.pack("<I", len(data)) + bytes([len(string)]) + string + data
    return s + kernel


def loader_seeds():
    k = elf(0x10000C, [(0x100000, 0x100000, 64, 256), (0x102000, 0x102000, 32, 32)], 3)
    save("loaders", "mb-elf", loader_input(0x00, b"console=ttyS0", [], k))
    save("loaders", "mb-elf-mods-files", loader_input(
        0x12, b"a=1", [(b"MODULE-ONE" * 10, b"arg1"), (b"\x02" * 5000, b"")], k))
    hh = elf(0xC010000C, [(0xC0100000, 0x100000, 64, 0x2000)], 2)
    save("loaders", "mb-elf-higher-half", loader_input(0x20, None, [(b"x" * 100, b"m")], hh))
    low = elf(0x8000, [(0x8000, 0x8000, 64, 0x3000)], 0)
    save("loaders", "mb-elf-low", loader_input(0x00, b"", [], low))
    save("loaders", "mb-aout", loader_input(0x30, b"k", [(b"mod", b"s")],
                                            aout(0x100000, 64, 4096, 0x102000, 0x100040)))
    save("loaders", "bz-initrd", loader_input(0x05, b"console=ttyS0 quiet",
                                              [(b"INITRD" * 100, b"")], bzimage()))
    save("loaders", "bz-files", loader_input(0x33, b"root=/dev/sda", [(b"\x1f\x8b" * 64, b"")],
                                             bzimage(setup_sects=0, version=0x0206, reloc=0)))
    save("loaders", "bz-noinitrd", loader_input(0x11, None, [(b"", b"")],
                                                bzimage(version=0x020A, init_size=0x180000)))


# ---- disk (fuzz/disk.c): flags, image, [backing], ops (op, u32 sector, u8 count)
def disk_input(flags, img, back=None, ops=()):
    s = bytes([flags]) + struct.pack("<I", len(img)) + img
    if back is not None:
        s += struct.pack("<I", len(back)) + back
    for op, sector, count in ops:
        s += struct.pack("<BIB", op, sector, count)
    return s


def qemu_img(*args):
    subprocess.run(["qemu-img", *args], check=True, stdout=subprocess.DEVNULL)


def disk_seeds():
    ops = [(0, 0, 8), (1, 3, 2), (0, 2, 4), (2, 8, 8), (3, 16, 4), (0x83, 20, 8), (4, 0, 0),
           (0, 0, 64)]
    raw = bytes(range(256)) * 64
    save("disk", "raw", disk_input(0, raw, ops=ops))
    save("disk", "raw-snapshot-ro", disk_input(0x0C, raw, ops=ops))
    with tempfile.TemporaryDirectory() as t:
        img, b = os.path.join(t, "img"), os.path.join(t, "b")
        qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", img, "256K")
        qemu_img("create", "-q", "-f", "raw", b, "64K")
        with open(b, "r+b") as f:
            f.write(b"BACKING!" * 4096)
        plain = open(img, "rb").read()
        save("disk", "qcow2-empty", disk_input(0x01, plain, ops=ops))
        save("disk", "qcow2-probe-snapshot", disk_input(0x0A, plain, ops=ops))
        # Written data (qemu-img convert from a raw file with content).
        src = os.path.join(t, "src")
        with open(src, "wb") as f:
            f.write(bytes(range(256)) * 200 + bytes(8192) + b"\xAB" * 4096)
        qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096", src,
                 img)
        save("disk", "qcow2-data", disk_input(0x01, open(img, "rb").read(), ops=ops))
        # Over a backing file named "b" in the same folder.
        qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "-b", "b", "-F", "raw",
                 img)
        save("disk", "qcow2-backing", disk_input(0x11, open(img, "rb").read(),
                                                 open(b, "rb").read(), ops=ops))
        # Small clusters, wide refcounts, 4 MiB written: the refcount table
        # grows and the table caches evict.
        qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=512,refcount_bits=64",
                 img, "8M")
        fill = [(1, 128 * i, 128) for i in range(63)] + [(0, 0, 128)]
        save("disk", "qcow2-512-refbits64-fill", disk_input(0x01, open(img, "rb").read(),
                                                            ops=fill))
        qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=65536,refcount_bits=1",
                 img, "1M")
        save("disk", "qcow2-64k-refbits1", disk_input(0x01, open(img, "rb").read(), ops=ops))


if __name__ == "__main__":
    ide_seeds()
    virtio_seeds()
    fwcfg_seeds()
    loader_seeds()
    disk_seeds()
