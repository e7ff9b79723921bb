package io.zonekeeper.agent;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.Test;

/** The host's side of output flow control, against an agent that does not keep to it. */
public class ExecSessionOutputTest {
    // Small amounts only: the session acknowledges every 64 KiB through its link, which these tests do not need.
    private final ExecSession session = new ExecSession(null, 7);

    @Test
    public void outputBeyondTheWindowIsAProtocolError() throws Exception {
        byte[] chunk = new byte[AgentCodec.MAX_PAYLOAD];
        for (int i = 0; i < ExecSession.OUTPUT_WINDOW / chunk.length; i++) {
            session.output(AgentCodec.STDOUT, chunk);
        }
        // A full window on stdout leaves stderr's own window untouched.
        session.output(AgentCodec.STDERR, new byte[1]);
        AgentProtocolException e = assertThrows(AgentProtocolException.class,
                () -> session.output(AgentCodec.STDOUT, new byte[1]));
        assertTrue(e.getMessage(), e.getMessage().contains("beyond its window"));
    }

    @Test
    public void outputQueuedBeforeAReattachIsNotWrittenTwice() throws Exception {
        session.output(AgentCodec.STDOUT, bytes("one "));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertNull(session.pump(out, err, 10));
        session.output(AgentCodec.STDOUT, bytes("two "));
        session.output(AgentCodec.STDERR, bytes("oops"));
        // The connection breaks before "two " and "oops" are written; the agent sends them again after REATTACH.
        AgentFrame reattach = session.ack(AgentCodec.REATTACH);
        assertEquals("stdout offset written out", 4, java.nio.ByteBuffer.wrap(reattach.payload()).getLong(0));
        assertEquals("stderr offset written out", 0, java.nio.ByteBuffer.wrap(reattach.payload()).getLong(8));
        session.output(AgentCodec.STDOUT, bytes("two "));
        session.output(AgentCodec.STDERR, bytes("oops"));
        assertNull(session.pump(out, err, 10));
        assertArrayEquals(bytes("one two "), out.toByteArray());
        assertArrayEquals(bytes("oops"), err.toByteArray());
    }

    @Test
    public void aReattachOpensTheWindowFromTheWrittenOffsets() throws Exception {
        byte[] chunk = new byte[AgentCodec.MAX_PAYLOAD];
        for (int i = 0; i < ExecSession.OUTPUT_WINDOW / chunk.length; i++) {
            session.output(AgentCodec.STDOUT, chunk);
        }
        session.ack(AgentCodec.REATTACH);
        // Nothing was written out, so the agent may send the same window again, and no more.
        for (int i = 0; i < ExecSession.OUTPUT_WINDOW / chunk.length; i++) {
            session.output(AgentCodec.STDOUT, chunk);
        }
        assertThrows(AgentProtocolException.class, () -> session.output(AgentCodec.STDOUT, new byte[1]));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
