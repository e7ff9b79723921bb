package io.zonekeeper.hostio;

/**
 * Makes text a guest printed inert before it reaches an operator's terminal or a stored record. A guest's console
 * is the guest's to fill: escape sequences in it could move the cursor, rewrite the screen, set a terminal's title
 * or answer back into its input. Every control character other than newline and tab is shown as {@code \xNN}
 * ({@code \\u{NNNN}} above U+00FF); a carriage return right before a newline is dropped, as serial consoles end
 * lines with CR LF.
 */
public final class GuestText {
    private GuestText() {
    }

    /**
     * The text with its control characters escaped. Escaping again changes nothing (the result holds no control
     * character), so each layer that stores or prints guest text may apply it.
     */
    public static String escape(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean crlf = c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n';
            if (!crlf && !isControl(c)) {
                if (out != null) {
                    out.append(c);
                }
                continue;
            }
            if (out == null) {
                out = new StringBuilder(text.length() + 16).append(text, 0, i);
            }
            if (!crlf) {
                out.append(c <= 0xff ? String.format("\\x%02x", (int) c) : String.format("\\u{%04x}", (int) c));
            }
        }
        return out == null ? text : out.toString();
    }

    /**
     * C0 and C1 controls and DEL, but not newline or tab; also the Unicode line and paragraph separators and the
     * bidirectional overrides and isolates, which reorder what a terminal shows.
     */
    static boolean isControl(char c) {
        if (c == '\n' || c == '\t') {
            return false;
        }
        return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029'
                || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069');
    }
}
