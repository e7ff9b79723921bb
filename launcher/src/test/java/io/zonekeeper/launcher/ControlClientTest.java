package io.zonekeeper.launcher;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** Which command lines take the caller's stdin along (protocol 2) and which keep protocol 1. */
public class ControlClientTest {
    @Test
    public void onlyAZoneExecStatementStreamsStdin() {
        assertTrue(ControlClient.streamsStdin("zone:exec z -- cat"));
        assertTrue(ControlClient.streamsStdin("zone:list; zone:exec z -- sh -c 'exit 7'"));
        assertFalse(ControlClient.streamsStdin("zone:list"));
        assertFalse(ControlClient.streamsStdin("zone:info zone:execution"));
        assertFalse(ControlClient.streamsStdin("echo zone:exec"));
    }
}
