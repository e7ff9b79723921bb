/**
 * The appliance's control socket: {@code <zonekeeper.state>/run/control.sock}, a Unix socket in a 0700 folder,
 * itself 0600, whose peers' credentials are checked as well (SO_PEERCRED). A client sends one JSON line
 * {@code {"command":"..."}}; the command line runs in a fresh Gogo session and its output streams back as
 * {@code {"out":..}} / {@code {"err":..}} lines, then {@code {"exit":N}}. Refusals (credentials, limits) are one
 * {@code {"err":"refused: ..."}} line and {@code {"exit":2}}. Private to this bundle: nothing here is exported, and
 * no Zonekeeper package is imported.
 */
package io.zonekeeper.control;
