#!/bin/busybox sh
# zk-channel NAME: joins this program's stdin and stdout to the zone's channel NAME, for one session. The zone is
# the vchan server (its grant pages, its xenstore home data/vchan/0/N, N the channel's place in zk.channels); the
# appliance in dom0 connects once a host program opens the channel's socket. The session ends when either side
# closes: stdin's end here, or the host program's connection there.
name=$1
if [ -z "$name" ]; then
    echo "usage: zk-channel NAME" >&2
    exit 2
fi
i=0
n=
if [ -f /run/zonekeeper/channels ]; then
    while read -r c; do
        if [ "$c" = "$name" ]; then n=$i; break; fi
        i=$((i + 1))
    done </run/zonekeeper/channels
fi
if [ -z "$n" ]; then
    echo "zk-channel: this zone has no channel $name ($(tr '\n' ' ' </run/zonekeeper/channels 2>/dev/null))" >&2
    exit 2
fi
exec /bin/vchan-socket-proxy -m server 0 "data/vchan/0/$n" -
