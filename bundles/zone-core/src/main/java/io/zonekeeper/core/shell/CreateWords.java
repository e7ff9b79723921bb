package io.zonekeeper.core.shell;

import java.util.ArrayList;
import java.util.List;

import io.zonekeeper.api.WorkloadSpec;
import io.zonekeeper.api.ZoneException;

/**
 * The words of {@code zone:create} that Gogo's parameters cannot take, parsed by hand: {@code [--env K=V]...
 * [--workdir D] [--user U] NAME [-- CMD ARGS...]}. {@code --env} may be given more than once, and everything after
 * {@code --} is the workload's command, untouched, as {@code docker run} takes it.
 *
 * @param names the zone name, or none where a spec file names the zone
 */
record CreateWords(List<String> names, List<String> env, String workdir, String user, List<String> command) {

    static CreateWords parse(String... words) throws ZoneException {
        List<String> names = new ArrayList<>();
        List<String> env = new ArrayList<>();
        String workdir = "";
        String user = "";
        int i = 0;
        for (; i < words.length; i++) {
            String w = words[i];
            if (w.equals("--")) {
                i++;
                break;
            }
            switch (w) {
                case "--env", "-e" -> env.add(value(words, ++i, w));
                case "--workdir", "-w" -> workdir = value(words, ++i, w);
                case "--user", "-u" -> user = value(words, ++i, w);
                default -> {
                    if (w.startsWith("-")) {
                        throw new ZoneException("zone:create: unknown option " + w + " (zone:create --help lists"
                                + " them)");
                    }
                    names.add(w);
                }
            }
        }
        List<String> command = i < words.length ? List.of(words).subList(i, words.length) : List.of();
        return new CreateWords(List.copyOf(names), List.copyOf(env), workdir, user, List.copyOf(command));
    }

    /** Whether any workload option or command was given. */
    boolean hasWorkload() {
        return !env.isEmpty() || !workdir.isEmpty() || !user.isEmpty() || !command.isEmpty();
    }

    /** {@code base} (a spec file's workload) with these options over it: a command or folder replaces, env adds. */
    WorkloadSpec over(WorkloadSpec base) {
        List<String> e = new ArrayList<>(base.env());
        e.addAll(env);
        return new WorkloadSpec(command.isEmpty() ? base.command() : command, e,
                workdir.isEmpty() ? base.workdir() : workdir, user.isEmpty() ? base.user() : user);
    }

    private static String value(String[] words, int i, String option) throws ZoneException {
        if (i >= words.length || words[i].equals("--")) {
            throw new ZoneException("zone:create: " + option + " needs a value");
        }
        return words[i];
    }
}
