package io.zonekeeper.xen.xl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The {@code xl list} parsers, fed any text: {@code xl list -l} JSON carries names and config that a domain's
 * creator chose, and plain {@code xl list} lines carry domain names with spaces. The contract of
 * {@link XlList#parseLong} is a list of domains or an {@link IllegalArgumentException} saying what was wrong; that
 * of {@link XlList#parseFlags} is a map of six-letter flags by domain id, never an exception. The corpus and every
 * crash found are kept under {@code XlListFuzzTestInputs/xlList}.
 */
class XlListFuzzTest {

    @FuzzTest(maxDuration = "10m")
    void xlList(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        Map<Integer, String> flags = XlList.parseFlags(text);
        for (Map.Entry<Integer, String> e : flags.entrySet()) {
            assertTrue(e.getKey() >= 0, "domain id " + e.getKey());
            assertTrue(e.getValue().matches("[-rbpscd]{6}"), "flags " + e.getValue());
        }
        List<Domain> domains;
        try {
            domains = XlList.parseLong(text);
        } catch (IllegalArgumentException refused) {
            assertNotNull(refused.getMessage());
            return;
        }
        List<Domain> merged = XlList.merge(domains, flags);
        assertEquals(domains.size(), merged.size());
        for (Domain d : merged) {
            d.zoneState();
        }
    }
}
