package io.zonekeeper.launcher;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.file.Path;
import java.util.Optional;

import org.junit.Test;

public class LaunchOptionsTest {

    @Test
    public void noArgumentsMeansTheApplianceWithItsDefaults() throws Exception {
        LaunchOptions o = LaunchOptions.parse();
        assertEquals(Optional.empty(), o.stateDir());
        assertEquals(Optional.empty(), o.commands());
        assertFalse(o.noShell());
        assertFalse(o.help());
    }

    @Test
    public void takesStateCommandsAndNoShell() throws Exception {
        LaunchOptions o = LaunchOptions.parse("--state", "/tmp/s", "-c", "zone:list; driver:list --json");
        assertEquals(Optional.of(Path.of("/tmp/s")), o.stateDir());
        assertEquals(Optional.of("zone:list; driver:list --json"), o.commands());
        assertTrue(LaunchOptions.parse("--no-shell").noShell());
        assertTrue(LaunchOptions.parse("--help").help());
        assertTrue(LaunchOptions.parse("-h").help());
    }

    @Test
    public void takesLongOptionsWithAnEqualsSign() throws Exception {
        LaunchOptions o = LaunchOptions.parse("--state=/var/lib/zk", "--command=lb");
        assertEquals(Optional.of(Path.of("/var/lib/zk")), o.stateDir());
        assertEquals(Optional.of("lb"), o.commands());
    }

    @Test
    public void commandsMayStartWithADash() throws Exception {
        assertEquals(Optional.of("-x"), LaunchOptions.parse("-c", "-x").commands());
    }

    @Test
    public void refusesAnUnknownArgumentByName() {
        assertUsage("unknown argument: --frobnicate", "--frobnicate");
        assertUsage("unknown argument: -x", "--no-shell", "-x");
    }

    @Test
    public void refusesAStrayWordAndSaysHowToRunCommands() {
        assertUsage("unexpected argument: lb (to run commands, pass them with -c '...')", "lb");
    }

    @Test
    public void refusesAnOptionWithoutItsValue() {
        assertUsage("--state needs a directory", "--state");
        assertUsage("-c needs commands", "-c");
        assertUsage("--state needs a directory, got an empty string", "--state", "");
    }

    @Test
    public void refusesRepeatedAndConflictingOptions() {
        assertUsage("--state given twice", "--state", "a", "--state", "b");
        assertUsage("-c given twice; separate commands with ';' in one argument", "-c", "lb", "-c", "lb");
        assertUsage("-c and --no-shell do not go together: -c never opens a shell", "--no-shell", "-c", "lb");
        assertUsage("--no-shell takes no value", "--no-shell=yes");
    }

    private static void assertUsage(String message, String... args) {
        try {
            LaunchOptions.parse(args);
            fail("expected a usage error for " + String.join(" ", args));
        } catch (UsageException e) {
            assertEquals(message, e.getMessage());
        }
    }
}
