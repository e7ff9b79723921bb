package io.zonekeeper.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.GZIPInputStream;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

/**
 * The initramfs writer, fed any sequence of entries (names, permissions, contents), and read back with Commons
 * Compress's cpio reader, as the kernel's unpacker would read it. Its contract: an entry it cannot write faithfully
 * is refused with an {@link IllegalArgumentException}; every entry it does write reads back with the same name,
 * type, permissions and contents, after the folders it made for it. The corpus and every crash found are kept
 * under {@code InitramfsFuzzTestInputs/initramfs}.
 */
class InitramfsFuzzTest {

    private record Written(String name, int type, int perm, byte[] data) {
    }

    @FuzzTest(maxDuration = "10m")
    void initramfs(FuzzedDataProvider in) throws IOException {
        ByteArrayOutputStream archive = new ByteArrayOutputStream();
        List<Written> written = new ArrayList<>();
        Set<String> folders = new HashSet<>();
        try (InitramfsWriter w = new InitramfsWriter(archive)) {
            int count = in.consumeInt(0, 8);
            for (int i = 0; i < count; i++) {
                int kind = in.consumeInt(0, 3);
                String name = in.consumeString(40);
                int perm = in.consumeInt(0, 07777);
                try {
                    switch (kind) {
                        case 0 -> {
                            w.directory(name);
                            folders.add(name);
                        }
                        case 1 -> {
                            byte[] data = in.consumeBytes(64);
                            w.file(name, perm, data);
                            written.add(new Written(name, CpioConstants.C_ISREG, perm, data));
                        }
                        case 2 -> {
                            String target = in.consumeString(40);
                            w.symlink(name, target);
                            written.add(new Written(name, CpioConstants.C_ISLNK, 0777,
                                    target.getBytes(StandardCharsets.UTF_8)));
                        }
                        default -> {
                            w.charDevice(name, perm, in.consumeInt(0, 255), in.consumeInt(0, 255));
                            written.add(new Written(name, CpioConstants.C_ISCHR, perm, new byte[0]));
                        }
                    }
                } catch (IllegalArgumentException refused) {
                    assertNotNull(refused.getMessage());
                    return; // the archive is abandoned, as a caller would
                }
            }
        }

        List<Written> read = new ArrayList<>();
        Set<String> readFolders = new HashSet<>();
        try (CpioArchiveInputStream cpio = new CpioArchiveInputStream(
                new GZIPInputStream(new ByteArrayInputStream(archive.toByteArray())), "UTF-8")) {
            CpioArchiveEntry e;
            while ((e = cpio.getNextEntry()) != null) {
                int type = (int) (e.getMode() & CpioConstants.S_IFMT);
                if (type == CpioConstants.C_ISDIR) {
                    assertTrue(readFolders.add(e.getName()), "folder " + e.getName() + " written twice");
                    continue;
                }
                String parent = e.getName().contains("/") ? e.getName().substring(0, e.getName().lastIndexOf('/'))
                        : null;
                assertTrue(parent == null || readFolders.contains(parent), "no folder before " + e.getName());
                read.add(new Written(e.getName(), type, (int) (e.getMode() & 07777), cpio.readAllBytes()));
            }
        }
        assertTrue(readFolders.containsAll(folders), "folders written: " + folders + ", read: " + readFolders);
        assertEquals(written.size(), read.size(), "entries read back");
        for (int i = 0; i < written.size(); i++) {
            Written w = written.get(i);
            Written r = read.get(i);
            assertEquals(w.name(), r.name());
            assertEquals(w.type(), r.type(), "type of " + w.name());
            assertEquals(w.perm(), r.perm(), "permissions of " + w.name());
            assertArrayEquals(w.data(), r.data(), "contents of " + w.name());
        }
    }
}
