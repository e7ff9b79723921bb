package io.zonekeeper.agent;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One command running in a zone through its agent. Its output waits here until the caller {@link #pump}s it; stdin is sent within the agent's window ({@link #STDIN_WINDOW} bytes beyond what the command has taken),
 * and kept until the agent says the command took it, so that it can be sent again after a reconnect.
 */
public final class ExecSession {
    /** What the agent buffers per session for stdin; the host never sends beyond it. */
    public static final int STDIN_WINDOW = 262144;
    /** The host acknowledges output every this many bytes, so the agent can free its buffer and read on. */
    static final int ACK_EVERY = 65536;

    private final AgentLink link;
    private final int id;
    /**
     * Output bytes the agent may hold per stream beyond the host's last acknowledgement (its ring); an agent that
     * sends more has broken the protocol, so a hostile guest cannot fill the control plane's memory through here.
     */
    static final int OUTPUT_WINDOW = 262144;

    /** Output as it came from the agent, tagged with the connection it came on (see {@link #epoch}). */
    private record Output(int epoch, int type, byte[] bytes) {
    }

    /** What the agent sent for this session and the caller has not written yet; at most one window per stream. */
    private final LinkedBlockingQueue<Output> inbox = new LinkedBlockingQueue<>();
    private static final int DONE = 0;
    /**
     * Counts re-attachments. After one, the agent sends again everything from the offsets the host had written,
     * so output still queued from the earlier connection is dropped rather than written twice.
     */
    private int epoch;
    // output offsets: received from the agent (this connection) and last acknowledged to it, per stream
    private long outReceived;
    private long errReceived;
    private long outAcked;
    private long errAcked;
    final CompletableFuture<Long> started = new CompletableFuture<>();
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    // output offsets: received from the agent and acknowledged to it
    private long outSeen;
    private long errSeen;
    private long ackedAt;
    // stdin: bytes handed to the link, and the part the command took; unacked holds the difference
    private long stdinSent;
    private long stdinTaken;
    private final ArrayDeque<byte[]> unacked = new ArrayDeque<>();
    private boolean stdinClosed;

    ExecSession(AgentLink link, int id) {
        this.link = link;
        this.id = id;
    }

    public int id() {
        return id;
    }

    /** The command's process id in the zone. */
    public long pid() {
        return started.getNow(-1L);
    }

    /** Sends stdin, waiting while the agent's window is full. */
    public void write(byte[] b, int off, int len) throws AgentException, InterruptedException {
        while (len > 0) {
            int n;
            synchronized (this) {
                while (stdinSent - stdinTaken >= STDIN_WINDOW && !exit.isDone()) {
                    wait(1000);
                }
                if (exit.isDone() || stdinClosed) {
                    return; // the command ended or closed its input: dropped, as a pipe would
                }
                n = (int) Math.min(len, Math.min(AgentCodec.MAX_PAYLOAD, STDIN_WINDOW - (stdinSent - stdinTaken)));
                byte[] chunk = Arrays.copyOfRange(b, off, off + n);
                unacked.add(chunk);
                stdinSent += n;
                link.send(new AgentFrame(AgentCodec.STDIN, id, chunk));
            }
            off += n;
            len -= n;
        }
    }

    /** End of input: the command reads EOF once it has taken what was sent (on a terminal: ^D). */
    public synchronized void closeStdin() throws AgentException {
        if (!stdinClosed && !exit.isDone()) {
            stdinClosed = true;
            link.send(new AgentFrame(AgentCodec.STDIN_CLOSE, id, new byte[0]));
        }
    }

    /** Delivers {@code signal} to the command's process group. */
    public void signal(int signal) throws AgentException {
        if (!exit.isDone()) {
            link.send(AgentCodec.signal(id, signal));
        }
    }

    /** A new terminal size (only with a terminal). */
    public void resize(int rows, int cols) throws AgentException {
        if (!exit.isDone()) {
            link.send(AgentCodec.resize(id, rows, cols));
        }
    }

    /** Waits for the command's exit status (128 + N when signal N ended it). */
    public int waitFor() throws AgentException, InterruptedException {
        try {
            return exit.get();
        } catch (ExecutionException e) {
            throw failure(e);
        }
    }

    /** The exit status if it ended within {@code millis}, otherwise null. */
    public Integer waitFor(long millis) throws AgentException, InterruptedException {
        try {
            return exit.get(millis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return null;
        } catch (ExecutionException e) {
            throw failure(e);
        }
    }

    private static AgentException failure(ExecutionException e) {
        return e.getCause() instanceof AgentException a ? a : new AgentException(String.valueOf(e.getCause()), e);
    }

    // --- called by the link's reader thread

    synchronized void output(int type, byte[] p) throws AgentProtocolException {
        if (type == AgentCodec.STDOUT) {
            outReceived += p.length;
        } else {
            errReceived += p.length;
        }
        if (outReceived - outAcked > OUTPUT_WINDOW || errReceived - errAcked > OUTPUT_WINDOW) {
            throw new AgentProtocolException("session " + id + " sent output beyond its window of " + OUTPUT_WINDOW
                    + " unacknowledged bytes per stream");
        }
        inbox.add(new Output(epoch, type, p));
    }

    /**
     * Writes what the command printed to {@code out} and {@code err}, in the caller's thread, waiting up to
     * {@code millis} for more; acknowledges it to the agent only once written, so a slow reader holds the command
     * back (the agent stops reading its output) instead of filling memory here.
     *
     * @return the exit status once the command ended and all its output is written, else null
     */
    public Integer pump(OutputStream out, OutputStream err, long millis)
            throws AgentException, InterruptedException, IOException {
        Output f = inbox.poll(millis, TimeUnit.MILLISECONDS);
        while (f != null) {
            if (f.type() == DONE) {
                inbox.add(f); // stays the last word for any later call
                return waitFor();
            }
            AgentFrame ack = null;
            synchronized (this) {
                if (f.epoch() != epoch) {
                    f = inbox.poll(); // sent again on the new connection
                    continue;
                }
                // Counted before the write: a REATTACH computed meanwhile must not ask for these bytes again.
                if (f.type() == AgentCodec.STDOUT) {
                    outSeen += f.bytes().length;
                } else {
                    errSeen += f.bytes().length;
                }
                if (outSeen + errSeen - ackedAt >= ACK_EVERY) {
                    ackedAt = outSeen + errSeen;
                    ack = ack(AgentCodec.OUTPUT_ACK);
                }
            }
            (f.type() == AgentCodec.STDOUT ? out : err).write(f.bytes());
            if (ack != null) {
                link.sendQuietly(ack);
            }
            f = inbox.poll();
        }
        out.flush();
        err.flush();
        return null;
    }

    /**
     * OUTPUT_ACK or REATTACH with the offsets the host has written out. A REATTACH starts a new connection: what is
     * still queued from the old one is dropped, because the agent sends it again from these offsets.
     */
    synchronized AgentFrame ack(int type) {
        if (type == AgentCodec.REATTACH) {
            epoch++;
            outReceived = outSeen;
            errReceived = errSeen;
        }
        outAcked = outSeen;
        errAcked = errSeen;
        return AgentCodec.offsets(type, id, outSeen, errSeen);
    }

    synchronized void stdinTaken(long total) throws AgentProtocolException {
        if (total < stdinTaken || total > stdinSent) {
            throw new AgentProtocolException("STDIN_ACK " + total + " outside " + stdinTaken + ".." + stdinSent
                    + " for session " + id);
        }
        drop(total);
        notifyAll();
    }

    /** After a reconnect: the agent holds {@code received} bytes of stdin; what it lacks goes again. */
    synchronized void attached(long received) throws AgentProtocolException {
        if (received < stdinTaken || received > stdinSent) {
            throw new AgentProtocolException("ATTACHED " + received + " outside " + stdinTaken + ".." + stdinSent);
        }
        long at = stdinTaken;
        for (byte[] chunk : unacked) {
            long end = at + chunk.length;
            if (end > received) {
                int from = (int) Math.max(0, received - at);
                link.sendQuietly(new AgentFrame(AgentCodec.STDIN, id, Arrays.copyOfRange(chunk, from, chunk.length)));
            }
            at = end;
        }
        if (stdinClosed) {
            link.sendQuietly(new AgentFrame(AgentCodec.STDIN_CLOSE, id, new byte[0]));
        }
    }

    private void drop(long total) {
        while (!unacked.isEmpty() && stdinTaken + unacked.peek().length <= total) {
            stdinTaken += unacked.poll().length;
        }
        if (!unacked.isEmpty() && total > stdinTaken) {
            byte[] head = unacked.poll();
            unacked.addFirst(Arrays.copyOfRange(head, (int) (total - stdinTaken), head.length));
            stdinTaken = total;
        }
    }

    void exited(byte[] payload) {
        exit.complete(AgentCodec.exitStatus(payload));
        inbox.add(new Output(epoch, DONE, new byte[0]));
        synchronized (this) {
            notifyAll();
        }
    }

    void failed(AgentException e) {
        started.completeExceptionally(e);
        exit.completeExceptionally(e);
        inbox.add(new Output(epoch, DONE, new byte[0]));
        synchronized (this) {
            notifyAll();
        }
    }

    static long pidOf(byte[] p) {
        return Integer.toUnsignedLong(ByteBuffer.wrap(p).getInt());
    }

    boolean done() {
        return exit.isDone();
    }
}
