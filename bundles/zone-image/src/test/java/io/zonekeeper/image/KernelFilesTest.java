package io.zonekeeper.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class KernelFilesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** The setup header of a bzImage, pointing at {@code version} (at 0x300 of the file). */
    static byte[] bzImageHeader(String version) {
        ByteBuffer setup = ByteBuffer.allocate(0x400).order(ByteOrder.LITTLE_ENDIAN);
        setup.putInt(0x202, 0x53726448);
        setup.putShort(0x20E, (short) 0x100);
        setup.position(0x300);
        setup.put((version + "\0").getBytes(StandardCharsets.US_ASCII));
        return setup.array();
    }

    @Test
    public void releaseComesFromTheHeaderWhateverTheFileIsCalled() throws IOException {
        Path k = Files.write(tmp.getRoot().toPath().resolve("kernel.img"),
                bzImageHeader("6.1.0-99-amd64 (debian-kernel@lists.debian.org) #1 SMP"));
        assertEquals(Optional.of("6.1.0-99-amd64"), KernelFiles.release(k));
        assertTrue(KernelFiles.isBzImage(k));
    }

    @Test
    public void aReleaseThatCouldLeadOutOfAFolderIsNotBelieved() throws IOException {
        Path root = tmp.getRoot().toPath();
        for (String hostile : new String[] {"../../../etc", "6.1/../../x", "..", "a".repeat(65), "6.1\u00e9"}) {
            Path k = Files.write(root.resolve("vmlinuz-6.1.0-9-amd64"), bzImageHeader(hostile + " #1 SMP"));
            assertEquals(hostile, Optional.empty(), KernelFiles.release(k));
        }
        assertEquals(Optional.empty(), KernelFiles.release(Files.writeString(root.resolve("vmlinuz-.."), "x")));
        assertEquals(Optional.of("6.1.0+custom_1.x"),
                KernelFiles.release(Files.write(root.resolve("k"), bzImageHeader("6.1.0+custom_1.x #1"))));
    }

    @Test
    public void releaseFallsBackToTheFileName() throws IOException {
        Path root = tmp.getRoot().toPath();
        assertEquals(Optional.of("5.10.0-7-amd64"),
                KernelFiles.release(Files.writeString(root.resolve("vmlinuz-5.10.0-7-amd64"), "not a bzImage")));
        assertEquals(Optional.of("6.1.0-test"),
                KernelFiles.release(Files.writeString(root.resolve("vmlinux-6.1.0-test"), "an ELF, say")));
        assertEquals("unreadable: judged by its name", Optional.of("6.2"),
                KernelFiles.release(root.resolve("vmlinuz-6.2")));
        assertEquals(Optional.empty(), KernelFiles.release(Files.writeString(root.resolve("kernel"), "x")));
        assertFalse(KernelFiles.isBzImage(root.resolve("kernel")));
    }

    @Test
    public void theNewestKernelIsFoundByItsNumbers() throws IOException {
        Path boot = tmp.newFolder("boot").toPath();
        for (String n : new String[] {"vmlinuz-6.1.0-9-amd64", "vmlinuz-6.1.0-56-amd64", "vmlinuz-5.10.0-30-amd64",
            "config-6.2.0-1-amd64"}) {
            Files.writeString(boot.resolve(n), n);
        }
        assertEquals(boot.resolve("vmlinuz-6.1.0-56-amd64"), KernelFiles.newest(boot));
        assertTrue(KernelFiles.compareVersions("vmlinuz-5.10.0-30-amd64", "vmlinuz-6.1.0-9-amd64") < 0);
        IOException e = assertThrows(IOException.class, () -> KernelFiles.newest(tmp.newFolder("empty").toPath()));
        assertTrue(e.getMessage(), e.getMessage().contains("no kernel vmlinuz-*"));
    }

    @Test
    public void theHostKernelsReleaseComesFromItsHeader() throws IOException {
        Path k;
        try {
            k = KernelFiles.newest(Path.of("/boot"));
        } catch (IOException e) {
            org.junit.Assume.assumeNoException("no host kernel in /boot", e);
            return;
        }
        Path copy = tmp.newFile("kernel.img").toPath();
        Files.copy(k, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertEquals("the name of the copy says nothing; the header does",
                Optional.of(k.getFileName().toString().substring("vmlinuz-".length())), KernelFiles.release(copy));
        assertTrue(KernelFiles.isBzImage(copy));
    }
}
