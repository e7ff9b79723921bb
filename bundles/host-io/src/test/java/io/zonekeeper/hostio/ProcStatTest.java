package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.Test;

/** The state and CPU time of /proc stat lines, a command name with spaces and parentheses included. */
public class ProcStatTest {
    private static final String LINE = "4242 (qemu-system-x86) R 1 4242 4242 0 -1 4194560 9 0 0 0 17 4 0 0 20 0 3 0"
            + " 100 500000000 30000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";

    @Test
    public void readsStateAndCpuTicks() {
        assertEquals(Optional.of(new ProcStat('R', 21)), ProcStat.parse(LINE));
        // A process may name itself ") Z 1 2": only the last ')' counts.
        assertEquals(Optional.of(new ProcStat('S', 21)),
                ProcStat.parse(LINE.replace("(qemu-system-x86) R", "(a) Z 1 2 (b)) S")));
        assertTrue(ProcStat.parse(LINE.replace(") R ", ") Z ")).orElseThrow().ended());
        assertTrue(ProcStat.parse(LINE.replace(") R ", ") X ")).orElseThrow().ended());
        assertFalse(ProcStat.parse(LINE.replace(") R ", ") D ")).orElseThrow().ended());
    }

    @Test
    public void whatIsNoStatLineGivesNothing() {
        assertEquals(Optional.empty(), ProcStat.parse("garbage"));
        assertEquals(Optional.empty(), ProcStat.parse("1 (x) R 1 2 3"));
        assertEquals(Optional.empty(), ProcStat.parse(LINE.replace(" 17 4 ", " x 4 ")));
        assertEquals(Optional.empty(), ProcStat.parse(LINE.replace(") R ", ") RS ")));
    }

    @Test
    public void thisProcessIsRunning() throws Exception {
        ProcStat self = ProcStat.parse(Files.readString(Path.of("/proc/self/stat"))).orElseThrow();
        assertFalse(self.ended());
        assertTrue(self.cpuTicks() >= 0);
    }
}
