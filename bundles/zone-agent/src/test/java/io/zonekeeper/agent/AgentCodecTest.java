package io.zonekeeper.agent;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.Test;

/** The wire format, and the reader's refusals of what a hostile guest may send. */
public class AgentCodecTest {
    private static final long NONCE = 0x1122334455667788L;

    private static byte[] greeting() {
        return ByteBuffer.allocate(16).put(AgentCodec.SYNC).putLong(NONCE).array();
    }

    private static byte[] raw(long length, int type, int session, byte[] payload) {
        return ByteBuffer.allocate(9 + payload.length).putInt((int) length).put((byte) type).putInt(session)
                .put(payload).array();
    }

    private static AgentCodec.Reader fed(byte[]... parts) {
        AgentCodec.Reader r = new AgentCodec.Reader(NONCE);
        for (byte[] p : parts) {
            r.feed(p, 0, p.length);
        }
        return r;
    }

    private static void refused(String expected, byte[]... parts) {
        try {
            AgentCodec.Reader r = fed(parts);
            AgentFrame f = r.next();
            fail("accepted " + f);
        } catch (AgentProtocolException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(expected));
        }
    }

    @Test
    public void framesRoundTripAfterStaleBytesAndTheGreeting() throws Exception {
        byte[] stale = "garbage from an earlier connection ZKAGSYNC\0\0\0\0\0\0\0\0".getBytes(
                StandardCharsets.ISO_8859_1);
        byte[] out = AgentCodec.encode(new AgentFrame(AgentCodec.STDOUT, 42, "hi".getBytes(StandardCharsets.UTF_8)));
        byte[] exit = AgentCodec.encode(new AgentFrame(AgentCodec.EXIT, 42, new byte[] {0, 0, 0, 0, 7}));
        AgentCodec.Reader r = fed(stale, greeting(), out, exit);
        AgentFrame f = r.next();
        assertEquals(AgentCodec.STDOUT, f.type());
        assertEquals(42, f.session());
        assertArrayEquals("hi".getBytes(StandardCharsets.UTF_8), f.payload());
        assertEquals(7, AgentCodec.exitStatus(r.next().payload()));
        assertNull(r.next());
    }

    @Test
    public void aFrameSplitAnywhereIsReassembled() throws Exception {
        byte[] all = concat(greeting(), AgentCodec.encode(new AgentFrame(AgentCodec.STDERR, 1, new byte[1000])));
        for (int cut = 1; cut < all.length; cut += 97) {
            AgentCodec.Reader r = new AgentCodec.Reader(NONCE);
            r.feed(all, 0, cut);
            AgentFrame early = r.next();
            r.feed(all, cut, all.length - cut);
            AgentFrame f = early != null ? early : r.next();
            assertEquals("cut at " + cut, 1000, f.payload().length);
        }
    }

    @Test
    public void malformedFramesAreRefusedNamingWhatIsWrong() {
        refused("frame length 4 outside", greeting(), raw(4, AgentCodec.STDOUT, 1, new byte[0]));
        refused("frame length 4294967295 outside", greeting(), raw(0xFFFFFFFFL, AgentCodec.STDOUT, 1, new byte[0]));
        refused("frame length 65542 outside", greeting(), raw(65542, AgentCodec.STDOUT, 1, new byte[0]));
        refused("unknown frame type 0x42", greeting(), raw(5, 0x42, 1, new byte[0]));
        refused("unknown frame type 0x02", greeting(), raw(5, AgentCodec.EXEC, 1, new byte[0]));
        refused("frame type 0x85 with 4 bytes of payload, not 5", greeting(),
                raw(9, AgentCodec.EXIT, 1, new byte[4]));
        refused("frame type 0x88 with 9 bytes of payload, not 8", greeting(),
                raw(14, AgentCodec.STDIN_ACK, 1, new byte[9]));
    }

    @Test
    public void aStreamWithoutTheGreetingIsRefusedAfterItsBound() throws Exception {
        AgentCodec.Reader r = new AgentCodec.Reader(NONCE);
        byte[] junk = new byte[4096];
        try {
            for (int i = 0; i <= AgentCodec.MAX_SYNC_SEARCH / junk.length + 1; i++) {
                r.feed(junk, 0, Math.min(junk.length, r.room()));
                assertNull(r.next());
            }
            fail("searched past the bound");
        } catch (AgentProtocolException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no agent greeting"));
        }
        // Another nonce's greeting does not count: it belongs to another connection.
        AgentCodec.Reader other = new AgentCodec.Reader(NONCE + 1);
        byte[] g = greeting();
        other.feed(g, 0, g.length);
        assertNull(other.next());
    }

    @Test
    public void errorTextIsStrictAndEscaped() throws Exception {
        byte[] msg = "exec /nonexistent: No such file or directory\u001b[2J".getBytes(StandardCharsets.UTF_8);
        byte[] p = ByteBuffer.allocate(6 + msg.length).putInt(2).putShort((short) msg.length).put(msg).array();
        assertEquals("exec /nonexistent: No such file or directory\\x1b[2J (errno 2)", AgentCodec.errorText(p));
        byte[] lying = ByteBuffer.allocate(8).putInt(2).putShort((short) 100).put(new byte[2]).array();
        try {
            AgentCodec.errorText(lying);
            fail("accepted a length beyond the payload");
        } catch (AgentProtocolException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("does not match"));
        }
    }

    @Test
    public void exitStatusesReadAsAShellReportsThem() {
        assertEquals(7, AgentCodec.exitStatus(new byte[] {0, 0, 0, 0, 7}));
        assertEquals(128 + 9, AgentCodec.exitStatus(new byte[] {1, 0, 0, 0, 9}));
    }

    @Test
    public void execRequestsEncodeAndRefuseWhatTheAgentWouldNotTake() {
        byte[] p = new ExecRequest(List.of("sh", "-c", "true"), List.of("A=1"), "/tmp", "0", true, 24, 80).encode();
        ByteBuffer b = ByteBuffer.wrap(p);
        assertEquals(1, b.get());
        assertEquals(24, b.getShort());
        assertEquals(80, b.getShort());
        assertEquals(3, b.getShort());
        assertEquals(2, b.getShort());
        for (String[] bad : new String[][] {{"", "the command name is empty"}, {"a\0b", "NUL"}}) {
            try {
                new ExecRequest(List.of(bad[0]), List.of(), "", "", false, 0, 0).encode();
                fail("accepted " + bad[0]);
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains(bad[1]));
            }
        }
        try {
            new ExecRequest(List.of("sh"), List.of("NOEQUALS"), "", "", false, 0, 0);
            fail("accepted an env entry without =");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("not K=V"));
        }
        try {
            new ExecRequest(List.of("x".repeat(40000), "y".repeat(40000)), List.of(), "", "", false, 0, 0).encode();
            fail("accepted an EXEC over the payload bound");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("at most 65536"));
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        return ByteBuffer.allocate(a.length + b.length).put(a).put(b).array();
    }
}
