package io.zonekeeper.agent.shell;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;

import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.agent.AgentException;
import io.zonekeeper.agent.AgentLinks;
import io.zonekeeper.agent.ExecRequest;
import io.zonekeeper.agent.ExecSession;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.guest.AgentEndpoint;

/**
 * {@code zone:exec}: runs a command in a running zone through its guest agent, streaming stdin, stdout and stderr.
 * Its exit status goes into the session variable {@link #EXIT_STATUS}, which the control socket makes the exit code
 * of {@code bin/zonekeeper -c}. An interrupt of the command's thread (Ctrl-C in the shell) sends SIGINT to the
 * command, and so does each signal number the control socket queues in {@link #SIGNALS}; the terminal size in
 * {@link #WINSIZE} ({@code ROWSxCOLS}) is followed while it runs. No idle timeout: an exec waits as long as its
 * command runs.
 */
@Component(service = ExecCommand.class)
@GogoCommand(scope = "zone", function = { "exec" })
public class ExecCommand {
    /** Session variable: the last exec's exit status (an Integer). */
    public static final String EXIT_STATUS = "zonekeeper.exit.status";
    /** Session variable: a {@code BlockingQueue<Integer>} of signals for the command (the control socket's). */
    public static final String SIGNALS = "zonekeeper.signals";
    /** Session variable: the terminal size, {@code ROWSxCOLS}. */
    public static final String WINSIZE = "zonekeeper.winsize";
    private static final int SIGINT = 2;
    private static final Duration GREET = Duration.ofSeconds(30);
    private static final Duration START = Duration.ofSeconds(30);

    @Reference
    ZoneManager zones;

    private AgentLinks links;

    @Activate
    void activate() {
        links = new AgentLinks(GREET);
    }

    @Deactivate
    void deactivate() {
        links.close();
    }

    @Descriptor("Run a command in a running zone through its guest agent: zone:exec [--tty] [--env K=V]..."
            + " [--workdir DIR] [--user USER] NAME -- CMD [ARGS...]; the command's exit status is the exit code of"
            + " bin/zonekeeper -c")
    public void exec(CommandSession session, @Descriptor("options, zone name, --, command") String... words)
            throws Exception {
        ExecArguments a = ExecArguments.parse(Arrays.asList(words));
        ZoneInfo zone = zones.get(a.zone()).orElseThrow(() -> new ZoneException("no zone " + a.zone()));
        if (!zone.state().isActive()) {
            throw new ZoneException("zone " + a.zone() + " is " + zone.state() + "; start it first");
        }
        AgentEndpoint endpoint = AgentEndpoint.of(zone.runtime()).orElseThrow(() -> new ZoneException("zone "
                + a.zone() + " has no guest agent endpoint (its driver " + zone.driver() + " records none)"));
        if (!AgentEndpoint.UNIX.equals(endpoint.transport())) {
            throw new ZoneException("zone " + a.zone() + ": agent transport " + endpoint.transport()
                    + " is not known to this host side");
        }
        int[] size = winsize(session);
        ExecRequest request = new ExecRequest(a.command(), a.env(), a.workdir(), a.user(), a.tty(), size[0], size[1]);
        ExecSession exec;
        try {
            exec = links.link(Path.of(endpoint.address())).exec(request, START);
        } catch (AgentException e) {
            throw new ZoneException("zone " + a.zone() + ": " + e.getMessage());
        }
        session.put(EXIT_STATUS, run(session, exec));
    }

    private static int run(CommandSession session, ExecSession exec) throws Exception {
        // The command's thread writes the output: Gogo gives each thread of a session its own System.out/err.
        PrintStream out = System.out;
        PrintStream err = System.err;
        InputStream in = session.getKeyboard();
        Thread stdin = new Thread(() -> copyStdin(in, exec), "zonekeeper-exec-stdin-" + exec.id());
        stdin.setDaemon(true);
        stdin.start();
        String size = String.valueOf(session.get(WINSIZE));
        try {
            while (true) {
                Integer status;
                try {
                    status = exec.pump(out, err, 200);
                } catch (InterruptedException e) {
                    exec.signal(SIGINT);
                    continue;
                }
                if (session.get(SIGNALS) instanceof BlockingQueue<?> q) {
                    for (Object sig = q.poll(); sig != null; sig = q.poll()) {
                        if (sig instanceof Integer n) {
                            exec.signal(n);
                        }
                    }
                }
                if (status != null) {
                    return status;
                }
                String now = String.valueOf(session.get(WINSIZE));
                if (!now.equals(size)) {
                    size = now;
                    int[] rc = parseSize(now);
                    if (rc[0] > 0) {
                        exec.resize(rc[0], rc[1]);
                    }
                }
            }
        } finally {
            stdin.interrupt();
            out.flush();
            err.flush();
        }
    }

    private static void copyStdin(InputStream in, ExecSession exec) {
        byte[] buf = new byte[16384];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                exec.write(buf, 0, n);
            }
            exec.closeStdin();
        } catch (IOException | AgentException | InterruptedException e) {
            // The exec ended, or its input did: nothing more to send.
        }
    }

    private static int[] winsize(CommandSession session) {
        return parseSize(String.valueOf(session.get(WINSIZE)));
    }

    /** {@code ROWSxCOLS}, or 0x0 when absent or malformed (the agent then leaves the terminal's default). */
    static int[] parseSize(String s) {
        List<String> p = Arrays.asList(s.split("x"));
        try {
            if (p.size() == 2) {
                int r = Integer.parseInt(p.get(0));
                int c = Integer.parseInt(p.get(1));
                if (r > 0 && r < 65536 && c > 0 && c < 65536) {
                    return new int[] {r, c};
                }
            }
        } catch (NumberFormatException e) {
            // not a size
        }
        return new int[] {0, 0};
    }

}
