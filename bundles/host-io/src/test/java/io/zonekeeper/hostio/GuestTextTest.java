package io.zonekeeper.hostio;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;

import org.junit.Test;

public class GuestTextTest {

    @Test
    public void plainTextWithNewlinesAndTabsIsReturnedUnchanged() {
        String s = "zonekeeper: zone web ready\n\tindented ü \\x1b stays as typed\n";
        assertSame(s, GuestText.escape(s));
    }

    @Test
    public void escapeSequencesAreShownAsHexAndCannotReachATerminal() {
        assertEquals("\\x1b[2J\\x1b]0;owned\\x07 hi", GuestText.escape("\u001b[2J\u001b]0;owned\u0007 hi"));
    }

    @Test
    public void everyC0AndC1ControlAndDelIsEscapedButNewlineAndTab() {
        for (char c = 0; c < 0xa0; c++) {
            String out = GuestText.escape(String.valueOf(c));
            if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
                assertEquals(String.valueOf(c), out);
            } else {
                assertEquals(String.format("\\x%02x", (int) c), out);
            }
        }
    }

    @Test
    public void crBeforeNewlineIsDroppedAndALoneCrIsEscaped() {
        assertEquals("one\ntwo\\x0dthree", GuestText.escape("one\r\ntwo\rthree"));
    }

    @Test
    public void bidiOverridesAndLineSeparatorsAreEscaped() {
        assertEquals("a\\u{202e}b\\u{2028}c\\u{2066}", GuestText.escape("a\u202eb\u2028c\u2066"));
    }

    @Test
    public void escapingTwiceChangesNothingMore() {
        String once = GuestText.escape("\u001b[31mred\r\u009b\u202e");
        assertEquals(once, GuestText.escape(once));
    }
}
