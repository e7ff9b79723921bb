package io.zonekeeper.api.image;

import java.util.List;

/**
 * What an image says about how to run it (the OCI image config's {@code config} object): what a zone's init
 * starts, in which environment, folder and user. Lists are never null; {@code workingDir} and {@code user} are
 * empty strings when the image sets none.
 */
public record ImageConfig(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir,
        String user) {
    public ImageConfig {
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        env = List.copyOf(env);
        workingDir = workingDir == null ? "" : workingDir;
        user = user == null ? "" : user;
    }
}
