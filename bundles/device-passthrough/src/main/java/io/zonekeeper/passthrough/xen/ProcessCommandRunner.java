package io.zonekeeper.passthrough.xen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs commands as child processes, output and errors together into a temporary file (so that a command that hangs
 * cannot block the reader), each with a deadline after which it is killed.
 */
public final class ProcessCommandRunner implements CommandRunner {
    private final Duration deadline;

    public ProcessCommandRunner(Duration deadline) {
        this.deadline = deadline;
    }

    @Override
    public Result run(List<String> command) throws IOException {
        Path out = Files.createTempFile("zonekeeper-xl", ".out");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(out.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            try {
                if (!p.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    throw new IOException(String.join(" ", command) + " did not finish in " + deadline.toSeconds()
                            + " s and was killed");
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for " + String.join(" ", command), e);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
