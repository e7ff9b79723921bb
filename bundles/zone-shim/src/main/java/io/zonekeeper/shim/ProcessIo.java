package io.zonekeeper.shim;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.lang.System.Logger.Level;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntConsumer;

import io.zonekeeper.agent.AgentException;
import io.zonekeeper.agent.ExecSession;

/**
 * Joins containerd's FIFOs to one agent exec: stdin to the command (end of file closes its input), its stdout and
 * stderr to theirs (with a terminal everything comes on stdout). A FIFO's open blocks until containerd opens the
 * other end, so each runs on its own thread; when the command has ended, a stdin FIFO that was never opened is
 * opened once from this side so that its waiting thread ends.
 */
final class ProcessIo {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.shim");

    private ProcessIo() {
    }

    /**
     * Starts the copying threads; {@code onExit} gets the command's exit status (128 + N for signal N, 255 when the
     * agent link broke) once all its output is written.
     */
    static CompletableFuture<Integer> join(ExecSession session, String stdin, String stdout, String stderr,
            String name, IntConsumer onExit) {
        CompletableFuture<Integer> exit = new CompletableFuture<>();
        if (!stdin.isEmpty()) {
            Thread in = new Thread(() -> copyStdin(session, stdin, exit), "zonekeeper-shim-stdin " + name);
            in.setDaemon(true);
            in.start();
        } else {
            try {
                session.closeStdin();
            } catch (AgentException e) {
                LOG.log(Level.DEBUG, "cannot close stdin of " + name + ": " + e.getMessage());
            }
        }
        Thread out = new Thread(() -> {
            int code;
            try (OutputStream o = open(stdout); OutputStream e = stderr.equals(stdout) ? o : open(stderr)) {
                Integer c = null;
                while (c == null) {
                    c = session.pump(o, e, 1000);
                }
                code = c;
            } catch (AgentException | IOException ex) {
                LOG.log(Level.WARNING, name + ": its output stopped: " + ex.getMessage());
                code = waitQuietly(session);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                code = 255;
            }
            exit.complete(code);
            if (!stdin.isEmpty()) {
                unblock(stdin);
            }
            onExit.accept(code);
        }, "zonekeeper-shim-output " + name);
        out.setDaemon(true);
        out.start();
        return exit;
    }

    private static int waitQuietly(ExecSession session) {
        try {
            Integer c = session.waitFor(0);
            return c == null ? 255 : c;
        } catch (AgentException e) {
            return 255;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 255;
        }
    }

    private static OutputStream open(String path) throws IOException {
        return path.isEmpty() ? OutputStream.nullOutputStream() : new FileOutputStream(path);
    }

    private static void copyStdin(ExecSession session, String path, CompletableFuture<Integer> exit) {
        try (InputStream in = new FileInputStream(path)) {
            byte[] buf = new byte[32768];
            int n;
            while (!exit.isDone() && (n = in.read(buf)) > 0) {
                session.write(buf, 0, n);
            }
            session.closeStdin();
        } catch (IOException | AgentException e) {
            LOG.log(Level.DEBUG, "stdin " + path + " ended: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Opens the FIFO as a writer once, so that a reader still blocked in its open returns and sees the end. */
    private static void unblock(String fifo) {
        try (RandomAccessFile w = new RandomAccessFile(fifo, "rw")) {
            // opened and closed: the reader's open returns, then its read sees end of file
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "cannot open " + fifo + " to end its reader: " + e.getMessage());
        }
    }
}
