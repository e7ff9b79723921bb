package io.zonekeeper.network;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.network.host.IpHost;
import io.zonekeeper.spi.ChosenDriver;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.StateLocation;
import io.zonekeeper.spi.ZoneResourceProvider;

/** The networks of this appliance as a zone resource provider for zone-core, and as a service for the shell. */
@Component(service = { ZoneResourceProvider.class, NetworkProvider.class }, configurationPid = NetworkProvider.PID,
        immediate = true)
@Designate(ocd = NetworkConfig.class)
public class NetworkProvider implements ZoneResourceProvider {
    public static final String PID = "io.zonekeeper.network";
    private Networks networks;

    @Reference
    private StateLocation state;

    /** For SCR. */
    public NetworkProvider() {
    }

    /** Over networks that are open already, for tests. */
    NetworkProvider(Networks networks) {
        this.networks = networks;
    }

    @Activate
    void activate(NetworkConfig config) throws IOException {
        networks = new Networks(state.folder("networks"), new IpHost(config.ipCommand(), config.nftCommand()));
        networks.open();
    }

    public Networks networks() {
        return networks;
    }

    @Override
    public ResourceKind kind() {
        return ResourceKind.NETWORK;
    }

    /** Without a driver named (an spi 1.2 caller), taps are made. */
    @Override
    public PreparedResources prepare(UUID id, ZoneSpec spec) throws ZoneException {
        return networks.prepare(id, spec);
    }

    @Override
    public PreparedResources prepare(UUID id, ZoneSpec spec, ChosenDriver driver) throws ZoneException {
        return networks.prepare(id, spec, driver.supports(Feature.OWN_HOST_INTERFACE));
    }

    @Override
    public void release(UUID id, String zoneName) {
        networks.release(id);
    }

    @Override
    public List<String> orphans(Set<UUID> activeZones) {
        return networks.orphans(activeZones);
    }
}
