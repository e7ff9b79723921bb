/**
 * The core's Gogo commands ({@code zone:*}, {@code driver:*}, {@code channel:*}): DS components whose public
 * methods are the commands, each printing a table for people or, with {@code --json}, JSON for scripts.
 */
package io.zonekeeper.core.shell;
