-- bench/post.lua — wrk script: POST the browser's token request body and
-- print one machine-readable line at the end (bench/run parses it).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "https://www.example.com"
wrk.body = '{"user_email":"jane.doe@acme.com","room_config":{"agents":[{"agent_name":"sales-agent"}]}}'

function done(summary, latency, requests)
	local s = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format("BENCH rps=%.0f p50_us=%d p99_us=%d reqs=%d non2xx=%d sockerr=%d secs=%.2f\n",
		summary.requests / s, latency:percentile(50), latency:percentile(99),
		summary.requests, e.status, e.connect + e.read + e.write + e.timeout, s))
end
