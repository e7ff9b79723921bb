package io.zonekeeper.control;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.Set;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import jdk.net.UnixDomainPrincipal;

/** The credentials decision on its own, with principals looked up by number. */
public class PeerPolicyTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final UserPrincipalLookupService users = FileSystems.getDefault().getUserPrincipalLookupService();

    private UnixDomainPrincipal peer(int uid, int gid) throws Exception {
        return new UnixDomainPrincipal(users.lookupPrincipalByName(Integer.toString(uid)),
                users.lookupPrincipalByGroupName(Integer.toString(gid)));
    }

    @Test
    public void rootAndTheOwnerMayOthersMayNot() throws Exception {
        UserPrincipal owner = users.lookupPrincipalByName("4242");
        PeerPolicy policy = new PeerPolicy(users.lookupPrincipalByName("0"), owner, null, Set.of());
        assertNull(policy.refusal(peer(0, 0)));
        assertNull(policy.refusal(peer(4242, 100)));
        assertEquals("user 4243 (group 4242) may not use this control socket: only root, 4242 may",
                policy.refusal(peer(4243, 4242)));
    }

    @Test
    public void aConfiguredGroupAdmitsByPrimaryGroupAndByMembership() throws Exception {
        GroupPrincipal ops = users.lookupPrincipalByGroupName("4300");
        PeerPolicy policy = new PeerPolicy(users.lookupPrincipalByName("0"), users.lookupPrincipalByName("4242"), ops,
                Set.of("4245"));
        assertNull(policy.refusal(peer(4244, 4300)));
        assertNull(policy.refusal(peer(4245, 4245)));
        assertEquals("user 4246 (group 4246) may not use this control socket: only root, 4242 and members of "
                + "group 4300 may", policy.refusal(peer(4246, 4246)));
    }

    @Test
    public void membersAreReadFromAGroupFile() throws Exception {
        Path group = tmp.newFile("group").toPath();
        Files.writeString(group, "root:x:0:\nzkops:x:4300:alice, bob\nother:x:4301:carol\n");
        assertEquals(Set.of("alice", "bob"), PeerPolicy.members(group, "zkops"));
        assertEquals(Set.of(), PeerPolicy.members(group, "root"));
        assertEquals(Set.of(), PeerPolicy.members(tmp.getRoot().toPath().resolve("missing"), "zkops"));
    }
}
