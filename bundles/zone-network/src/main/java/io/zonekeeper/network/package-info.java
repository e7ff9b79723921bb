/**
 * Zone networks: the {@link io.zonekeeper.network.Networks} of this appliance, their leases and host devices, and
 * the zone resource provider that prepares a zone's taps before its driver starts it.
 */
package io.zonekeeper.network;
