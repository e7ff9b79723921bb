/** The host side of networks: bridges, taps and NAT rules, through iproute2 and nftables. */
package io.zonekeeper.network.host;
