/**
 * ACME's example driver: zones as QEMU processes on the classic PC machine. Private; the bundle exports nothing, so
 * an update replaces it without refreshing anything else.
 */
package com.acme.zonekeeper.pc;
