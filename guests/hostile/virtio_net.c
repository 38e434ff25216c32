/*
 * guests/hostile/virtio_net.c — the virtio-net mode of the hostile guest
 * (run with -nic user): seeded abuse of the card's legacy registers and of
 * its rings — queues past RAM or overlapping, descriptor loops, chains
 * into the ring itself or past RAM, zero and huge lengths, indirect tables
 * of garbage, available indexes that jump, notifications of queues that do
 * not exist, resets at any moment — while the guest also sends real frames
 * (ARP requests for 10.0.2.2) so that the user network answers into rings
 * of garbage. btvm must survive all of it. Then the guest resets the card,
 * sets it up properly, and checks that an ARP request for 10.0.2.2 gets
 * its reply; it exits with 0 when it does (docs/guests.md, "hostile").
 * Interrupts stay disabled: the card's INTx may stay raised, nobody cares.
 */
#include "hostile.h"

#define rnd hostile_rnd
#define FAIL 97
#define IOBASE 0xd000u   /* 0xc000 is the IDE bus master (the firmware setup) */
#define QSIZE 256u
#define ST_ACK 1u
#define ST_DRIVER 2u
#define ST_DRIVER_OK 4u
#define ST_NEEDS_RESET 0x40u
/* Legacy registers. */
#define R_HOST_F 0x00
#define R_GUEST_F 0x04
#define R_PFN 0x08
#define R_QNUM 0x0C
#define R_QSEL 0x0E
#define R_NOTIFY 0x10
#define R_STATUS 0x12
#define R_ISR 0x13
#define R_CONFIG 0x14
#define F_MRG_RXBUF (1u << 15)

static uint32_t pci_rd(unsigned devfn, unsigned reg)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (reg & 0xfc));
    return inl(0xcfc);
}

static void pci_wr(unsigned devfn, unsigned reg, uint32_t v)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (reg & 0xfc));
    outl(0xcfc, v);
}

struct desc {
    uint32_t addr_lo, addr_hi, len;
    uint16_t flags, next;
};

static uint32_t arena_lo, arena_hi, ram_end;
static uint32_t sane;               /* 64 pages the abuse never picks: the final check's */
static int sane_mode;
static uint32_t ring[2];            /* the queues' current places (legacy, 3 pages each) */
static uint16_t avail_idx[2];
static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static struct desc *dtab(unsigned q) { return (struct desc *)(uintptr_t)ring[q]; }
static volatile uint16_t *avail(unsigned q) { return (volatile uint16_t *)(uintptr_t)(ring[q] + 16 * QSIZE); }
static volatile uint32_t *used(unsigned q) { return (volatile uint32_t *)(uintptr_t)(ring[q] + 8192); }

/* A page-aligned place in the arena for a ring (3 pages) or a buffer. */
static uint32_t arena_page(unsigned pages)
{
    uint32_t span = (arena_hi - arena_lo) / 4096 - pages;
    return arena_lo + (rnd() % span) * 4096;
}

/* A guest-physical address: mostly in the arena, sometimes anywhere. */
static uint32_t any_addr(void)
{
    switch (rnd() % 8) {
    case 0: return rnd();                                   /* anywhere, past RAM too */
    case 1: return ram_end - (rnd() & 0xfff);               /* straddling RAM's end */
    case 2: return ring[rnd() & 1] + (rnd() & 0x3fff);      /* into a ring */
    default: return arena_lo + rnd() % (arena_hi - arena_lo - 0x10000);
    }
}

static uint32_t any_len(void)
{
    switch (rnd() % 6) {
    case 0: return 0;
    case 1: return rnd();                                   /* huge */
    case 2: return rnd() & 15;                              /* shorter than a header */
    default: return 1 + (rnd() & 0x7ff);
    }
}

static void garbage_desc(struct desc *d)
{
    d->addr_lo = any_addr();
    d->addr_hi = (rnd() & 15) == 0 ? rnd() : 0;
    d->len = any_len();
    d->flags = (uint16_t)(rnd() & 7);
    d->next = (uint16_t)(rnd() & 3 ? rnd() % QSIZE : rnd());
}

static void set_queue(unsigned q, uint32_t pfn)
{
    outw(IOBASE + R_QSEL, (uint16_t)q);
    outl(IOBASE + R_PFN, pfn);
}

/* A correct legacy bring-up with rings at fresh places. */
static void proper_init(void)
{
    outb(IOBASE + R_STATUS, 0);
    outb(IOBASE + R_STATUS, ST_ACK | ST_DRIVER);
    outl(IOBASE + R_GUEST_F, inl(IOBASE + R_HOST_F) & (F_MRG_RXBUF | 1u << 5 | 1u << 16));
    for (unsigned q = 0; q < 2; q++) {
        ring[q] = sane_mode ? sane + q * 3 * 4096 : arena_page(3);
        memset((void *)(uintptr_t)ring[q], 0, 3 * 4096);
        avail_idx[q] = 0;
        set_queue(q, ring[q] >> 12);
    }
    outb(IOBASE + R_STATUS, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
}

static void make_avail(unsigned q, uint16_t head)
{
    avail(q)[2 + avail_idx[q] % QSIZE] = head;
    avail_idx[q]++;
    avail(q)[1] = avail_idx[q];
}

/* An ARP request for 10.0.2.2 from 10.0.2.15, after a 12-byte header. */
static uint32_t arp_frame(uint8_t *p)
{
    memset(p, 0, 12 + 60);
    uint8_t *f = p + 12;
    memset(f, 0xff, 6);
    memcpy(f + 6, mac, 6);
    f[12] = 0x08, f[13] = 0x06;
    static const uint8_t a[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
    memcpy(f + 14, a, 8);
    memcpy(f + 22, mac, 6);
    f[28] = 10, f[29] = 0, f[30] = 2, f[31] = 15;
    f[38] = 10, f[39] = 0, f[40] = 2, f[41] = 2;
    return 12 + 60;
}

/* Send a real frame on the tx queue through descriptor slot i. */
static void send_arp(unsigned i)
{
    uint32_t buf = sane_mode ? sane + 32 * 4096 : arena_page(1);
    uint32_t len = arp_frame((uint8_t *)(uintptr_t)buf);
    struct desc *d = &dtab(1)[i % QSIZE];
    *d = (struct desc){ buf, 0, len, 0, 0 };
    make_avail(1, (uint16_t)(i % QSIZE));
    outw(IOBASE + R_NOTIFY, 1);
}

static void abuse(void)
{
    unsigned q = rnd() & 1;
    switch (rnd() % 14) {
    case 0:                                                 /* garbage descriptors */
        for (unsigned n = rnd() % 16; n; n--)
            garbage_desc(&dtab(q)[rnd() % QSIZE]);
        break;
    case 1: {                                               /* a loop */
        unsigned a = rnd() % QSIZE, b = rnd() % QSIZE;
        dtab(q)[a] = (struct desc){ arena_lo, 0, 64, 1 | (q == 0 ? 2 : 0), (uint16_t)b };
        dtab(q)[b] = (struct desc){ arena_lo, 0, 64, 1 | (q == 0 ? 2 : 0), (uint16_t)a };
        make_avail(q, (uint16_t)a);
        outw(IOBASE + R_NOTIFY, (uint16_t)q);
        break;
    }
    case 2: {                                               /* an indirect table of garbage */
        uint32_t t = arena_page(4);
        struct desc *it = (struct desc *)(uintptr_t)t;
        for (unsigned n = 0; n < 64; n++)
            garbage_desc(&it[n]);
        unsigned a = rnd() % QSIZE;
        dtab(q)[a] = (struct desc){ rnd() & 3 ? t : any_addr(), 0, rnd() & 1 ? 64 * 16 : any_len(),
                                    4, 0 };
        make_avail(q, (uint16_t)a);
        outw(IOBASE + R_NOTIFY, (uint16_t)q);
        break;
    }
    case 3:                                                 /* the available index jumps */
        avail_idx[q] = (uint16_t)(avail_idx[q] + (rnd() & 1 ? rnd() : rnd() % 600));
        avail(q)[1] = avail_idx[q];
        outw(IOBASE + R_NOTIFY, (uint16_t)q);
        break;
    case 4:                                                 /* garbage available entries */
        for (unsigned n = rnd() % 8; n; n--)
            make_avail(q, (uint16_t)rnd());
        outw(IOBASE + R_NOTIFY, (uint16_t)q);
        break;
    case 5:                                                 /* queues anywhere */
        set_queue(rnd() % 4, rnd() & 1 ? rnd() : (any_addr() >> 12));
        break;
    case 6:                                                 /* notify anything */
        outw(IOBASE + R_NOTIFY, (uint16_t)(rnd() & 1 ? rnd() % 4 : rnd()));
        break;
    case 7:                                                 /* status at random */
        outb(IOBASE + R_STATUS, (uint8_t)rnd());
        break;
    case 8:                                                 /* any register, any size */
        switch (rnd() % 3) {
        case 0: outb((uint16_t)(IOBASE + (rnd() & 0x1f)), (uint8_t)rnd()); break;
        case 1: outw((uint16_t)(IOBASE + (rnd() & 0x1e)), (uint16_t)rnd()); break;
        default: outl((uint16_t)(IOBASE + (rnd() & 0x1c)), rnd()); break;
        }
        (void)inl((uint16_t)(IOBASE + (rnd() & 0x1c)));
        (void)inb(IOBASE + R_ISR);
        break;
    case 9:                                                 /* features at random */
        outl(IOBASE + R_GUEST_F, rnd());
        break;
    case 10:                                                /* real frames into garbage rx rings */
    case 11:
        send_arp(rnd());
        break;
    case 12:                                                /* rx buffers, some sane */
        for (unsigned n = rnd() % 8; n; n--) {
            unsigned a = rnd() % QSIZE;
            if (rnd() & 1)
                dtab(0)[a] = (struct desc){ arena_page(1), 0, 1 + rnd() % 4096, 2, 0 };
            else
                garbage_desc(&dtab(0)[a]);
            make_avail(0, (uint16_t)a);
        }
        outw(IOBASE + R_NOTIFY, 0);
        break;
    default:                                                /* start over, properly */
        proper_init();
        break;
    }
}

/* The card works after all that: an ARP request gets its reply. */
static int sanity(void)
{
    sane_mode = 1;
    proper_init();
    for (unsigned i = 0; i < 16; i++) {
        uint32_t b = sane + (8 + i) * 4096;
        memset((void *)(uintptr_t)b, 0, 4096);
        dtab(0)[i] = (struct desc){ b, 0, 2048, 2, 0 };
        make_avail(0, (uint16_t)i);
    }
    outw(IOBASE + R_NOTIFY, 0);
    for (unsigned tries = 0; tries < 5; tries++) {
        send_arp(tries);
        for (uint32_t spin = 0; spin < 2000000; spin++) {
            (void)inb(IOBASE + R_ISR);                      /* an exit: frames get delivered */
            uint32_t n = used(0)[0] >> 16;                  /* used idx (after flags) */
            for (unsigned k = 0; k < n; k++) {
                uint32_t id = used(0)[1 + 2 * k];
                if (id >= 16)
                    continue;
                const uint8_t *f = (const uint8_t *)(uintptr_t)dtab(0)[id].addr_lo + 12;
                if (f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && f[28] == 10 && f[31] == 2 &&
                    !memcmp(f, mac, 6))
                    return 0;
            }
            if (inb(IOBASE + R_STATUS) & ST_NEEDS_RESET) {
                gprintf("hostile: FAIL virtio-net: NEEDS_RESET after a proper setup\n");
                return FAIL;
            }
        }
    }
    gprintf("hostile: FAIL virtio-net: no ARP reply from 10.0.2.2 after a proper setup\n");
    return FAIL;
}

int hostile_virtio_net(uint32_t ram_top)
{
    unsigned devfn = 0;
    for (unsigned s = 0; s < 32 && !devfn; s++)
        if (pci_rd(s << 3, 0) == 0x10001af4u)
            devfn = s << 3;
    if (!devfn) {
        gprintf("hostile: FAIL virtio-net: no 1af4:1000 on the PCI bus (run with -nic user)\n");
        return FAIL;
    }
    pci_wr(devfn, 0x10, IOBASE | 1);
    pci_wr(devfn, 0x04, pci_rd(devfn, 0x04) | 0x5);       /* I/O, bus master */
    ram_end = ram_top;
    if (ram_top < 0x800000) {
        gprintf("hostile: FAIL virtio-net wants at least 8 MiB of RAM\n");
        return FAIL;
    }
    sane = ram_top / 2;
    arena_lo = sane + 64 * 4096;
    arena_hi = ram_top;
    proper_init();
    unsigned ops = 3000, resets = 0;
    for (unsigned i = 0; i < ops; i++) {
        abuse();
        if (inb(IOBASE + R_STATUS) & ST_NEEDS_RESET) {
            resets++;
            if (rnd() & 3)                                  /* else abuse a broken card a while */
                proper_init();
        }
    }
    int rc = sanity();
    if (rc)
        return rc;
    gprintf("hostile: virtio-net ok: %u ops, %u times NEEDS_RESET\n", ops, resets);
    return 0;
}
