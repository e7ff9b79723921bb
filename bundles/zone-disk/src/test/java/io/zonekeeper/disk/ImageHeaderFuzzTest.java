package io.zonekeeper.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;

import com.code_intelligence.jazzer.junit.FuzzTest;

import io.zonekeeper.api.DiskSpec;

/**
 * The disk image header check, fed any first bytes of an image: a guest writes its disk, so the header is the
 * guest's. The contract of {@link ImageHeader#refusal}: a reason or empty, never an exception, for either recorded
 * format and any header up to {@link ImageHeader#READ} bytes; a raw image is refused exactly when it starts with
 * the qcow2 magic; a qcow2 image passes only with a version 2 or 3 header that names no backing file and no
 * external data file. The corpus and every crash found are kept under {@code ImageHeaderFuzzTestInputs/imageHeader}.
 */
class ImageHeaderFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void imageHeader(byte[] input) {
        byte[] header = Arrays.copyOf(input, Math.min(input.length, ImageHeader.READ));
        Optional<String> raw = ImageHeader.refusal(DiskSpec.FORMAT_RAW, header);
        assertEquals(ImageHeader.hasQcow2Magic(header), raw.isPresent(), "raw refused exactly for the qcow2 magic");

        Optional<String> qcow2 = ImageHeader.refusal(DiskSpec.FORMAT_QCOW2, header);
        if (qcow2.isEmpty()) {
            ByteBuffer h = ByteBuffer.wrap(header);
            int version = h.getInt(4);
            assertTrue(version == 2 || version == 3, "version " + version + " passed");
            assertEquals(0, h.getLong(8), "a backing file offset passed");
            assertEquals(0, h.getInt(16), "a backing file size passed");
            assertTrue(version == 2 || (h.getLong(72) & ImageHeader.EXTERNAL_DATA_FILE) == 0,
                    "an external data file passed");
        }
    }
}
