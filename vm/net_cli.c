/*
 * vm/net_cli.c — -netdev, -device and -nic, in QEMU's syntax.
 *
 * btvm has one kind of network card (virtio-net-pci) and one backend
 * (user, libslirp), and at most one card. Without any of these options
 * there is no card (QEMU would add an e1000 on a user network; btvm keeps
 * `make run` as it was). -nic user picks virtio-net-pci when model= is not
 * given, since btvm has no other model. Everything else is an error before
 * the guest starts. See docs/network.md.
 */
#include "vm/net_cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

const char vm_cli_net_help[] =
    "  -netdev user,id=ID[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...\n"
    "          [,restrict=on|off]\n"
    "                         user-mode network (libslirp): 10.0.2.0/24, host 10.0.2.2,\n"
    "                         DNS 10.0.2.3, DHCP from 10.0.2.15\n"
    "  -device virtio-net-pci,netdev=ID[,mac=52:54:00:12:34:56]\n"
    "                         virtio network card on that network\n"
    "  -nic user[,model=virtio-net-pci][,mac=..][,hostfwd=..][,restrict=..] | -nic none\n"
    "                         both at once / no network card (the default)\n";

static const char *fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "btvm: ");
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return err;
}

/* One KEY[=VALUE] item of a QEMU option list. ",," in a value is a comma:
 * unescaped into val (which holds up to VAL_MAX bytes). */
#define VAL_MAX 256
struct item {
    const char *key;
    size_t klen;
    bool has_val;
    char val[VAL_MAX];
    bool too_long;
};

/* Takes the next item from *p; false at the end. */
static bool next_item(const char **p, struct item *it)
{
    const char *s = *p;
    if (!*s)
        return false;
    it->key = s;
    while (*s && *s != '=' && *s != ',')
        s++;
    it->klen = (size_t)(s - it->key);
    it->has_val = *s == '=';
    it->too_long = false;
    size_t n = 0;
    if (it->has_val) {
        s++;
        for (;;) {
            if (*s == ',' && s[1] == ',') {
                s++;
            } else if (*s == ',' || !*s) {
                break;
            }
            if (n + 1 < VAL_MAX)
                it->val[n++] = *s;
            else
                it->too_long = true;
            s++;
        }
    }
    it->val[n] = 0;
    if (*s == ',')
        s++;
    *p = s;
    return true;
}

static bool key_is(const struct item *it, const char *want)
{
    return strlen(want) == it->klen && !memcmp(it->key, want, it->klen);
}

static bool parse_onoff(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
        *out = false;
    else
        return false;
    return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++, s++) {
            char c = *s;
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                       : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                       : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
            if (d > 15)
                return false;
            v = v * 16 + d;
        }
        mac[i] = (uint8_t)v;
        if (i < 5 && *s++ != ':')
            return false;
    }
    return *s == 0;
}

/* Dotted quad into host byte order; digits and dots only. */
static bool parse_ipv4(const char *s, size_t len, uint32_t *out)
{
    uint32_t a = 0;
    unsigned parts = 0, v = 0, digits = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!digits || v > 255 || parts == 4)
                return false;
            a = a << 8 | v;
            parts++;
            v = digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
            v = v * 10 + (unsigned)(s[i] - '0');
            digits++;
        } else {
            return false;
        }
    }
    if (parts != 4)
        return false;
    *out = a;
    return true;
}

static bool parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned v = 0;
    if (!len || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

bool vm_cli_net_parse_hostfwd(const char *s, size_t len, struct vm_net_fwd *out)
{
    const char *end = s + len;
    memset(out, 0, sizeof(*out));
    /* [tcp|udp]: — the protocol may be left out (tcp), its colon not. */
    const char *c = memchr(s, ':', len);
    if (!c)
        return false;
    size_t plen = (size_t)(c - s);
    if (plen == 3 && !memcmp(s, "udp", 3))
        out->udp = true;
    else if (!(plen == 0 || (plen == 3 && !memcmp(s, "tcp", 3))))
        return false;
    s = c + 1;
    /* [HOSTADDR]:HOSTPORT */
    c = memchr(s, ':', (size_t)(end - s));
    if (!c)
        return false;
    if (c > s && !parse_ipv4(s, (size_t)(c - s), &out->host_addr))
        return false;
    s = c + 1;
    const char *dash = memchr(s, '-', (size_t)(end - s));
    if (!dash || !parse_port(s, (size_t)(dash - s), &out->host_port))
        return false;
    s = dash + 1;
    /* [GUESTADDR]:GUESTPORT */
    c = memchr(s, ':', (size_t)(end - s));
    if (!c)
        return false;
    if (c > s && !parse_ipv4(s, (size_t)(c - s), &out->guest_addr))
        return false;
    s = c + 1;
    return parse_port(s, (size_t)(end - s), &out->guest_port) && out->guest_port != 0;
}

/* A key of the user backend (hostfwd, restrict); *known = false if it is not one. */
static const char *user_key(const char *name, const struct item *it,
                            struct vm_cli_net *st, bool *known, char *err, size_t errlen)
{
    *known = true;
    if (key_is(it, "hostfwd")) {
        if (st->user.nfwd == VM_NET_MAX_FWD)
            return fail(err, errlen, "%s: more than %d hostfwd rules", name,
                        VM_NET_MAX_FWD);
        if (!vm_cli_net_parse_hostfwd(it->val, strlen(it->val), &st->user.fwd[st->user.nfwd]))
            return fail(err, errlen,
                        "%s: hostfwd '%s': expected [tcp|udp]:[HOSTADDR]:HOSTPORT-"
                        "[GUESTADDR]:GUESTPORT", name, it->val);
        st->user.nfwd++;
    } else if (key_is(it, "restrict")) {
        if (!parse_onoff(it->val, &st->user.restricted))
            return fail(err, errlen, "%s: restrict '%s': expected on or off", name, it->val);
    } else {
        *known = false;
    }
    return NULL;
}

static const char *check_item(const char *name, const struct item *it, char *err, size_t errlen)
{
    if (it->too_long)
        return fail(err, errlen, "%s: value of '%.*s' is too long", name, (int)it->klen, it->key);
    if (!it->has_val)
        return fail(err, errlen, "%s: '%.*s' needs a value (KEY=VALUE)", name, (int)it->klen,
                    it->key);
    return NULL;
}

static const char *copy_id(const char *name, const char *what, const char *v, char *dst,
                           char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (!n || n >= VM_CLI_NET_ID_MAX)
        return fail(err, errlen, "%s: %s '%s' must be 1 to %d characters", name, what, v,
                    VM_CLI_NET_ID_MAX - 1);
    memcpy(dst, v, n + 1);
    return NULL;
}

/* The first item (type or driver) of an option value, as a string. */
static const char *first_word(const char **p, char *buf, size_t cap)
{
    const char *s = *p;
    size_t n = strcspn(s, ",");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    s += strcspn(s, ",");
    if (*s == ',')
        s++;
    *p = s;
    return buf;
}

static const char *one_card(const char *name, const char *spec, const struct vm_cli_net *st,
                            char *err, size_t errlen)
{
    if (st->have_nic || st->have_device)
        return fail(err, errlen, "%s '%s': btvm has room for one network card", name, spec);
    return NULL;
}

static const char *parse_netdev(const char *name, const char *spec, struct vm_cli_net *st,
                                char *err, size_t errlen)
{
    char type[32];
    const char *p = spec;
    first_word(&p, type, sizeof(type));
    if (strcmp(type, "user"))
        return fail(err, errlen, "%s '%s': unsupported network backend '%s' (btvm knows user)",
                    name, spec, type);
    if (st->have_netdev)
        return fail(err, errlen, "%s '%s': btvm supports one network backend", name, spec);
    st->have_netdev = true;
    bool have_id = false;
    struct item it;
    const char *e;
    while (next_item(&p, &it)) {
        if ((e = check_item(name, &it, err, errlen)))
            return e;
        bool known;
        if ((e = user_key(name, &it, st, &known, err, errlen)))
            return e;
        if (known)
            continue;
        if (key_is(&it, "id")) {
            if ((e = copy_id(name, "id", it.val, st->netdev_id, err, errlen)))
                return e;
            have_id = true;
        } else {
            return fail(err, errlen,
                        "%s: unknown or unsupported key '%.*s' (btvm knows id, hostfwd, "
                        "restrict)", name, (int)it.klen, it.key);
        }
    }
    if (!have_id)
        return fail(err, errlen, "%s '%s': needs id=ID", name, spec);
    return NULL;
}

static const char *parse_device(const char *name, const char *spec, struct vm_cli_net *st,
                                char *err, size_t errlen)
{
    char drv[64];
    const char *p = spec;
    first_word(&p, drv, sizeof(drv));
    if (strcmp(drv, "virtio-net-pci"))
        return fail(err, errlen, "%s '%s': unsupported device '%s' (btvm knows virtio-net-pci)",
                    name, spec, drv);
    const char *e = one_card(name, spec, st, err, errlen);
    if (e)
        return e;
    st->have_device = true;
    bool have_netdev = false;
    struct item it;
    while (next_item(&p, &it)) {
        if ((e = check_item(name, &it, err, errlen)))
            return e;
        if (key_is(&it, "netdev")) {
            if ((e = copy_id(name, "netdev", it.val, st->device_netdev, err, errlen)))
                return e;
            have_netdev = true;
        } else if (key_is(&it, "mac")) {
            if (!parse_mac(it.val, st->mac) || (st->mac[0] & 1))
                return fail(err, errlen, "%s: mac '%s': expected a unicast xx:xx:xx:xx:xx:xx",
                            name, it.val);
            st->mac_set = true;
        } else {
            return fail(err, errlen,
                        "%s: unknown or unsupported key '%.*s' for virtio-net-pci (btvm knows "
                        "netdev, mac)", name, (int)it.klen, it.key);
        }
    }
    if (!have_netdev)
        return fail(err, errlen, "%s '%s': needs netdev=ID (a -netdev user,id=ID)", name, spec);
    return NULL;
}

static const char *parse_nic(const char *name, const char *spec, struct vm_cli_net *st,
                             char *err, size_t errlen)
{
    char type[32];
    const char *p = spec;
    first_word(&p, type, sizeof(type));
    if (!strcmp(type, "none")) {
        if (*p)
            return fail(err, errlen, "%s '%s': none takes no keys", name, spec);
        if (st->have_device || st->have_nic)
            return fail(err, errlen, "%s none: a network card was already asked for", name);
        return NULL;
    }
    if (strcmp(type, "user"))
        return fail(err, errlen, "%s '%s': unsupported network backend '%s' (btvm knows user, "
                    "none)", name, spec, type);
    const char *e = one_card(name, spec, st, err, errlen);
    if (e)
        return e;
    if (st->have_netdev)
        return fail(err, errlen, "%s '%s': btvm supports one network backend", name, spec);
    st->have_nic = true;
    struct item it;
    while (next_item(&p, &it)) {
        if ((e = check_item(name, &it, err, errlen)))
            return e;
        bool known;
        if ((e = user_key(name, &it, st, &known, err, errlen)))
            return e;
        if (known)
            continue;
        if (key_is(&it, "model")) {
            if (strcmp(it.val, "virtio-net-pci") && strcmp(it.val, "virtio"))
                return fail(err, errlen, "%s: model '%s': unsupported (btvm knows "
                            "virtio-net-pci)", name, it.val);
        } else if (key_is(&it, "mac")) {
            if (!parse_mac(it.val, st->mac) || (st->mac[0] & 1))
                return fail(err, errlen, "%s: mac '%s': expected a unicast xx:xx:xx:xx:xx:xx",
                            name, it.val);
            st->mac_set = true;
        } else {
            return fail(err, errlen,
                        "%s: unknown or unsupported key '%.*s' (btvm knows model, mac, hostfwd, "
                        "restrict)", name, (int)it.klen, it.key);
        }
    }
    return NULL;
}

const char *vm_cli_net_option(const char *name, int which, const char *val,
                              struct vm_cli_net *st, char *err, size_t errlen)
{
    switch (which) {
    case 0:
        return parse_netdev(name, val, st, err, errlen);
    case 1:
        return parse_device(name, val, st, err, errlen);
    default:
        return parse_nic(name, val, st, err, errlen);
    }
}

const char *vm_cli_net_finish(struct vm_cli_net *st, struct vm_options *opt, char *err,
                              size_t errlen)
{
    memset(&opt->net, 0, sizeof(opt->net));
    if (st->have_device) {
        if (!st->have_netdev || strcmp(st->netdev_id, st->device_netdev))
            return fail(err, errlen, "-device virtio-net-pci: netdev '%s' is not a -netdev's id",
                        st->device_netdev);
    } else if (st->have_netdev && !st->have_nic) {
        return fail(err, errlen, "-netdev id=%s: no -device virtio-net-pci,netdev=%s uses it",
                    st->netdev_id, st->netdev_id);
    }
    if (!st->have_device && !st->have_nic)
        return NULL;
    opt->net = st->user;
    opt->net.enabled = true;
    memcpy(opt->net.mac, st->mac_set ? st->mac : default_mac, 6);
    return NULL;
}
