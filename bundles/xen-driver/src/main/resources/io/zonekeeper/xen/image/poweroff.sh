#!/bin/busybox sh
# Run by the kernel when the host asks the domain to power off (xl shutdown): the zone init has no runlevels. An
# image zone's workload gets SIGTERM instead; the init powers off once it has ended.
if [ -f /run/zk-workload.pid ]; then
    echo "zonekeeper: zone $(cat /run/zone-name 2>/dev/null) stopping its workload" >/dev/console
    kill -TERM "$(cat /run/zk-workload.pid)"
    exit 0
fi
echo "zonekeeper: zone $(cat /run/zone-name 2>/dev/null) powering off" >/dev/console
sync
/bin/busybox poweroff -f
