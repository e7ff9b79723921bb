package io.zonekeeper.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneInfo;

/** Broken files among the declared zones of etc/zones: each costs itself, never the others or zone-core. */
public class DeclaredZoneFilesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private Path state;
    private Path declared;
    private ZoneRegistry registry;

    @Before
    public void setUp() throws Exception {
        state = tmp.newFolder("state").toPath();
        declared = tmp.newFolder("zones").toPath();
    }

    @After
    public void tearDown() {
        if (registry != null) {
            registry.close();
        }
    }

    private void open() throws Exception {
        registry = new ZoneRegistry();
        registry.open(state, declared, Duration.ofMillis(300), Duration.ofSeconds(1));
    }

    /** An array nested {@code depth} deep inside a spec's labels: valid JSON, and no stack builds it. */
    static String nested(int depth) {
        return "{\"name\":\"deep\",\"labels\":" + "[".repeat(depth) + "]".repeat(depth) + "}";
    }

    @Test
    public void aTwentyThousandDeepFileIsRefusedAndTheValidOnesLoad() throws Exception {
        Files.writeString(declared.resolve("a-web.json"), "{\"name\":\"web\",\"memoryMiB\":128}");
        Files.writeString(declared.resolve("b-deep.json"), nested(20_000));
        Files.writeString(declared.resolve("c-db.json"), "{\"name\":\"db\"}");
        open();
        assertEquals(List.of("db", "web"), registry.list().stream().map(ZoneInfo::name).sorted().toList());
        List<DeclaredZoneFiles.Refused> refused = registry.refusedDeclarations();
        assertEquals(1, refused.size());
        assertEquals(declared.resolve("b-deep.json"), refused.get(0).file());
        assertTrue(refused.get(0).problem(), refused.get(0).problem().contains("nests deeper than 32 levels"));
        // The file is the operator's: reported, left in place.
        assertTrue(Files.exists(declared.resolve("b-deep.json")));
    }

    @Test
    public void anUnknownNestedKeyIsRefusedByItsPathAndNothingIsStored() throws Exception {
        Files.writeString(declared.resolve("data.json"), "{\"name\":\"data\",\"disks\":[{\"path\":\"/srv/data.img\","
                + "\"readOnly\":true}]}");
        open();
        assertTrue(registry.list().isEmpty());
        try (var s = Files.list(state.resolve("zones"))) {
            assertEquals(0, s.count());
        }
        String problem = registry.refusedDeclarations().get(0).problem();
        assertTrue(problem, problem.contains("disks[0].readOnly: unknown field; known: path, format, readonly "
                + "(did you mean readonly?)"));
    }

    @Test
    public void anOversizeFileIsRefusedUnreadAndAnUnreadableOneIsNamed() throws Exception {
        Files.writeString(declared.resolve("big.json"), "{\"name\":\"big\",\"cmdline\":\""
                + "x".repeat(io.zonekeeper.core.json.BoundedJson.MAX_BYTES) + "\"}");
        Files.createDirectory(declared.resolve("folder.json"));
        Files.writeString(declared.resolve("ok.json"), "{\"name\":\"ok\"}");
        DeclaredZoneFiles.Found found = DeclaredZoneFiles.read(declared);
        assertEquals(List.of("ok"), found.declared().stream().map(d -> d.spec().name()).toList());
        assertEquals(List.of(declared.resolve("big.json"), declared.resolve("folder.json")),
                found.refused().stream().map(DeclaredZoneFiles.Refused::file).toList());
        assertTrue(found.refused().get(0).problem(), found.refused().get(0).problem().contains("is longer than "
                + io.zonekeeper.core.json.BoundedJson.MAX_BYTES + " bytes"));
    }
}
