/**
 * Zone specs as JSON ({@link io.zonekeeper.core.json.SpecJson}), with jakarta.json: what {@code zone:create --spec},
 * declared zones and the store read, and what {@code --json} prints.
 */
package io.zonekeeper.core.json;
