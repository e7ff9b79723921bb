package io.zonekeeper.spi;

/**
 * The driver zone-core picked for one start of a zone, as a {@link ZoneResourceProvider} sees it: what the provider
 * prepares may depend on what the driver does itself, such as a hypervisor that makes a zone's host network
 * interface ({@link Feature#OWN_HOST_INTERFACE}). A provider asks about capabilities, never about driver types by
 * name, so that a new driver with the same ability is served the same way.
 *
 * @param type         the driver's {@link HypervisorDriver#type()}, for messages and records
 * @param capabilities what the driver said it can do when the start was planned
 * @since spi 1.3
 */
public record ChosenDriver(String type, Capabilities capabilities) {
    public ChosenDriver {
        if (type == null || type.isBlank() || capabilities == null) {
            throw new IllegalArgumentException("a chosen driver has a type and capabilities");
        }
    }

    public boolean supports(Feature feature) {
        return capabilities.supports(feature);
    }
}
