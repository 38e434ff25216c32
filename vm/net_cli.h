/*
 * vm/net_cli.h — the network options of btvm's command line, in QEMU's
 * spelling: -netdev user,id=ID[,hostfwd=...][,restrict=on], -device
 * virtio-net-pci,netdev=ID[,mac=...], -nic user|none[,...]. Parsed for
 * vm/cli.c so the network's options live beside the network.
 */
#ifndef BTVM_VM_NET_CLI_H
#define BTVM_VM_NET_CLI_H

#include <stddef.h>
#include "vm/vm.h"

#define VM_CLI_NET_ID_MAX 32

/* What the options said so far; -device and -netdev meet in
 * vm_cli_net_finish (either may come first, as in QEMU). */
struct vm_cli_net {
    bool have_netdev, have_device, have_nic;
    char netdev_id[VM_CLI_NET_ID_MAX];
    char device_netdev[VM_CLI_NET_ID_MAX];
    bool mac_set;
    struct vm_net_options user;   /* the user network's settings (hostfwd, restrict) */
    uint8_t mac[6];
};

/* which: 0 -netdev, 1 -device, 2 -nic. NULL, or err filled with a
 * one-line "btvm: ..." message. */
const char *vm_cli_net_option(const char *name, int which, const char *val,
                              struct vm_cli_net *st, char *err, size_t errlen);
/* After the last option: check -device and -netdev agree, fill opt->net. */
const char *vm_cli_net_finish(struct vm_cli_net *st, struct vm_options *opt, char *err,
                              size_t errlen);
/* Parse one hostfwd rule ([tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT). */
bool vm_cli_net_parse_hostfwd(const char *s, size_t len, struct vm_net_fwd *out);
extern const char vm_cli_net_help[];

#endif
