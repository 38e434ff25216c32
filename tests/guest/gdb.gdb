# tests/guest/gdb.gdb — the gdb session tests/guest/gdb.sh runs against
# btvm and QEMU alike (gdb.sh connects first, with -S: nothing ran yet).
# Each "CHK" line is judged by gdb.sh.
set pagination off
set confirm off
shell sleep 0.3; if [ -s "$GDBTEST_OUT" ]; then echo CHK output-before-continue; else echo CHK no-output-yet; fi
printf "CHK at-start %d\n", $eip == _start
break *marker
continue
printf "CHK at-marker %d\n", $eip == marker
info registers eip cs
printf "CHK segs cs=%x ds=%x ss=%x pe=%d\n", $cs, $ds, $ss, $cr0 & 1
stepi
printf "CHK step1 %d\n", $pc == marker + 1
stepi
stepi
printf "CHK step3 %d eax=%x\n", $pc == marker + 7, $eax
x/4xw &table
set var poke = 0xbeef
set var table[1] = 0x55667788
printf "CHK poke %x %x\n", poke, table[1]
delete
watch counter
continue
printf "CHK watch-counter %d\n", counter
delete
rwatch table[1]
continue
printf "CHK rwatch-pc-in-gprintf-args %d\n", $pc > guest_main && $pc < guest_main + 400
delete
# A hardware breakpoint (Z1) one instruction into a block: the block
# must end there.
hbreak *midblock
continue
printf "CHK midblock-hbreak %d pg=%d\n", $pc == midblock, ($cr0 >> 31) & 1
delete
break *(0x40000000 + (unsigned)alias_fn - 0x100000)
continue
printf "CHK alias-bp %d pg=%d\n", $pc == 0x40000000 + (unsigned)alias_fn - 0x100000, ($cr0 >> 31) & 1
x/4xw 0x40000000 + (unsigned)&table - 0x100000
python
try:
    gdb.execute("x/xw 0x50000000")
    print("CHK unmapped-read-succeeded")
except gdb.error as e:
    print("CHK unmapped: %s" % e)
end
set {unsigned}(0x40000000 + (unsigned)&table - 0x100000 + 12) = 0xabcdef01
printf "CHK alias-write %x\n", table[3]
monitor info registers
delete
shell (sleep 1; kill -INT $PPID) &
continue
printf "CHK spinning %d\n", go_on == 0
info symbol $pc
# Rewrite code the spinning loop runs translated (mov $1 -> mov $2), no
# breakpoint change (no cache flush) before it runs again.
printf "CHK before-patch %d\n", spin_value
set {unsigned char}((char *)code_target + 1) = 2
shell (sleep 0.5; kill -INT $PPID) &
continue
printf "CHK after-patch %d\n", spin_value
# A breakpoint inside code that ran chained, translated before it.
set $spin = $pc
break *$spin
continue
printf "CHK spin-bp %d\n", $pc == $spin && go_on == 0
delete
set var go_on = 1
continue
