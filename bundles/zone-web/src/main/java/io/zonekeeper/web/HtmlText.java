package io.zonekeeper.web;

/**
 * Text made safe to place between HTML tags or in a quoted attribute. Guest text is first made inert for terminals
 * ({@link io.zonekeeper.hostio.GuestText}); this second layer keeps a guest from writing markup into the page.
 */
final class HtmlText {
    private HtmlText() {
    }

    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
