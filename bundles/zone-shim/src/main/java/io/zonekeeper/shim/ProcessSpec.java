package io.zonekeeper.shim;

import java.util.List;

import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;

/**
 * An OCI runtime spec's {@code process} (of config.json, or of an exec's spec): what the agent runs. The user is
 * passed as {@code UID:GID}, which the agent takes as numbers (docs/AGENT-PROTOCOL.md).
 */
public record ProcessSpec(List<String> args, List<String> env, String cwd, String user, boolean terminal) {
    public ProcessSpec {
        args = List.copyOf(args);
        env = List.copyOf(env);
    }

    public static ProcessSpec of(JsonObject process, String where) throws ShimException {
        List<String> args = ContainerConfig.strings(process, "args", where);
        if (args.isEmpty() || args.get(0).isEmpty()) {
            throw new ShimException(ShimException.INVALID, where + ": args is empty; there is no command to run");
        }
        List<String> env = ContainerConfig.strings(process, "env", where);
        for (String e : env) {
            if (e.indexOf('=') <= 0) {
                throw new ShimException(ShimException.INVALID, where + ": env entry '" + e + "' is not KEY=VALUE");
            }
        }
        String cwd = process.get("cwd") instanceof JsonString s ? s.getString() : "/";
        if (!cwd.startsWith("/")) {
            throw new ShimException(ShimException.INVALID, where + ": cwd '" + cwd + "' is not absolute");
        }
        String user = "";
        JsonObject u = ContainerConfig.object(process, "user", where);
        if (u != null) {
            long uid = u.get("uid") instanceof JsonNumber n ? n.longValue() : 0;
            long gid = u.get("gid") instanceof JsonNumber n ? n.longValue() : 0;
            if (uid < 0 || gid < 0 || uid > 0xFFFFFFFEL || gid > 0xFFFFFFFEL) {
                throw new ShimException(ShimException.INVALID, where + ": user " + uid + ":" + gid + " is out of range");
            }
            user = uid + ":" + gid;
        }
        boolean terminal = process.getBoolean("terminal", false);
        return new ProcessSpec(args, env, cwd, user, terminal);
    }
}
