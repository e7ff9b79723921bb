package io.zonekeeper.launcher;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code bin/zonekeeper}: starts the appliance (interactive shell, or unattended), or runs {@code -c} commands
 * on the appliance of a state directory, starting one for them when none runs.
 */
public final class Main {

    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;
    /** How long -c waits for a control socket to answer; -Dzonekeeper.start.timeout=SECONDS overrides it. */
    static final long DEFAULT_START_TIMEOUT_S = 60;

    private final PrintStream out;
    private final PrintStream err;
    private final Map<String, String> env;

    Main(PrintStream out, PrintStream err, Map<String, String> env) {
        this.out = out;
        this.err = err;
        this.env = env;
    }

    public static void main(String[] args) {
        StartTrace.mark("main");
        int code = new Main(System.out, System.err, System.getenv()).run(args);
        System.out.flush();
        System.exit(code);
    }

    int run(String[] args) {
        LaunchOptions options;
        try {
            options = LaunchOptions.parse(args);
        } catch (UsageException e) {
            err.println("zonekeeper: " + e.getMessage());
            err.println("Run 'zonekeeper --help' for the options.");
            return EXIT_USAGE;
        }
        if (options.help()) {
            out.println(LaunchOptions.USAGE);
            return 0;
        }
        try {
            Distribution distribution = Distribution.locate();
            Path state = distribution.stateDir(options, env);
            if (options.commands().isPresent()) {
                return runCommands(distribution, state, options.commands().get());
            }
            boolean interactive = !options.noShell() && System.console() != null;
            return runAppliance(distribution, state, interactive);
        } catch (LaunchException e) {
            err.println("zonekeeper: " + e.getMessage());
            return EXIT_FAILURE;
        } catch (InterruptedException e) {
            err.println("zonekeeper: interrupted");
            return EXIT_FAILURE;
        }
    }

    private int runAppliance(Distribution distribution, Path state, boolean interactive)
            throws LaunchException, InterruptedException {
        StartTrace.mark("options");
        Appliance appliance = new Appliance(distribution, state, interactive, err);
        appliance.start();
        if (!interactive) {
            err.println("zonekeeper: appliance running on " + state + " (PID " + ProcessHandle.current().pid()
                    + "); stop it with SIGTERM or SIGINT");
        }
        appliance.awaitStop();
        return 0;
    }

    private int runCommands(Distribution distribution, Path state, String commands)
            throws LaunchException, InterruptedException {
        Path socket = ControlClient.socketPath(state);
        ControlClient client = new ControlClient();
        if (ControlClient.answers(socket)) {
            return client.run(socket, commands, out, err);
        }
        long timeoutMs = startTimeoutSeconds() * 1000;
        // A one-shot appliance: its INFO lines would only bury the commands' own output.
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING);
        Appliance appliance = new Appliance(distribution, state, false, err);
        try {
            appliance.start();
        } catch (LaunchException e) {
            if (appliance.heldElsewhere()) {
                // Another appliance holds the state directory but its socket did not answer yet: it may be
                // starting. Give it the same time we would give our own.
                if (awaitSocket(socket, timeoutMs, null)) {
                    return client.run(socket, commands, out, err);
                }
            }
            throw e;
        }
        try {
            if (!awaitSocket(socket, timeoutMs, appliance)) {
                throw new LaunchException("the control socket " + socket + " did not answer within "
                        + timeoutMs / 1000 + " s of starting the appliance; is the control-socket bundle in the "
                        + "features that etc/" + Distribution.SETTINGS_FILE + " selects, and did it start?");
            }
            return client.run(socket, commands, out, err);
        } finally {
            appliance.stop();
        }
    }

    /** Polls until the socket answers; gives up early when {@code own} is given and stops running. */
    private static boolean awaitSocket(Path socket, long timeoutMs, Appliance own) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        long pauseMs = 5;
        while (System.nanoTime() < deadline) {
            if (ControlClient.answers(socket)) {
                return true;
            }
            if (own != null && !own.running()) {
                return false;
            }
            Thread.sleep(pauseMs);
            pauseMs = Math.min(100, pauseMs * 2);
        }
        return ControlClient.answers(socket);
    }

    private long startTimeoutSeconds() throws LaunchException {
        String value = System.getProperty("zonekeeper.start.timeout");
        if (value == null) {
            return DEFAULT_START_TIMEOUT_S;
        }
        try {
            long seconds = Long.parseLong(value.trim());
            if (seconds > 0) {
                return seconds;
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new LaunchException("zonekeeper.start.timeout must be a positive number of seconds, got " + value);
    }
}
