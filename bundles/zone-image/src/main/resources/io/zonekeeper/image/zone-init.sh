#!/bin/busybox sh
# Zonekeeper zone init, PID 1 of the zone's initramfs, on every hypervisor. It reads its orders from the kernel
# command line, with the same words on every hypervisor:
#   zk.name=NAME         the zone's name, printed in the ready marker
#   zk.features=a,b      module groups to load, listed in /etc/zonekeeper/modules.GROUP in load order, so a zone
#                        loads only what its spec needs; with tpm, wait for /dev/tpm0 and print
#                        "zonekeeper: tpm /dev/tpm0 version 2"
#   zk.channels=a,b      the zone's channels, in order; how they reach the host is the hypervisor's (hooks below)
#   zk.heartbeat=1       print "zonekeeper: tick N UPTIME" on the console every 100 ms (UPTIME in guest
#                        seconds, read without a fork, so a host-side stall shows as a gap between ticks)
#   zk.nic=MAC,ADDR/PREFIX,GW[,ADDR6/64,GW6]   an interface to configure with busybox ip (found by its MAC), with
#                        an IPv6 address too on a network that has one; the first one's gateways become the
#                        default routes. One zk.nic= per interface.
#   zk.disks=NAME:rw,NAME:ro   disks in device order (the hook zk_disk_dev finds the N-th), mounted (ext4) at
#                        /mnt/NAME
#   zk.root=NAME or zk.root=/dev/DEVICE   mount that disk as the root instead, and switch_root into it, running
#                        zk.init=PATH (default /sbin/init) there
#   zk.run=CMD or zk.run="CMD ARGS"   run CMD on the console, then power off; without it, a shell on the console
#   zk.image=1           an image zone: the image's read-only squashfs (the disk zk_serial_dev finds as zk-image) is
#                        mounted under an overlay whose upper layer is a tmpfs, at /newroot; the workload (the disk
#                        zk-workload, written by the driver: command, env, folder, user) runs there through
#                        "zk-agent --workload", which chroots, takes the user from the image's /etc/passwd and
#                        /etc/group, forwards SIGTERM and reaps orphans. Its output goes where the optional hook
#                        zk_workload_output says (on KVM its own port, zone:logs --workload), else to the console; when it ends
#                        the init prints "zonekeeper: zone NAME workload exited N" and powers off. The power button
#                        (zone:stop) sends it SIGTERM instead of powering off at once.
# PID 1 must never exit: the kernel would panic.
#
# Each hypervisor's hooks take the place of the next line (io.zonekeeper.image.ZoneInitScript). They set
# zk_console (the console's tty), zk_wait_tries and zk_wait_step (how long to wait for a device to appear), and
# define zk_disk_dev N (prints the N-th disk's device, waiting for it; fails when it did not appear, printing the
# device it waited for where it knows one), zk_power_setup (before the ready marker: how the host's graceful
# power-off reaches the zone), zk_channels_setup (before the ready marker, with channels), zk_channels_watch (after
# it, with channels), zk_channels_report (before each power-off), zk_agent_start (before the ready marker:
# starts the guest agent /bin/zk-agent on the hypervisor's agent transport, docs/AGENT-PROTOCOL.md) and
# zk_serial_dev SERIAL (prints the block device an image zone's disk has, by its serial, waiting for it; fails when
# it did not appear or the hypervisor has none).
#@zonekeeper-hypervisor-hooks@
PATH=/bin:/sbin
export PATH
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The image carries busybox's applet links (ZoneInitramfs): making them here took about 70 ms of a TCG boot. An
# image without them (an older writer's) still gets them.
[ -e /bin/mount ] || /bin/busybox --install -s /bin

# Builtins, not forks, on the way to the ready marker: each fork and exec costs a TCG boot several ms.
read -r cmdline </proc/cmdline
name=zone
features=
channels=
heartbeat=0
nics=
disks=
root=
rootdev=
newinit=/sbin/init
image=0
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
        zk.image=*) image=${arg#zk.image=} ;;
    esac
done
set +f
# For what runs outside this script and names the zone (Xen's /sbin/poweroff).
echo "$name" >/run/zone-name
run=
case "$cmdline" in
    *'zk.run="'*) run=${cmdline#*zk.run=\"}; run=${run%%\"*} ;;
    *zk.run=*) run=${cmdline#*zk.run=}; run=${run%% *} ;;
esac

ifs=$IFS
IFS=,
for group in $features; do
    IFS=$ifs
    if [ ! -f "/etc/zonekeeper/modules.$group" ]; then
        echo "zonekeeper: this image has no feature $group"
        continue
    fi
    while read -r m || [ -n "$m" ]; do
        # Every module of an alias is in the list (crc32c_intel and crc32c_generic): one that does not fit this
        # CPU fails here harmlessly, as it would under modprobe. A loaded module (one in /proc/modules) has its
        # initstate in sysfs; read without a fork.
        [ -z "$m" ] || [ -e "/sys/module/$m/initstate" ] || insmod "/lib/modules/$m.ko" 2>/dev/null \
            || echo "zonekeeper: module $m not loaded"
    done <"/etc/zonekeeper/modules.$group"
done
IFS=$ifs

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
        while [ -z "$dev" ] && [ $tries -lt $zk_wait_tries ]; do
            for d in /sys/class/net/*; do
                [ "$(cat "$d/address" 2>/dev/null)" = "$mac" ] && dev=${d##*/}
            done
            [ -n "$dev" ] || { tries=$((tries + 1)); sleep $zk_wait_step; }
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

if [ -n "$disks" ]; then
    i=0
    for d in $(echo "$disks" | tr , ' '); do
        dname=${d%%:*}; mode=${d##*:}
        dev=$(zk_disk_dev $i); found=$?
        i=$((i + 1))
        if [ $found != 0 ]; then echo "zonekeeper: disk $dname${dev:+ ($dev)} did not appear"; continue; fi
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

workload=
if [ "$image" = 1 ]; then
    idev=$(zk_serial_dev zk-image) && wdev=$(zk_serial_dev zk-workload)
    mkdir -p /image/lower /image/rw
    if [ -z "$wdev" ]; then
        echo "zonekeeper: zone $name: the image's disks did not appear"
    elif mount -t squashfs -o ro "$idev" /image/lower && mount -t tmpfs -o mode=0755 tmpfs /image/rw \
            && mkdir -p /image/rw/upper /image/rw/work /newroot && mount -t overlay overlay \
            -o lowerdir=/image/lower,upperdir=/image/rw/upper,workdir=/image/rw/work /newroot; then
        # Folders an image lacks are made in the writable layer only.
        mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp
        mount -t proc proc /newroot/proc
        mount -t sysfs sysfs /newroot/sys
        mount -t devtmpfs devtmpfs /newroot/dev
        workload=$wdev
    else
        echo "zonekeeper: zone $name: the image ($idev) did not mount"
    fi
fi

zk_power_setup

if [ -n "$channels" ]; then
    zk_channels_setup
fi

zk_agent_start

echo "zonekeeper: zone $name ready"

if [ "$heartbeat" = 1 ]; then
    (n=0; while :; do read -r up _ </proc/uptime; echo "zonekeeper: tick $n $up"; n=$((n + 1)); sleep 0.1; done) &
fi

if [ -n "$channels" ]; then
    zk_channels_watch
fi

if [ "$image" = 1 ]; then
    rc=125
    if [ -n "$workload" ]; then
        # A hypervisor whose hooks define zk_workload_output keeps the workload's output apart from the console.
        wout=$zk_console
        command -v zk_workload_output >/dev/null && wout=$(zk_workload_output)
        zk-agent --workload "$workload" /newroot </dev/null >"$wout" 2>&1 &
        echo $! >/run/zk-workload.pid
        wait $!
        rc=$?
    fi
    echo "zonekeeper: zone $name workload exited $rc"
    zk_channels_report
    sync
    poweroff -f
fi

if [ -n "$run" ]; then
    sh -c "$run" </dev/console >/dev/console 2>&1
    rc=$?
    echo "zonekeeper: zone $name finished, exit $rc"
    zk_channels_report
    sync
    poweroff -f
fi

while :; do
    setsid -c sh -l <$zk_console >$zk_console 2>&1
    sleep 1
done
