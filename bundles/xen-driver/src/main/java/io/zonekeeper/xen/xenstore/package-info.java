/**
 * A xenstore client in plain Java: the wire protocol of xenstored over its Unix socket (read, write, directory,
 * mkdir, rm, permissions, watches). No native code and no libxenstore.
 */
package io.zonekeeper.xen.xenstore;
