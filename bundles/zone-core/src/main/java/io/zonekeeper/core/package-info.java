/**
 * The core of the appliance: zones, their life, and the drivers and host resources they run on. Plain Java behind
 * one facade, {@link io.zonekeeper.core.ZoneRegistry} (the {@link io.zonekeeper.api.ZoneManager}); only
 * {@link io.zonekeeper.core.ZoneManagerComponent} and {@link io.zonekeeper.core.DriverUpgrader} touch the framework.
 * Private to this bundle: other bundles see the core only as zone-api services.
 */
package io.zonekeeper.core;
