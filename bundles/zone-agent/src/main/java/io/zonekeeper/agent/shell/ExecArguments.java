package io.zonekeeper.agent.shell;

import java.util.ArrayList;
import java.util.List;

/**
 * The words of {@code zone:exec [--tty] [--env K=V]... [--workdir D] [--user U] NAME -- CMD ARGS...}, parsed by
 * hand because an option given more than once (--env) is beyond Gogo's parameters. Everything after {@code --} is
 * the command, untouched.
 */
record ExecArguments(String zone, boolean tty, List<String> env, String workdir, String user, List<String> command) {
    static final String USAGE = "usage: zone:exec [--tty] [--env K=V]... [--workdir DIR] [--user USER] NAME -- CMD"
            + " [ARGS...]";

    static ExecArguments parse(List<String> words) {
        boolean tty = false;
        List<String> env = new ArrayList<>();
        String workdir = "";
        String user = "";
        String zone = null;
        int i = 0;
        for (; i < words.size(); i++) {
            String w = words.get(i);
            if (w.equals("--")) {
                i++;
                break;
            }
            switch (w) {
                case "--tty", "-t" -> tty = true;
                case "--env", "-e" -> env.add(value(words, ++i, w));
                case "--workdir", "-w" -> workdir = value(words, ++i, w);
                case "--user", "-u" -> user = value(words, ++i, w);
                default -> {
                    if (w.startsWith("-")) {
                        throw new IllegalArgumentException("unknown option " + w + "; " + USAGE);
                    }
                    if (zone != null) {
                        throw new IllegalArgumentException("the command goes after --: " + w + "; " + USAGE);
                    }
                    zone = w;
                }
            }
        }
        if (zone == null) {
            throw new IllegalArgumentException("no zone named; " + USAGE);
        }
        List<String> command = List.copyOf(words.subList(Math.min(i, words.size()), words.size()));
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no command after --; " + USAGE);
        }
        for (String e : env) {
            if (e.indexOf('=') <= 0) {
                throw new IllegalArgumentException("--env " + e + " is not K=V");
            }
        }
        return new ExecArguments(zone, tty, List.copyOf(env), workdir, user, command);
    }

    private static String value(List<String> words, int i, String option) {
        if (i >= words.size() || words.get(i).equals("--")) {
            throw new IllegalArgumentException(option + " needs a value; " + USAGE);
        }
        return words.get(i);
    }
}
