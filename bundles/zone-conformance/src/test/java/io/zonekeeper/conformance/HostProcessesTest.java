package io.zonekeeper.conformance;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Test;

public class HostProcessesTest {
    private Process started;

    @After
    public void killWhatWeStarted() throws InterruptedException {
        if (started != null) {
            started.descendants().forEach(ProcessHandle::destroyForcibly);
            started.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    public void findsAProcessThatNamesTheZoneAndItsChildrenAndSeesThemEnd() throws Exception {
        assumeTrue(HostProcesses.canSearch());
        String id = UUID.randomUUID().toString();
        // $0 of the shell is the zone id: the way a guest process names its zone (qemu -uuid, a socket path).
        started = new ProcessBuilder("sh", "-c", "sleep 60 & wait", id).start();
        List<ProcessHandle> found = List.of();
        for (int i = 0; i < 100 && found.size() < 2; i++) {
            Thread.sleep(20);
            found = HostProcesses.naming(List.of(id));
        }
        assertEquals("the shell and its sleep: " + found, 2, found.size());
        assertTrue(found.stream().anyMatch(p -> p.pid() == started.pid()));
        assertTrue(HostProcesses.describe(found.get(0)).contains(id));

        started.descendants().forEach(ProcessHandle::destroyForcibly);
        started.destroyForcibly();
        started.waitFor(10, TimeUnit.SECONDS);
        for (int i = 0; i < 100 && found.stream().anyMatch(HostProcesses::alive); i++) {
            Thread.sleep(20);
        }
        assertFalse(found.stream().anyMatch(HostProcesses::alive));
        assertTrue(HostProcesses.naming(List.of(id)).isEmpty());
    }

    @Test
    public void aReusedPidIsNotTheSameProcess() throws Exception {
        ProcessHandle self = ProcessHandle.current();
        assertTrue(HostProcesses.alive(self));
        assertEquals(List.of(), HostProcesses.naming(List.of(UUID.randomUUID().toString())));
        assertTrue(HostProcesses.treeOf(Long.MAX_VALUE / 2).isEmpty());
    }
}
