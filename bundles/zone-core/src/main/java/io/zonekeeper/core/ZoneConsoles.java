package io.zonekeeper.core;

import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.spi.ConsoleAccess;
import io.zonekeeper.spi.RuntimeRecord;

/**
 * What a guest says and where it talks: its console log and interactive console, through the driver when the
 * driver offers them, and the channels between zones with the byte counts each guest prints on its console.
 */
final class ZoneConsoles {
    private final ZoneTable table;
    private final DriverBindings drivers;
    private final ZoneReconciler reconciler;
    private final ZoneLifecycle lifecycle;
    private ChannelBroker channelBroker;

    ZoneConsoles(ZoneTable table, DriverBindings drivers, ZoneReconciler reconciler, ZoneLifecycle lifecycle) {
        this.table = table;
        this.drivers = drivers;
        this.reconciler = reconciler;
        this.lifecycle = lifecycle;
    }

    void open(ChannelBroker channelBroker) {
        this.channelBroker = channelBroker;
    }

    Path consoleLog(String name) throws ZoneException {
        Zone z = table.zone(name);
        String type = z.record().driver();
        DriverBinding binding = type == null ? null : drivers.active(type);
        if (binding != null && binding.driver instanceof ConsoleAccess c) {
            return c.consoleLog(z.context(binding));
        }
        // With the driver away the log is still where the driver recorded it.
        return z.context(null).runtime().flatMap(RuntimeRecord::consoleLog)
                .orElse(table.store().zoneDirectory(name).resolve("console.log"));
    }

    ByteChannel attachConsole(String name) throws ZoneException {
        Zone z = table.zone(name);
        lifecycle.lock(z, "attach to the console of");
        try {
            if (!z.record().state().isActive()) {
                throw new ZoneException("zone " + name + " is " + z.record().state() + "; zone:logs " + name
                        + " shows what it printed");
            }
            DriverBinding binding = reconciler.ensureAttached(z);
            if (binding == null || !(binding.driver instanceof ConsoleAccess c)) {
                throw new ZoneException("the driver of zone " + name + " has no interactive console");
            }
            return c.attachConsole(z.context(binding));
        } finally {
            z.operation.unlock();
        }
    }

    /** Every channel the specs name, with both ends, their states and what each guest reported it moved. */
    List<ChannelBroker.Channel> channels() {
        return channelBroker.channels(table.parties(), zone -> {
            try {
                return ChannelCounters.fromConsoleLog(consoleLog(zone), zone);
            } catch (ZoneException e) {
                return Map.of(); // destroyed meanwhile
            }
        });
    }
}
