/** The Gogo commands of the passthrough bundle ({@code device:*}); private, like the rest of the bundle. */
package io.zonekeeper.passthrough.shell;
