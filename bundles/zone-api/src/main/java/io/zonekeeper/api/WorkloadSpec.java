package io.zonekeeper.api;

import java.util.List;

/**
 * What an image zone ({@link ZoneSpec#image()}) runs, over what its image says, as {@code docker run} does: a
 * {@code command} replaces the image's Cmd (its Entrypoint stays), {@code env} entries are added to the image's Env
 * (a key set in both takes this value), and a non-empty {@code workdir} or {@code user} replaces the image's.
 *
 * @param command the arguments that replace the image's Cmd; empty keeps it
 * @param env     {@code KEY=VALUE} entries
 * @param workdir an absolute folder in the image, or "" for the image's WorkingDir
 * @param user    {@code NAME}, {@code UID}, {@code NAME:GROUP} or {@code UID:GID}, resolved through the image's own
 *                /etc/passwd and /etc/group; "" for the image's User
 */
public record WorkloadSpec(List<String> command, List<String> env, String workdir, String user) {
    /** Nothing over the image: it runs as its config says. */
    public static final WorkloadSpec NONE = new WorkloadSpec(List.of(), List.of(), "", "");

    public WorkloadSpec {
        command = List.copyOf(command);
        env = List.copyOf(env);
        workdir = workdir == null ? "" : workdir;
        user = user == null ? "" : user;
    }

    public boolean isEmpty() {
        return command.isEmpty() && env.isEmpty() && workdir.isEmpty() && user.isEmpty();
    }
}
