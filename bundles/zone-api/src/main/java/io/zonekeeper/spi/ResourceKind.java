package io.zonekeeper.spi;

/** Which part of a zone spec a {@link ZoneResourceProvider} prepares. */
public enum ResourceKind {
    /** The spec's {@code networks}: tap devices, addresses, MAC addresses. */
    NETWORK,
    /** The spec's {@code disks}: path checks and read-write locks. */
    DISK
}
