package io.zonekeeper.launcher;

import java.nio.file.Path;
import java.util.List;

/** An OSGi feature file as the launcher uses it: its bundles and their start order. */
record Feature(Path file, String id, List<Feature.Bundle> bundles) {

    /** Bundles without a start-order start after all that have one. */
    static final int DEFAULT_START_ORDER = 100;

    record Bundle(ArtifactId id, int startOrder) {
    }
}
