package io.zonekeeper.launcher;

import org.apache.felix.framework.Logger;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;

/**
 * Felix's own log (errors on stdout, as Felix does), less one known upstream bug: Gogo runtime 1.1.6's
 * CommandProcessorImpl.stop() sizes an array from a WeakHashMap of sessions and then meets a null when the
 * garbage collector has just cleared a session that was never closed (gogo.jline's, after a non-interactive
 * gosh). It is the last thing that bundle's stop does, so nothing is left undone; only the stack trace would be
 * printed at every other shutdown.
 */
final class FelixLog extends Logger {

    @Override
    protected void doLog(Bundle bundle, ServiceReference sr, int level, String msg, Throwable throwable) {
        if (isGogoStopBug(throwable)) {
            return;
        }
        super.doLog(bundle, sr, level, msg, throwable);
    }

    static boolean isGogoStopBug(Throwable throwable) {
        for (Throwable t = throwable; t != null; t = t.getCause()) {
            if (t instanceof NullPointerException) {
                for (StackTraceElement frame : t.getStackTrace()) {
                    if (frame.getClassName().equals("org.apache.felix.gogo.runtime.CommandProcessorImpl")
                            && frame.getMethodName().equals("stop")) {
                        return true;
                    }
                }
                return false;
            }
        }
        return false;
    }
}
