/**
 * The image store: reads OCI image layouts and docker save archives offline, checks every blob against its digest,
 * merges the layers (whiteouts, opaque folders) into one tar stream and packs it with tar2sqfs into a read-only
 * squashfs image under {@code <state>/images/<config hex>}. Nothing of an image is ever unpacked onto the host.
 */
package io.zonekeeper.images;
