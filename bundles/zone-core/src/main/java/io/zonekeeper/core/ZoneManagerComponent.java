package io.zonekeeper.core;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneListener;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.ZoneResourceProvider;
import io.zonekeeper.spi.DeviceBackend;
import io.zonekeeper.spi.StateLocation;

/**
 * The registry as an OSGi component. Driver references are dynamic, greedy and multiple: a driver that goes away
 * (an upgrade, an uninstall) never deactivates this component, and so never stops a zone.
 */
@Component(service = { ZoneManager.class, ZoneRegistry.class }, immediate = true,
        configurationPid = "io.zonekeeper.core")
@Designate(ocd = CoreConfig.class)
public class ZoneManagerComponent extends ZoneRegistry {
    /** zone-core's own {@link ApplianceStateLocation}, so that the registry and every other bundle agree. */
    @Reference
    private StateLocation stateLocation;

    @Activate
    void activate(BundleContext context, CoreConfig config, Map<String, Object> properties) throws IOException {
        Path state = stateLocation.directory();
        Path declared = config.declaredZonesDir().isEmpty() ? etcDirectory(context).resolve("zones")
                : Path.of(config.declaredZonesDir());
        if (!config.driverRepository().isEmpty()) {
            setDriverRepository(Path.of(config.driverRepository()));
        }
        setTakeoverConsents(properties);
        open(state, declared, Duration.ofSeconds(config.driverWaitSeconds()),
                Duration.ofSeconds(config.stopGraceSeconds()));
    }

    @Deactivate
    void deactivate() {
        close();
    }

    static Path etcDirectory(BundleContext context) {
        String p = context.getProperty("zonekeeper.etc");
        return Path.of(p == null || p.isEmpty() ? "/etc/zonekeeper" : p);
    }

    @Reference(service = HypervisorDriver.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindDriver(ServiceReference<HypervisorDriver> ref, HypervisorDriver driver, Map<String, Object> props) {
        addDriver(binding(driver, ref, props));
    }

    /** The binding of a driver service, with the bundle it came from and its ranking. */
    static DriverBinding binding(HypervisorDriver driver, ServiceReference<?> ref, Map<String, Object> props) {
        Object id = props.get(Constants.SERVICE_ID);
        Object rank = props.get(Constants.SERVICE_RANKING);
        Bundle b = ref == null ? null : ref.getBundle();
        return new DriverBinding(driver, id instanceof Long l ? l : -1L, rank instanceof Integer i ? i : 0,
                b == null ? "?" : b.getSymbolicName(), b == null ? "?" : b.getVersion().toString(),
                b == null ? DriverBinding.NO_BUNDLE : b.getBundleId());
    }

    void unbindDriver(HypervisorDriver driver) {
        removeDriver(driver);
    }

    @Reference(service = ZoneListener.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindListener(ZoneListener listener) {
        addListener(listener);
    }

    void unbindListener(ZoneListener listener) {
        removeListener(listener);
    }

    @Reference(service = ZoneResourceProvider.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindResourceProvider(ZoneResourceProvider provider) {
        addResourceProvider(provider);
    }

    void unbindResourceProvider(ZoneResourceProvider provider) {
        removeResourceProvider(provider);
    }

    @Reference(service = DeviceBackend.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindDeviceBackend(DeviceBackend backend) {
        addDeviceBackend(backend);
    }

    void unbindDeviceBackend(DeviceBackend backend) {
        removeDeviceBackend(backend);
    }

    @Reference(service = ImageStore.class, cardinality = ReferenceCardinality.OPTIONAL,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindImageStore(ImageStore store) {
        setImageStore(store);
    }

    void unbindImageStore(ImageStore store) {
        unsetImageStore(store);
    }
}
