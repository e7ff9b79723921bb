package io.zonekeeper.shim;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import jakarta.json.Json;
import jakarta.json.JsonObject;

public class ContainerConfigTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static JsonObject json(String s) {
        return Json.createReader(new StringReader(s.replace('\'', '"'))).readObject();
    }

    @Test
    public void theProcessBecomesTheWorkloadWithNumericUser() throws Exception {
        ContainerConfig c = ContainerConfig.of(json("{'process':{'terminal':true,'user':{'uid':1000,'gid':100},"
                + "'args':['/bin/sh','-c','echo hi'],'env':['PATH=/bin','A=b=c'],'cwd':'/srv'}}"), "config.json");
        assertEquals(List.of("/bin/sh", "-c", "echo hi"), c.process().args());
        assertEquals(List.of("PATH=/bin", "A=b=c"), c.process().env());
        assertEquals("/srv", c.process().cwd());
        assertEquals("1000:100", c.process().user());
        assertTrue(c.process().terminal());
        assertNull(c.hypervisor());
    }

    @Test
    public void aContainerWithoutLimitsGetsTheDocumentedDefault() throws Exception {
        ContainerConfig c = ContainerConfig.of(json("{'process':{'args':['true']}}"), "config.json");
        assertEquals(ContainerConfig.DEFAULT_MEMORY_MIB, c.memoryMiB());
        assertEquals(1, c.vcpus());
        assertEquals("/", c.process().cwd());
        assertEquals("", c.process().user());
        assertFalse(c.process().terminal());
    }

    @Test
    public void memoryAndCpuLimitsSizeTheZone() throws Exception {
        // 100 MiB + 1 byte rounds up to 101 MiB, plus the guest's overhead; 150000/100000 of a CPU is 2 vCPUs.
        ContainerConfig c = ContainerConfig.of(json("{'process':{'args':['x']},'linux':{'resources':{"
                + "'memory':{'limit':104857601},'cpu':{'quota':150000,'period':100000}}}}"), "config.json");
        assertEquals(101 + ContainerConfig.GUEST_OVERHEAD_MIB, c.memoryMiB());
        assertEquals(2, c.vcpus());
        ContainerConfig small = ContainerConfig.of(json("{'process':{'args':['x']},'linux':{'resources':{"
                + "'memory':{'limit':1048576},'cpu':{'cpus':'0-3,6'}}}}"), "config.json");
        assertEquals(1 + ContainerConfig.GUEST_OVERHEAD_MIB, small.memoryMiB());
        assertEquals(5, small.vcpus());
    }

    @Test
    public void theHypervisorAnnotationIsTaken() throws Exception {
        ContainerConfig c = ContainerConfig.of(json("{'process':{'args':['x']},'annotations':{'"
                + ContainerConfig.HYPERVISOR_ANNOTATION + "':'xen'}}"), "config.json");
        assertEquals("xen", c.hypervisor());
    }

    @Test
    public void brokenSpecsAreNamed() {
        assertMessage("{}", "no process to run");
        assertMessage("{'process':{'args':[]}}", "args is empty");
        assertMessage("{'process':{'args':['x'],'env':['NOEQUALS']}}", "env entry 'NOEQUALS' is not KEY=VALUE");
        assertMessage("{'process':{'args':['x'],'cwd':'rel'}}", "cwd 'rel' is not absolute");
        assertMessage("{'process':{'args':['x']},'linux':{'resources':{'cpu':{'cpus':'3-1'}}}}", "is not a CPU list");
        assertMessage("{'process':{'args':['x']},'annotations':{'" + ContainerConfig.HYPERVISOR_ANNOTATION
                + "':''}}", "must name a hypervisor");
    }

    private static void assertMessage(String spec, String part) {
        ShimException e = assertThrows(ShimException.class, () -> ContainerConfig.of(json(spec), "config.json"));
        assertTrue(e.getMessage(), e.getMessage().contains(part));
        assertEquals(ShimException.INVALID, e.code());
    }

    @Test
    public void aBundleWithoutConfigJsonIsNamed() throws Exception {
        Path bundle = tmp.newFolder("b").toPath();
        ShimException e = assertThrows(ShimException.class, () -> ContainerConfig.read(bundle));
        assertTrue(e.getMessage(), e.getMessage().contains("has no config.json"));
        Files.writeString(bundle.resolve("config.json"), "[1]");
        ShimException notObject = assertThrows(ShimException.class, () -> ContainerConfig.read(bundle));
        assertTrue(notObject.getMessage(), notObject.getMessage().contains("not a JSON object"));
    }

    @Test
    public void zoneNamesAreValidAndDistinctPerNamespace() {
        String a = TaskService.zoneName("default", "My_Container.1");
        String b = TaskService.zoneName("k8s.io", "My_Container.1");
        assertTrue(a, io.zonekeeper.api.ZoneSpec.NAME.matcher(a).matches());
        assertTrue(a, a.startsWith("ctr-my-container-1-"));
        assertFalse(a.equals(b));
        String longId = "a".repeat(76);
        assertTrue(io.zonekeeper.api.ZoneSpec.NAME.matcher(TaskService.zoneName("default", longId)).matches());
    }
}
