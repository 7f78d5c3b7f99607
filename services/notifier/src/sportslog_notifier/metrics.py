from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter(
    "sportslog_notifications_total", "Messages handled", ["channel", "template", "status"]
)
EVENT_AGE = Histogram(
    "sportslog_notification_event_age_seconds",
    "From the event's occurred_at to the message accepted by the SMTP server or Twilio",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
