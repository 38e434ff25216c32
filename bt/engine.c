/*
 * bt/engine.c — the binary-translation engine: its vm_engine_ops and the
 * dispatcher loop.
 *
 * The dispatcher finds (or translates) the block for cpu->eip, chains the
 * exit that brought it here to that block, fills the inline indirect-branch
 * table, and enters the code cache. It regains control only on exits that
 * need C: untranslated targets, callouts that change the translation key or
 * raise exceptions, HLT, asynchronous requests, and host faults (SIGFPE from
 * a guest DIV) mapped back to the guest instruction.
 */
#include "bt/bt.h"
#include "bt/translate.h"
#include "bt/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <ucontext.h>
#include "vm/vm.h"

void bt_signal_leave(void);

/* The engine of the vcpu running on this thread, for the signal handler. */
static _Thread_local struct bt *thread_bt;

static void mem_write_hook(void *opaque, uint64_t phys, unsigned len)
{
    bt_invalidate_phys(opaque, phys, len);
}


/* Which guest exception a host SIGFPE at host instruction pc is: integer
 * divide errors are #DE; x87 and SSE floating-point exceptions (only when
 * the guest unmasked them) are #MF and #XM (#UD without CR4.OSXMMEXCPT). */
static int fpe_vector(const struct bt *bt, const siginfo_t *si, const uint8_t *pc)
{
    if (si->si_code == FPE_INTDIV || si->si_code == FPE_INTOVF)
        return CPU_VEC_DE;
    ZydisDecodedInstruction zi;
    if (ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&bt->host_decoder, NULL, pc, 15, &zi))) {
        if (zi.mnemonic == ZYDIS_MNEMONIC_DIV || zi.mnemonic == ZYDIS_MNEMONIC_IDIV)
            return CPU_VEC_DE;
        if (zi.meta.isa_set != ZYDIS_ISA_SET_X87 && zi.meta.category != ZYDIS_CATEGORY_X87_ALU &&
            zi.mnemonic != ZYDIS_MNEMONIC_FWAIT)
            return (bt->cpu->cr4 & 0x400) ? CPU_VEC_XM : CPU_VEC_UD;
    }
    return CPU_VEC_MF;
}

/* A host #DE (or x87/SSE exception) inside translated code is the guest's:
 * map the host PC back to the guest instruction (every guest register is in
 * its host register, unchanged by the faulting instruction) and leave to the
 * dispatcher. A host #GP there (SIGSEGV from the kernel, SI_KERNEL) is the
 * guest's #GP(0): an SSE operand that must be 16-byte aligned and is not —
 * guest and host addresses share their low 12 bits. A page fault inside
 * the kernel view is a read the view did not show yet: mapped, the host
 * instruction runs again; refused, the site is translated checked
 * (docs/shadowmmu.md §16). */
static void on_sigfpe(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    struct bt *bt = thread_bt;
    uint8_t *pc = (uint8_t *)uc->uc_mcontext.gregs[REG_RIP];
    struct bt_block *blk = bt ? bt_block_for_host(bt, pc) : NULL;
    uint8_t *fa = (uint8_t *)si->si_addr;
    bool kvf = sig == SIGSEGV && blk && bt->kview && si->si_code != SI_KERNEL && fa >= bt->kview &&
               fa < bt->kview + SMMU_KV_RESERVE;
    int kv = SMMU_KV_REFUSED;
    if (kvf) {
        /* A read through the kernel view found its page unmapped: map it
         * and run the read again, unless the site keeps doing this. */
        uint64_t lin = (uint64_t)(fa - bt->kview);
        uint32_t eip = bt_run_eip(bt->vc, blk, blk->map_eip[bt_block_insn_at(blk, pc)]);
        if (lin < (1ull << 32))
            kv = smmu_kview_fault(&bt->mmu, (uint32_t)lin);
        if (kv == SMMU_KV_MAPPED && !bt_kv_fault_churns(bt, eip, blk->key))
            return;
    }
    if (!blk || (sig == SIGSEGV && si->si_code != SI_KERNEL && !kvf)) {
        vm_console_close();
        signal(sig, SIG_DFL);
        (void)si;
        raise(sig);
        return;
    }
    int k = bt_block_insn_at(blk, pc);
    struct cpu *c = bt->cpu;
    greg_t *g = uc->uc_mcontext.gregs;
    c->regs[CPU_EAX] = (uint32_t)g[REG_RAX];
    c->regs[CPU_ECX] = (uint32_t)g[REG_RCX];
    c->regs[CPU_EDX] = (uint32_t)g[REG_RDX];
    c->regs[CPU_EBX] = (uint32_t)g[REG_RBX];
    c->regs[CPU_ESP] = (uint32_t)g[REG_R12];
    c->regs[CPU_EBP] = (uint32_t)g[REG_RBP];
    c->regs[CPU_ESI] = (uint32_t)g[REG_RSI];
    c->regs[CPU_EDI] = (uint32_t)g[REG_RDI];
    c->eflags = (c->eflags & ~(uint32_t)CPU_FL_HOSTLIVE) | ((uint32_t)g[REG_EFL] & CPU_FL_HOSTLIVE);
    /* bt_signal_leave goes straight back to C, which needs DF clear: the
     * guest's DF is in c->eflags now. */
    g[REG_EFL] &= ~(greg_t)CPU_FL_DF;
    if (uc->uc_mcontext.fpregs)
        memcpy(c->fxstate, uc->uc_mcontext.fpregs, sizeof(c->fxstate));
    c->eip = bt_run_eip(bt->vc, blk, blk->map_eip[k]);
    if (kvf) {
        /* Run the read's instruction again from the dispatcher: checked
         * from now on if the view refused it, else (RETRY) through a
         * block entered afresh, which checks its write entries again. */
        if (kv != SMMU_KV_RETRY) {
            bt_kv_mark(bt, c->eip, blk->key);
            bt_block_kill(bt, blk);
            bt->st.kv_checked++;
        } else {
            bt->st.kv_retries++;
        }
    } else if (sig == SIGSEGV) {
        bt->vc->mem_bounce = 0; /* the faulting access may have been bounced */
        cpu_raise(c, CPU_VEC_GP, true, 0);
    }
    else
        cpu_raise(c, fpe_vector(bt, si, pc), false, 0);
    bt->vc->exit_reason = BT_EXIT_CALLOUT;
    g[REG_R15] = (greg_t)(uintptr_t)c;
    g[REG_RIP] = (greg_t)(uintptr_t)bt_signal_leave;
}

/* Emitted code and enter.S reach these fields by number (bt/offsets.h). */
#define BT_VC_OFF(f) ((long)offsetof(struct bt_vcpu, f) - (long)offsetof(struct bt_vcpu, cpu))
_Static_assert(offsetof(struct cpu, regs) == CPU_OFF_REGS, "regs");
_Static_assert(BT_EXIT_RA == BT_EXIT_RA_CODE, "BT_EXIT_RA_CODE (bt/offsets.h) is not BT_EXIT_RA");
_Static_assert(sizeof(struct bt_sreg_memo) == 64, "emit_sreg.c indexes the memo by shifting 6");
_Static_assert(offsetof(struct cpu, eip) == CPU_OFF_EIP, "eip");
_Static_assert(offsetof(struct cpu, eflags) == CPU_OFF_EFLAGS, "eflags");
_Static_assert(offsetof(struct cpu, seg_base) == CPU_OFF_SEG_BASE, "seg_base");
_Static_assert(offsetof(struct cpu, async_pending) == CPU_OFF_ASYNC, "async");
_Static_assert(offsetof(struct cpu, fxstate) == CPU_OFF_FXSTATE, "fxstate");
_Static_assert(BT_VC_OFF(exit_reason) == BT_OFF_EXIT, "exit");
_Static_assert(BT_VC_OFF(vbase) == BT_OFF_VBASE, "vbase");
_Static_assert(BT_VC_OFF(keep) == BT_OFF_KEEP, "keep");
_Static_assert(BT_VC_OFF(ones) == BT_OFF_ONES, "ones");
_Static_assert(BT_VC_OFF(loop_dirty) == BT_OFF_LOOP_DIRTY, "loop_dirty");
_Static_assert(BT_VC_OFF(arg0) == BT_OFF_ARG0, "arg0");
_Static_assert(BT_VC_OFF(arg1) == BT_OFF_ARG1, "arg1");
_Static_assert(BT_VC_OFF(mem_bounce) == BT_OFF_MEM_BOUNCE, "bounce flag");
_Static_assert(BT_VC_OFF(mem_addend) == BT_OFF_MEM_ADDEND, "addend");
_Static_assert(BT_VC_OFF(host_rsp) == BT_OFF_HOST_RSP, "host_rsp");
_Static_assert(BT_VC_OFF(exit_site) == BT_OFF_EXIT_SITE, "exit_site");
_Static_assert(BT_VC_OFF(co_insn) == BT_OFF_CO_INSN, "co_insn");
_Static_assert(BT_VC_OFF(poll_target) == BT_OFF_POLL_TARGET, "poll_target");
_Static_assert(BT_VC_OFF(ukey_hi) == BT_OFF_UKEY_HI, "ukey_hi");
_Static_assert(offsetof(struct bt_vcpu, cpu) <= BT_VCPU_SPAN, "struct bt_vcpu too large");
_Static_assert(sizeof(struct cpu) <= BT_GROUP_ADDEND_OFF, "struct cpu overlaps the group addends");

static void bt_destroy(struct vm *vm);

static int bt_init(struct vm *vm)
{
    int r;
    struct bt *bt = calloc(1, sizeof(*bt));
    if (!bt) {
        vm_set_error(vm, "no memory for the engine's state");
        return -ENOMEM;
    }
    /* struct bt_vcpu, struct cpu, then the shadow TLB and the
     * indirect-branch table: one mapping, reached from R15 (= struct cpu)
     * with 32-bit displacements. */
    bt->map = mmap(NULL, BT_VCPU_SPAN + BT_REGION_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (bt->map == MAP_FAILED) {
        r = -errno;
        vm_set_error(vm, "cannot map the shadow tables: %s", strerror(-r));
        free(bt);
        return r;
    }
    bt->region = bt->map + BT_VCPU_SPAN;
    bt->vc = (struct bt_vcpu *)(bt->region - offsetof(struct bt_vcpu, cpu));
    bt->vc->bt = bt;
    bt->vc->poll_target[0] = (uint64_t)(uintptr_t)&bt->vc->poll_sink;
    bt->vc->ones = 0xFFFFFFFFu;
    bt->vc->poll_target[1] = (uint64_t)(uintptr_t)&bt->vc->cpu.async_pending;
    vm->cpu = &bt->vc->cpu;
    vm->engine_priv = bt; /* from here on, failures clean up with bt_destroy */
    bt->tables = (uint64_t *)(bt->region + BT_TABLES_OFF);
    bt->vm = vm;
    bt->cpu = vm->cpu;
    bt->trace = vm->opt.trace;
    /* BTVM_PERFMAP=1: name each block for `perf report` (perf's JIT map). */
    if (getenv("BTVM_PERFMAP")) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
        bt->perfmap = fopen(path, "w");
    }
    bt->count = vm->opt.stats || vm->opt.stats_json;
    if (bt->count) {
        bt->callout_counts = calloc(ZYDIS_MNEMONIC_MAX_VALUE + 1, sizeof(uint64_t));
        if (!bt->callout_counts) {
            r = -ENOMEM;
            vm_set_error(vm, "no memory for the callout counters");
            goto fail;
        }
    }
    bt->ibtc = (struct bt_ibtc_entry *)(bt->region + BT_IBTC_OFF);
    bt_ibtc_reset(bt);
    struct smmu_cpu_view view;
    cpu_smmu_view(vm->cpu, &view);
    r = smmu_init(&bt->mmu, vm->ram, vm->ram_size, vm->bus, &view, bt->tables, bt->region + BT_SUMMARY_OFF);
    if (r) {
        vm_set_error(vm, "shadow MMU: %s", strerror(-r));
        goto fail;
    }
    vm->cpu->mmu = &bt->mmu;
    bt->mmu.code_write_hook = mem_write_hook;
    bt->mmu.code_write_opaque = bt;
    /* BTVM_USER_WINDOW=off: no user windows (to compare, docs/shadowmmu.md §15). */
    const char *uw = getenv("BTVM_USER_WINDOW");
    if (!uw || strcmp(uw, "off") != 0)
        smmu_window_enable(&bt->mmu, vm->ram_fd, &bt->vc->ukey_hi, (uint64_t)BT_KEY_UWIN << 32);
    size_t cache = vm->opt.code_cache_size ? vm->opt.code_cache_size : 64u << 20;
    r = bt_cache_init(bt, cache);
    if (r) {
        vm_set_error(vm, "cannot allocate a %zu KiB code cache: %s", cache >> 10, strerror(-r));
        goto fail;
    }
    ZydisDecoderInit(&bt->host_decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    /* BTVM_KERNEL_VIEW=off: kernel reads all checked (to compare,
     * docs/shadowmmu.md §16). */
    const char *kvo = getenv("BTVM_KERNEL_VIEW");
    if ((!kvo || strcmp(kvo, "off") != 0) && vm->ram_fd >= 0) {
        bt->kv_sites = calloc(BT_KV_SITES, sizeof(*bt->kv_sites));
        if (bt->kv_sites)
            bt->kview = smmu_kview_enable(&bt->mmu, vm->ram_fd, (uintptr_t)BT_KV_BASE);
        /* No view (the host holds that address range: a sanitizer's
         * shadow, say): every kernel read is checked, as before. */
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    return 0;
fail:
    bt_destroy(vm);
    return r;
}

static void unsupported_exit(struct bt *bt, struct vm_exit *ex, const char *why)
{
    struct cpu *c = bt->cpu;
    ex->kind = VM_EXIT_UNSUPPORTED;
    ex->eip = c->eip;
    if (why) {
        snprintf(ex->msg, sizeof(ex->msg), "%s", why);
        return;
    }
    uint8_t b[15];
    char hex[64] = "", dis[96] = "?";
    if (smmu_read(&bt->mmu, c->seg_base[CPU_CS] + c->eip, b, sizeof(b), 0) == 0) {
        struct dec_insn d;
        int len = dec_decode((bt_mode_key(c) & BT_KEY_CODE32) ? DEC_MODE_32 : DEC_MODE_16, c->eip, b, sizeof(b), &d) == 0 ? d.len : 4;
        for (int i = 0; i < len; i++)
            snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", b[i]);
        dec_disasm((bt_mode_key(c) & BT_KEY_CODE32) ? 32 : 16, c->eip, b, sizeof(b), dis, sizeof(dis));
    }
    snprintf(ex->msg, sizeof(ex->msg), "unsupported instruction at EIP %08x: %s(%s)", c->eip, hex, dis);
}

/* After delivering an event (enum cpu_delivery): fills *ex and returns
 * true when the delivery failed. */
static bool delivery_failed(struct bt *bt, struct vm_exit *ex, int r)
{
    if (r == CPU_DELIVERY_SHUTDOWN) {
        ex->kind = VM_EXIT_SHUTDOWN;
        ex->eip = bt->cpu->eip;
        snprintf(ex->msg, sizeof(ex->msg), "triple fault");
        return true;
    }
    if (r == CPU_DELIVERY_UNSUPPORTED) {
        unsupported_exit(bt, ex, bt->cpu->unsupported);
        return true;
    }
    return false;
}

/* A tombstone (the jmp rel32 at a dead block's entry + 1, `site`) now
 * forwards to blk. Translations of one EIP that die one after another
 * (code rewritten in place) would chain: the first translation's
 * tombstone, which long-lived inline caches and chains still name, led
 * through every later one, a hop per generation. So each block remembers
 * the oldest tombstone forwarding into its chain, and that one is pointed
 * at the newest block too: at most two hops from it. */
static void forward_root(struct bt *bt, uint8_t *site, struct bt_block *blk, uint8_t *to)
{
    struct bt_block *x = bt_block_containing(bt, site - 1);
    if (!x || x->host + 1 != site)
        return;
    struct bt_block *root = x->fwd_root ? x->fwd_root : x;
    blk->fwd_root = root;
    if (root == x || root->key != blk->key)
        return;
    int32_t rel = (int32_t)((int64_t)(uintptr_t)to - (int64_t)(uintptr_t)(root->host + 5));
    memcpy(bt_cw(bt, root->host + 1), &rel, 4);
}

/* The way in from a plain block's direct jump (which does not keep vbase)
 * into the shared block blk at eip: "mov dword [r15 + vbase], page ; jmp
 * entry", in the cache. A plain block runs at one linear address, so its
 * target's page is a constant. NULL when the cache is full (no chain). */
static uint8_t *vbase_stub(struct bt *bt, struct bt_block *blk, uint32_t eip, bool fwd)
{
    struct bt_emit *e = &bt->em;
    bt_emit_reset(e);
    bt_ins(e, BT_MAIN, ZYDIS_MNEMONIC_MOV, 2, bt_m(BT_R_CPU, ZYDIS_REGISTER_NONE, 0, BT_OFF_VBASE, 4),
           bt_i((int32_t)bt_vbase(blk->key, eip)));
    bt_jmp_abs(e, BT_MAIN, (uint64_t)(uintptr_t)(blk->host + (fwd ? blk->fwd_off : 0)));
    uint8_t *at = bt_cache_place(bt, e);
    if (!at)
        return NULL;
    bt->st.vbase_stubs++;
    return at;
}

/*
 * A group check failed in a SAFE translation, whose stack groups are split
 * where ESP's pages were when it was made (groups.c split_by_page): ESP is
 * elsewhere now. At an EIP inside that translation, a SAFE translation of
 * its own (split for this ESP) goes on; at its first, it is made again for
 * this ESP's page offset. Either at most RESPLITS times per EIP: every
 * process has its own stack offsets (ASLR), so a translation per offset
 * would be one per process. Otherwise (the budget spent, the same offset,
 * or an empty entry near ESP, which may be what failed the check) the
 * translation with no groups (BT_KEY_SAFE2), which fills it.
 */
#define RESPLITS 3

/* Whether the stack around ESP (512 bytes below, 256 above: a frame's
 * pushes and its arguments) has write entries. If not, an empty entry may
 * be what failed the check, which a new split would not help (a new
 * process's stack meets them all): SAFE2 fills them instead. */
static bool stack_filled(const struct bt *bt, uint32_t key, uint32_t esp)
{
    const uint8_t *w = bt->region + bt_tlb_off(key, true);
    uint32_t pages[2] = { (esp - 512) >> 12, (esp + 255) >> 12 };
    for (int i = 0; i < 2; i++) {
        uint64_t e;
        memcpy(&e, w + (size_t)pages[i] * 8, 8);
        if (!e)
            return false;
    }
    return true;
}

static uint32_t safe2_or_resplit(struct bt *bt, struct cpu *c, uint64_t site)
{
    uint8_t *at = (uint8_t *)(uintptr_t)(site & ~(BT_SITE_FWD | BT_SITE_VB));
    struct bt_block *b = site ? bt_block_containing(bt, at - 1) : NULL;
    if (!b || !(b->key & BT_KEY_SAFE) || (b->key & BT_KEY_SAFE2))
        return BT_KEY_SAFE | BT_KEY_SAFE2;
    uint32_t eip = c->eip;
    uint32_t start = bt_run_eip(bt->vc, b, b->eip); /* where b starts now */
    uint32_t esp = c->regs[CPU_ESP];
    if (!stack_filled(bt, b->key, esp) || (start == eip && b->split_off == 1 + (esp & 0xFFF)))
        return BT_KEY_SAFE | BT_KEY_SAFE2; /* an empty entry failed it: SAFE2 fills it */
    __typeof__(bt->resplit[0]) *r = &bt->resplit[(eip * 0x9E3779B1u) >> 24];
    if (r->eip != eip) {
        r->eip = eip;
        r->n = 0;
    }
    if (r->n >= RESPLITS)
        return BT_KEY_SAFE | BT_KEY_SAFE2;
    r->n++;
    if (start == eip) {
        bt_block_kill(bt, b);
        bt->st.resplits++;
    }
    return BT_KEY_SAFE;
}

/*
 * An out-of-line exit left through bt_exit_ra_tramp with its CALL's return
 * address in exit_site: the record of the exit that ends there, from the
 * block holding it (live or tombstoned: its code stays until a flush),
 * memoized by address. Sets what bt_exit_site_tramp would have set from
 * the record (EIP, the chain site, a tombstone's key in ARG0); returns the
 * record's reason.
 */
static uint32_t exit_by_ra(struct bt *bt, struct cpu *c, const struct bt_block *entered)
{
    struct bt_vcpu *vc = bt->vc;
    const uint8_t *ra = (const uint8_t *)(uintptr_t)vc->exit_site;
    __typeof__(bt->exit_memo[0]) *m = &bt->exit_memo[((uintptr_t)ra >> 2) & 1023];
    if (m->ra != ra) {
        /* Most first exits leave the block the dispatcher entered (a new
         * block's exits are not chained yet): no search then. */
        const struct bt_block *b = ra > entered->code && ra <= entered->code + entered->host_len ?
                                   entered : bt_block_containing(bt, ra - 1);
        const struct bt_co_site *rec = NULL;
        for (uint32_t i = 0; b && i < b->nexits; i++)
            if (b->code + b->exits[i].ret_off == ra)
                rec = b->exits[i].rec;
        if (!rec) {
            snprintf(c->unsupported, sizeof(c->unsupported),
                     "translated code left from %p, not a known exit", (const void *)ra);
            return BT_EXIT_STOP;
        }
        m->ra = ra;
        m->rec = rec;
        m->shared = bt_key_shared(b->key);
    }
    c->eip = m->rec->eip + (m->shared ? vc->vbase : 0);
    vc->exit_site = m->rec->fn;
    if (m->rec->pad == BT_EXIT_STALE)
        vc->arg0 = (uint32_t)(uintptr_t)m->rec->insn; /* the key (bt_tomb_tramp) */
    return m->rec->pad;
}

static void bt_run(struct vm *vm, struct vm_exit *ex)
{
    struct bt *bt = vm->engine_priv;
    struct cpu *c = bt->cpu;
    uint64_t site = 0;
    uint32_t site_key = ~0u; /* key of a tombstone being forwarded */
    bool site_icache = false; /* site is an indirect jump's inline cache (emit_ctrl.c) */
    uint32_t want_safe = 0; /* key bits of the translation a failed group check asks for */
    bool check_timers = true;
    uint64_t flushes = bt->st.flushes;
    memset(ex, 0, sizeof(*ex));
    thread_bt = bt;
    /* A debugger's requests (docs/gdb.md): they change only between runs. */
    const struct vm_debug *dbg = &vm->debug;
    bool step = dbg->step, one = step || dbg->insn_hook;
    enum vm_debug_why stop_why = VM_DEBUG_WHY_NONE; /* after the step's event delivery */
    bool at_start = true; /* no instruction ran yet: a breakpoint here is stepped over */
    uint32_t start_lin = c->seg_base[CPU_CS] + c->eip;

    for (;;) {
        if (__atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE)) {
            ex->kind = VM_EXIT_STOP;
            ex->eip = c->eip;
            return;
        }
        if (__atomic_load_n(&vm->debug_requested, __ATOMIC_ACQUIRE) && stop_why == VM_DEBUG_WHY_NONE &&
            c->pending_vector < 0 && !bt->deferred_delivery)
            stop_why = VM_DEBUG_WHY_REQUEST;

        if (bt->deferred_delivery) {
            int dr = bt->deferred_delivery;
            bt->deferred_delivery = 0;
            if (delivery_failed(bt, ex, dr))
                return;
        }
        if (c->pending_vector >= 0) {
            if (delivery_failed(bt, ex, cpu_deliver_pending(c)))
                return;
            site = 0;
        }
        if (stop_why != VM_DEBUG_WHY_NONE) {
            /* The step's instruction ran (a fault it raised is delivered:
             * EIP is at the handler), or the debugger asked. */
            if (stop_why == VM_DEBUG_WHY_REQUEST)
                __atomic_store_n(&vm->debug_requested, 0, __ATOMIC_RELEASE);
            vm->debug.why = stop_why;
            ex->kind = VM_EXIT_DEBUG;
            ex->eip = c->eip;
            return;
        }
        vm_service_input(vm);
        if (check_timers && !step) { /* a step holds device timers off */
            vm_run_timers(vm);
            check_timers = false;
        }
        if (c->shadow && c->eip != c->shadow_eip)
            c->shadow = false;
        int vec;
        if (!step && (c->eflags & CPU_FL_IF) && !c->shadow && (vec = vm_intr_take(vm)) >= 0) {
            bt->st.interrupts++;
            if (c->cpl == 3) {
                /* A sample of user time; warm if little was translated
                 * since the last one (a program's first run is mostly
                 * translation, which a window would only repeat). */
                bool warm = bt->st.blocks - bt->win_blocks <= BT_WIN_COLD_BLOCKS;
                bt->win_blocks = bt->st.blocks;
                smmu_window_tick(&bt->mmu, warm);
            }
            if (delivery_failed(bt, ex, cpu_interrupt(c, vec)))
                return;
            site = 0;
            want_safe = 0;
        }
        if (c->halted && step) {
            /* Nothing can wake it while a step holds interrupts off. */
            stop_why = VM_DEBUG_WHY_STEP;
            continue;
        }
        if (c->halted) {
            if (!(c->eflags & CPU_FL_IF) || !vm_intr_possible(vm)) {
                /* Nothing can wake it: no NMI source exists. */
                ex->kind = VM_EXIT_HLT;
                ex->eip = c->eip;
                return;
            }
            /* Idle: sleep until a device deadline or input. */
            bt->st.halts++;
            vm_wait(vm, vm_run_timers(vm));
            __atomic_store_n(&c->async_pending, 0, __ATOMIC_RELEASE);
            check_timers = true;
            continue;
        }
        if (bt->st.flushes != flushes) {
            flushes = bt->st.flushes;
            site = 0;
        }
        /* A breakpoint: stop before its instruction, unless the run began
         * there (the debugger resumes from it). Blocks end before
         * breakpoints (translate.c) and nothing chains into one (the
         * chaining below comes after this check; try_jump refuses). */
        if (dbg->nbp && vm_debug_is_bp(dbg, c->seg_base[CPU_CS] + c->eip) &&
            !(at_start && c->seg_base[CPU_CS] + c->eip == start_lin)) {
            stop_why = VM_DEBUG_WHY_BREAK;
            continue;
        }
        uint32_t key = bt_mode_key(c) | want_safe | (one ? BT_KEY_STEP : 0);
        want_safe = 0;
        if (one)
            site = 0; /* a step block is entered from here only */
        /* The code page as mapped now (fills the execute entry the block
         * entry checks); a fetch fault goes to the guest. */
        int64_t ppage = smmu_exec_page(&bt->mmu, c->seg_base[CPU_CS] + c->eip);
        if (ppage == -1) {
            c->cr2 = bt->mmu.pf_addr;
            cpu_raise(c, CPU_VEC_PF, true, bt->mmu.pf_err);
            continue;
        }
        /* A shared block runs at many linear addresses, so what its direct
         * jumps chain to must too: they make their target's page shared
         * (the same library, as a rule). Not its inline caches: a RET goes
         * back to any module (from the vDSO into a static program). */
        if (site && (site & BT_SITE_VB) && !site_icache && bt_key_shareable(key))
            bt_share_page(bt, (uint64_t)ppage);
        struct bt_block *blk = bt_lookup(bt, c->eip, key, c->seg_base[CPU_CS], (uint64_t)ppage);
        if (!blk) {
            blk = bt_translate(bt, c->eip, key);
            if (!blk) {
                if (c->pending_vector >= 0)
                    continue; /* a fetch fault */
                if (bt->oom) {
                    /* Even an empty cache left no room: a host failure,
                     * not the guest's; stop in order. */
                    bt->oom = false;
                    ex->kind = VM_EXIT_ERROR;
                    ex->eip = c->eip;
                    snprintf(ex->msg, sizeof(ex->msg), "%s", c->unsupported);
                    return;
                }
                unsupported_exit(bt, ex, c->unsupported);
                return;
            }
            if (bt->st.flushes != flushes) {
                flushes = bt->st.flushes;
                site = 0;
            }
        }
        if (site && site_key != ~0u && blk->key != site_key)
            site = 0; /* a tombstone only forwards to the same kind of block */
        /* A direct jump from a block that does not keep vbase into one that
         * reads it goes through a stub that sets it (an inline cache goes
         * through the indirect entry, which sets it from R8). */
        uint8_t *via = NULL;
        if (site && !site_icache && !(site & BT_SITE_VB) && bt_key_shared(blk->key) &&
            !(via = vbase_stub(bt, blk, c->eip, (site & BT_SITE_FWD) != 0)))
            site = 0;
        bool tomb_fwd = site_key != ~0u;
        site_key = ~0u;
        if (site) {
            /* A forward jump enters past the async check (translate.c); an
             * inline cache through the indirect entry (R8 = EIP sets vbase). */
            uint8_t *to = via ? via : site_icache ? blk->ientry : blk->host + ((site & BT_SITE_FWD) ? blk->fwd_off : 0);
            bool site_vb = site & BT_SITE_VB;
            site &= ~(BT_SITE_FWD | BT_SITE_VB);
            int32_t rel = (int32_t)((int64_t)(uintptr_t)to - (int64_t)(site + 4));
            int32_t to_table = BT_ICACHE_MISS_BACK; /* rel32 → the byte after the jump */
            if (site_icache) {
                /* The EIP the cache now holds, then its jump. A shared
                 * block's compares the target's distance from its vbase
                 * (1 - (EIP - vbase); vbase is still the jumping block's
                 * here), a return within a library in any process; but a
                 * plain target is valid at one address only, so for one it
                 * compares the EIP itself: its load reads ones (NOT gives
                 * 0) instead of vbase (emit_ctrl.c). */
                bool rel_cmp = site_vb && bt_key_shared(blk->key);
                int32_t neg = rel_cmp ? (int32_t)(1u - (c->eip - bt->vc->vbase)) : (int32_t)(0u - c->eip);
                if (site_vb && !rel_cmp) {
                    int8_t ones = BT_OFF_ONES;
                    memcpy(bt_cw(bt, (void *)(uintptr_t)(site - BT_ICACHE_EIP_BACK - BT_ICACHE_BASE_BACK)), &ones, 1);
                }
                memcpy(bt_cw(bt, (void *)(uintptr_t)(site - BT_ICACHE_EIP_BACK)), &neg, 4);
                memcpy(bt_cw(bt, (void *)(uintptr_t)(site - BT_ICACHE_MISS_BACK)), &to_table, 4);
                bt->st.icache_fills++;
            }
            memcpy(bt_cw(bt, (void *)(uintptr_t)site), &rel, 4);
            if (tomb_fwd)
                forward_root(bt, (uint8_t *)(uintptr_t)site, blk, to);
            bt->st.chains++;
            site = 0;
        }
        site_icache = false;
        bt->st.dispatches++;
        bt->vc->exit_site = 0;
        bt->vc->vbase = bt_vbase(blk->key, c->eip);
        if (dbg->insn_hook)
            dbg->insn_hook(vm, false);
        uint32_t reason = bt_enter(c, blk->host, (void *)(uintptr_t)bt_fast_addend(bt, blk->phys_page));
        if (reason == BT_EXIT_RA)
            reason = exit_by_ra(bt, c, blk);
        if (reason < BT_EXIT_KINDS)
            bt->st.exits[reason]++;
        /* Left before its first instruction: the entry's async or page
         * check, a tombstone, a failed group check. */
        bool ran = reason != BT_EXIT_ASYNC && reason != BT_EXIT_STALE && reason != BT_EXIT_SAFE &&
                   reason != BT_EXIT_SAFE2;
        if (ran)
            at_start = false;
        if (one && ran) {
            if (dbg->insn_hook && dbg->insn_hook(vm, true))
                stop_why = VM_DEBUG_WHY_HOOK;
            else if (step)
                stop_why = VM_DEBUG_WHY_STEP;
        }
        switch (reason) {
        case BT_EXIT_BRANCH:
            site = bt->vc->exit_site;
            break;
        case BT_EXIT_SAFE:
            site = bt->vc->exit_site;
            want_safe = BT_KEY_SAFE;
            break;
        case BT_EXIT_SAFE2:
            site = bt->vc->exit_site;
            want_safe = safe2_or_resplit(bt, c, site);
            break;
        case BT_EXIT_INDIRECT: {
            /* The first run of an indirect jump: fill its inline cache. */
            site = bt->vc->exit_site;
            site_icache = site != 0;
            uint32_t k2 = bt_mode_key(c);
            int64_t tp = smmu_exec_page(&bt->mmu, c->seg_base[CPU_CS] + c->eip);
            struct bt_block *tb = tp < 0 ? NULL : bt_lookup(bt, c->eip, k2, c->seg_base[CPU_CS], (uint64_t)tp);
            if (tb && !(k2 & BT_KEY_NONFLAT) && !vm_debug_is_bp(dbg, c->eip)) { /* the inline table serves flat code (CS base 0) only */
                struct bt_ibtc_entry *en = &bt->ibtc[c->eip & (BT_IBTC_ENTRIES - 1)];
                en->neg_tag = 0 - (((uint64_t)k2 << 32) | c->eip); en->host = (uint64_t)(uintptr_t)tb->ientry;
            }
            break;
        }
        case BT_EXIT_ASYNC:
            /* Nothing pending: the block entry found its code page mapped
             * elsewhere now (another process, a remapped page). */
            if (!__atomic_exchange_n(&c->async_pending, 0, __ATOMIC_ACQ_REL))
                bt->st.code_remaps++;
            check_timers = true;
            break;
        case BT_EXIT_STALE:
            site = bt->vc->exit_site;
            site_key = bt->vc->arg0;
            /* A dead SAFE translation (split again, or its code rewritten)
             * is replaced by one of its own kind: what leads to it is a
             * failed group check, which the plain one would fail again. */
            want_safe = site_key & (BT_KEY_SAFE | BT_KEY_SAFE2);
            break;
        case BT_EXIT_CALLOUT:
            break;
        case BT_EXIT_STOP:
        case BT_EXIT_UNSUPPORTED:
            unsupported_exit(bt, ex, reason == BT_EXIT_STOP ? c->unsupported : NULL);
            return;
        default:
            ex->kind = VM_EXIT_ERROR;
            ex->eip = c->eip;
            snprintf(ex->msg, sizeof(ex->msg), "code cache returned unknown reason %u", reason);
            return;
        }
        if (one) {
            site = 0; /* never chain out of a step block either */
            site_icache = false;
        }
    }
}

/* Breakpoints came or went: blocks were cut before the old ones and chains
 * lead past the new ones, so translate everything again (a breakpoint
 * change is rare; measure nothing, be correct). */
static int bt_debug_changed(struct vm *vm)
{
    struct bt *bt = vm->engine_priv;
    bt_cache_flush(bt);
    return 0;
}

static const char *exit_names[BT_EXIT_KINDS] = {
    "none", "callout", "stop", "branch", "indirect-miss", "async", "unsupported", "group-check",
    "stale-block", "group-check-2",
};

/* The most frequent callouts, by instruction (only counted with --stats). */
int bt_top_callouts(const struct bt *bt, int *idx, int max)
{
    int n = 0;
    if (!bt->callout_counts)
        return 0;
    for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++) {
        uint64_t v = bt->callout_counts[m];
        if (!v)
            continue;
        /* Full: v replaces the smallest kept one if it beats it (idx[max-1]
         * is only read once it was written: the twelfth kind seen fills it). */
        bool full = n == max;
        int at = full ? max - 1 : n++;
        if (full && bt->callout_counts[idx[at]] >= v)
            continue;
        idx[at] = m;
        while (at > 0 && bt->callout_counts[idx[at - 1]] < bt->callout_counts[idx[at]]) {
            int tmp = idx[at - 1]; idx[at - 1] = idx[at]; idx[at] = tmp;
            at--;
        }
    }
    return n;
}

static void bt_print_stats(struct vm *vm, void *stream, bool json)
{
    struct bt *bt = vm->engine_priv;
    FILE *f = stream;
    struct bt_stats st = bt->st;
    uint64_t hz = cpu_host_tsc_hz();
    st.translate_ns = hz ? (uint64_t)((unsigned __int128)bt->translate_tsc * 1000000000u / hz) : 0;
    const struct bt_stats *s = &st;
    const struct smmu_stats *m = &bt->mmu.stats;
    int top[12];
    int ntop = bt_top_callouts(bt, top, 12);
    typedef unsigned long long ull;
    /* Translation cost per block, code size per guest instruction. */
    double us_per_block = s->blocks ? s->translate_ns / 1e3 / (double)s->blocks : 0;
    double bytes_per_insn = s->insns ? (double)s->cache_bytes / (double)s->insns : 0;
    if (json) {
        fprintf(f, "{\"engine\":\"bt\"");
#define BT_STAT(field, key, text) fprintf(f, ",\"" key "\":%llu", (ull)s->field);
#define BT_STAT_NS(field, key, text) fprintf(f, ",\"" key "\":%.3f", s->field / 1e6);
#include "bt/stats.def"
        fprintf(f, ",\"translate_us_per_block\":%.3f,\"host_bytes_per_guest_insn\":%.2f",
                us_per_block, bytes_per_insn);
        fprintf(f, ",\"code_cache_used\":%zu,\"indirect_misses\":%llu,", bt->cache_used,
                (ull)(s->exits[BT_EXIT_INDIRECT] + s->ibtc_miss_callouts));
        fprintf(f, "\"exits\":{");
        for (int i = 1; i < BT_EXIT_KINDS; i++)
            fprintf(f, "%s\"%s\":%llu", i > 1 ? "," : "", exit_names[i], (ull)s->exits[i]);
        fprintf(f, "},\"callouts_by_insn\":{");
        for (int i = 0; i < ntop; i++)
            fprintf(f, "%s\"%s\":%llu", i ? "," : "", ZydisMnemonicGetString(top[i]),
                    (ull)bt->callout_counts[top[i]]);
        fprintf(f, "},\"tlb_fills_read\":%llu,\"tlb_fills_write\":%llu,\"tlb_fills_exec\":%llu,"
                   "\"slow_reads\":%llu,\"slow_writes\":%llu,\"mmio_accesses\":%llu,"
                   "\"unmapped_accesses\":%llu,",
                (ull)m->fills_read, (ull)m->fills_write, (ull)m->fills_exec, (ull)m->slow_reads,
                (ull)m->slow_writes, (ull)m->mmio, (ull)m->unmapped);
        fprintf(f, "\"hidden_faults\":%llu,\"true_faults\":%llu,\"trace_hits\":%llu,"
                   "\"trace_invalidations\":%llu,\"shadow_as_hits\":%llu,\"shadow_as_misses\":%llu,"
                   "\"shadow_reclaims\":%llu,\"shadow_flushes\":%llu,\"cr3_loads\":%llu,"
                   "\"invlpg\":%llu,\"shadow_entries\":%u,\"direct_fills\":%llu,"
                   "\"direct_drops\":%llu,\"shadow_foreign_flushes\":%llu,\"prefills\":%llu,"
                   "\"user_windows\":%llu,\"user_windows_dropped\":%llu,\"user_window_maps\":%llu,"
                   "\"user_window_pages_left_out\":%llu,\"user_windows_churned\":%llu",
                (ull)m->hidden_faults, (ull)m->true_faults, (ull)m->trace_hits,
                (ull)m->trace_invalidations, (ull)m->as_hits, (ull)m->as_misses,
                (ull)m->as_reclaims, (ull)m->flushes, (ull)m->cr3_loads, (ull)m->invlpg,
                bt->mmu.entries, (ull)m->direct_fills, (ull)m->direct_drops,
                (ull)m->as_foreign_flushes, (ull)m->prefills, (ull)m->win_made, (ull)m->win_dropped,
                (ull)m->win_maps, (ull)m->win_full, (ull)m->win_churn);
        fprintf(f, ",\"kernel_view\":%s,\"kernel_view_faults\":%llu,\"kernel_view_maps\":%llu,"
                   "\"kernel_view_unmaps\":%llu,\"kernel_view_resets\":%llu,\"kernel_view_pages\":%llu}",
                bt->kview ? "true" : "false", (ull)m->kv_faults, (ull)m->kv_maps, (ull)m->kv_unmaps,
                (ull)m->kv_resets, (ull)m->kv_pages);
        return;
    }
    fprintf(f, "bt engine:\n");
#define BT_STAT(field, key, text) fprintf(f, "  %-46s %llu\n", text, (ull)s->field);
#define BT_STAT_NS(field, key, text) fprintf(f, "  %-46s %.3f\n", text, s->field / 1e6);
#include "bt/stats.def"
    fprintf(f, "  %-46s %.3f\n", "translation: us per block", us_per_block);
    fprintf(f, "  %-46s %.2f\n", "translation: host bytes per guest instruction", bytes_per_insn);
    fprintf(f, "  %-46s %zu\n", "code cache bytes in use", bt->cache_used);
    fprintf(f, "  %-46s %llu\n", "indirect branches: inline table misses",
            (ull)(s->exits[BT_EXIT_INDIRECT] + s->ibtc_miss_callouts));
    fprintf(f, "  exits:");
    for (int i = 1; i < BT_EXIT_KINDS; i++)
        fprintf(f, " %s %llu", exit_names[i], (ull)s->exits[i]);
    fprintf(f, "\n  callouts by insn      ");
    for (int i = 0; i < ntop; i++)
        fprintf(f, " %s %llu", ZydisMnemonicGetString(top[i]), (ull)bt->callout_counts[top[i]]);
    fprintf(f, "\nshadow MMU:\n"
               "  fills read/write/exec  %llu / %llu / %llu\n"
               "  slow reads/writes      %llu / %llu (mmio %llu, unmapped %llu)\n"
               "  hidden faults          %llu (guest #PF found while filling: %llu)\n"
               "  traces                 %llu writes to page tables, %llu entries invalidated,"
               " %llu made present and shadowed at once\n"
               "  address spaces         %llu CR3 loads: %llu cache hits, %llu misses, %llu reclaims,"
               " %llu full flushes, %llu dropped for writes while not loaded; %u entries now\n"
               "  invlpg                 %llu; global flushes (CR4.PGE toggled) %llu\n"
               "  direct device page     %llu read entries made, %llu revocations\n"
               "  user windows           %llu made, %llu dropped (%llu for remapping too often);"
               " %llu pages mapped into them, %llu left out\n"
               "  kernel view            %s: %llu faults mapped pages, %llu host mappings made, %llu dropped,"
               " %llu times emptied; %llu pages shown now\n",
            (ull)m->fills_read, (ull)m->fills_write, (ull)m->fills_exec, (ull)m->slow_reads,
            (ull)m->slow_writes, (ull)m->mmio, (ull)m->unmapped, (ull)m->hidden_faults,
            (ull)m->true_faults, (ull)m->trace_hits, (ull)m->trace_invalidations, (ull)m->prefills,
            (ull)m->cr3_loads, (ull)m->as_hits, (ull)m->as_misses, (ull)m->as_reclaims,
            (ull)m->flushes, (ull)m->as_foreign_flushes, bt->mmu.entries, (ull)m->invlpg,
            (ull)m->global_flushes,
            (ull)m->direct_fills, (ull)m->direct_drops, (ull)m->win_made, (ull)m->win_dropped,
            (ull)m->win_churn, (ull)m->win_maps, (ull)m->win_full, bt->kview ? "on" : "off",
            (ull)m->kv_faults, (ull)m->kv_maps, (ull)m->kv_unmaps, (ull)m->kv_resets, (ull)m->kv_pages);
}

static void bt_destroy(struct vm *vm)
{
    struct bt *bt = vm->engine_priv;
    if (!bt)
        return;
    const char *xb = getenv("BTVM_XLAT_BENCH");
    if (xb && *xb && bt->cpu)
        bt_xlat_bench(bt, atoi(xb), stderr); /* before the handlers go: it translates */
    signal(SIGFPE, SIG_DFL);
    signal(SIGSEGV, SIG_DFL);
    if (thread_bt == bt)
        thread_bt = NULL;
    bt_arena_free(bt);
    free(bt->blocks_pool);
    free(bt->callout_counts);
    free(bt->hash);
    free(bt->pred_since);
    free(bt->page_blocks);
    free(bt->page_lin);
    free(bt->kv_sites);
    smmu_destroy(&bt->mmu);
    free(bt->em.buf[0]);
    free(bt->em.buf[1]);
    bt_cache_destroy(bt);
    munmap(bt->map, BT_VCPU_SPAN + BT_REGION_SIZE);
    if (bt->perfmap)
        fclose(bt->perfmap);
    vm->cpu = NULL;
    free(bt);
    vm->engine_priv = NULL;
}

/* DMA wrote guest RAM: the same traces and code invalidation as a store. */
static void bt_ram_written(struct vm *vm, uint64_t gpa, uint64_t len)
{
    struct bt *bt = vm->engine_priv;
    if (bt)
        smmu_phys_written(&bt->mmu, gpa, len);
}

const struct vm_engine_ops bt_engine_ops = {
    .name = "bt",
    .init = bt_init,
    .run = bt_run,
    .print_stats = bt_print_stats,
    .ram_written = bt_ram_written,
    .debug_changed = bt_debug_changed,
    .destroy = bt_destroy,
};
