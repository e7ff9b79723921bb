/** The {@code net:} Gogo commands. */
package io.zonekeeper.network.shell;
