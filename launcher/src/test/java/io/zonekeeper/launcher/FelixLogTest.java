package io.zonekeeper.launcher;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;
import org.osgi.framework.BundleException;

public class FelixLogTest {

    @Test
    public void dropsOnlyTheNullPointerFromGogoRuntimesStop() {
        NullPointerException gogo = new NullPointerException("session is null");
        gogo.setStackTrace(new StackTraceElement[] {
            new StackTraceElement("org.apache.felix.gogo.runtime.CommandProcessorImpl", "stop", "x.java", 114)});
        assertTrue(FelixLog.isGogoStopBug(gogo));
        assertTrue(FelixLog.isGogoStopBug(new BundleException("Activator stop error", gogo)));

        NullPointerException elsewhere = new NullPointerException("a real bug");
        elsewhere.setStackTrace(new StackTraceElement[] {
            new StackTraceElement("io.zonekeeper.core.ZoneRegistry", "stop", "x.java", 1)});
        assertFalse(FelixLog.isGogoStopBug(elsewhere));
        assertFalse(FelixLog.isGogoStopBug(new IllegalStateException("stop")));
        assertFalse(FelixLog.isGogoStopBug(null));
    }
}
