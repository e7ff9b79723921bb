package io.zonekeeper.launcher;

import java.nio.file.Path;
import java.util.Optional;

/** What bin/zonekeeper was asked to do. */
record LaunchOptions(Optional<Path> stateDir, Optional<String> commands, boolean noShell, boolean help) {

    static final String USAGE = String.join("\n",
            "Usage: zonekeeper [--state DIR] [--no-shell | -c COMMANDS]",
            "",
            "Starts the Zonekeeper appliance, or runs shell commands on it.",
            "",
            "  --state DIR     state directory (zones, run/control.sock, felix-cache, appliance.lock).",
            "                  Default: $ZONEKEEPER_STATE if set, else <home>/state of this distribution.",
            "  -c COMMANDS     run Gogo commands, e.g. -c 'zone:list; driver:list --json', print their output",
            "                  and exit with their exit code. If an appliance already runs on the state",
            "                  directory, it runs them; otherwise one is started for the commands and stopped.",
            "  --no-shell      run unattended, without the interactive shell, until SIGTERM or SIGINT.",
            "                  Zones are separate processes and keep running when the appliance stops.",
            "  -h, --help      print this help.",
            "",
            "Without -c or --no-shell the appliance starts with an interactive shell when stdin and stdout",
            "are a terminal, and runs unattended otherwise.");

    /** Parses the command line; a {@link UsageException} says which argument was wrong. */
    static LaunchOptions parse(String... args) throws UsageException {
        Path state = null;
        String commands = null;
        boolean noShell = false;
        boolean help = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String inlineValue = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                inlineValue = arg.substring(eq + 1);
                arg = arg.substring(0, eq);
            }
            switch (arg) {
                case "--state": {
                    if (state != null) {
                        throw new UsageException("--state given twice");
                    }
                    String value = inlineValue != null ? inlineValue : value(args, ++i, "--state", "a directory");
                    if (value.isBlank()) {
                        throw new UsageException("--state needs a directory, got an empty string");
                    }
                    state = Path.of(value);
                    break;
                }
                case "-c":
                case "--command": {
                    if (commands != null) {
                        throw new UsageException(arg + " given twice; separate commands with ';' in one argument");
                    }
                    commands = inlineValue != null ? inlineValue : value(args, ++i, arg, "commands");
                    if (commands.isBlank()) {
                        throw new UsageException(arg + " needs commands, got an empty string");
                    }
                    break;
                }
                case "--no-shell":
                    noInline(arg, inlineValue);
                    noShell = true;
                    break;
                case "-h":
                case "--help":
                    noInline(arg, inlineValue);
                    help = true;
                    break;
                default:
                    if (args[i].startsWith("-")) {
                        throw new UsageException("unknown argument: " + args[i]);
                    }
                    throw new UsageException("unexpected argument: " + args[i]
                            + " (to run commands, pass them with -c '...')");
            }
        }
        if (commands != null && noShell) {
            throw new UsageException("-c and --no-shell do not go together: -c never opens a shell");
        }
        return new LaunchOptions(Optional.ofNullable(state), Optional.ofNullable(commands), noShell, help);
    }

    private static String value(String[] args, int index, String option, String what) throws UsageException {
        if (index >= args.length) {
            throw new UsageException(option + " needs " + what);
        }
        return args[index];
    }

    private static void noInline(String option, String inlineValue) throws UsageException {
        if (inlineValue != null) {
            throw new UsageException(option + " takes no value");
        }
    }
}
