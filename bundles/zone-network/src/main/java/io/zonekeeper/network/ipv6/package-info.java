/** Pure IPv6 logic: unique local /64 prefixes, addresses from MAC addresses (modified EUI-64), RFC 5952 text. */
package io.zonekeeper.network.ipv6;
