package io.zonekeeper.kvm.qemu;

import static org.junit.Assert.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.junit.Test;

public class LaunchScriptTest {
    private static final List<String> QEMU = List.of("qemu-system-x86_64", "-m", "128M");

    @Test
    public void nothingToDoLaunchesQemuItself() {
        assertEquals(QEMU, new LaunchScript(List.of(), Optional.empty(), Optional.empty(), List.of()).wrap(QEMU));
    }

    @Test
    public void aPathWithAQuoteStaysOneWord() {
        List<String> a = new LaunchScript(List.of(), Optional.of(Path.of("/sys/fs/cgroup/zk/it's")), Optional.empty(),
                List.of("3</proc/1/fd/7")).wrap(QEMU);
        assertEquals(List.of("/bin/sh", "-c", "echo $$ > '/sys/fs/cgroup/zk/it'\\''s/cgroup.procs' && exec \"$@\""
                + " 3</proc/1/fd/7", "zk-qemu-launch", "qemu-system-x86_64", "-m", "128M"), a);
    }
}
