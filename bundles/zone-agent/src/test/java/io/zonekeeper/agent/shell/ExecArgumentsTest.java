package io.zonekeeper.agent.shell;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;

import org.junit.Test;

/** zone:exec's words: options before the zone, the command after --, untouched. */
public class ExecArgumentsTest {
    @Test
    public void optionsZoneAndCommand() {
        ExecArguments a = ExecArguments.parse(List.of("--tty", "--env", "A=1", "--env", "B=2=3", "--workdir", "/tmp",
                "--user", "1000:1000", "web", "--", "sh", "-c", "echo --env; exit 7"));
        assertEquals("web", a.zone());
        assertTrue(a.tty());
        assertEquals(List.of("A=1", "B=2=3"), a.env());
        assertEquals("/tmp", a.workdir());
        assertEquals("1000:1000", a.user());
        assertEquals(List.of("sh", "-c", "echo --env; exit 7"), a.command());
    }

    @Test
    public void badWordsAreNamed() {
        String[][] cases = {
                {"no zone named"}, {"--", "true", "no zone named"}, {"web", "no command after --"},
                {"web", "--", "no command after --"}, {"--bogus", "web", "--", "true", "unknown option --bogus"},
                {"--env", "X", "web", "--", "true", "--env X is not K=V"}, {"web", "true", "the command goes after --"},
                {"--user", "--", "true", "--user needs a value"}};
        for (String[] c : cases) {
            List<String> words = List.of(c).subList(0, c.length - 1);
            try {
                ExecArguments.parse(words);
                fail("accepted " + words);
            } catch (IllegalArgumentException e) {
                assertTrue(words + ": " + e.getMessage(), e.getMessage().contains(c[c.length - 1]));
            }
        }
    }
}
