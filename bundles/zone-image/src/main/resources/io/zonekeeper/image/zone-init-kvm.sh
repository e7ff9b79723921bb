# --- KVM hooks: virtio devices, the console on ttyS0, the ACPI power button, virtio-serial channels.
#   zk.disks             the block device with serial zk-dN is the N-th
#   zk.channels=a,b      virtio-serial ports to wait for and link as /dev/virtio-ports/NAME; their byte counts
#                        are printed as "zonekeeper: channel NAME sent N received M" once ready, whenever they
#                        change (checked every 2 s) and before powering off, for channel:list on the host
# The power button (QMP system_powerdown) powers the zone off.
zk_console=/dev/ttyS0
zk_wait_tries=500
zk_wait_step=0.01

# The block device whose serial is $1 (an image zone's zk-image and zk-workload), waiting for it to appear.
zk_serial_dev() {
    tries=0
    while [ $tries -lt $zk_wait_tries ]; do
        for b in /sys/block/vd*; do
            [ "$(cat "$b/serial" 2>/dev/null)" = "$1" ] && { echo "/dev/${b##*/}"; return 0; }
        done
        tries=$((tries + 1)); sleep $zk_wait_step
    done
    return 1
}

# The block device whose serial is zk-dN, N counted from 0 (waits for it to appear).
zk_disk_dev() {
    zk_serial_dev "zk-d$1"
}

# The guest kernel counts each port's bytes (virtio_console's debugfs file); nothing on the host can without sitting
# in the data path. Prints the channels whose counts changed since the last call in this shell. The file is read
# with one read() (cat): read piecewise, a count that changed between two reads could come out torn.
reported=
zk_channels_report() {
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

zk_power_setup() {
    pbfd=7
    for e in /sys/class/input/event*; do
        [ -e "$e/device/name" ] || continue
        devname=
        read -r devname <"$e/device/name" # a builtin: a fork costs a TCG boot several ms
        if [ "$devname" = "Power Button" ] && [ $pbfd -le 9 ]; then
            # Opened here, before the ready marker: a press that comes right after it is queued for the reader, not
            # lost while the background reader is still starting.
            eval "exec $pbfd<\"/dev/input/${e##*/}\""
            # Any event from the power button is a press: the host asked for a graceful power-off. An image zone's
            # workload gets SIGTERM instead; the init powers off when it has ended.
            (head -c 1 <&$pbfd >/dev/null 2>&1 && if [ -f /run/zk-workload.pid ]; then
                echo "zonekeeper: zone $name stopping its workload"; kill -TERM "$(cat /run/zk-workload.pid)"
            else
                echo "zonekeeper: zone $name powering off"; zk_channels_report; sync; poweroff -f
            fi) &
            pbfd=$((pbfd + 1))
        fi
    done
}

# The device of the virtio-serial port named $1 (vportNpM), waiting for it; fails when it did not appear.
zk_port_dev() {
    tries=0
    while :; do
        port=
        for p in /sys/class/virtio-ports/*; do
            if [ -f "$p/name" ] && [ "$(cat "$p/name")" = "$1" ]; then port=${p##*/}; break; fi
        done
        # The port shows up a moment after virtio_console loads; opening it earlier fails with ENXIO.
        if [ -n "$port" ] && [ -e "/dev/$port" ]; then echo "$port"; return 0; fi
        tries=$((tries + 1))
        [ $tries -ge $zk_wait_tries ] && return 1
        sleep $zk_wait_step
    done
}

zk_channels_setup() {
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    mkdir -p /dev/virtio-ports
    for c in $(echo "$channels" | tr , ' '); do
        if port=$(zk_port_dev "$c"); then
            ln -sf "../$port" "/dev/virtio-ports/$c"
        else
            echo "zonekeeper: channel $c did not appear"
        fi
    done
}

# Where an image zone's workload writes its stdout and stderr: its own port (io.zonekeeper.workload), which QEMU
# appends to the zone's workload.log, apart from the kernel's lines here; the console if the port did not appear.
zk_workload_output() {
    if port=$(zk_port_dev io.zonekeeper.workload); then
        echo "/dev/$port"
    else
        echo "zonekeeper: zone $name: the workload port did not appear; its output goes to the console" >$zk_console
        echo "$zk_console"
    fi
}

# The agent finds its virtio-serial port (io.zonekeeper.agent) by itself, waiting for it if virtio_console is still
# probing, so the init does not wait here. Its own session: nothing typed on the console signals it.
zk_agent_start() {
    [ -x /bin/zk-agent ] || return 0
    # In an image zone (its root mounted at /newroot), every exec runs in the image, as the workload does.
    setsid /bin/zk-agent ${workload:+-r /newroot} </dev/null >$zk_console 2>&1 &
}

zk_channels_watch() {
    (while :; do zk_channels_report; sleep 2; done) &
}
# --- end of the KVM hooks
