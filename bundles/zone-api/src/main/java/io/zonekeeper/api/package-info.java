/**
 * The zone API: what a zone is ({@link io.zonekeeper.api.ZoneSpec}), what state it is in, and the
 * {@link io.zonekeeper.api.ZoneManager} that operators, firmware and vendor code call.
 */
@Export
@Version("1.2.0")
package io.zonekeeper.api;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
