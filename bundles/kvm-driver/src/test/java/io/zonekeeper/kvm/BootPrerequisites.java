package io.zonekeeper.kvm;

import org.junit.Assert;
import org.junit.Assume;

/**
 * What a boot test needs from the host (QEMU, a kernel under /boot, busybox-static). On a developer's machine a
 * missing one skips the test; with {@code CI=true} it fails it, so that a bare build machine cannot pass the boot
 * tests by skipping them.
 */
public final class BootPrerequisites {
    private BootPrerequisites() {
    }

    /** Skips the test when {@code present} is false, or fails it on CI; {@code what} says what was looked for. */
    public static void need(String what, boolean present) {
        if ("true".equals(System.getenv("CI"))) {
            Assert.assertTrue("CI=true, so a boot test fails rather than skips without: " + what, present);
        } else {
            Assume.assumeTrue(what, present);
        }
    }
}
