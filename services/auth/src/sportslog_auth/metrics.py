from prometheus_client import Counter

USERS_REGISTERED = Counter("sportslog_users_registered_total", "New accounts created")
LOGINS = Counter("sportslog_logins_total", "Sign-in attempts", ["method", "status"])
