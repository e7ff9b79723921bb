# --- Xen hooks: the xen frontends (netfront, blkfront), the console on hvc0, the kernel's /sbin/poweroff, vchan.
#   zk.disks             the N-th disk is xvd(a+N) (the driver gives each its vdev)
#   zk.channels=a,b      vchan channels in order, listed in /run/zonekeeper/channels; "zk-channel NAME" joins its
#                        stdin and stdout to one
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

# Image zones do not run on Xen yet (issue 14 item 6): no image disk ever appears.
zk_serial_dev() {
    return 1
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

# The agent rides the zone channel mechanism on Xen (zk-agent -d DEVICE); that transport is not wired yet, so the
# agent is in the image but not started.
zk_agent_start() {
    :
}
# --- end of the Xen hooks
