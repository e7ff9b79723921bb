package io.zonekeeper.kvm.jail;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.Test;

public class ZoneJailTest {
    private static final List<String> ARGV = List.of("qemu-system-x86_64", "-M", "microvm", "-sandbox",
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", "-kernel", "/boot/k");

    @Test
    public void addsRunasAndChrootAfterTheSandboxAndLetsQemuMakeItsOneSwitch() {
        ZoneJail j = new ZoneJail(64001, 64001, Path.of("/var/lib/zk/kvm-jail"), Optional.empty());
        assertEquals(List.of("qemu-system-x86_64", "-M", "microvm", "-sandbox",
                "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny", "-runas", "64001:64001",
                "-chroot", "/var/lib/zk/kvm-jail", "-kernel", "/boot/k"), j.qemuArgv(ARGV));
    }

    @Test
    public void aZoneWithACgroupJoinsItBeforeQemuRuns() {
        ZoneJail j = new ZoneJail(64002, 64002, Path.of("/r"), Optional.of(Path.of("/sys/fs/cgroup/zonekeeper/u")));
        List<String> a = j.launchScript(List.of()).wrap(j.qemuArgv(ARGV));
        assertEquals(List.of("/bin/sh", "-c", "echo $$ > '/sys/fs/cgroup/zonekeeper/u/cgroup.procs' && exec \"$@\"",
                "zk-qemu-launch"), a.subList(0, 4));
        assertEquals(j.qemuArgv(ARGV), a.subList(4, a.size()));
    }

    @Test
    public void aConnectingChannelIsReachedThroughItsFolderBoundIntoTheZonesOwnRoot() {
        Path folder = Path.of("/var/lib/zk/channels/ab12.d");
        ZoneJail j = new ZoneJail(64005, 64005, Path.of("/var/lib/zk/kvm-jails/u"), Optional.empty(),
                Map.of("pipe", folder));
        List<String> argv = new java.util.ArrayList<>(ARGV);
        argv.addAll(List.of("-chardev", "socket,id=ch-pipe,path=/var/lib/zk/channels/ab12.d/s,reconnect=1"));
        List<String> q = j.qemuArgv(argv);
        assertEquals("socket,id=ch-pipe,path=c0/s,reconnect=1", q.get(q.size() - 1));
        List<String> a = j.launchScript(List.of("3<>/proc/9/fd/40")).wrap(q);
        assertEquals(List.of("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                "mount --bind '/var/lib/zk/channels/ab12.d' '/var/lib/zk/kvm-jails/u/c0' && cd '/var/lib/zk/kvm-jails/u'"
                        + " && exec \"$@\" 3<>/proc/9/fd/40", "zk-qemu-launch"), a.subList(0, 8));
        assertEquals(q, a.subList(8, a.size()));
    }

    @Test
    public void refusesACommandLineWithoutTheSandbox() {
        ZoneJail j = new ZoneJail(64001, 64001, Path.of("/r"), Optional.empty());
        assertThrows(IllegalArgumentException.class, () -> j.qemuArgv(List.of("qemu-system-x86_64", "-M", "q35")));
    }

    @Test
    public void survivesTheRuntimeRecord() {
        ZoneJail j = new ZoneJail(64003, 64004, Path.of("/r"), Optional.of(Path.of("/sys/fs/cgroup/zonekeeper/u")));
        Map<String, String> rec = new LinkedHashMap<>();
        j.putInto(rec);
        assertEquals(Optional.of(j), ZoneJail.fromRecord(rec));
        rec.put(ZoneJail.R_UID, "x");
        assertEquals(Optional.empty(), ZoneJail.fromRecord(rec));
        assertEquals(Optional.empty(), ZoneJail.fromRecord(Map.of("pid", "1")));
    }
}
