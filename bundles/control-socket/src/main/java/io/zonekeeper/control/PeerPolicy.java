package io.zonekeeper.control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

import jdk.net.UnixDomainPrincipal;

/**
 * Who may talk to the control socket, decided on the peer's credentials as the kernel gives them
 * ({@code SO_PEERCRED}): root, the user the appliance runs as, and, when configured, the members of one group. The
 * socket's file mode already keeps others out; this check still holds when the mode or a folder above is loosened.
 */
final class PeerPolicy {

    private final UserPrincipal root;
    private final UserPrincipal owner;
    private final GroupPrincipal group;
    private final Set<String> groupMembers;

    /**
     * @param group        the configured group, or null for none
     * @param groupMembers the user names listed as its members (its own members by primary group are found by the
     *                     peer's gid)
     */
    PeerPolicy(UserPrincipal root, UserPrincipal owner, GroupPrincipal group, Set<String> groupMembers) {
        this.root = root;
        this.owner = owner;
        this.group = group;
        this.groupMembers = Set.copyOf(groupMembers);
    }

    /** The policy of an appliance running as {@code owner}, with the group named {@code groupName} (or none). */
    static PeerPolicy of(UserPrincipalLookupService users, UserPrincipal owner, String groupName, Path groupFile)
            throws IOException {
        GroupPrincipal group = null;
        Set<String> members = Set.of();
        if (groupName != null && !groupName.isBlank()) {
            group = users.lookupPrincipalByGroupName(groupName.trim());
            members = members(groupFile, groupName.trim());
        }
        return new PeerPolicy(users.lookupPrincipalByName("root"), owner, group, members);
    }

    /** The user names listed for {@code groupName} in a file of /etc/group's format; none when it is missing. */
    static Set<String> members(Path groupFile, String groupName) throws IOException {
        if (!Files.isReadable(groupFile)) {
            return Set.of();
        }
        return Files.readAllLines(groupFile).stream().map(line -> line.split(":", -1))
                .filter(f -> f.length >= 4 && f[0].equals(groupName))
                .flatMap(f -> Arrays.stream(f[3].split(","))).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toUnmodifiableSet());
    }

    /** Null when {@code peer} may send commands; otherwise why not, in words for the log and the client. */
    String refusal(UnixDomainPrincipal peer) {
        UserPrincipal user = peer.user();
        if (user.equals(root) || user.equals(owner)) {
            return null;
        }
        if (group != null && (peer.group().equals(group) || groupMembers.contains(user.getName()))) {
            return null;
        }
        return "user " + user.getName() + " (group " + peer.group().getName() + ") may not use this control "
                + "socket: only " + users() + (group == null ? "" : " and members of group " + group.getName())
                + " may";
    }

    /** Who may connect, for the log. */
    String describe() {
        return users() + (group == null ? "" : ", group " + group.getName());
    }

    private String users() {
        return owner.equals(root) ? "root" : "root, " + owner.getName();
    }
}
