package io.zonekeeper.kvm.image;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
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
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

import io.zonekeeper.image.KernelFiles;

public class VmlinuxExtractorTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** A bzImage in miniature: a setup header naming the release, an XZ payload, then other bytes. */
    private static byte[] fakeBzImage(byte[] payload) throws IOException {
        ByteBuffer setup = ByteBuffer.allocate(0x400).order(ByteOrder.LITTLE_ENDIAN);
        setup.putInt(0x202, 0x53726448);
        setup.putShort(0x20E, (short) 0x100);
        byte[] version = "6.1.0-99-amd64 (debian-kernel@lists.debian.org) #1 SMP\0".getBytes(StandardCharsets.US_ASCII);
        setup.position(0x300);
        setup.put(version);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(setup.array());
        out.write(new byte[] {(byte) 0xFD, '7', 'z'}); // a false start of the magic
        try (XZOutputStream xz = new XZOutputStream(new java.io.FilterOutputStream(out) {
            @Override
            public void close() throws IOException {
                flush();
            }
        }, new LZMA2Options())) {
            xz.write(payload);
        }
        out.write("trailing bytes that are not XZ".getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    @Test
    public void extractsElfFromXzPayloadAndReusesTheCache() throws IOException {
        byte[] elf = new byte[200_000];
        elf[0] = 0x7F;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        for (int i = 4; i < elf.length; i++) {
            elf[i] = (byte) (i * 31);
        }
        Path kernel = tmp.newFile("vmlinuz-test").toPath();
        Files.write(kernel, fakeBzImage(elf));
        Path cache = tmp.getRoot().toPath().resolve("cache");
        VmlinuxExtractor x = new VmlinuxExtractor(cache);

        Path vmlinux = x.bootable(kernel);
        assertArrayEquals(elf, Files.readAllBytes(vmlinux));
        assertTrue(vmlinux.startsWith(cache));
        long mtime = Files.getLastModifiedTime(vmlinux).toMillis();
        assertEquals(vmlinux, x.bootable(kernel));
        assertEquals("the cached file is not written again", mtime, Files.getLastModifiedTime(vmlinux).toMillis());
        assertEquals(Optional.of("6.1.0-99-amd64"), KernelFiles.release(kernel));
    }

    @Test
    public void elfKernelIsBootedAsIs() throws IOException {
        Path kernel = tmp.newFile("vmlinux").toPath();
        Files.write(kernel, new byte[] {0x7F, 'E', 'L', 'F', 2, 1});
        assertEquals(kernel, new VmlinuxExtractor(tmp.getRoot().toPath()).bootable(kernel));
    }

    @Test(expected = IOException.class)
    public void missingKernelIsAnError() throws IOException {
        new VmlinuxExtractor(tmp.getRoot().toPath()).bootable(tmp.getRoot().toPath().resolve("nope"));
    }
}
