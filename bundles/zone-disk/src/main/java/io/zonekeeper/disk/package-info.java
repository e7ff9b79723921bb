/**
 * Zone disks: images under the state directory or allowed folders, made with mke2fs or qemu-img, and the
 * read-write locks that keep an image in at most one running zone.
 */
package io.zonekeeper.disk;
