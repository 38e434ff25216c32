/*
 * bt/runtime.c — C that runs while guest code runs: the entry points that
 * emitted code and bt/enter.S call (declared in bt/runtime.h).
 *
 * Why a file of its own: these run at run time, not translate time, and
 * the translator only needs their addresses; kept apart, the emitters can
 * reference them without depending on block formation or the dispatcher.
 * Below it are only the block directory (blocks.c) and encoding.
 *
 * bt_mem_slow() runs when the inline shadow-TLB check fails: it fills the
 * entry when the page is ordinary RAM (a "hidden fault": the guest never
 * sees it) or prepares the bounce buffer in struct bt_vcpu for accesses that
 * must be emulated byte-exactly (device pages, page-crossing accesses,
 * writes to pages holding translated code). bt_mem_done() writes a bounce
 * back after the instruction ran on it. Also here: every callout's
 * dispatch (bt_callout_dispatch), the block-entry refill of the execute
 * table, the miss budget of predicted addends, adaptive translation of
 * page-table stores, and the R14 value for entering a block.
 */
#include "bt/runtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include "vm/vm.h"
#include "bt/bt.h"
#include "bt/offsets.h"
#include "cpu/callout.h"

static struct bt *engine(struct cpu *c)
{
    return bt_vcpu_of(c)->bt;
}

/* Every callout goes through here (bt/enter.S): counts it, and makes the
 * block end after an instruction whose memory writes hit translated code. */
/*
 * A callout that moved EIP (IRET, SYSENTER, SYSEXIT, INT n, far transfers,
 * MOV CR0...) would leave for the dispatcher, which only looks the next
 * block up and enters it again. When the dispatcher would have nothing else
 * to do — no exception raised, no interrupt deliverable, nothing async, no
 * HLT — the lookup is done here and the trampoline jumps straight to the
 * block (BT_CO_JUMP), with R14 chosen as bt_enter would: no FXSAVE, no
 * FXRSTOR, no trip through the run loop.
 */
static int try_jump(struct bt *bt, struct cpu *c)
{
    struct bt_vcpu *vc = bt_vcpu_of(c);
    struct vm *vm = bt->vm;
    /* A debugger's step ends here; a breakpoint is the dispatcher's to see. */
    if (vm->debug.step || vm->debug.insn_hook ||
        (vm->debug.nbp && vm_debug_is_bp(&vm->debug, c->seg_base[CPU_CS] + c->eip)))
        return BT_EXIT_CALLOUT;
    if (c->pending_vector >= 0 || c->halted || c->shadow ||
        __atomic_load_n(&c->async_pending, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&vm->input_pending, __ATOMIC_ACQUIRE) ||
        ((c->eflags & CPU_FL_IF) && vm_intr_pending(vm)))
        return BT_EXIT_CALLOUT;
    int64_t pp = smmu_exec_page(&bt->mmu, c->seg_base[CPU_CS] + c->eip);
    if (pp < 0)
        return BT_EXIT_CALLOUT;
    struct bt_block *b = bt_lookup(bt, c->eip, bt_mode_key(c), c->seg_base[CPU_CS], (uint64_t)pp);
    if (!b)
        return BT_EXIT_CALLOUT;
    vc->exit_site = (uint64_t)(uintptr_t)b->host; /* the trampoline jumps here */
    vc->vbase = bt_vbase(b->key, c->eip);
    vc->mem_addend = bt_fast_addend(bt, b->phys_page); /* with this R14 */
    bt->st.fast_transfers++;
    return BT_CO_JUMP;
}

/* An exception the callout raised (#PF, #GP, #DE...) is delivered here, as
 * the dispatcher would, and the handler's block entered directly; a
 * delivery that fails (triple fault, unsupported) is left for the
 * dispatcher to report (bt->deferred_delivery). */
static int deliver_and_jump(struct bt *bt, struct cpu *c)
{
    if (c->pending_vector >= 0) {
        int dr = cpu_deliver_pending(c);
        if (dr != 0) {
            bt->deferred_delivery = dr;
            return BT_EXIT_CALLOUT;
        }
        bt->st.fast_deliveries++;
    }
    return try_jump(bt, c);
}

static void adapt_outcome(struct bt *bt, struct cpu *c, const struct dec_insn *d, bool traced);

/*
 * A callout finished its instruction (CONTINUE) and something asked for
 * the vcpu meanwhile (async_pending: a device raised an interrupt, a timer
 * is due). Rather than run on to the next block entry, leave for the
 * dispatcher and come back, do the dispatcher's part here, at this
 * instruction boundary: run the due timers, take a deliverable interrupt,
 * enter its handler's block directly. Stop requests and console input are
 * left to the dispatcher (async_pending stays set for them).
 */
static int async_at_boundary(struct bt *bt, struct cpu *c, uint32_t next)
{
    struct vm *vm = bt->vm;
    c->eip = next;
    if (vm->debug.step || vm->debug.insn_hook)
        return BT_EXIT_CALLOUT; /* one instruction ran: the dispatcher decides (async stays set) */
    __atomic_exchange_n(&c->async_pending, 0, __ATOMIC_ACQ_REL);
    if (__atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&vm->input_pending, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&c->async_pending, 1, __ATOMIC_RELEASE);
        return BT_EXIT_CALLOUT;
    }
    /* A kick from a device this callout drove needs no clock read; one from
     * the ticker (or a deadline the callout moved) runs the timers. */
    if (vm_timers_due(vm))
        vm_run_timers(vm);
    c->shadow = false; /* the instruction after STI/MOV SS is done */
    int vec = vm_intr_take(vm);
    if (vec >= 0) {
        bt->st.interrupts++;
        int dr = cpu_interrupt(c, vec);
        if (dr != 0) {
            bt->deferred_delivery = dr;
            return BT_EXIT_CALLOUT;
        }
        bt->st.fast_deliveries++;
    }
    return try_jump(bt, c);
}

/*
 * After a MOV to ES/DS/FS/GS that loaded a GDT descriptor: remember it
 * (emit_sreg.c), keyed by what the load depended on. Only a descriptor in
 * RAM above 1 MiB, inside one page, that the load just marked accessed
 * (the stub reads it again through the shadow TLB).
 */
/* Memo m ← segment seg as loaded now (its descriptor, the GDT, CPL and
 * the state); left empty if the descriptor cannot be read back cheaply. */
static void memo_fill_at(struct bt *bt, struct cpu *c, int seg, struct bt_sreg_memo *m)
{
    if (!(c->cr0 & CPU_CR0_PE) || (c->eflags & CPU_FL_VM) || c->pending_vector >= 0)
        return;
    const struct cpu_segment *s = &c->segs[seg];
    if (!(s->sel & ~3u) || (s->sel & 4))
        return;
    uint32_t lin = c->gdtr.base + (s->sel & ~7u);
    uint64_t phys;
    if ((lin & 0xFFF) > 0xFF8 || !smmu_translate(&bt->mmu, lin, 0, &phys) || phys < 0x100000)
        return;
    uint8_t *h = vm_ram_ptr(bt->vm, phys, 8);
    if (!h)
        return;
    memcpy(&m->raw, h, 8);
    if (!((m->raw >> 40) & 1)) {
        m->sel = 0;
        return;
    }
    m->gdt_base = c->gdtr.base;
    m->gdt_limit = c->gdtr.limit;
    m->cpl = (uint8_t)c->cpl;
    m->seg = *s;
    m->lo = c->seg_lo[seg];
    m->hi = c->seg_hi[seg];
    m->wlo = c->seg_wlo[seg];
    m->whi = c->seg_whi[seg];
    m->sel = s->sel;
}

static void sreg_memo_fill(struct bt *bt, struct cpu *c, int seg)
{
    if (seg != CPU_ES && seg != CPU_DS && seg != CPU_FS && seg != CPU_GS && seg != CPU_CS)
        return;
    memo_fill_at(bt, c, seg, &bt->vc->sreg_memo[(c->segs[seg].sel >> 3) % BT_SREG_MEMOS]);
}

/* After an IRET that went back to CPL 3 in flat 32-bit code with a 32-bit
 * stack: its CS and SS, for the inline IRET (emit_iret.c). */
static void iret_memo_fill(struct bt *bt, struct cpu *c)
{
    uint32_t k = bt_mode_key(c);
    bt->vc->iret_memo[0].sel = bt->vc->iret_memo[1].sel = 0;
    if (bt_key_cpl(k) != 3 || (k & (BT_KEY_NONFLAT | BT_KEY_REAL | BT_KEY_V86 | BT_KEY_STACK16)) ||
        !(k & BT_KEY_CODE32))
        return;
    memo_fill_at(bt, c, CPU_CS, &bt->vc->iret_memo[0]);
    memo_fill_at(bt, c, CPU_SS, &bt->vc->iret_memo[1]);
    if (!bt->vc->iret_memo[0].sel || !bt->vc->iret_memo[1].sel)
        bt->vc->iret_memo[0].sel = bt->vc->iret_memo[1].sel = 0;
}

int bt_callout_dispatch(struct cpu *c, const void *insn, int (*fn)(struct cpu *, const void *))
{
    struct bt *bt = engine(c);
    uint64_t traced_writes = bt->mmu.stats.traced_writes;
    /* A record serves its block wherever it runs (bt_key_shared): its
     * d->eip is this run's, as the trampoline set cpu->eip. */
    if (insn && ((const struct dec_insn *)insn)->eip != c->eip)
        ((struct dec_insn *)insn)->eip = c->eip;
    int r = fn(c, insn);
    if (bt->mmu.device_written) {
        /* An MMIO write (an APIC or HPET timer armed): the ticker must
         * learn the new deadline, as after a port write. */
        bt->mmu.device_written = false;
        if (vm_timers_moved(bt->vm))
            c->async_pending = 1;
    }
    const struct dec_insn *d = insn;
    if (d) {
        if (fn == (int (*)(struct cpu *, const void *))cpu_co_mov_store ||
            fn == (int (*)(struct cpu *, const void *))cpu_co_rmw_store)
            adapt_outcome(bt, c, d, bt->mmu.stats.traced_writes != traced_writes);
        else if ((d->zi.mnemonic == ZYDIS_MNEMONIC_MOV || d->zi.mnemonic == ZYDIS_MNEMONIC_POP) &&
                 d->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                 ZydisRegisterGetClass(d->ops[0].reg.value) == ZYDIS_REGCLASS_SEGMENT && r != CPU_CO_STOP)
            sreg_memo_fill(bt, c, cpu_seg_of(d->ops[0].reg.value));
        else if (d->zi.mnemonic == ZYDIS_MNEMONIC_IRETD && r != CPU_CO_STOP && c->cpl == 0)
            sreg_memo_fill(bt, c, CPU_CS); /* for the inline IRET (emit_iret.c): CPL 0 to 0 */
        else if (d->zi.mnemonic == ZYDIS_MNEMONIC_IRETD && r != CPU_CO_STOP && c->cpl == 3)
            iret_memo_fill(bt, c); /* ... and CPL 0 to 3 */
        bt->st.callouts++;
        if (bt->callout_counts)
            bt->callout_counts[d->zi.mnemonic]++;
        if (r == 0 && bt->invalidated) {
            /* The instruction wrote translated code: it is complete, so
             * leave before anything stale runs. */
            bt->invalidated = false;
            c->eip = d->eip + d->len;
            return BT_EXIT_CALLOUT;
        }
        if (r == BT_EXIT_CALLOUT) {
            bt->invalidated = false; /* the lookup only finds live blocks */
            return deliver_and_jump(bt, c);
        }
        if (r == 0 && (c->eflags & CPU_FL_IF) && !c->halted && c->pending_vector < 0 &&
            __atomic_load_n(&c->async_pending, __ATOMIC_ACQUIRE)) {
            uint32_t next = d->eip + d->len;
            if (!(c->shadow && c->shadow_eip == next))
                return async_at_boundary(bt, c, next);
        }
    } else if (r == BT_EXIT_CALLOUT && c->pending_vector >= 0) {
        return deliver_and_jump(bt, c); /* a fault found by bt_mem_slow */
    }
    return r;
}

/* A store to a traced page table: after a few, its block is retranslated
 * with the store as a direct callout (translate.c asks bt_adaptive()). */
#define ADAPT_AFTER 4

static uint32_t adapt_slot(uint32_t eip)
{
    return (eip * 0x9E3779B1u) >> 22; /* 1024 slots */
}

bool bt_adaptive(const struct bt *bt, uint32_t eip)
{
    const __typeof__(bt->adapt[0]) *a = &bt->adapt[adapt_slot(eip)];
    return a->eip == eip && !a->never && a->hits >= ADAPT_AFTER;
}

/* Retranslate the block holding the instruction at eip (its form changes). */
static void retranslate_at(struct bt *bt, struct cpu *c, uint32_t eip)
{
    int64_t pp = smmu_exec_page(&bt->mmu, c->seg_base[CPU_CS] + eip);
    if (pp < 0)
        return;
    bool was = bt->invalidated;
    bt_invalidate_phys(bt, ((uint64_t)pp << 12) | ((c->seg_base[CPU_CS] + eip) & 0xFFF), 1);
    bt->invalidated = was; /* the running block may finish: only its entry is dead */
    bt->st.adaptive++;
}

static void adapt_note(struct bt *bt, struct cpu *c)
{
    __typeof__(bt->adapt[0]) *a = &bt->adapt[adapt_slot(c->eip)];
    if (a->eip != c->eip) {
        memset(a, 0, sizeof(*a));
        a->eip = c->eip;
    }
    if (a->never || ++a->hits != ADAPT_AFTER)
        return;
    retranslate_at(bt, c, c->eip);
}

/*
 * A read of the direct device page (the local APIC's register page) came
 * through the slow path: the page has no entry in the ordinary tables,
 * only in the device tables, which only sites translated for it read.
 * After DEV_AFTER such reads the block holding the site is translated
 * again with the device read first (bt_emit_mem_op); a site that later
 * reads other memory still works (it falls through to the usual check).
 */
#define DEV_AFTER 2

static uint32_t dev_slot(uint32_t eip)
{
    return (eip * 0x9E3779B1u) >> 24; /* 256 slots */
}

bool bt_devsite(const struct bt *bt, uint32_t eip)
{
    const __typeof__(bt->devsite[0]) *a = &bt->devsite[dev_slot(eip)];
    return a->eip1 == eip + 1 && a->hits >= DEV_AFTER;
}

static inline uint32_t kv_slot(uint64_t v)
{
    return (uint32_t)((v * 0x9E3779B97F4A7C15ull) >> 48) & (BT_KV_SITES - 1);
}

/* The site's record, made if absent and make; NULL if absent, or if the
 * table is full (then every site counts as checked). */
static struct bt_kv_site *kv_site(const struct bt *bt, uint32_t eip, uint32_t key, bool make)
{
    uint64_t v = ((uint64_t)(key & ~(BT_KEY_SAFE | BT_KEY_SAFE2)) << 32 | eip) + 1;
    for (uint32_t i = kv_slot(v), n = 0; n < BT_KV_SITES; i = (i + 1) & (BT_KV_SITES - 1), n++) {
        struct bt_kv_site *e = &bt->kv_sites[i];
        if (e->id == v)
            return e;
        if (!e->id) {
            if (make)
                e->id = v;
            return make ? e : NULL;
        }
    }
    return NULL;
}

/* Faults one site may take into the view before it is translated checked. */
#define KV_SITE_FAULTS 16u

bool bt_kv_checked(const struct bt *bt, uint32_t eip, uint32_t key)
{
    const struct bt_kv_site *e = kv_site(bt, eip, key, false);
    return e ? e->faults == BT_KV_CHECKED : bt->kv_full;
}

void bt_kv_mark(struct bt *bt, uint32_t eip, uint32_t key)
{
    struct bt_kv_site *e = kv_site(bt, eip, key, true);
    if (e)
        e->faults = BT_KV_CHECKED;
    else
        bt->kv_full = true;
}

bool bt_kv_fault_churns(struct bt *bt, uint32_t eip, uint32_t key)
{
    struct bt_kv_site *e = kv_site(bt, eip, key, true);
    if (e && ++e->faults < KV_SITE_FAULTS)
        return false;
    bt_kv_mark(bt, eip, key);
    return true;
}

static void dev_note(struct bt *bt, struct cpu *c)
{
    __typeof__(bt->devsite[0]) *a = &bt->devsite[dev_slot(c->eip)];
    if (a->eip1 != c->eip + 1) {
        a->eip1 = c->eip + 1;
        a->hits = 0;
    }
    if (++a->hits == DEV_AFTER) {
        retranslate_at(bt, c, c->eip);
        bt->st.dev_sites++;
    }
}

/* Light: see bt_light_tramp. Only the device's store hook runs. */
void bt_dev_store(struct cpu *c)
{
    struct bt_vcpu *vc = bt_vcpu_of(c);
    struct bt *bt = vc->bt;
    bt->st.dev_stores++;
    smmu_direct_write(&bt->mmu, vc->arg1, vc->arg0);
}

/* An adapted store ran as a callout: if it keeps writing memory no table
 * lives in, the inline path would have been faster; go back to it. */
#define ADAPT_PLAIN_MIN 64

static void adapt_outcome(struct bt *bt, struct cpu *c, const struct dec_insn *d, bool traced)
{
    __typeof__(bt->adapt[0]) *a = &bt->adapt[adapt_slot(d->eip)];
    if (a->eip != d->eip || a->never)
        return;
    if (traced) {
        a->traced++;
        return;
    }
    if (++a->plain >= ADAPT_PLAIN_MIN && a->plain > 4 * a->traced) {
        a->never = true;
        retranslate_at(bt, c, d->eip);
    }
}

/*
 * Predicted addends (emit_mem.c, groups.c). A site spent its miss budget:
 * if those misses came faster than one per PRED_MIN_NS, its pages change
 * too often for a prediction (a hash table, a random walk), and each miss
 * costs a mispredicted branch; its block is translated again with the
 * site loading its entry directly. Otherwise the budget is refilled.
 * ARG0 = the slot's offset, EIP = the site.
 * 8 us, not 2: busybox's shell loop has sites that miss about once per
 * iteration (1.5-2.8 us); at 2 us they were made direct only when the loop
 * already ran fast, so it ran at one of two speeds (0.58 or 1.1 s for 100k
 * iterations, 8.9 M or 21 M misses); at 8 us it stays at the fast one
 * (57 k misses) and the other bench rows do not move.
 */
#define PRED_MIN_NS 8000u

static uint32_t pred_hash(uint32_t eip, uint32_t i)
{
    return ((eip * 0x9E3779B1u) >> 22) + i;
}

bool bt_pred_is_direct(const struct bt *bt, uint32_t eip)
{
    for (uint32_t i = 0; i < 8; i++) {
        uint32_t v = bt->pred_direct[pred_hash(eip, i) & 1023];
        if (v == eip + 1)
            return true;
        if (v == 0)
            return false;
    }
    return false;
}

static bool pred_make_direct(struct bt *bt, uint32_t eip)
{
    for (uint32_t i = 0; i < 8; i++) {
        uint32_t *v = &bt->pred_direct[pred_hash(eip, i) & 1023];
        if (*v == 0 || *v == eip + 1) {
            *v = eip + 1;
            return true;
        }
    }
    return false; /* table full here: keep predicting */
}

int bt_pred_spent(struct cpu *c, const void *unused)
{
    (void)unused;
    struct bt_vcpu *vc = bt_vcpu_of(c);
    struct bt *bt = engine(c);
    uint32_t i = (vc->arg0 - BT_PRED_OFF) / 16u;
    uint64_t *slot = (uint64_t *)(bt->region + vc->arg0);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t since = bt->pred_since[i];
    bt->pred_since[i] = now;
    slot[1] = BT_PRED_BUDGET;
    if (since && now - since < (uint64_t)BT_PRED_BUDGET * PRED_MIN_NS &&
        pred_make_direct(bt, c->eip)) {
        slot[1] = UINT64_MAX; /* until the new translation replaces it */
        retranslate_at(bt, c, c->eip);
        bt->st.pred_direct++;
    }
    return 0;
}

/*
 * An indirect jump's target (ARG0) missed the inline table. Fill the entry
 * if the target is translated for the code page mapped now, and go on in
 * its block (try_jump) rather than through the dispatcher; otherwise, or
 * when the dispatcher has work (an interrupt, a fault, ...), leave to it at
 * the target. Cheaper than an exit: the inline table misses in every new
 * address space of a process that ASLR moved.
 */
int bt_indirect_miss(struct cpu *c, const void *unused)
{
    (void)unused;
    struct bt_vcpu *vc = bt_vcpu_of(c);
    struct bt *bt = engine(c);
    c->eip = vc->arg0;
    bt->st.ibtc_miss_callouts++;
    uint32_t key = bt_mode_key(c);
    if (!(key & BT_KEY_NONFLAT)) { /* the inline table serves flat code (CS base 0) only */
        int64_t pp = smmu_exec_page(&bt->mmu, c->eip);
        struct bt_block *b = pp < 0 ? NULL : bt_lookup(bt, c->eip, key, 0, (uint64_t)pp);
        if (b && !vm_debug_is_bp(&bt->vm->debug, c->eip)) { /* emitted code enters it directly */
            struct bt_ibtc_entry *en = &bt->ibtc[c->eip & (BT_IBTC_ENTRIES - 1)];
            en->neg_tag = 0 - (((uint64_t)key << 32) | c->eip);
            en->host = (uint64_t)(uintptr_t)b->ientry;
        }
    }
    return try_jump(bt, c);
}

static int page_fault(struct cpu *c, struct bt *bt)
{
    c->cr2 = bt->mmu.pf_addr;
    cpu_raise(c, CPU_VEC_PF, true, bt->mmu.pf_err);
    return BT_EXIT_CALLOUT;
}

/* A block entry found its code page missing from the execute table (a CR3
 * load, a trace dropped it): fill it, and go on if it is the page the
 * block came from (and the page its last instruction crosses into).
 * Otherwise, or if something async is pending, leave through the async
 * exit: the dispatcher finds the right block. */
int bt_entry_refill(struct cpu *c, const void *unused)
{
    (void)unused;
    struct bt_vcpu *vc = bt_vcpu_of(c);
    struct bt *bt = engine(c);
    /* The block, by the return address of its CALL (bt_refill_tramp). */
    const uint8_t *ra = (const uint8_t *)(uintptr_t)((uint64_t)vc->arg0 | (uint64_t)vc->arg1 << 32);
    const struct bt_block *b = bt_block_containing(bt, ra - 1);
    if (!b) {
        snprintf(c->unsupported, sizeof(c->unsupported), "block entry refill from %p, not a block",
                 (const void *)ra);
        return BT_EXIT_STOP;
    }
    c->eip = bt_run_eip(vc, b, b->eip);
    if (__atomic_load_n(&c->async_pending, __ATOMIC_ACQUIRE))
        return BT_EXIT_ASYNC;
    uint32_t lin = c->seg_base[CPU_CS] + c->eip;
    if (smmu_exec_page(&bt->mmu, lin) != (int64_t)b->phys_page)
        return BT_EXIT_ASYNC;
    if (b->phys_page2 != b->phys_page && smmu_exec_page(&bt->mmu, (lin | 0xFFFu) + 1) != (int64_t)b->phys_page2)
        return BT_EXIT_ASYNC;
    bt->st.entry_refills++;
    return 0;
}

/* The EIP of the memory access whose stub call returns to ra (the
 * instruction whose out-of-line code holds it), memoized by ra. */
static uint32_t site_eip(struct bt *bt, const uint8_t *ra)
{
    __typeof__(bt->site_memo[0]) *m = &bt->site_memo[((uintptr_t)ra >> 2) & 1023];
    if (m->ra != ra) {
        const struct bt_block *b = bt_block_containing(bt, ra - 1);
        if (!b)
            return bt->cpu->eip; /* cannot be: stubs are called from blocks */
        m->ra = ra;
        m->shared = bt_key_shared(b->key);
        m->eip = b->map_eip[bt_block_insn_at(b, ra - 1)] - (m->shared ? b->vbase0 : 0);
    }
    return m->eip + (m->shared ? bt->vc->vbase : 0);
}

int bt_mem_slow(struct cpu *c, const void *unused)
{
    (void)unused;
    struct bt_vcpu *vc = bt_vcpu_of(c);
    struct bt *bt = engine(c);
    if (vc->mem_ra) {
        /* From an access stub: the site is known by its return address. */
        c->eip = site_eip(bt, (const uint8_t *)(uintptr_t)vc->mem_ra);
        vc->mem_ra = 0;
    }
    uint32_t lin = vc->arg1;
    unsigned size = vc->arg0 & 0xFFFF;
    bool wr = (vc->arg0 >> 16) & 1, rd = (vc->arg0 >> 17) & 1;

    unsigned acc = smmu_acc(&bt->mmu, wr);
    if ((lin & 0xFFF) + size <= 0x1000) {
        bool fault;
        uint8_t *h = smmu_fill(&bt->mmu, lin, acc, &fault);
        if (h) {
            vc->mem_addend = (uint64_t)(uintptr_t)h - lin;
            vc->mem_bounce = 0;
            return 0;
        }
        if (fault)
            return page_fault(c, bt);
        if (bt->mmu.fill_traced)
            adapt_note(bt, c);
        if (bt->mmu.fill_direct && rd != wr)
            dev_note(bt, c);
    }
    /* Emulated: every page must allow the access before the instruction
     * runs, so a fault leaves it (and memory) untouched. */
    uint64_t phys;
    for (uint32_t p = lin & ~0xFFFu; p - (lin & ~0xFFFu) < (lin & 0xFFF) + size; p += 0x1000)
        if (!smmu_translate(&bt->mmu, p < lin ? lin : p, acc, &phys))
            return page_fault(c, bt);
    /* The bounce copy keeps the address's alignment: an instruction that
     * needs 16-byte alignment (MOVAPS...) faults there as it would on the
     * guest's address, and the host #GP becomes the guest's (bt/engine.c). */
    uint8_t *bb = vc->bounce + (lin & 15);
    memset(bb, 0, size);
    if (rd || size > 16) {
        int v = smmu_read(&bt->mmu, lin, bb, size, acc);
        if (v)
            return page_fault(c, bt);
    }
    vc->bounce_lin = lin;
    vc->bounce_size = size;
    /* Only a write has something to write back: bt_mem_done, which every
     * out-of-line write calls (emit_memstub.c), must find 0 after a read. */
    vc->mem_bounce = wr;
    vc->mem_addend = (uint64_t)(uintptr_t)bb - lin;
    return 0;
}

int bt_mem_done(struct cpu *c, const void *unused)
{
    (void)unused;
    struct bt_vcpu *vc = bt_vcpu_of(c);
    struct bt *bt = engine(c);
    if (!vc->mem_bounce)
        return 0;
    vc->mem_bounce = 0;
    int v = smmu_write(&bt->mmu, vc->bounce_lin, vc->bounce + (vc->bounce_lin & 15), vc->bounce_size,
                       smmu_acc(&bt->mmu, true));
    if (v)
        return page_fault(c, bt);
    if (bt->invalidated) {
        bt->invalidated = false;
        if (vc->arg0) {
            /* The write was the instruction's last act: resume after it in
             * the dispatcher, before any stale translation can run (ARG0 =
             * its length; cpu->eip is its EIP, set by the trampoline). */
            c->eip += vc->arg0;
            return BT_EXIT_CALLOUT;
        }
        /* More of the instruction follows (ESP update, the jump of a CALL):
         * finish it, and leave at the next block entry. */
        c->async_pending = 1;
    }
    return 0;
}

/* The addend emitted code tries first (R14): with paging off every RAM page
 * has host = ram + linear. With paging, the stack page's (a kernel's
 * direct map shares it with most kernel data), else the code page's. */
uint64_t bt_fast_addend(struct bt *bt, uint64_t code_ppage)
{
    const struct cpu *c = bt->cpu;
    if (!(c->cr0 & CPU_CR0_PG))
        return (uint64_t)(uintptr_t)bt->vm->ram;
    uint32_t sp = c->seg_base[CPU_SS] + c->regs[CPU_ESP];
    const uint64_t *e = &bt->mmu.tlb[(size_t)(c->cpl == 3 ? SMMU_T_UR : SMMU_T_SR) * SMMU_TLB_ENTRIES + (sp >> 12)];
    if (*e)
        return *e;
    /* Not shadowed yet (a CR3 load cleared it): fill it now, or every group
     * check on the stack would fail over to the safe translation. */
    bool fault;
    uint8_t *h = smmu_fill((struct smmu *)&bt->mmu, sp, smmu_acc(&bt->mmu, false), &fault);
    if (h && *e)
        return *e; /* what the fill made: a user window's base, where the space has one */
    if (h)
        return (uint64_t)(uintptr_t)h - sp;
    uint32_t pc = c->seg_base[CPU_CS] + c->eip;
    return (uint64_t)(uintptr_t)bt->vm->ram + (code_ppage << 12) - (pc & ~0xFFFu);
}

/* ---- x87 instruction pointer in a stored FPU environment ------------------
 * The guest's FXSAVE/FNSTENV/FNSAVE run as the host's own instruction, so
 * they store the host's x87 instruction and data pointers: addresses in
 * the code cache and in btvm's mapping of guest RAM — wrong for the guest,
 * and a leak of host addresses (docs/translation.md, "x87 pointers"). Right
 * after one, this callout rewrites them in the stored image: the
 * instruction pointer becomes the guest EIP of the x87 instruction that
 * the host address falls in (through the block's instruction map) and the
 * selector the guest's CS; the data pointer and its selector become 0
 * (what a CPU that updates them only on x87 exceptions stores after none). */
static uint32_t x87_guest_ip(struct bt *bt, uint32_t ip32, bool *ok)
{
    uintptr_t base = (uintptr_t)bt->cache;
    *ok = false;
    for (int64_t d = -1; d <= 1; d++) {
        uintptr_t h = (uintptr_t)(((uint64_t)base & ~0xFFFFFFFFull) + ((uint64_t)d << 32)) | ip32;
        if (h < base || h >= base + bt->cache_size)
            continue;
        struct bt_block *b = bt_block_containing(bt, (const uint8_t *)h);
        if (!b || !b->map_host)
            continue;
        /* In the main line, or in the instruction's out-of-line code (a
         * slow-path access runs the instruction there, on the bounce). */
        uint32_t eip = b->map_eip[bt_block_insn_at(b, (const uint8_t *)h)];
        *ok = true;
        return bt_run_eip(bt->vc, b, eip);
    }
    return 0;
}

int bt_x87_ptrs(struct cpu *c, const struct dec_insn *d)
{
    struct bt *bt = engine(c);
    uint32_t lin = cpu_ea(c, d, &d->ops[0]);
    unsigned ip_off, cs_off, dp_off, ds_off, ip_len;
    if (d->zi.mnemonic == ZYDIS_MNEMONIC_FXSAVE) {
        ip_off = 8, cs_off = 12, dp_off = 16, ds_off = 20, ip_len = 4;
    } else if (d->zi.operand_width == 16) {
        ip_off = 6, cs_off = 8, dp_off = 10, ds_off = 12, ip_len = 2; /* 14-byte format */
    } else {
        ip_off = 12, cs_off = 16, dp_off = 20, ds_off = 24, ip_len = 4;
    }
    unsigned acc = bt_key_cpl(bt_mode_key(c)) == 3 ? SMMU_ACC_U : 0;
    uint32_t ip = 0;
    if (smmu_read(&bt->mmu, lin + ip_off, &ip, ip_len, acc))
        return CPU_CO_CONTINUE; /* it was just written: cannot fail */
    bool ok;
    uint32_t gip = ip_len == 4 ? x87_guest_ip(bt, ip, &ok) : 0;
    uint16_t cs = (uint16_t)c->segs[CPU_CS].sel;
    uint32_t zero = 0;
    smmu_write(&bt->mmu, lin + ip_off, &gip, ip_len, acc | SMMU_ACC_W);
    smmu_write(&bt->mmu, lin + cs_off, &cs, 2, acc | SMMU_ACC_W);
    smmu_write(&bt->mmu, lin + dp_off, &zero, ip_len, acc | SMMU_ACC_W);
    smmu_write(&bt->mmu, lin + ds_off, &zero, 2, acc | SMMU_ACC_W);
    return CPU_CO_CONTINUE;
}
