from prometheus_client import Counter, Gauge

USERS_REGISTERED = Counter("sportslog_users_registered_total", "New accounts created")
LOGINS = Counter("sportslog_logins_total", "Sign-in attempts", ["method", "status"])
SMS_SENT = Counter(
    "sportslog_sms_sent_total",
    "SMS handed to the notifier, by country calling code (e.g. +44)",
    ["country"],
)
SMS_BUDGET_USED = Gauge(
    "sportslog_sms_budget_used_ratio",
    "Share of SMS_DAILY_BUDGET used in the last 24 h, deployment-wide (read from PostgreSQL)",
)
OTP_LOCKED = Counter(
    "sportslog_otp_locked_total",
    "Accounts whose code sign-in was locked by OTP_MAX_FAILURES_PER_DAY",
)
