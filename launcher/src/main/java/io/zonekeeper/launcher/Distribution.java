package io.zonekeeper.launcher;

import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The unpacked distribution: {@code bin/ lib/ bundles/ features/ etc/ deploy/} under one home folder, and the
 * settings in {@code etc/zonekeeper.properties}.
 */
final class Distribution {

    /** Settings file: framework properties, plus {@link #FEATURES_KEY}. */
    static final String SETTINGS_FILE = "zonekeeper.properties";
    /** Comma-separated feature files (names under features/, or absolute paths); absent means all of features/. */
    static final String FEATURES_KEY = "zonekeeper.features";

    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([^}]+)}");

    private final Path home;

    Distribution(Path home) {
        this.home = home.toAbsolutePath().normalize();
    }

    /** The home that bin/zonekeeper passes as -Dzonekeeper.home, else the folder above the launcher's jar. */
    static Distribution locate() throws LaunchException {
        String property = System.getProperty("zonekeeper.home");
        if (property != null && !property.isBlank()) {
            return new Distribution(Path.of(property));
        }
        try {
            Path jar = Path.of(Distribution.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return new Distribution(jar.getParent().getParent());
        } catch (URISyntaxException | RuntimeException e) {
            throw new LaunchException("cannot tell where Zonekeeper is installed; start it with bin/zonekeeper");
        }
    }

    Path home() {
        return home;
    }

    Path bundles() {
        return home.resolve("bundles");
    }

    Path features() {
        return home.resolve("features");
    }

    Path etc() {
        return home.resolve("etc");
    }

    Path deploy() {
        return home.resolve("deploy");
    }

    /** --state, else $ZONEKEEPER_STATE, else {@code <home>/state}: a distribution works without root as is. */
    Path stateDir(LaunchOptions options, Map<String, String> env) {
        if (options.stateDir().isPresent()) {
            return options.stateDir().get().toAbsolutePath().normalize();
        }
        String fromEnv = env.get("ZONEKEEPER_STATE");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return Path.of(fromEnv).toAbsolutePath().normalize();
        }
        return home.resolve("state");
    }

    /** etc/zonekeeper.properties with ${...} replaced from {@code variables}, then from system properties. */
    Map<String, String> settings(Map<String, String> variables) throws LaunchException {
        Path file = etc().resolve(SETTINGS_FILE);
        Map<String, String> result = new TreeMap<>();
        if (!Files.exists(file)) {
            return result;
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        } catch (IOException | IllegalArgumentException e) {
            throw new LaunchException("settings file " + file + ": cannot read it: " + e.getMessage());
        }
        for (String key : properties.stringPropertyNames()) {
            result.put(key, substitute(file, key, properties.getProperty(key).trim(), variables));
        }
        return result;
    }

    private static String substitute(Path file, String key, String value, Map<String, String> variables)
            throws LaunchException {
        Matcher m = VARIABLE.matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1);
            String replacement = variables.containsKey(name) ? variables.get(name) : System.getProperty(name);
            if (replacement == null) {
                throw new LaunchException("settings file " + file + ": " + key + " uses ${" + name
                        + "}, which is not defined");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** The feature files to install: those named by {@link #FEATURES_KEY}, else every *.json in features/. */
    List<Path> featureFiles(Map<String, String> settings) throws LaunchException {
        String listed = settings.get(FEATURES_KEY);
        List<Path> files = new ArrayList<>();
        if (listed != null && !listed.isBlank()) {
            for (String name : listed.split(",")) {
                if (name.isBlank()) {
                    continue;
                }
                Path file = features().resolve(name.trim());
                if (!Files.isRegularFile(file)) {
                    throw new LaunchException(etc().resolve(SETTINGS_FILE) + ": " + FEATURES_KEY + " names "
                            + name.trim() + ", but there is no file " + file);
                }
                files.add(file);
            }
            return files;
        }
        try (Stream<Path> all = Files.list(features())) {
            all.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().forEach(files::add);
        } catch (IOException e) {
            throw new LaunchException("cannot list feature files in " + features() + ": " + e.getMessage());
        }
        if (files.isEmpty()) {
            throw new LaunchException("no feature files (*.json) in " + features());
        }
        return files;
    }
}
