package io.zonekeeper.hostio;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class AtomicFilesTest {
    private static final int KILLS = 50;
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path dir;

    @Before
    public void folder() {
        dir = tmp.getRoot().toPath();
    }

    @Test
    public void aWriteReplacesTheFileMakesItsFolderAndLeavesNoTempFile() throws Exception {
        Path target = dir.resolve("sub/record.json");
        AtomicFiles.writeString(target, "{\"v\":1}");
        AtomicFiles.writeString(target, "{\"v\":2}");
        assertEquals("{\"v\":2}", Files.readString(target));
        assertEquals(List.of("record.json"), names(target.getParent()));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    }

    @Test
    public void aWriteThatFailsHalfWayLeavesTheOldFile() throws Exception {
        Path target = dir.resolve("record.json");
        AtomicFiles.writeString(target, "old");
        try {
            AtomicFiles.write(target, out -> {
                out.write("new, but only ha".getBytes(StandardCharsets.UTF_8));
                throw new IOException("the source ran dry");
            });
            fail("the writer's failure must reach the caller");
        } catch (IOException e) {
            assertEquals("the source ran dry", e.getMessage());
        }
        assertEquals("old", Files.readString(target));
        assertEquals(List.of("record.json"), names(dir));
    }

    @Test
    public void aWriterThatClosesItsStreamStillGetsItsContentSynced() throws Exception {
        Path target = dir.resolve("hook.sh");
        AtomicFiles.write(target, PosixFilePermissions.fromString("rwxr-xr-x"), out -> {
            try (out) {
                out.write("#!/bin/sh\n".getBytes(StandardCharsets.UTF_8));
            }
        });
        assertArrayEquals("#!/bin/sh\n".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(target));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    }

    @Test
    public void aRenameMovesAFolderMadeUnderAHiddenNameIntoPlaceAndADeleteRemovesAFile() throws Exception {
        Path hidden = dir.resolve(".zone.creating");
        AtomicFiles.writeString(hidden.resolve("zone.json"), "{}");
        AtomicFiles.rename(hidden, dir.resolve("zone"));
        assertEquals("{}", Files.readString(dir.resolve("zone/zone.json")));
        assertEquals(List.of("zone"), names(dir));
        assertTrue(AtomicFiles.delete(dir.resolve("zone/zone.json")));
        assertFalse("gone already", AtomicFiles.delete(dir.resolve("zone/zone.json")));
        assertEquals(List.of(), names(dir.resolve("zone")));
    }

    /**
     * A writer in a JVM of its own replaces the file over and over; it is killed with SIGKILL at a random moment,
     * {@value #KILLS} times. Each time the file holds one whole generation, never an older one than before, never
     * a torn or empty one.
     */
    @Test
    public void aWriterKilledAtRandomLeavesTheOldOrTheNewFileWholeNeverATornOne() throws Exception {
        Path target = dir.resolve("record.txt");
        AtomicFiles.writeString(target, AtomicWriterLoop.content(0));
        Random random = new Random();
        long generation = 0;
        int inTheWindow = 0;
        for (int kill = 1; kill <= KILLS; kill++) {
            Process writer = new ProcessBuilder(javaBinary(), "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
                    classPath(), AtomicWriterLoop.class.getName(), target.toString(), Long.toString(generation))
                    .redirectErrorStream(true).start();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(writer.getInputStream(),
                        StandardCharsets.UTF_8));
                String line = out.readLine();
                assertEquals("the writer's first line", "wrote " + (generation + 1), line);
                Thread.sleep(random.nextInt(40));
                writer.destroyForcibly(); // SIGKILL on Linux
                assertTrue("the writer ends after SIGKILL", writer.waitFor(60, TimeUnit.SECONDS));
            } finally {
                writer.destroyForcibly();
            }
            long now = wholeGeneration(target, kill);
            assertTrue("kill " + kill + ": generation " + now + " is older than " + generation, now >= generation);
            generation = now;
            // A temp file left behind: this kill came after the temp was made and before it was renamed.
            List<String> temps = names(dir).stream().filter(n -> !n.equals("record.txt")).toList();
            if (!temps.isEmpty()) {
                inTheWindow++;
                for (String t : temps) {
                    assertTrue(t, t.startsWith(".record.txt.") && t.endsWith(".tmp"));
                    Files.delete(dir.resolve(t));
                }
            }
        }
        System.out.printf("atomic write: %d kills (%d between temp file and rename), 0 torn files, generation %d%n",
                KILLS, inTheWindow, generation);
        assertTrue("no kill landed between the temp file and its rename, so the kills proved nothing",
                inTheWindow > 0);
    }

    /** The generation the file holds, when it holds exactly that generation's content; otherwise a failure. */
    private static long wholeGeneration(Path target, int kill) throws IOException {
        String text = Files.readString(target, StandardCharsets.UTF_8);
        String first = text.lines().findFirst().orElse("");
        if (!first.startsWith("generation ")) {
            throw new AssertionError("kill " + kill + ": torn or empty file of " + text.length() + " chars, starting '"
                    + first + "'");
        }
        long g = Long.parseLong(first.substring("generation ".length()));
        if (!text.equals(AtomicWriterLoop.content(g))) {
            throw new AssertionError("kill " + kill + ": generation " + g + " is torn: " + text.length() + " chars of "
                    + AtomicWriterLoop.content(g).length());
        }
        return g;
    }

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** This module's classes and test classes, wherever the build put them. */
    private static String classPath() throws Exception {
        return Path.of(AtomicFiles.class.getProtectionDomain().getCodeSource().getLocation().toURI()) + ":"
                + Path.of(AtomicWriterLoop.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static List<String> names(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
