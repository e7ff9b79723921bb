#!/bin/busybox sh
# Zonekeeper zone init for Xen guests, PID 1 of the zone's initramfs. Orders from the kernel command line:
#   zk.name=NAME      the zone's name, printed in the ready marker
#   zk.heartbeat=1    print "zonekeeper: tick N UPTIME" on the console every 100 ms
#   zk.run=CMD or zk.run="CMD ARGS"   run CMD on the console, then power off; without it, a shell on the console
# "xl shutdown" makes the kernel run /sbin/poweroff, which powers the zone off. PID 1 must never exit.
PATH=/bin:/sbin
export PATH
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s /bin

cmdline=$(cat /proc/cmdline)
name=zone
heartbeat=0
set -f
for arg in $cmdline; do
    case "$arg" in
        zk.name=*) name=${arg#zk.name=} ;;
        zk.heartbeat=*) heartbeat=${arg#zk.heartbeat=} ;;
    esac
done
set +f
echo "$name" >/run/zone-name
run=
case "$cmdline" in
    *'zk.run="'*) run=${cmdline#*zk.run=\"}; run=${run%%\"*} ;;
    *zk.run=*) run=${cmdline#*zk.run=}; run=${run%% *} ;;
esac

echo "zonekeeper: zone $name ready"

if [ "$heartbeat" = 1 ]; then
    (n=0; while :; do read -r up _ </proc/uptime; echo "zonekeeper: tick $n $up"; n=$((n + 1)); sleep 0.1; done) &
fi

if [ -n "$run" ]; then
    sh -c "$run" </dev/console >/dev/console 2>&1
    rc=$?
    echo "zonekeeper: zone $name finished, exit $rc"
    sync
    poweroff -f
fi

while :; do
    setsid -c sh -l </dev/hvc0 >/dev/hvc0 2>&1
    sleep 1
done
