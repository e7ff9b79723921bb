package io.zonekeeper.kvm.jail;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.OptionalInt;
import java.util.Set;
import java.util.UUID;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.spi.DriverException;

public class JailIdsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void picksTheLowestIdNoAccountGroupOrProcessHas() {
        assertEquals(OptionalInt.of(64000), JailIds.pick(64000, 10, Set.of(0, 1000, 65534)));
        assertEquals(OptionalInt.of(64002), JailIds.pick(64000, 10, Set.of(64000, 64001)));
        assertEquals(OptionalInt.empty(), JailIds.pick(64000, 2, Set.of(64000, 64001)));
    }

    @Test
    public void twoZonesGetDifferentIdsAndAReleasedIdIsGivenAgain() throws DriverException {
        Set<Integer> host = new HashSet<>(Set.of(64000));
        JailIds ids = new JailIds(64000, 3, () -> host);
        UUID a = UUID.randomUUID();
        UUID b = UUID.randomUUID();
        assertEquals(64001, ids.take(a));
        assertEquals(64001, ids.take(a));
        assertEquals(64002, ids.take(b));
        DriverException full = assertThrows(DriverException.class, () -> ids.take(UUID.randomUUID()));
        assertTrue(full.getMessage(), full.getMessage().contains("no free jail id left in 64000-64002"));
        ids.release(a);
        assertEquals(64001, ids.take(UUID.randomUUID()));
    }

    @Test
    public void anAdoptedZoneKeepsItsIdFromANewDriver() throws DriverException {
        JailIds ids = new JailIds(64000, 5, Set::of);
        UUID adopted = UUID.randomUUID();
        ids.hold(adopted, 64000);
        assertEquals(64001, ids.take(UUID.randomUUID()));
        assertEquals(OptionalInt.of(64000), ids.heldBy(adopted));
    }

    @Test
    public void readsIdsFromAccountsGroupsAndProcesses() throws IOException {
        Path passwd = tmp.newFile("passwd").toPath();
        Files.writeString(passwd, "root:x:0:0:root:/root:/bin/bash\nzk:x:64000:64000::/:/bin/false\nbroken\n");
        Path group = tmp.newFile("group").toPath();
        Files.writeString(group, "kvm:x:64003:\nnotanumber:x:abc:\n");
        Path proc = tmp.newFolder("proc").toPath();
        Files.createDirectories(proc.resolve("4242"));
        Files.writeString(proc.resolve("4242/status"), "Name:\tqemu\nUid:\t64001\t64001\t64001\t64001\n"
                + "Gid:\t64002\t64002\t64002\t64002\n");
        Files.createDirectories(proc.resolve("self"));
        Files.writeString(proc.resolve("self/status"), "Uid:\t64009\t64009\t64009\t64009\n");
        Set<Integer> ids = JailIds.hostIds(passwd, group, proc);
        assertEquals(Set.of(0, 64000, 64001, 64002, 64003), ids);
    }

    @Test
    public void aStatusFileGivesEveryUidAndGidAndNothingElse() throws IOException {
        Path status = tmp.newFile("status").toPath();
        // The kernel's own shape (tabs), a last line without its newline, and lines that only look alike.
        Files.writeString(status, "Name:\tqemu-system-x86\nUmask:\t0022\nTgid:\t77\nPid:\t77\nPPid:\t1\n"
                + "Uid:\t64001\t64011\t64021\t64031\nGidx:\t5\nNgid:\t0\nGroups:\t27 64050\n"
                + "VmRSS:\t 1000 kB\nGid:\t64002 12a34\t99999999999\t64032");
        Set<Integer> ids = new java.util.HashSet<>();
        JailIds.statusIds(status, ids);
        assertEquals(Set.of(64001, 64011, 64021, 64031, 64002, 64032), ids);
        Set<Integer> none = new java.util.HashSet<>();
        JailIds.statusIds(status.resolveSibling("gone"), none);
        assertEquals("a process that ended holds nothing", Set.of(), none);
        // The real /proc: this JVM's own ids are among what the host uses.
        Set<Integer> self = new java.util.HashSet<>();
        JailIds.statusIds(Path.of("/proc/self/status"), self);
        assertTrue(self.toString(), self.size() >= 1);
    }

    @Test
    public void refusesARangeThatReachesNobodyOrSystemIds() {
        assertThrows(IllegalArgumentException.class, () -> new JailIds(65000, 600, Set::of));
        assertThrows(IllegalArgumentException.class, () -> new JailIds(0, 10, Set::of));
        assertThrows(IllegalArgumentException.class, () -> new JailIds(64000, 0, Set::of));
    }
}
