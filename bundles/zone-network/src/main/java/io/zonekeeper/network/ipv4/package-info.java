/** Pure IPv4 logic: subnets and their overlap, the address allocator, and derived device names and MACs. */
package io.zonekeeper.network.ipv4;
