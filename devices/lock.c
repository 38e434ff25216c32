/* devices/lock.c — the per-thread token of devices/lock.h's recursive lock. */
#include "devices/lock.h"

__thread char dev_lock_token;
