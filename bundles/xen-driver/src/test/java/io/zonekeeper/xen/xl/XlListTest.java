package io.zonekeeper.xen.xl;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.junit.Test;

import io.zonekeeper.api.ZoneState;

public class XlListTest {
    static final String ZONE = "6b1f2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3";

    /** The shape xl 4.17 prints for {@code xl list -l}: dom0 with a bare config, then a PV guest. */
    static final String LONG = """
            [
                {
                    "domid": 0,
                    "config": {
                        "c_info": {
                            "type": "pv",
                            "name": "Domain-0"
                        },
                        "b_info": {
                            "max_memkb": 1572864,
                            "target_memkb": 1572864
                        }
                    }
                },
                {
                    "domid": 3,
                    "config": {
                        "c_info": {
                            "type": "pv",
                            "name": "hello",
                            "uuid": "%s",
                            "run_hotplug_scripts": "True"
                        },
                        "b_info": {
                            "max_vcpus": 1,
                            "max_memkb": 262144,
                            "type.pv": {
                                "kernel": "/boot/vmlinuz-6.1.0-56-amd64",
                                "cmdline": "console=hvc0 quiet rdinit=/init zk.name=hello loglevel=4"
                            }
                        },
                        "on_poweroff": "destroy",
                        "on_crash": "preserve"
                    }
                }
            ]
            """.formatted(ZONE);

    static final String TABLE = """
            Name                                        ID   Mem VCPUs\tState\tTime(s)
            Domain-0                                     0  1536     2     r-----      41.3
            hello                                        3   256     1     -b----       2.9
            crashy                                       4   256     1     ----c-       0.4
            """;

    @Test
    public void longListingGivesIdsNamesUuidsAndTypes() {
        List<Domain> d = XlList.parseLong(LONG);
        assertEquals(2, d.size());
        assertEquals(0, d.get(0).domid());
        assertEquals("Domain-0", d.get(0).name());
        assertEquals(Optional.empty(), d.get(0).uuid());
        assertEquals(3, d.get(1).domid());
        assertEquals("hello", d.get(1).name());
        assertEquals(Optional.of(UUID.fromString(ZONE)), d.get(1).uuid());
        assertEquals("pv", d.get(1).type());
    }

    @Test
    public void warningsBeforeTheJsonAreSkipped() {
        assertEquals(2, XlList.parseLong(Xl.jsonPart("libxl: warning: something\n" + LONG)).size());
    }

    @Test
    public void anEmptyListingIsNoDomains() {
        assertEquals(List.of(), XlList.parseLong("  \n"));
    }

    @Test
    public void somethingElseThanTheArrayIsAnErrorThatSaysSo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> XlList.parseLong("{}"));
        assertTrue(e.getMessage(), e.getMessage().contains("not an array"));
        assertThrows(IllegalArgumentException.class, () -> XlList.parseLong("[ {\"config\": {}} ]"));
        assertThrows(IllegalArgumentException.class, () -> XlList.parseLong("[ oops"));
    }

    @Test
    public void aUuidThatIsNotOneProvesNothing() {
        List<Domain> d = XlList.parseLong("[{\"domid\": 5, \"config\": {\"c_info\": {\"name\": \"x\", \"uuid\": \"zz\"}}}]");
        assertEquals(Optional.empty(), d.get(0).uuid());
    }

    @Test
    public void tableGivesTheStateFlagsById() {
        Map<Integer, String> f = XlList.parseFlags(TABLE);
        assertEquals(Map.of(0, "r-----", 3, "-b----", 4, "----c-"), f);
    }

    @Test
    public void flagsMeanZoneStates() {
        List<Domain> d = XlList.merge(XlList.parseLong(LONG), XlList.parseFlags(TABLE));
        assertEquals(ZoneState.RUNNING, d.get(1).zoneState());
        assertFalse(d.get(1).paused());
        assertEquals(ZoneState.PAUSED, d.get(1).withFlags("--p---").zoneState());
        assertEquals(ZoneState.STOPPING, d.get(1).withFlags("---s--").zoneState());
        assertEquals(ZoneState.CRASHED, d.get(1).withFlags("----c-").zoneState());
        assertEquals(ZoneState.STOPPING, d.get(1).withFlags("-----d").zoneState());
    }
}
