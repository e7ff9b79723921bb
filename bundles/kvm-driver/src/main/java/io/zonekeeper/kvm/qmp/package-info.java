/**
 * A small QMP client over a Unix socket with jakarta.json: capabilities negotiation, commands matched to replies
 * by id, timeouts, and events to a listener.
 */
package io.zonekeeper.kvm.qmp;
