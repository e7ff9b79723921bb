package io.zonekeeper.xen.xenstore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.Test;

public class XsMessageTest {

    @Test
    public void headerIsFourLittleEndianWordsThenThePayload() {
        ByteBuffer b = XsMessage.request(XsMessage.READ, 7, 0, "/local/domain/1/name").encode();
        assertEquals(16 + "/local/domain/1/name".length() + 1, b.remaining());
        ByteBuffer h = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(2, h.getInt());
        assertEquals(7, h.getInt());
        assertEquals(0, h.getInt());
        assertEquals(21, h.getInt());
        byte[] payload = new byte[21];
        h.get(payload);
        assertEquals("/local/domain/1/name\0", new String(payload, StandardCharsets.US_ASCII));
        // byte order is the host's; on x86 the type's low byte comes first
        assertEquals(2, b.get(0));
        assertEquals(0, b.get(3));
    }

    @Test
    public void writePayloadIsPathNulValueWithoutTrailingNul() {
        XsMessage m = XsMessage.write(1, 0, "/a/b", "v1".getBytes(StandardCharsets.UTF_8));
        assertEquals(XsMessage.WRITE, m.type());
        assertArrayEquals("/a/b\0v1".getBytes(StandardCharsets.US_ASCII), m.payload());
    }

    @Test
    public void watchCarriesPathAndTokenEachNulTerminated() {
        XsMessage m = XsMessage.request(XsMessage.WATCH, 3, 0, "@releaseDomain", "tok");
        assertArrayEquals("@releaseDomain\0tok\0".getBytes(StandardCharsets.US_ASCII), m.payload());
        assertEquals(List.of("@releaseDomain", "tok"), m.strings());
    }

    @Test
    public void directoryAnswerSplitsIntoNames() {
        XsMessage m = new XsMessage(XsMessage.DIRECTORY, 1, 0, "0\0001\00012\0".getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of("0", "1", "12"), m.strings());
        assertEquals(List.of(), new XsMessage(XsMessage.DIRECTORY, 1, 0, new byte[0]).strings());
    }

    @Test
    public void readAnswerIsTheWholePayload() {
        assertEquals("hello", new XsMessage(XsMessage.READ, 1, 0, "hello".getBytes()).text());
        assertEquals("ENOENT", new XsMessage(XsMessage.ERROR, 1, 0, "ENOENT\0".getBytes()).text());
        assertEquals("", new XsMessage(XsMessage.READ, 1, 0, new byte[0]).text());
    }

    @Test
    public void decodeWaitsForAWholeMessageAndLeavesTheRest() {
        ByteBuffer one = XsMessage.request(XsMessage.READ, 1, 0, "/x").encode();
        ByteBuffer two = XsMessage.request(XsMessage.WATCH_EVENT, 0, 0, "/y", "t").encode();
        ByteBuffer both = ByteBuffer.allocate(one.remaining() + two.remaining()).put(one).put(two).flip();

        ByteBuffer partial = both.duplicate().limit(10);
        assertNull("a header cut short is not a message", XsMessage.decode(partial));
        assertEquals(0, partial.position());
        partial = both.duplicate().limit(18);
        assertNull("a payload cut short is not a message", XsMessage.decode(partial));
        assertEquals(0, partial.position());

        XsMessage a = XsMessage.decode(both);
        XsMessage b = XsMessage.decode(both);
        assertEquals(List.of("/x"), a.strings());
        assertEquals(XsMessage.WATCH_EVENT, b.type());
        assertEquals(List.of("/y", "t"), b.strings());
        assertNull(XsMessage.decode(both));
        assertEquals(0, both.remaining());
    }

    @Test
    public void aLengthBeyondTheProtocolMaximumIsACorruptStream() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(2).putInt(1).putInt(0)
                .putInt(XsMessage.MAX_PAYLOAD + 1).flip();
        assertThrows(IllegalStateException.class, () -> XsMessage.decode(b));
    }

    @Test
    public void payloadsOverTheMaximumAndNulInPathsAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> XsMessage.write(1, 0, "/a", new byte[XsMessage.MAX_PAYLOAD]));
        assertThrows(IllegalArgumentException.class, () -> XsMessage.request(XsMessage.READ, 1, 0, "/a\0b"));
    }
}
