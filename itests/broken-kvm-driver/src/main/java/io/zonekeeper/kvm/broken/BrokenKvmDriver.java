package io.zonekeeper.kvm.broken;

import java.time.Duration;
import java.util.Map;
import java.util.Set;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

import io.zonekeeper.api.ZoneState;
import io.zonekeeper.spi.Adoption;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.RuntimeRecord;
import io.zonekeeper.spi.ZoneContext;

/** A driver release with a bug that makes it fail to activate: it must never take over running zones. */
@Component(service = HypervisorDriver.class, property = "zonekeeper.driver.type=kvm")
public class BrokenKvmDriver implements HypervisorDriver {

    @Activate
    void activate() {
        throw new IllegalStateException("this kvm-driver build is deliberately broken: it fails in activate");
    }

    @Override
    public String type() {
        return "kvm";
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(Set.of(), 0, 0, Map.of());
    }

    @Override
    public RuntimeRecord start(ZoneContext zone) throws DriverException {
        throw new DriverException("broken driver");
    }

    @Override
    public Adoption adopt(ZoneContext zone) {
        return Adoption.refused("broken driver");
    }

    @Override
    public void stop(ZoneContext zone, Duration grace) throws DriverException {
        throw new DriverException("broken driver");
    }

    @Override
    public void kill(ZoneContext zone) throws DriverException {
        throw new DriverException("broken driver");
    }

    @Override
    public ZoneState observe(ZoneContext zone) {
        return ZoneState.CRASHED;
    }
}
