package io.zonekeeper.itests;

import static org.junit.Assert.assertTrue;

import java.io.StringReader;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

import io.zonekeeper.api.ZoneManager;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;

/**
 * A zone's network counters, from its tap, rise while another zone pings it from inside its guest, in a network
 * namespace of the test's own.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ObserveNetnsIT {
    private static final java.nio.file.Path STATE = Containers.newStateDir("observe-net");

    @Inject
    ZoneManager zones;
    @Inject
    CommandProcessor shell;

    @Configuration
    public Option[] config() {
        return new Option[] { Containers.core(STATE), Containers.kvm(), Containers.networkAndDisk(),
                Containers.observe() };
    }

    @Before
    public void onlyInANamespaceOfOurOwn() throws Exception {
        Containers.assumeOwnNetworkNamespace();
    }

    @After
    public void destroyEverything() {
        Containers.destroyAllZones(zones, shell);
        Containers.run(shell, "net:destroy obs");
    }

    private String sh(String command) {
        return Containers.run(shell, command).ok();
    }

    @Test
    public void networkBytesAndPacketsRiseWhileOneZonePingsAnother() throws Exception {
        sh("net:create --subnet 10.99.9.0/24 obs");
        sh("zone:create --hypervisor kvm --memory 128 --networks obs=10.99.9.10 --start pinged");
        sh("zone:wait --timeout 90 --console 'zonekeeper: zone pinged ready' pinged");
        JsonObject before = stats("pinged");
        // The other zone pings it from inside its own guest for about 20 s, then powers off.
        sh("zone:create --hypervisor kvm --memory 128 --networks obs=10.99.9.11 --cmdline"
                + " 'zk.run=\"ping -c 40 -i 0.5 -W 5 10.99.9.10\"' --start pinger");
        sh("zone:wait --timeout 120 --console 'bytes from 10.99.9.10' pinger");
        JsonObject pingerDuring = stats("pinger");
        Thread.sleep(3000);
        JsonObject after = stats("pinged");
        for (String m : new String[] { "zonekeeper_zone_network_receive_bytes", "zonekeeper_zone_network_transmit_bytes",
                "zonekeeper_zone_network_receive_packets", "zonekeeper_zone_network_transmit_packets" }) {
            assertTrue(m + " of pinged rose: " + value(before, m) + " then " + value(after, m),
                    value(after, m) > value(before, m));
        }
        // The pinger's own tap counted what it sent: its transmit counters keep rising while it pings.
        JsonObject pingerLater = stats("pinger");
        String tx = "zonekeeper_zone_network_transmit_packets";
        assertTrue(tx + " of pinger rose: " + value(pingerDuring, tx) + " then " + value(pingerLater, tx),
                value(pingerLater, tx) > value(pingerDuring, tx));
        String top = sh("zone:top -n 1 -d 1");
        assertTrue(top, top.lines().anyMatch(l -> l.startsWith("pinged ") && !l.split(" +")[6].equals("-")));
    }

    private JsonObject stats(String zone) {
        return Json.createReader(new StringReader(sh("zone:stats --json " + zone))).readObject();
    }

    private static double value(JsonObject stats, String name) {
        for (JsonValue v : stats.getJsonArray("metrics")) {
            JsonObject m = v.asJsonObject();
            if (m.getString("name").equals(name)) {
                assertTrue(m.toString(), m.getJsonObject("labels").getString("network").equals("obs"));
                return m.getJsonNumber("value").doubleValue();
            }
        }
        throw new AssertionError("no " + name + " in " + stats);
    }
}
