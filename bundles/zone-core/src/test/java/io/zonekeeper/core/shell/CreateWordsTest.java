package io.zonekeeper.core.shell;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.List;

import org.junit.Test;

import io.zonekeeper.api.WorkloadSpec;
import io.zonekeeper.api.ZoneException;

public class CreateWordsTest {
    @Test
    public void repeatedEnvTheNameAndEverythingAfterTheDashesAreTaken() throws Exception {
        CreateWords w = CreateWords.parse("--env", "A=1", "-e", "B=x y", "--workdir", "/srv", "--user", "app", "web",
                "--", "sh", "-c", "--env stays");
        assertEquals(List.of("web"), w.names());
        assertEquals(List.of("A=1", "B=x y"), w.env());
        assertEquals(List.of("sh", "-c", "--env stays"), w.command());
        assertEquals(new WorkloadSpec(List.of("sh", "-c", "--env stays"), List.of("C=3", "A=1", "B=x y"), "/srv",
                "app"), w.over(new WorkloadSpec(List.of("old"), List.of("C=3"), "/", "root")));
    }

    @Test
    public void noWorkloadOptionsLeaveASpecFilesWorkloadAsItIs() throws Exception {
        CreateWords w = CreateWords.parse("web");
        assertEquals(false, w.hasWorkload());
        WorkloadSpec base = new WorkloadSpec(List.of("run"), List.of("A=1"), "/w", "u");
        assertEquals(base, w.over(base));
    }

    @Test
    public void anUnknownOptionOrAMissingValueIsNamed() {
        ZoneException unknown = assertThrows(ZoneException.class, () -> CreateWords.parse("--bogus", "web"));
        assertTrue(unknown.getMessage(), unknown.getMessage().contains("unknown option --bogus"));
        ZoneException missing = assertThrows(ZoneException.class, () -> CreateWords.parse("web", "--env"));
        assertTrue(missing.getMessage(), missing.getMessage().contains("--env needs a value"));
    }
}
