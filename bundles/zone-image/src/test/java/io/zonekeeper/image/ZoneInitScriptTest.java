package io.zonekeeper.image;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ZoneInitScriptTest {
    private static final List<String> HOOK_FUNCTIONS = List.of("zk_disk_dev", "zk_power_setup", "zk_channels_setup",
            "zk_channels_watch", "zk_channels_report", "zk_agent_start");
    private static final List<String> HOOK_VARIABLES = List.of("zk_console", "zk_wait_tries", "zk_wait_step");

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** Runs {@code script} with the host's /bin/sh; its stdout, and the exit status on the last line. */
    private String sh(String script) throws IOException, InterruptedException {
        Path f = tmp.newFile().toPath();
        Files.writeString(f, script + "\necho \"rc=$?\"\n");
        Process p = new ProcessBuilder("/bin/sh", f.toString()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue("sh ended", p.waitFor(30, TimeUnit.SECONDS));
        return out;
    }

    @Test
    public void everyHypervisorGetsTheOneScriptWithItsOwnHooks() {
        for (Hypervisor h : Hypervisor.values()) {
            String s = ZoneInitScript.render(h);
            assertTrue(s.startsWith("#!/bin/busybox sh\n"));
            assertFalse("the hooks line is replaced", s.contains(ZoneInitScript.HOOKS_LINE));
            assertTrue(h + " carries its hooks", s.contains(ZoneInitScript.hooks(h)));
            for (String fn : HOOK_FUNCTIONS) {
                assertTrue(h + " defines " + fn, s.contains("\n" + fn + "() {\n"));
            }
            for (String v : HOOK_VARIABLES) {
                assertTrue(h + " sets " + v, s.contains("\n" + v + "="));
            }
            assertTrue(s.contains("echo \"zonekeeper: zone $name ready\""));
            assertEquals(String.format(ZoneInitScript.READY_MARKER, "$name"), "zonekeeper: zone $name ready");
            for (String word : List.of("zk.name=*", "zk.features=*", "zk.channels=*", "zk.heartbeat=*", "zk.nic=*",
                    "zk.disks=*", "zk.root=*", "zk.init=*", "zk.run=")) {
                assertTrue(h + " reads " + word, s.contains(word));
            }
            assertTrue("disks at /mnt/NAME", s.contains("mount -t ext4 -o \"$mode\" \"$dev\" \"/mnt/$dname\""));
            assertTrue(s.contains("exec switch_root /newroot \"$newinit\""));
        }
        String kvm = ZoneInitScript.render(Hypervisor.KVM);
        String xen = ZoneInitScript.render(Hypervisor.XEN);
        assertTrue(kvm.contains("zk_console=/dev/ttyS0") && xen.contains("zk_console=/dev/hvc0"));
        assertTrue(kvm.contains("/dev/virtio-ports/$c") && !xen.contains("virtio"));
        assertTrue(xen.contains("/run/zonekeeper/channels") && !kvm.contains("/run/zonekeeper/channels"));
        assertTrue(kvm.contains("\"Power Button\""));
    }

    @Test
    public void bothRenderingsAreValidShell() throws Exception {
        for (Hypervisor h : Hypervisor.values()) {
            Path f = tmp.newFile("init-" + h).toPath();
            Files.writeString(f, ZoneInitScript.render(h));
            Process p = new ProcessBuilder("/bin/sh", "-n", f.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(h + ": " + out, 0, p.exitValue());
        }
    }

    /** The hooks define and set things only: sourcing them alone prints nothing and runs nothing. */
    /**
     * The init's module loading, cut from the script and run against folders of the test's own: each feature's
     * modules in order, a loaded one (its /sys/module/NAME/initstate) skipped, a list's last line without a newline
     * still read, a feature the image lacks named, and the shell's word splitting as before afterwards.
     */
    @Test
    public void theModuleLoopLoadsEachFeaturesModulesInOrderOnce() throws Exception {
        Path root = tmp.newFolder("root").toPath();
        Files.createDirectories(root.resolve("etc/zonekeeper"));
        Files.writeString(root.resolve("etc/zonekeeper/modules.power"), "evdev\nbutton\n");
        Files.writeString(root.resolve("etc/zonekeeper/modules.agent"), "virtio\nvirtio_mmio\nvirtio_console");
        Files.writeString(root.resolve("etc/zonekeeper/modules.net"), "virtio_mmio\nvirtio_net\n");
        Files.createDirectories(root.resolve("sys/module/virtio"));
        Files.writeString(root.resolve("sys/module/virtio/initstate"), "live\n");
        Files.createDirectories(root.resolve("sys/module/button")); // built in: no initstate, so insmod is tried
        String script = ZoneInitScript.render(Hypervisor.KVM);
        int from = script.indexOf("ifs=$IFS\n");
        int to = script.indexOf("IFS=$ifs\n", script.indexOf("done <\"/etc/zonekeeper/modules.$group\""));
        assertTrue("the module loop is where this test looks for it", from > 0 && to > from);
        String loop = script.substring(from, to + "IFS=$ifs\n".length()).replace("/etc/zonekeeper/", root + "/etc/zonekeeper/")
                .replace("/sys/module/", root + "/sys/module/");
        String out = sh("insmod() { echo \"insmod $1\"; mkdir -p " + root + "/sys/module/$(basename $1 .ko); touch "
                + root + "/sys/module/$(basename $1 .ko)/initstate; [ \"$1\" != /lib/modules/button.ko ]; }\n"
                + "features=power,agent,nosuch,net\n" + loop + "x='a b'; for w in $x; do echo \"word $w\"; done");
        assertEquals("insmod /lib/modules/evdev.ko\ninsmod /lib/modules/button.ko\nzonekeeper: module button not loaded\n"
                + "insmod /lib/modules/virtio_mmio.ko\ninsmod /lib/modules/virtio_console.ko\n"
                + "zonekeeper: this image has no feature nosuch\ninsmod /lib/modules/virtio_net.ko\nword a\nword b\nrc=0\n",
                out);
    }

    @Test
    public void hooksRunNothingWhenDefined() throws Exception {
        for (Hypervisor h : Hypervisor.values()) {
            assertEquals(h.toString(), "rc=0\n", sh(ZoneInitScript.hooks(h)));
        }
    }

    /** The contract zk_disk_dev keeps for the init's message: fail, naming the device waited for where known. */
    @Test
    public void aDiskThatDoesNotAppearFailsTheHookWithTheDeviceWaitedFor() throws Exception {
        String fast = "\nzk_wait_tries=2\nzk_wait_step=0\n";
        assertEquals("/dev/xvdc\nrc=1\n", sh(ZoneInitScript.hooks(Hypervisor.XEN) + fast + "zk_disk_dev 2"));
        assertEquals("rc=1\n", sh(ZoneInitScript.hooks(Hypervisor.KVM) + fast + "zk_disk_dev 0"));
    }

    @Test
    public void theXenChannelListIsOneNamePerLineInOrder() throws Exception {
        Path run = tmp.newFolder("run").toPath();
        String hooks = ZoneInitScript.hooks(Hypervisor.XEN).replace("/run/zonekeeper", run + "/zonekeeper");
        assertEquals("rc=0\n", sh(hooks + "\nchannels=b,a\nzk_channels_setup"));
        assertEquals("b\na\n", Files.readString(run.resolve("zonekeeper/channels")));
    }
}
