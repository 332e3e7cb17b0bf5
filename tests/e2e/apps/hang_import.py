"""An app whose import never returns (a database that never answers, at import time)."""
import time

time.sleep(3600)


async def app(scope, receive, send):
    pass
