package io.zonekeeper.core.shell;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.core.json.SpecJson;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;

/** The {@code --json} form of a zone, for scripts. */
final class ZoneJson {
    private ZoneJson() {
    }

    static JsonObject of(ZoneInfo z) {
        JsonObjectBuilder runtime = Json.createObjectBuilder();
        z.runtime().forEach(runtime::add);
        JsonObjectBuilder o = Json.createObjectBuilder().add("name", z.name()).add("id", z.id().toString())
                .add("state", z.state().name()).add("reason", z.reason()).add("since", z.since().toString())
                .add("driverAttached", z.driverAttached()).add("runtime", runtime).add("spec", SpecJson.toJson(z.spec()));
        if (z.driver() != null) {
            o.add("driver", z.driver());
        } else {
            o.addNull("driver");
        }
        return o.build();
    }
}
