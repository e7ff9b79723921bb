/**
 * libxl through the xl command line: rendering a zone into an xl domain config, running xl with time limits, and
 * reading what {@code xl list} prints.
 */
package io.zonekeeper.xen.xl;
