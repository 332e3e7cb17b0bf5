-- wrk script for the `post` scenario: every request POSTs the same 10 KiB body to /echo
-- (the harness puts /echo in the URL). Setting wrk.body once keeps wrk's per-request cost at
-- zero Lua calls; no `response` callback for the same reason (the harness checks the echo
-- before timing).
wrk.method = "POST"
wrk.body = string.rep("x", 10240)
wrk.headers["Content-Type"] = "application/octet-stream"
