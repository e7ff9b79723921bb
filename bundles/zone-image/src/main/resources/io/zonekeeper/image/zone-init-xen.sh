# --- Xen hooks: the xen frontends (netfront, blkfront), the console on hvc0, the kernel's /sbin/poweroff, vchan.
#   zk.disks             the N-th disk is xvd(a+N) (the driver gives each its vdev)
#   zk.channels=a,b      vchan channels in order, listed in /run/zonekeeper/channels; "zk-channel NAME" joins its
#                        stdin and stdout to one
#   zk.image=1           the image's squashfs is xvdy and the workload file xvdz (the driver's vdevs); the guest
#                        agent serves the vchan after the channels' (data/vchan/0/N, N the number of channels)
# "xl shutdown" makes the kernel run /sbin/poweroff (in the image), which powers the zone off.
zk_console=/dev/hvc0
# netfront and blkfront make their devices once the backends in dom0 connect: wait for them, but not forever.
zk_wait_tries=1000
zk_wait_step=0.02

# /dev/xvd(a+N), N counted from 0 (waits for it to appear); printed even when it does not, for the message.
zk_disk_dev() {
    dev=/dev/xvd$(echo abcdefghijklmnopqrstuvwxyz | cut -c$(($1 + 1)))
    tries=0
    while [ ! -b "$dev" ] && [ $tries -lt $zk_wait_tries ]; do tries=$((tries + 1)); sleep $zk_wait_step; done
    echo "$dev"
    [ -b "$dev" ]
}

# blkfront has no serials: an image zone's two disks have fixed vdevs after the spec's disks (DomainConfig).
zk_serial_dev() {
    case "$1" in
        zk-image) d=$(zk_disk_dev 24) && echo "$d" ;;
        zk-workload) d=$(zk_disk_dev 25) && echo "$d" ;;
        *) return 1 ;;
    esac
}

zk_power_setup() {
    :
}

zk_channels_setup() {
    mkdir -p /run/zonekeeper
    echo "$channels" | tr , '\n' >/run/zonekeeper/channels
}

zk_channels_watch() {
    :
}

zk_channels_report() {
    :
}

# In an image zone the agent rides the channel mechanism: it listens on a socket in the zone, and Xen's vchan proxy,
# the vchan server of the agent's place (after the channels'), connects there whenever the channel keeper in dom0
# opens the vchan for a host program on the zone's agent socket, and serves the next session when one ends.
zk_agent_start() {
    [ "$image" = 1 ] && [ -x /bin/zk-agent ] && [ -x /bin/vchan-socket-proxy ] || return 0
    n=0
    for c in $(echo "$channels" | tr , ' '); do n=$((n + 1)); done
    setsid /bin/zk-agent -l /run/zk-agent.sock ${workload:+-r /newroot} </dev/null >$zk_console 2>&1 &
    (while :; do
        /bin/vchan-socket-proxy -m server 0 "data/vchan/0/$n" /run/zk-agent.sock
        sleep 1
    done) </dev/null >$zk_console 2>&1 &
}
# --- end of the Xen hooks
