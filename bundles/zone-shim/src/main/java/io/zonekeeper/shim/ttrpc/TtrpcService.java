package io.zonekeeper.shim.ttrpc;

import java.util.Map;

/** A service a {@link TtrpcServer} routes requests to by its full name ({@code containerd.task.v2.Task}). */
public interface TtrpcService {
    String name();

    /**
     * Answers one request. May block (Wait does, for as long as the process runs): each request gets its own
     * thread.
     *
     * @param metadata the request's metadata (the last value of each key)
     * @return the response message, serialized
     * @throws TtrpcException with the status code the caller gets; {@link TtrpcException#UNIMPLEMENTED} for a method
     *                        the service does not have
     */
    byte[] call(String method, byte[] payload, Map<String, String> metadata) throws TtrpcException;
}
