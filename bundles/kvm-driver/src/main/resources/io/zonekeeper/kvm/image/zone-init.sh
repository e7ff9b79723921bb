#!/bin/busybox sh
# Zonekeeper zone init, PID 1 of the zone's initramfs. It reads its orders from the kernel command line:
#   zk.name=NAME         the zone's name, printed in the ready marker
#   zk.features=a,b      module groups to load, listed in /etc/zonekeeper/modules.GROUP in load order; with
#                        tpm, wait for /dev/tpm0 and print "zonekeeper: tpm /dev/tpm0 version 2"
#   zk.channels=a,b      virtio-serial ports to wait for and link as /dev/virtio-ports/NAME; their byte counts
#                        are printed as "zonekeeper: channel NAME sent N received M" once ready, whenever they
#                        change (checked every 2 s) and before powering off, for channel:list on the host
#   zk.heartbeat=1       print "zonekeeper: tick N UPTIME" on the console every 100 ms (UPTIME in guest
#                        seconds, read without a fork, so a host-side stall shows as a gap between ticks)
#   zk.nic=MAC,ADDR/PREFIX,GW[,ADDR6/64,GW6]   an interface to configure with busybox ip (found by its MAC), with
#                        an IPv6 address too on a network that has one; the first one's gateways become the
#                        default routes. One zk.nic= per interface.
#   zk.disks=NAME:rw,NAME:ro   disks in device order; the block device with serial zk-dN is the N-th, mounted
#                        (ext4) at /mnt/NAME
#   zk.root=NAME or zk.root=/dev/vdX   mount that disk as the root instead, and switch_root into it, running
#                        zk.init=PATH (default /sbin/init) there
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
nics=
disks=
root=
newinit=/sbin/init
set -f # a zk.run command may hold * or ?; only the words of the command line are wanted here
for arg in $cmdline; do
    case "$arg" in
        zk.name=*) name=${arg#zk.name=} ;;
        zk.features=*) features=${arg#zk.features=} ;;
        zk.channels=*) channels=${arg#zk.channels=} ;;
        zk.heartbeat=*) heartbeat=${arg#zk.heartbeat=} ;;
        zk.nic=*) nics="$nics ${arg#zk.nic=}" ;;
        zk.disks=*) disks=${arg#zk.disks=} ;;
        zk.root=*) root=${arg#zk.root=} ;;
        zk.init=*) newinit=${arg#zk.init=} ;;
    esac
done
set +f
run=
case "$cmdline" in
    *'zk.run="'*) run=${cmdline#*zk.run=\"}; run=${run%%\"*} ;;
    *zk.run=*) run=${cmdline#*zk.run=}; run=${run%% *} ;;
esac

# The guest kernel counts each port's bytes (virtio_console's debugfs file); nothing on the host can without sitting
# in the data path. Prints the channels whose counts changed since the last call in this shell. The file is read
# with one read() (cat): read piecewise, a count that changed between two reads could come out torn.
reported=
report_channels() {
    now=
    for f in /sys/kernel/debug/virtio-ports/vport*; do
        data=$(cat "$f" 2>/dev/null) || continue
        n=${data#*name: }; n=${n%%[!a-z0-9._-]*}
        case ",$channels," in *,"$n",*) ;; *) continue ;; esac
        s=${data#*bytes_sent: }; s=${s%%[!0-9]*}
        r=${data#*bytes_received: }; r=${r%%[!0-9]*}
        [ -n "$s" ] && [ -n "$r" ] || continue
        now="$now $n:$s:$r"
        case " $reported " in *" $n:$s:$r "*) ;; *) echo "zonekeeper: channel $n sent $s received $r" ;; esac
    done
    reported=$now
}

for group in $(echo "$features" | tr , ' '); do
    if [ ! -f "/etc/zonekeeper/modules.$group" ]; then
        echo "zonekeeper: this image has no feature $group"
        continue
    fi
    for m in $(cat "/etc/zonekeeper/modules.$group"); do
        grep -q "^$m " /proc/modules || insmod "/lib/modules/$m.ko" || echo "zonekeeper: could not load module $m"
    done
done

case ",$features," in
    *,tpm,*)
        # The TPM driver finds the device through the firmware's ACPI TPM2 table; say on the console what came up.
        tries=0
        while [ ! -e /dev/tpm0 ] && [ $tries -lt 200 ]; do tries=$((tries + 1)); sleep 0.01; done
        if [ -e /dev/tpm0 ]; then
            echo "zonekeeper: tpm /dev/tpm0 version $(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)"
        else
            echo "zonekeeper: no TPM appeared (is the machine booting through firmware?)"
        fi
        ;;
esac

if [ -n "$nics" ]; then
    ip link set lo up
    first=1
    for nic in $nics; do
        mac=${nic%%,*}; rest=${nic#*,}; addr=${rest%%,*}; rest=${rest#*,}; gw=${rest%%,*}
        addr6=; gw6=
        case "$rest" in *,*) rest=${rest#*,}; addr6=${rest%%,*}; gw6=${rest#*,} ;; esac
        dev=
        tries=0
        while [ -z "$dev" ] && [ $tries -lt 500 ]; do
            for d in /sys/class/net/*; do
                [ "$(cat "$d/address" 2>/dev/null)" = "$mac" ] && dev=${d##*/}
            done
            [ -n "$dev" ] || { tries=$((tries + 1)); sleep 0.01; }
        done
        if [ -z "$dev" ]; then echo "zonekeeper: no interface with MAC $mac"; continue; fi
        if [ -n "$addr6" ]; then
            # The address is this zone's by construction (from its MAC): no duplicate detection, usable at once.
            [ -w "/proc/sys/net/ipv6/conf/$dev/accept_dad" ] && echo 0 >"/proc/sys/net/ipv6/conf/$dev/accept_dad"
            ip -6 addr add "$addr6" dev "$dev" || echo "zonekeeper: could not configure $addr6 on $dev"
        fi
        ip addr add "$addr" dev "$dev" && ip link set "$dev" up || echo "zonekeeper: could not configure $dev"
        if [ $first = 1 ] && [ -n "$gw" ]; then ip route add default via "$gw" dev "$dev"; fi
        if [ $first = 1 ] && [ -n "$gw6" ]; then ip -6 route add default via "$gw6" dev "$dev"; fi
        first=0
        echo "zonekeeper: $dev $addr${addr6:+ $addr6}"
    done
fi

# The block device whose serial is zk-dN, N counted from 0 (waits for it to appear).
disk_dev() {
    tries=0
    while [ $tries -lt 500 ]; do
        for b in /sys/block/vd*; do
            [ "$(cat "$b/serial" 2>/dev/null)" = "zk-d$1" ] && { echo "/dev/${b##*/}"; return 0; }
        done
        tries=$((tries + 1)); sleep 0.01
    done
    return 1
}

if [ -n "$disks" ]; then
    i=0
    for d in $(echo "$disks" | tr , ' '); do
        dname=${d%%:*}; mode=${d##*:}
        dev=$(disk_dev $i)
        i=$((i + 1))
        if [ -z "$dev" ]; then echo "zonekeeper: disk $dname did not appear"; continue; fi
        if [ "$root" = "$dname" ] || [ "$root" = "$dev" ]; then
            mkdir -p /newroot
            if mount -t ext4 -o "$mode" "$dev" /newroot; then rootdev=$dev; else echo "zonekeeper: root $dev did not mount"; fi
            continue
        fi
        mkdir -p "/mnt/$dname"
        mount -t ext4 -o "$mode" "$dev" "/mnt/$dname" || echo "zonekeeper: disk $dname ($dev) did not mount"
    done
fi

if [ -n "$root" ]; then
    if [ -z "$rootdev" ]; then
        echo "zonekeeper: root $root is not one of this zone's disks"
    elif [ ! -x "/newroot$newinit" ]; then
        echo "zonekeeper: root $rootdev has no $newinit"
    else
        echo "zonekeeper: zone $name switching root to $rootdev"
        for m in dev proc sys; do
            if [ -d "/newroot/$m" ]; then mount --move "/$m" "/newroot/$m"; else umount -l "/$m"; fi
        done
        exec switch_root /newroot "$newinit"
    fi
fi

pbfd=7
for e in /sys/class/input/event*; do
    [ -e "$e/device/name" ] || continue
    if [ "$(cat "$e/device/name")" = "Power Button" ] && [ $pbfd -le 9 ]; then
        # Opened here, before the ready marker: a press that comes right after it is queued for the reader, not
        # lost while the background reader is still starting.
        eval "exec $pbfd<\"/dev/input/${e##*/}\""
        # Any event from the power button is a press: the host asked for a graceful power-off.
        (head -c 1 <&$pbfd >/dev/null 2>&1 && echo "zonekeeper: zone $name powering off" \
            && { report_channels; sync; poweroff -f; }) &
        pbfd=$((pbfd + 1))
    fi
done

if [ -n "$channels" ]; then
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
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

if [ -n "$channels" ]; then
    (while :; do report_channels; sleep 2; done) &
fi

if [ -n "$run" ]; then
    sh -c "$run" </dev/console >/dev/console 2>&1
    rc=$?
    echo "zonekeeper: zone $name finished, exit $rc"
    report_channels
    sync
    poweroff -f
fi

while :; do
    setsid -c sh -l </dev/ttyS0 >/dev/ttyS0 2>&1
    sleep 1
done
