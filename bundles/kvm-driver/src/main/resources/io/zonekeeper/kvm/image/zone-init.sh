#!/bin/busybox sh
# Zonekeeper zone init, PID 1 of the zone's initramfs. It reads its orders from the kernel command line:
#   zk.name=NAME         the zone's name, printed in the ready marker
#   zk.features=a,b      module groups to load, listed in /etc/zonekeeper/modules.GROUP in load order
#   zk.channels=a,b      virtio-serial ports to wait for and link as /dev/virtio-ports/NAME
#   zk.heartbeat=1       print "zonekeeper: tick N UPTIME" on the console every 100 ms (UPTIME in guest
#                        seconds, read without a fork, so a host-side stall shows as a gap between ticks)
#   zk.run=CMD or zk.run="CMD ARGS"   run CMD on the console, then power off; without it, a shell on the console
# The power button (QMP system_powerdown) powers the zone off. PID 1 must never exit: the kernel would panic.
PATH=/bin
export PATH
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s /bin

cmdline=$(cat /proc/cmdline)
name=zone
features=
channels=
heartbeat=0
set -f # a zk.run command may hold * or ?; only the words of the command line are wanted here
for arg in $cmdline; do
    case "$arg" in
        zk.name=*) name=${arg#zk.name=} ;;
        zk.features=*) features=${arg#zk.features=} ;;
        zk.channels=*) channels=${arg#zk.channels=} ;;
        zk.heartbeat=*) heartbeat=${arg#zk.heartbeat=} ;;
    esac
done
set +f
run=
case "$cmdline" in
    *'zk.run="'*) run=${cmdline#*zk.run=\"}; run=${run%%\"*} ;;
    *zk.run=*) run=${cmdline#*zk.run=}; run=${run%% *} ;;
esac

for group in $(echo "$features" | tr , ' '); do
    if [ ! -f "/etc/zonekeeper/modules.$group" ]; then
        echo "zonekeeper: this image has no feature $group"
        continue
    fi
    for m in $(cat "/etc/zonekeeper/modules.$group"); do
        grep -q "^$m " /proc/modules || insmod "/lib/modules/$m.ko" || echo "zonekeeper: could not load module $m"
    done
done

for e in /sys/class/input/event*; do
    [ -e "$e/device/name" ] || continue
    if [ "$(cat "$e/device/name")" = "Power Button" ]; then
        # Any event from the power button is a press: the host asked for a graceful power-off.
        (head -c 1 "/dev/input/${e##*/}" >/dev/null 2>&1 && echo "zonekeeper: zone $name powering off" \
            && sync && poweroff -f) &
    fi
done

if [ -n "$channels" ]; then
    mkdir -p /dev/virtio-ports
    for c in $(echo "$channels" | tr , ' '); do
        tries=0
        while :; do
            port=
            for p in /sys/class/virtio-ports/*; do
                if [ -f "$p/name" ] && [ "$(cat "$p/name")" = "$c" ]; then port=${p##*/}; break; fi
            done
            # The port shows up a moment after virtio_console loads; opening it earlier fails with ENXIO.
            if [ -n "$port" ] && [ -e "/dev/$port" ]; then
                ln -sf "../$port" "/dev/virtio-ports/$c"
                break
            fi
            tries=$((tries + 1))
            if [ $tries -ge 500 ]; then echo "zonekeeper: channel $c did not appear"; break; fi
            sleep 0.01
        done
    done
fi

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
    setsid -c sh -l </dev/ttyS0 >/dev/ttyS0 2>&1
    sleep 1
done
