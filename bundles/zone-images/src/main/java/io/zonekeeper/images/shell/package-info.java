/** The {@code image:} Gogo commands. */
package io.zonekeeper.images.shell;
