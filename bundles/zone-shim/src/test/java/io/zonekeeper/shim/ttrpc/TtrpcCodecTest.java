package io.zonekeeper.shim.ttrpc;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.Test;

public class TtrpcCodecTest {
    @Test
    public void aFrameIsTenHeaderBytesThenItsDataBigEndian() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TtrpcCodec.write(out, new TtrpcFrame(0x01020305, TtrpcFrame.RESPONSE, 0, "hi".getBytes(StandardCharsets.UTF_8)));
        assertArrayEquals(new byte[] { 0, 0, 0, 2, 1, 2, 3, 5, 2, 0, 'h', 'i' }, out.toByteArray());
    }

    @Test
    public void framesReadBackAsWrittenAndEndCleanlyBetweenFrames() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TtrpcCodec.write(out, new TtrpcFrame(1, TtrpcFrame.REQUEST, 0, new byte[] { 9, 8, 7 }));
        TtrpcCodec.write(out, new TtrpcFrame(3, TtrpcFrame.DATA, TtrpcFrame.REMOTE_CLOSED, new byte[0]));
        ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
        TtrpcFrame a = TtrpcCodec.read(in);
        TtrpcFrame b = TtrpcCodec.read(in);
        assertEquals(1, a.streamId());
        assertEquals(TtrpcFrame.REQUEST, a.type());
        assertArrayEquals(new byte[] { 9, 8, 7 }, a.data());
        assertEquals(3, b.streamId());
        assertEquals(TtrpcFrame.REMOTE_CLOSED, b.flags());
        assertNull(TtrpcCodec.read(in));
    }

    @Test
    public void aLengthOverFourMebibytesIsRefusedBeforeAnythingIsAllocated() {
        // 0xFFFFFFFF would be a 4 GiB buffer: the header alone must be enough to refuse it.
        byte[] hostile = { (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0, 0, 0, 1, 1, 0 };
        TtrpcProtocolException e = assertThrows(TtrpcProtocolException.class,
                () -> TtrpcCodec.read(new ByteArrayInputStream(hostile)));
        assertTrue(e.getMessage(), e.getMessage().contains("4294967295 bytes") && e.getMessage().contains("at most"));
        byte[] justOver = { 0, 0x40, 0, 1, 0, 0, 0, 1, 1, 0 };
        assertThrows(TtrpcProtocolException.class, () -> TtrpcCodec.read(new ByteArrayInputStream(justOver)));
    }

    @Test
    public void aTruncatedHeaderOrDataIsNamed() {
        TtrpcProtocolException h = assertThrows(TtrpcProtocolException.class,
                () -> TtrpcCodec.read(new ByteArrayInputStream(new byte[] { 0, 0, 0 })));
        assertTrue(h.getMessage(), h.getMessage().contains("header (3 of 10"));
        byte[] shortData = { 0, 0, 0, 5, 0, 0, 0, 1, 1, 0, 'a', 'b' };
        TtrpcProtocolException d = assertThrows(TtrpcProtocolException.class,
                () -> TtrpcCodec.read(new ByteArrayInputStream(shortData)));
        assertTrue(d.getMessage(), d.getMessage().contains("2 of 5 data bytes"));
    }

    @Test
    public void anUnknownMessageTypeIsRefused() {
        byte[] typeNine = { 0, 0, 0, 0, 0, 0, 0, 1, 9, 0 };
        TtrpcProtocolException e = assertThrows(TtrpcProtocolException.class,
                () -> TtrpcCodec.read(new ByteArrayInputStream(typeNine)));
        assertTrue(e.getMessage(), e.getMessage().contains("type 9"));
    }

    @Test
    public void aFrameOverTheLimitCannotBeMade() {
        byte[] big = new byte[TtrpcFrame.MAX_DATA + 1];
        assertThrows(IllegalArgumentException.class, () -> new TtrpcFrame(1, 1, 0, big));
        assertEquals(TtrpcFrame.MAX_DATA, new TtrpcFrame(1, 1, 0, Arrays.copyOf(big, TtrpcFrame.MAX_DATA)).data().length);
    }
}
