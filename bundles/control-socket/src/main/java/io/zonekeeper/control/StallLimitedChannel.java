package io.zonekeeper.control;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;
import java.time.Duration;

/**
 * The writing side of a non-blocking client connection, for a command's answer: waits while the client's socket
 * buffer is full, but gives up once the client has taken nothing for {@code stall}, so that a client that asks and
 * never reads cannot hold a command thread (and its slot) for ever.
 */
final class StallLimitedChannel implements WritableByteChannel {

    private final SocketChannel channel;
    private final Duration stall;
    private Selector selector;

    StallLimitedChannel(SocketChannel channel, Duration stall) {
        this.channel = channel;
        this.stall = stall;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        while (true) {
            int n = channel.write(src);
            if (n > 0 || !src.hasRemaining()) {
                return n;
            }
            if (selector == null) {
                selector = Selector.open();
                channel.register(selector, SelectionKey.OP_WRITE);
            }
            selector.selectedKeys().clear();
            if (selector.select(stall.toMillis()) == 0) {
                throw new IOException("the client read nothing of the answer for " + stall.toSeconds() + " s");
            }
        }
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    /** Releases the selector; the connection itself is its owner's to close. */
    @Override
    public void close() throws IOException {
        if (selector != null) {
            selector.close();
        }
    }
}
