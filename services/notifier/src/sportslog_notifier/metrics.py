from prometheus_client import Counter

NOTIFICATIONS = Counter(
    "sportslog_notifications_total", "Messages handled", ["channel", "template", "status"]
)
