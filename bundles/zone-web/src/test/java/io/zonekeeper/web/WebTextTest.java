package io.zonekeeper.web;

import static org.junit.Assert.assertEquals;

import java.util.Map;

import org.junit.Test;

import io.zonekeeper.hostio.GuestText;

public class WebTextTest {
    @Test
    public void guestTextBecomesInertForTerminalsAndForHtml() {
        String guest = "<script>alert('x')</script> & \"q\"\u001b[6n\r\n";
        assertEquals("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\\x1b[6n\n",
                HtmlText.escape(GuestText.escape(guest)));
    }

    @Test
    public void formFieldsAreDecodedAndBadOnesLeftOut() {
        assertEquals(Map.of("password", "a b&c=", "zone", "w1"),
                WebConsole.form("password=a+b%26c%3D&zone=w1&zone=other&=x&bad=%zz&novalue"));
        assertEquals(Map.of(), WebConsole.form(null));
    }
}
