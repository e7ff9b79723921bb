/** The {@code zone:exec} Gogo command. */
package io.zonekeeper.agent.shell;
