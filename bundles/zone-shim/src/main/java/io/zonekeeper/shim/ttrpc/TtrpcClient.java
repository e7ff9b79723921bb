package io.zonekeeper.shim.ttrpc;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;

import io.zonekeeper.shim.proto.TtrpcProto;

/**
 * A ttrpc client for one call at a time on one connection: how the task service publishes events to containerd
 * (Events.Forward on its ttrpc address). Calls are serialized by the caller's lock on this object.
 */
public final class TtrpcClient implements Closeable {
    private final SocketChannel channel;
    private final InputStream in;
    private final OutputStream out;
    private int nextStream = 1;

    private TtrpcClient(SocketChannel channel) {
        this.channel = channel;
        this.in = TtrpcCodec.input(channel);
        this.out = TtrpcCodec.output(channel);
    }

    public static TtrpcClient connect(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        return new TtrpcClient(ch);
    }

    /** Calls {@code service/method}; returns the response payload or throws the status the server answered. */
    public synchronized byte[] call(String service, String method, byte[] payload, Map<String, String> metadata,
            Duration timeout) throws IOException, TtrpcException {
        int stream = nextStream;
        nextStream += 2;
        TtrpcProto.Request.Builder req = TtrpcProto.Request.newBuilder().setService(service).setMethod(method)
                .setPayload(ByteString.copyFrom(payload)).setTimeoutNano(timeout.toNanos());
        metadata.forEach((k, v) -> req.addMetadata(TtrpcProto.KeyValue.newBuilder().setKey(k).setValue(v)));
        TtrpcCodec.write(out, new TtrpcFrame(stream, TtrpcFrame.REQUEST, 0, req.build().toByteArray()));
        while (true) {
            TtrpcFrame f = TtrpcCodec.read(in);
            if (f == null) {
                throw new IOException("the ttrpc server closed the connection before answering " + service + "/"
                        + method);
            }
            if (f.streamId() != stream || f.type() != TtrpcFrame.RESPONSE) {
                continue; // not ours: this client sends one request at a time
            }
            TtrpcProto.Response r;
            try {
                r = TtrpcProto.Response.parseFrom(f.data());
            } catch (InvalidProtocolBufferException e) {
                throw new TtrpcProtocolException("the answer is not a ttrpc.Response: " + e.getMessage());
            }
            if (r.hasStatus() && r.getStatus().getCode() != 0) {
                throw new TtrpcException(r.getStatus().getCode(), r.getStatus().getMessage());
            }
            return r.getPayload().toByteArray();
        }
    }

    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
