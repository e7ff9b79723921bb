package io.zonekeeper.core;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Path;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;

import io.zonekeeper.spi.StateLocation;

/**
 * The appliance's state directory as a service: the one place that reads zone-core's {@code stateDir} setting, the
 * framework property {@value StateLocation#FRAMEWORK_PROPERTY} and the default, in that order. Kept apart from the
 * registry so that a driver or a device backend that needs the folder is not tied to the registry's life.
 */
@Component(service = StateLocation.class, immediate = true, configurationPid = "io.zonekeeper.core")
public class ApplianceStateLocation implements StateLocation {
    private static final Logger LOG = System.getLogger("io.zonekeeper.core");
    private Path directory;

    /** For SCR. */
    public ApplianceStateLocation() {
    }

    /** A fixed folder, for tests and embedders without a framework. */
    public ApplianceStateLocation(Path directory) {
        this.directory = directory.toAbsolutePath().normalize();
    }

    @Activate
    void activate(BundleContext context, CoreConfig config) {
        directory = resolve(config.stateDir(), context.getProperty(FRAMEWORK_PROPERTY));
    }

    /**
     * Keeps the folder: every driver, provider and backend holds this service statically, so a new one would
     * restart them all for a change of another core setting. A new folder is taken at the next start.
     */
    @Modified
    void modified(BundleContext context, CoreConfig config) {
        Path wanted = resolve(config.stateDir(), context.getProperty(FRAMEWORK_PROPERTY));
        if (!wanted.equals(directory)) {
            LOG.log(Level.WARNING, "the state directory stays " + directory + " until the appliance restarts; "
                    + wanted + " is taken then");
        }
    }

    /** The configured folder, else the framework property's, else {@link #DEFAULT_DIRECTORY}; made absolute. */
    static Path resolve(String configured, String frameworkProperty) {
        String chosen = configured != null && !configured.isBlank() ? configured
                : frameworkProperty != null && !frameworkProperty.isBlank() ? frameworkProperty : null;
        return chosen == null ? DEFAULT_DIRECTORY : Path.of(chosen.trim()).toAbsolutePath().normalize();
    }

    @Override
    public Path directory() {
        return directory;
    }

    @Override
    public String toString() {
        return "state directory " + directory;
    }
}
