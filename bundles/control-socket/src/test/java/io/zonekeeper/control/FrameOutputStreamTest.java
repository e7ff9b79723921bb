package io.zonekeeper.control;

import static org.junit.Assert.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.Test;

import jakarta.json.JsonObject;
import jakarta.json.spi.JsonProvider;

public class FrameOutputStreamTest {

    private final JsonProvider json = JsonProvider.provider();
    private final ByteArrayOutputStream wire = new ByteArrayOutputStream();
    private final FrameWriter frames = new FrameWriter(Channels.newChannel(wire), json);

    @Test
    public void eachCompletedLineGoesOutAtOnceAndTheRestOnFlush() throws IOException {
        FrameOutputStream out = new FrameOutputStream(frames, "out");
        out.write("progress 10%\nprogress 20%\npart".getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of("{\"out\":\"progress 10%\\nprogress 20%\\n\"}"), lines());
        out.write("ial".getBytes(StandardCharsets.UTF_8));
        assertEquals(1, lines().size());
        out.flush();
        assertEquals("{\"out\":\"partial\"}", lines().get(1));
    }

    @Test
    public void aMultiByteCharacterSplitAcrossWritesIsNeverCutInTwo() throws IOException {
        FrameOutputStream err = new FrameOutputStream(frames, "err");
        byte[] euro = "€\n".getBytes(StandardCharsets.UTF_8); // E2 82 AC 0A
        err.write(euro, 0, 2);
        err.flush(); // only an incomplete sequence: nothing may go out
        assertEquals(List.of(), lines());
        err.write(euro, 2, 2);
        assertEquals(List.of("{\"err\":\"€\\n\"}"), lines());
        assertEquals("€", text(lines().get(0), "err").trim());
    }

    @Test
    public void aVeryLongLineGoesOutInPiecesOnUtf8Boundaries() throws IOException {
        FrameOutputStream out = new FrameOutputStream(frames, "out");
        String big = "ä".repeat(FrameOutputStream.MAX_PENDING); // two bytes each
        out.write(big.getBytes(StandardCharsets.UTF_8));
        out.flush();
        StringBuilder joined = new StringBuilder();
        for (String line : lines()) {
            joined.append(text(line, "out"));
        }
        assertEquals(big, joined.toString());
    }

    @Test
    public void utf8BoundaryStopsBeforeAnIncompleteSequence() {
        byte[] b = {'a', (byte) 0xE2, (byte) 0x82};
        assertEquals(1, FrameOutputStream.utf8Boundary(b, 3));
        assertEquals(1, FrameOutputStream.utf8Boundary(b, 2));
        assertEquals(1, FrameOutputStream.utf8Boundary(b, 1));
        byte[] complete = {'a', (byte) 0xE2, (byte) 0x82, (byte) 0xAC};
        assertEquals(4, FrameOutputStream.utf8Boundary(complete, 4));
    }

    private List<String> lines() {
        List<String> lines = new ArrayList<>();
        for (String line : wire.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!line.isEmpty()) {
                lines.add(line);
            }
        }
        return lines;
    }

    private String text(String frame, String key) {
        JsonObject o = json.createReader(new StringReader(frame)).readObject();
        return o.getString(key);
    }
}
