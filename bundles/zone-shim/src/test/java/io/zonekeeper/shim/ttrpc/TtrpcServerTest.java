package io.zonekeeper.shim.ttrpc;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The server over a real Unix socket, with a service written here (the framing is what is under test). */
public class TtrpcServerTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private TtrpcServer server;
    private Path socket;
    private final CountDownLatch release = new CountDownLatch(1);

    @Before
    public void start() throws IOException {
        socket = tmp.getRoot().toPath().resolve("run/t.sock");
        TtrpcService echo = new TtrpcService() {
            @Override
            public String name() {
                return "test.Echo";
            }

            @Override
            public byte[] call(String method, byte[] payload, Map<String, String> metadata) throws TtrpcException {
                switch (method) {
                    case "Echo":
                        return (new String(payload, StandardCharsets.UTF_8) + "|" + metadata.getOrDefault("k", ""))
                                .getBytes(StandardCharsets.UTF_8);
                    case "Block":
                        try {
                            release.await(30, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        return "released".getBytes(StandardCharsets.UTF_8);
                    default:
                        throw new TtrpcException(TtrpcException.UNIMPLEMENTED, method + " is not implemented");
                }
            }
        };
        server = new TtrpcServer(socket, List.of(echo));
        server.start();
    }

    @After
    public void stop() {
        release.countDown();
        server.close();
    }

    @Test
    public void aUnaryCallIsAnsweredWithItsPayloadAndMetadataSeen() throws Exception {
        try (TtrpcClient c = TtrpcClient.connect(socket)) {
            byte[] r = c.call("test.Echo", "Echo", "abc".getBytes(StandardCharsets.UTF_8), Map.of("k", "v"),
                    Duration.ofSeconds(5));
            assertEquals("abc|v", new String(r, StandardCharsets.UTF_8));
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    }

    @Test
    public void anUnknownServiceOrMethodAnswersUnimplemented() throws Exception {
        try (TtrpcClient c = TtrpcClient.connect(socket)) {
            TtrpcException s = assertThrows(TtrpcException.class, () -> c.call("no.Such", "X", new byte[0], Map.of(),
                    Duration.ofSeconds(5)));
            assertEquals(TtrpcException.UNIMPLEMENTED, s.code());
            assertTrue(s.getMessage(), s.getMessage().contains("no service no.Such"));
            TtrpcException m = assertThrows(TtrpcException.class, () -> c.call("test.Echo", "Pause", new byte[0],
                    Map.of(), Duration.ofSeconds(5)));
            assertEquals(TtrpcException.UNIMPLEMENTED, m.code());
            // the connection is still good after errors
            assertEquals("x|", new String(c.call("test.Echo", "Echo", "x".getBytes(StandardCharsets.UTF_8), Map.of(),
                    Duration.ofSeconds(5)), StandardCharsets.UTF_8));
        }
    }

    @Test
    public void aBlockedCallDoesNotHoldBackOthersOnTheSameConnection() throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            OutputStream out = TtrpcCodec.output(ch);
            InputStream in = TtrpcCodec.input(ch);
            TtrpcCodec.write(out, request(1, "Block", ""));
            TtrpcCodec.write(out, request(3, "Echo", "second"));
            TtrpcFrame first = TtrpcCodec.read(in);
            assertEquals(3, first.streamId());
            release.countDown();
            TtrpcFrame then = TtrpcCodec.read(in);
            assertEquals(1, then.streamId());
            assertArrayEquals("released".getBytes(StandardCharsets.UTF_8),
                    io.zonekeeper.shim.proto.TtrpcProto.Response.parseFrom(then.data()).getPayload().toByteArray());
        }
    }

    @Test
    public void aHostileLengthClosesTheConnectionAndTheServerServesTheNextClient() throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            OutputStream out = TtrpcCodec.output(ch);
            out.write(new byte[] { (byte) 0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0, 0, 0, 1, 1, 0 });
            out.flush();
            assertEquals(-1, TtrpcCodec.input(ch).read());
        }
        try (TtrpcClient c = TtrpcClient.connect(socket)) {
            assertEquals("ok|", new String(c.call("test.Echo", "Echo", "ok".getBytes(StandardCharsets.UTF_8),
                    Map.of(), Duration.ofSeconds(5)), StandardCharsets.UTF_8));
        }
    }

    @Test
    public void aRequestThatIsNotARequestMessageGetsInvalidArgument() throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            OutputStream out = TtrpcCodec.output(ch);
            TtrpcCodec.write(out, new TtrpcFrame(5, TtrpcFrame.REQUEST, 0, new byte[] { (byte) 0xFF, 1, 2 }));
            TtrpcFrame r = TtrpcCodec.read(TtrpcCodec.input(ch));
            var status = io.zonekeeper.shim.proto.TtrpcProto.Response.parseFrom(r.data()).getStatus();
            assertEquals(TtrpcException.INVALID_ARGUMENT, status.getCode());
            assertTrue(status.getMessage(), status.getMessage().contains("not a ttrpc.Request"));
        }
    }

    private static TtrpcFrame request(int stream, String method, String payload) {
        return new TtrpcFrame(stream, TtrpcFrame.REQUEST, 0, io.zonekeeper.shim.proto.TtrpcProto.Request.newBuilder()
                .setService("test.Echo").setMethod(method).setPayload(com.google.protobuf.ByteString.copyFromUtf8(
                        payload)).build().toByteArray());
    }
}
