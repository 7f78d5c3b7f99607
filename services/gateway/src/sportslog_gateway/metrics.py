from prometheus_client import Counter, Histogram

UPSTREAM_DURATION = Histogram(
    "sportslog_gateway_upstream_duration_seconds",
    "Time to the upstream's response headers",
    ["upstream"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AUTH_FAILURES = Counter(
    "sportslog_gateway_auth_failures_total", "Requests refused for their token", ["reason"]
)
RATE_LIMITED = Counter("sportslog_gateway_rate_limited_total", "Requests rate limited", ["rule"])
