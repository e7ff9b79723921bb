package io.zonekeeper.agent;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What to run in a zone: the command and its arguments, extra environment ({@code K=V}), working directory and
 * user ("" for the agent's defaults: /, root), and whether it gets a terminal of {@code rows} x {@code cols}.
 */
public record ExecRequest(List<String> argv, List<String> env, String workdir, String user, boolean tty, int rows,
        int cols) {
    static final int MAX_STRINGS = 4096;

    public ExecRequest {
        argv = List.copyOf(argv);
        env = List.copyOf(env);
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("no command to run");
        }
        if (argv.size() > MAX_STRINGS || env.size() > MAX_STRINGS) {
            throw new IllegalArgumentException("at most " + MAX_STRINGS + " arguments and " + MAX_STRINGS
                    + " environment entries");
        }
        if (argv.get(0).isEmpty()) {
            throw new IllegalArgumentException("the command name is empty");
        }
        for (String e : env) {
            int eq = e.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("environment entry '" + e + "' is not K=V");
            }
        }
        AgentCodec.checkU16(rows, "rows");
        AgentCodec.checkU16(cols, "cols");
    }

    /** The EXEC payload: flags, rows, cols, argv, env, workdir, user; each string u16 length + UTF-8, no NUL. */
    byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tty ? 1 : 0);
        u16(out, rows);
        u16(out, cols);
        u16(out, argv.size());
        argv.forEach(a -> string(out, a, "argument"));
        u16(out, env.size());
        env.forEach(e -> string(out, e, "environment entry"));
        string(out, workdir, "workdir");
        string(out, user, "user");
        if (out.size() > AgentCodec.MAX_PAYLOAD) {
            throw new IllegalArgumentException("command, environment, workdir and user take " + out.size()
                    + " bytes; at most " + AgentCodec.MAX_PAYLOAD);
        }
        return out.toByteArray();
    }

    private static void u16(ByteArrayOutputStream out, int v) {
        out.write(v >> 8);
        out.write(v);
    }

    private static void string(ByteArrayOutputStream out, String s, String what) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 0xFFFF) {
            throw new IllegalArgumentException(what + " longer than 65535 bytes");
        }
        for (byte x : b) {
            if (x == 0) {
                throw new IllegalArgumentException(what + " holds a NUL byte");
            }
        }
        u16(out, b.length);
        out.write(b, 0, b.length);
    }
}
