/** Moving devices to xen-pciback and back through the Xen toolstack (xl), on a Xen dom0. */
package io.zonekeeper.passthrough.xen;
