/**
 * Moving devices to a hypervisor's passthrough driver and back: the {@link io.zonekeeper.passthrough.bind.DeviceBinder}
 * contract, what a binding remembers, and the transaction with undo that every binder runs its steps in.
 */
package io.zonekeeper.passthrough.bind;
