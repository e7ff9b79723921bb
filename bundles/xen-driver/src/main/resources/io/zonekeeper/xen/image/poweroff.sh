#!/bin/busybox sh
# Run by the kernel when the host asks the domain to power off (xl shutdown): the zone init has no runlevels.
echo "zonekeeper: zone $(cat /run/zone-name 2>/dev/null) powering off" >/dev/console
sync
/bin/busybox poweroff -f
