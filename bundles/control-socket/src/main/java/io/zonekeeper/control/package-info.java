/**
 * The appliance's control socket: {@code <zonekeeper.state>/run/control.sock}, a Unix socket in a 0700 folder,
 * itself 0600. A client sends one JSON line {@code {"command":"..."}}; the command line runs in a fresh Gogo
 * session and its output streams back as {@code {"out":..}} / {@code {"err":..}} lines, then {@code {"exit":N}}.
 * Private to this bundle: nothing here is exported, and no Zonekeeper package is imported.
 */
package io.zonekeeper.control;
