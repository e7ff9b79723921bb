/** The {@code disk:} Gogo commands. */
package io.zonekeeper.disk.shell;
