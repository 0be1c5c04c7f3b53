#!/bin/busybox sh
# /init of the guest (PID 1): the file systems mctp_guest reads, then mctp_guest, then the end
# of the machine. The kernel has no ACPI, so a power-off would only halt the CPU and leave QEMU
# running; QEMU runs with -no-reboot, so a reboot ends it instead.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/mctp_guest
echo "MCTP-GUEST exit info status=$?"
/bin/busybox reboot -f
