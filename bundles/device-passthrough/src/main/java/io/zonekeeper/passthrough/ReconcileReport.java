package io.zonekeeper.passthrough;

import java.util.List;
import java.util.stream.Collectors;

import io.zonekeeper.passthrough.pci.PciAddress;

/** What {@link AssignmentLedger#reconcile} did, one line per endpoint in the ledger. */
public record ReconcileReport(List<Action> actions) {
    public enum Outcome {
        /** Its zone runs: the binding stays. */
        KEPT,
        /** Its zone is gone: it is back on its original driver, and out of the ledger. */
        RESTORED,
        /** Its zone is gone and it left vfio-pci, but its original driver did not come back. Out of the ledger. */
        NOT_RESTORED,
        /** Its zone is gone and so is the device (unplugged): out of the ledger. */
        DEVICE_GONE,
        /** Giving it back failed and was rolled back: it stays on vfio-pci and in the ledger. */
        FAILED
    }

    public record Action(PciAddress address, String zone, Outcome outcome, String detail) {
        @Override
        public String toString() {
            return address + " (zone " + zone + "): " + outcome.name().toLowerCase().replace('_', ' ')
                    + (detail.isEmpty() ? "" : ": " + detail);
        }
    }

    public ReconcileReport {
        actions = List.copyOf(actions);
    }

    public List<Action> with(Outcome outcome) {
        return actions.stream().filter(a -> a.outcome() == outcome).toList();
    }

    @Override
    public String toString() {
        return actions.isEmpty() ? "no devices in the ledger"
                : actions.stream().map(Action::toString).collect(Collectors.joining("\n"));
    }
}
