package io.zonekeeper.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.Test;

import io.zonekeeper.api.WorkloadSpec;
import io.zonekeeper.api.image.ImageConfig;

public class ImageWorkloadTest {
    private static final ImageConfig IMAGE = new ImageConfig(List.of("/bin/entry", "-v"), List.of("serve", "--port=80"),
            List.of("PATH=/opt/bin:/bin", "MODE=prod", "EMPTY="), "/srv", "app");

    @Test
    public void theImageAloneRunsEntrypointAndCmdAsItsConfigSays() {
        ImageWorkload w = ImageWorkload.merge(IMAGE, WorkloadSpec.NONE);
        assertEquals(List.of("/bin/entry", "-v", "serve", "--port=80"), w.argv());
        assertEquals(List.of("PATH=/opt/bin:/bin", "MODE=prod", "EMPTY="), w.env());
        assertEquals("/srv", w.workdir());
        assertEquals("app", w.user());
    }

    @Test
    public void theSpecsCommandReplacesCmdOnlyAndItsEnvOverridesByKeyAsDockerRunDoes() {
        ImageWorkload w = ImageWorkload.merge(IMAGE, new WorkloadSpec(List.of("check"), List.of("MODE=test", "NEW=1"),
                "/tmp", "1000:1000"));
        assertEquals(List.of("/bin/entry", "-v", "check"), w.argv());
        assertEquals(List.of("PATH=/opt/bin:/bin", "MODE=test", "EMPTY=", "NEW=1"), w.env());
        assertEquals("/tmp", w.workdir());
        assertEquals("1000:1000", w.user());
    }

    @Test
    public void anImageWithoutPathGetsDockersDefaultPath() {
        ImageWorkload w = ImageWorkload.merge(new ImageConfig(List.of(), List.of("/bin/sh"), List.of(), "", ""),
                WorkloadSpec.NONE);
        assertEquals(List.of(ImageWorkload.DEFAULT_PATH), w.env());
    }

    @Test
    public void theEncodingIsTaggedNulTerminatedRecordsPaddedToWholeSectors() {
        byte[] b = new ImageWorkload(List.of("sh", "-c", "echo 'a b'"), List.of("A=1"), "/w", "u").encode();
        assertEquals(ImageWorkload.MIN_DISK, b.length);
        String text = new String(b, StandardCharsets.UTF_8);
        assertTrue(text.startsWith("zk-workload 1\nash\0a-c\0aecho 'a b'\0eA=1\0d/w\0uu\0.\0\0"));
        assertTrue(text.substring(text.indexOf(".\0")).chars().skip(1).allMatch(c -> c == 0));
    }

    @Test
    public void aLongWorkloadEndsOnASectorBoundary() {
        byte[] b = new ImageWorkload(List.of("x".repeat(9000)), List.of(), "", "").encode();
        assertEquals(9216, b.length);
    }

    @Test
    public void noCommandAndOversizedWorkloadsAreRefusedByName() {
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> ImageWorkload.merge(new ImageConfig(List.of(), List.of(), List.of(), "", ""), WorkloadSpec.NONE)
                        .encode());
        assertTrue(none.getMessage(), none.getMessage().contains("no Entrypoint or Cmd"));
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                () -> new ImageWorkload(List.of("x".repeat(ImageWorkload.MAX_BYTES)), List.of(), "", "").encode());
        assertTrue(big.getMessage(), big.getMessage().contains("more than the " + ImageWorkload.MAX_BYTES));
    }
}
