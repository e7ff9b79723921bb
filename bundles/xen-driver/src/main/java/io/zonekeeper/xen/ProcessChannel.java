package io.zonekeeper.xen;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;

/** A process's stdout and stdin as one channel (an {@code xl console}); closing it ends the process. */
final class ProcessChannel implements ByteChannel {
    private final Process process;
    private final InputStream in;
    private final OutputStream out;
    private volatile boolean open = true;

    ProcessChannel(Process process) {
        this.process = process;
        this.in = process.getInputStream();
        this.out = process.getOutputStream();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!open) {
            throw new ClosedChannelException();
        }
        byte[] b = new byte[Math.min(dst.remaining(), 4096)];
        int n = in.read(b);
        if (n > 0) {
            dst.put(b, 0, n);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        if (!open) {
            throw new ClosedChannelException();
        }
        byte[] b = new byte[src.remaining()];
        src.get(b);
        out.write(b);
        out.flush();
        return b.length;
    }

    @Override
    public boolean isOpen() {
        return open && process.isAlive();
    }

    @Override
    public void close() {
        open = false;
        process.destroy();
    }
}
