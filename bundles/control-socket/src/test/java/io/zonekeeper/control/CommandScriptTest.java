package io.zonekeeper.control;

import static org.junit.Assert.assertEquals;

import java.util.List;

import org.junit.Test;

public class CommandScriptTest {

    @Test
    public void aSequenceRunsStatementByStatement() {
        assertEquals(List.of("zone:list", "driver:list --json"),
                CommandScript.statements("zone:list; driver:list --json"));
        assertEquals(List.of("lb", "echo 'a; b'"), CommandScript.statements("lb\necho 'a; b';"));
    }

    @Test
    public void pipesAndClosuresStayWithinTheirStatement() {
        assertEquals(List.of("lb | grep Zone", "each [1 2] { echo $it; echo x }"),
                CommandScript.statements("lb | grep Zone; each [1 2] { echo $it; echo x }"));
    }

    @Test
    public void conditionalsKeepGogosOwnSemantics() {
        assertEquals(List.of("a && b; c"), CommandScript.statements("a && b; c"));
        assertEquals(List.of("a || b"), CommandScript.statements("a || b"));
    }

    @Test
    public void aLineThatDoesNotParseIsLeftForGogoToReport() {
        assertEquals(List.of("echo \"open"), CommandScript.statements("echo \"open"));
    }
}
