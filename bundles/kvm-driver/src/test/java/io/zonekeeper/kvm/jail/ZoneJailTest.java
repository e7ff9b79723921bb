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
        assertEquals(j.qemuArgv(ARGV), j.launchArgv(ARGV));
    }

    @Test
    public void aZoneWithACgroupJoinsItBeforeQemuRuns() {
        ZoneJail j = new ZoneJail(64002, 64002, Path.of("/r"), Optional.of(Path.of("/sys/fs/cgroup/zonekeeper/u")));
        List<String> a = j.launchArgv(ARGV);
        assertEquals(List.of("/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                "/sys/fs/cgroup/zonekeeper/u/cgroup.procs"), a.subList(0, 4));
        assertEquals(j.qemuArgv(ARGV), a.subList(4, a.size()));
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
