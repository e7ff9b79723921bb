/**
 * The zone store under {@code <state>/zones/NAME/}: each zone's record and its driver's runtime record, written
 * atomically; a folder that cannot be read is set aside (quarantined) rather than failing the start.
 */
package io.zonekeeper.core.store;
