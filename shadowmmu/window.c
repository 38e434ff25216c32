/*
 * shadowmmu/window.c — user windows: one addend for all of a process's
 * user pages (docs/shadowmmu.md §15).
 *
 * Kernel code finds most of its data behind one addend, the direct map's,
 * and translated code keeps it in R14: an access compares its entry with
 * R14 and uses R14, never waiting for the entry's load. User pages sit at
 * scattered guest-physical pages, so each has its own addend, and a user
 * access has to wait for it. A window gives a long-running process the
 * kernel's situation: linear page v of the process is mapped at window +
 * (v << 12), so every user entry of the space holds the window's base.
 * Making one costs a host mmap per page (~4 us here), which is why only
 * spaces that have run at CPL 3 for a while get one, and why a page keeps
 * its mapping when its entry goes (a fork's write-protection, a switch
 * away): the next entry for the same guest-physical page needs no call.
 */
#include "shadowmmu/smmu.h"

#include <sys/mman.h>

#define WIN_SPAN (1ull << 32)
#define WIN_REC_BYTES ((size_t)SMMU_TLB_ENTRIES * sizeof(uint32_t))

void smmu_window_enable(struct smmu *m, int fd, uint64_t *flag, uint64_t flag_on)
{
    m->win_fd = fd;
    m->win_flag = flag;
    m->win_flag_on = flag_on;
    smmu_window_note(m);
}

void smmu_window_note(struct smmu *m)
{
    if (m->win_flag)
        *m->win_flag = smmu_window_on(m) ? m->win_flag_on : 0;
}

/* The window of the space used least recently, other than the active
 * one (a process that has exited keeps its space, and its window, until
 * the space is reclaimed). Its entries are not in the tables: only the
 * active space's are. */
static bool steal(struct smmu *m)
{
    struct smmu_as *v = NULL;
    for (int i = 0; i < SMMU_NAS; i++) {
        struct smmu_as *a = &m->as[i];
        if (a->win && i != m->active && (!v || a->last_use < v->last_use))
            v = a;
    }
    if (v)
        smmu_window_release(m, v);
    return v != NULL;
}

static bool make(struct smmu *m, struct smmu_as *a)
{
    while (m->win_count >= SMMU_WIN_MAX || m->win_pages >= SMMU_WIN_PAGES_ALL)
        if (!steal(m))
            return false;
    void *w = mmap(NULL, WIN_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (w == MAP_FAILED)
        return false;
    void *r = mmap(NULL, WIN_REC_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (r == MAP_FAILED) {
        munmap(w, WIN_SPAN);
        return false;
    }
    a->win = w;
    a->win_rec = r;
    a->win_pages = 0;
    a->win_credit = SMMU_WIN_REMAPS;
    m->win_count++;
    m->stats.win_made++;
    return true;
}

void smmu_window_tick(struct smmu *m, bool warm)
{
    struct smmu_as *a = &m->as[m->active];
    if (m->win_fd < 0 || !m->paging || m->active == SMMU_GLOBAL || !a->used)
        return;
    /* In a row: a shell that forks and waits takes its ticks between
     * its children's, and would pay for a window at every fork. */
    if (m->win_last != m->active || !warm)
        a->uticks = 0;
    m->win_last = m->active;
    if (a->win) {
        if (a->win_credit < 0) {
            /* Remapping more than it runs (a parent whose pages each fork
             * copies): back to ordinary addends, and no window for a while. */
            smmu_window_release(m, a);
            a->win_hold = SMMU_WIN_HOLD;
            m->stats.win_churn++;
        } else if (a->win_credit < SMMU_WIN_REMAPS) {
            a->win_credit += SMMU_WIN_TICK_REMAPS;
        }
        return;
    }
    if (a->win_hold) {
        a->win_hold--;
        return;
    }
    if (!warm || ++a->uticks < SMMU_WIN_TICKS || !make(m, a))
        return;
    smmu_shadow_reload(m); /* its loaded user entries take the window's addend */
    smmu_window_note(m);
}

uint64_t smmu_window_addend(struct smmu *m, struct smmu_as *a, uint32_t vpn, uint32_t ppage)
{
    /* Plain RAM only (a window maps the memfd), and not the first MiB,
     * where the machine may show ROM or shadow RAM at ram + phys. */
    if (ppage < 256 || !smmu_page_writable(m, ppage))
        return 0;
    uint32_t *rec = &a->win_rec[vpn];
    if (*rec != ppage + 1) {
        if (!*rec && (a->win_pages >= SMMU_WIN_PAGE_CAP || m->win_pages >= SMMU_WIN_PAGES_ALL)) {
            m->stats.win_full++;
            return 0;
        }
        if (*rec && --a->win_credit < 0)
            return 0; /* the window goes at the next tick */
        void *at = a->win + ((uint64_t)vpn << 12);
        if (mmap(at, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m->win_fd, (off_t)ppage << 12) ==
            MAP_FAILED) {
            /* (What was there may be gone too: forget it.) */
            if (*rec) {
                a->win_pages--;
                m->win_pages--;
            }
            *rec = 0;
            m->stats.win_full++;
            return 0;
        }
        if (!*rec) {
            a->win_pages++;
            m->win_pages++;
        }
        *rec = ppage + 1;
        m->stats.win_maps++;
    }
    return (uint64_t)(uintptr_t)a->win;
}

bool smmu_window_phys(const struct smmu *m, uint64_t e, uint32_t lin, uint64_t *phys)
{
    const struct smmu_as *a = &m->as[m->active];
    if (!a->win || e != (uint64_t)(uintptr_t)a->win || !a->win_rec[lin >> 12])
        return false;
    *phys = ((uint64_t)(a->win_rec[lin >> 12] - 1) << 12) | (lin & 0xFFF);
    return true;
}

void smmu_window_release(struct smmu *m, struct smmu_as *a)
{
    a->uticks = 0;
    a->win_hold = 0;
    if (!a->win)
        return;
    uint8_t *w = a->win;
    if (a == &m->as[m->active] && a->used) {
        /* Its loaded user entries hold the window's base: set them again
         * without it, then let the engine know. */
        a->win = NULL;
        smmu_shadow_reload(m);
        a->win = w;
    }
    munmap(a->win, WIN_SPAN);
    munmap(a->win_rec, WIN_REC_BYTES);
    m->win_pages -= a->win_pages;
    m->win_count--;
    a->win = NULL;
    a->win_rec = NULL;
    a->win_pages = 0;
    m->stats.win_dropped++;
    smmu_window_note(m);
}
