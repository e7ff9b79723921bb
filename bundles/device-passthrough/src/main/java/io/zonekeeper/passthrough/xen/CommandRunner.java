package io.zonekeeper.passthrough.xen;

import java.io.IOException;
import java.util.List;

/** Runs a toolstack command ({@code xl ...}) and gives its exit code and output; tests put a fake kernel here. */
@FunctionalInterface
public interface CommandRunner {
    record Result(int exitCode, String output) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    Result run(List<String> command) throws IOException;
}
