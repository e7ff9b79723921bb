package io.zonekeeper.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The kernel file reader, fed any bytes as a kernel file: a kernel given in a spec may be any file, and its setup
 * header says where its version string lies. The contract of {@link KernelFiles#release}: a release that matches
 * {@link KernelFiles#RELEASE} (it becomes part of paths) or empty, never an exception; {@link KernelFiles#isBzImage}
 * answers without throwing for a readable file; {@link KernelFiles#compareVersions} orders any two names
 * consistently. The corpus and every crash found are kept under {@code KernelFilesFuzzTestInputs/kernelFile}.
 */
class KernelFilesFuzzTest {
    private static Path dir;
    private static Path kernel;

    @BeforeAll
    static void createKernelFile() throws IOException {
        dir = Files.createTempDirectory("kernel-fuzz");
        kernel = dir.resolve("kernel");
    }

    @AfterAll
    static void deleteKernelFile() throws IOException {
        Files.deleteIfExists(kernel);
        Files.delete(dir);
    }

    @FuzzTest(maxDuration = "10m")
    void kernelFile(byte[] input) throws IOException {
        Files.write(kernel, input);
        Optional<String> release = KernelFiles.release(kernel);
        release.ifPresent(r -> assertTrue(KernelFiles.RELEASE.matcher(r).matches(), "release " + r));
        KernelFiles.isBzImage(kernel);

        String text = new String(input, StandardCharsets.ISO_8859_1);
        String a = text.substring(0, text.length() / 2);
        String b = text.substring(text.length() / 2);
        assertEquals(Integer.signum(KernelFiles.compareVersions(a, b)),
                -Integer.signum(KernelFiles.compareVersions(b, a)), "compareVersions is antisymmetric");
        assertEquals(0, KernelFiles.compareVersions(a, a));
    }
}
