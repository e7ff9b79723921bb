package io.zonekeeper.passthrough.xen;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

import io.zonekeeper.hostio.ProcessRunner;

/** Runs commands as child processes with host-io's {@link ProcessRunner}: killed with all theirs at the deadline. */
public final class ProcessCommandRunner implements CommandRunner {
    private final ProcessRunner runner;

    public ProcessCommandRunner(Duration deadline) {
        this.runner = new ProcessRunner(deadline);
    }

    @Override
    public Result run(List<String> command) throws IOException {
        ProcessRunner.Result r = runner.run(command);
        return new Result(r.exitCode(), r.output());
    }
}
