package io.zonekeeper.network;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.network.host.IpHost;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.ZoneResourceProvider;

/** The networks of this appliance as a zone resource provider for zone-core, and as a service for the shell. */
@Component(service = { ZoneResourceProvider.class, NetworkProvider.class }, configurationPid = NetworkProvider.PID,
        immediate = true)
@Designate(ocd = NetworkConfig.class)
public class NetworkProvider implements ZoneResourceProvider {
    public static final String PID = "io.zonekeeper.network";
    private Networks networks;

    @Activate
    void activate(BundleContext context, NetworkConfig config) throws IOException {
        String state = config.stateDir().isEmpty() ? context.getProperty("zonekeeper.state") : config.stateDir();
        Path dir = Path.of(state == null || state.isEmpty() ? "/var/lib/zonekeeper" : state).resolve("networks");
        networks = new Networks(dir, new IpHost(config.ipCommand(), config.nftCommand()));
        networks.open();
    }

    public Networks networks() {
        return networks;
    }

    @Override
    public ResourceKind kind() {
        return ResourceKind.NETWORK;
    }

    @Override
    public PreparedResources prepare(UUID id, ZoneSpec spec) throws ZoneException {
        return networks.prepare(id, spec);
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
