"""A raw RSGI app exercising websockets (tests/e2e/test_websocket_rsgi.py)."""
import json

stats = {"closed": 0}


async def app(scope, protocol):
    if scope.proto == "http":
        protocol.response_str(200, [("content-type", "application/json")], json.dumps(stats))
        return
    if scope.path == "/reject":
        protocol.close(404)
        return
    transport = await protocol.accept()
    if scope.path == "/scope":
        await transport.send_str(json.dumps({
            "proto": scope.proto, "method": scope.method, "path": scope.path, "scheme": scope.scheme,
            "query_string": scope.query_string, "http_version": scope.http_version,
            "rsgi_version": scope.rsgi_version, "upgrade": scope.headers.get("upgrade"),
            "client": scope.client, "server": scope.server,
        }))
        protocol.close()
        return
    while True:
        message = await transport.receive()
        if message.kind == 0:
            stats["closed"] += 1
            break
        if message.kind == 2:
            if message.data == "close":
                break
            await transport.send_str(message.data)
        else:
            await transport.send_bytes(message.data)
    protocol.close()
