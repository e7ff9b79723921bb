package io.zonekeeper.launcher;

import java.util.Optional;

/**
 * A feature's bundle id, {@code group:artifact[:type[:classifier]]:version}, and the file name that
 * maven-dependency-plugin gives its jar in the distribution's bundles/ folder.
 */
record ArtifactId(String group, String artifact, String type, Optional<String> classifier, String version) {

    static ArtifactId parse(String id) {
        String[] parts = id.split(":", -1);
        for (String part : parts) {
            if (part.isBlank()) {
                throw new IllegalArgumentException("bundle id \"" + id + "\" has an empty part; expected "
                        + "group:artifact:version or group:artifact:type[:classifier]:version");
            }
        }
        switch (parts.length) {
            case 3:
                return new ArtifactId(parts[0], parts[1], "jar", Optional.empty(), parts[2]);
            case 4:
                return new ArtifactId(parts[0], parts[1], parts[2], Optional.empty(), parts[3]);
            case 5:
                return new ArtifactId(parts[0], parts[1], parts[2], Optional.of(parts[3]), parts[4]);
            default:
                throw new IllegalArgumentException("bundle id \"" + id + "\" is not group:artifact:version or "
                        + "group:artifact:type[:classifier]:version");
        }
    }

    /** The jar's name in bundles/: {@code artifact-version[-classifier].type}. */
    String fileName() {
        return artifact + "-" + version + classifier.map(c -> "-" + c).orElse("") + "." + type;
    }

    @Override
    public String toString() {
        return group + ":" + artifact + (type.equals("jar") && classifier.isEmpty() ? "" : ":" + type)
                + classifier.map(c -> ":" + c).orElse("") + ":" + version;
    }
}
