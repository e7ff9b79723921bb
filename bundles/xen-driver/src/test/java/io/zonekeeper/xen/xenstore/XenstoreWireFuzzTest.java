package io.zonekeeper.xen.xenstore;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The xenstore wire decoder, fed any bytes as xenstored's socket would deliver them, split at an arbitrary point
 * the way two reads split a stream. Its contract: it takes whole messages off the front, leaves a partial one in
 * place, and throws only {@link IllegalStateException} for a header whose length the protocol does not allow.
 * Each message taken re-encodes to exactly the bytes it was read from, and its strings and text can be read.
 * The corpus and every crash found are kept under {@code XenstoreWireFuzzTestInputs/xenstoreWire}.
 */
class XenstoreWireFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void xenstoreWire(byte[] input) {
        int split = input.length == 0 ? 0 : Byte.toUnsignedInt(input[0]) % (input.length + 1);
        ByteBuffer in = ByteBuffer.allocate(input.length);
        in.put(input, 0, split).flip();
        int consumed = 0;
        try {
            consumed += drain(in, input, consumed);
            in.compact();
            in.put(input, split, input.length - split).flip();
            consumed += drain(in, input, consumed);
        } catch (IllegalStateException corrupt) {
            assertTrue(corrupt.getMessage().contains("corrupt"), corrupt.getMessage());
            return;
        }
        assertEquals(input.length - consumed, in.remaining(), "bytes neither taken nor left in place");
        assertTrue(in.remaining() < XsMessage.HEADER + XsMessage.MAX_PAYLOAD, "a whole message was left unread");
    }

    private static int drain(ByteBuffer in, byte[] input, int from) {
        int taken = 0;
        XsMessage m;
        while ((m = XsMessage.decode(in)) != null) {
            ByteBuffer encoded = m.encode();
            byte[] again = new byte[encoded.remaining()];
            encoded.get(again);
            assertArrayEquals(Arrays.copyOfRange(input, from + taken, from + taken + again.length), again,
                    "a message re-encodes to the bytes it was read from");
            taken += again.length;
            m.strings();
            m.text();
            m.toString();
        }
        return taken;
    }
}
